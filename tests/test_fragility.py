"""Fragility measures against closed forms and hand-worked cases (docs/design.md, "Fragility")."""

from __future__ import annotations

import math

import numpy as np
import pytest

import liqcascade as lc
from liqcascade.fragility import (
    amplification_curve,
    critical_shock_table,
    critical_shocks,
    liquidation_at_risk,
    liquidation_map,
    population_liquidation_map,
    simulation_liquidation_map,
)

TICK = 0.001
REF = 100.0


def band_market(kappa: float, g: float = 1.0, big_g: float = 10.0, depth: float = 20.0,
                direction: int = 1) -> tuple[lc.OrderBook, lc.Positions]:
    """A linear book (1 unit per tick of 0.001 out to `depth` price units from REF = 100) and a
    uniform density of liquidation prices kappa times the book's, on distances (g, G) from REF
    (one position of size kappa per tick, mid-tick; mmr 0: liquidation = bankruptcy)."""
    levels = int(round(depth / TICK))
    k = np.arange(1, levels + 1)
    book = lc.OrderBook(REF - TICK * k, np.ones(levels), REF + TICK * k, np.ones(levels))
    n = int(round((big_g - g) / TICK))
    distance = g + TICK * (np.arange(n) + 0.5)
    p_liq = REF - direction * distance
    positions = lc.Positions(np.full(n, direction, dtype=np.int8), kappa, REF, kappa * distance, mmr=0.0)
    assert np.allclose(positions.liquidation_price, p_liq)
    return book, positions


def closed_form_amplification(delta, kappa, g, big_g, depth):
    """A(delta) for the band market (distances in price units, shock delta > 0):
    - delta <= g: nothing is triggered, A = 1;
    - in the band the fixed point of kappa (x - g) = x - delta is x = (delta - kappa g)/(1 - kappa),
      A = x / delta, while x <= G, i.e. delta <= delta_G = (1 - kappa) G + kappa g;
    - beyond it everything is sold, x = delta + kappa (G - g), A = 1 + kappa (G - g)/delta;
    - until the book runs out: x = depth."""
    delta = np.asarray(delta, dtype=float)
    in_band = (delta - kappa * g) / (1 - kappa)
    beyond = delta + kappa * (big_g - g)
    x = np.where(delta <= g, delta, np.where(delta <= (1 - kappa) * big_g + kappa * g, in_band, beyond))
    return np.minimum(x, depth) / delta


@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("kappa,level", [(0.5, 1.5), (0.3, 1.2), (0.75, 2.5)])
def test_critical_shock_of_a_uniform_density_against_a_linear_book(direction, kappa, level):
    """Closed form. In the band, A(delta) = (delta - kappa g) / ((1 - kappa) delta) rises from 1
    (delta = g) to its maximum G / delta_G at delta_G = (1 - kappa) G + kappa g, then falls as
    1 + kappa (G - g)/delta: not monotone. Its first crossing of a level A* in (1, G/delta_G) is
    A(delta*) = A*, i.e.
        delta* = kappa g / (1 - A* (1 - kappa)),
    and the critical relative shock is -delta*/REF (longs), +delta*/REF (shorts)."""
    g, big_g = 1.0, 10.0
    book, positions = band_market(kappa, g, big_g, direction=direction)
    delta_g = (1 - kappa) * big_g + kappa * g
    assert level < big_g / delta_g  # the level is reached, on the rising branch
    expected = kappa * g / (1 - level * (1 - kappa)) / REF
    found = critical_shocks(book, positions, level, exhaustion=False, ref_price=REF)
    c = found["down" if direction > 0 else "up"]
    assert c.cause == "amplification" and c.amplification >= level
    # discreteness: the final price is on a tick, so A is known to ~ TICK/delta; dA/ddelta =
    # kappa g / ((1 - kappa) delta^2): the shock is known to TICK (1 - kappa) delta / (kappa g)
    tolerance = 3 * TICK * (1 - kappa) * (expected * REF) / (kappa * g) / REF + c.tolerance
    assert abs(c.shock) == pytest.approx(expected, abs=tolerance)
    assert math.copysign(1, c.shock) == -direction
    assert abs(c.shock) - abs(c.not_reached) <= c.tolerance
    # the other side has no positions: no crossing up to max_shock (depth 20 % < 50 %: exhaustion off)
    other = found["up" if direction > 0 else "down"]
    assert other.shock is None and other.cause == "none"


def test_amplification_curve_follows_the_closed_form_both_branches():
    kappa, g, big_g, depth = 0.5, 1.0, 10.0, 20.0
    book, positions = band_market(kappa, g, big_g, depth)
    curve = amplification_curve(book, positions, max_shock=0.19, points=38, ref_price=REF)
    down = curve.direction == -1
    delta = -curve.shock[down] * REF
    expected = closed_form_amplification(delta, kappa, g, big_g, depth)
    np.testing.assert_allclose(curve.amplification[down], expected, atol=3 * TICK / delta.min() * 2)
    # rising, then falling: the maximum is at delta_G = 5.5 (a 5.5 % shock)
    peak = delta[np.argmax(curve.amplification[down])]
    assert peak == pytest.approx((1 - kappa) * big_g + kappa * g, abs=1.0)
    # up shocks: nothing to liquidate, amplification 1
    np.testing.assert_allclose(curve.amplification[~down], 1.0)


def test_above_the_maximum_amplification_there_is_no_crossing_but_exhaustion():
    kappa, g, big_g, depth = 0.5, 1.0, 10.0, 20.0
    book, positions = band_market(kappa, g, big_g, depth)
    a_max = big_g / ((1 - kappa) * big_g + kappa * g)  # 1.818...
    none = critical_shocks(book, positions, a_max + 0.05, exhaustion=False, max_shock=0.19, ref_price=REF)["down"]
    assert none.shock is None
    # the book runs out when what is left of it beyond the shock, depth - delta, is less than
    # everything the band sells, kappa (G - g): delta_exhaust = depth - kappa (G - g) = 15.5
    exhausted = critical_shocks(book, positions, a_max + 0.05, exhaustion=True, ref_price=REF)["down"]
    assert exhausted.cause == "exhaustion" and exhausted.book_exhausted
    assert -exhausted.shock == pytest.approx((depth - kappa * (big_g - g)) / REF, abs=2 * TICK / REF)


def test_critical_shock_is_the_first_crossing_and_reproducible():
    book = lc.BookModel().build()
    positions = lc.PositionPopulation(count=20_000).sample(seed=3).prepare()
    found = critical_shocks(book, positions, 2.0, tolerance=1e-7)
    for c in found.values():
        assert c.shock is not None
        rows = lc.cascade_many(book, positions, [c.shock, c.not_reached] if c.not_reached else [c.shock])
        assert rows.amplification[0] >= 2.0 or rows.book_exhausted[0]
        if c.not_reached:
            assert not (rows.amplification[1] >= 2.0 or rows.book_exhausted[1])
        # no grid point below the answer reaches the level
        grid = c.grid_step * np.arange(1, int(abs(c.shock) / c.grid_step) + 1)
        grid = grid[grid < abs(c.shock)]
        if grid.size:
            sign = -1 if c.direction == "down" else 1
            below = lc.cascade_many(book, positions, sign * grid)
            assert not np.any((np.nan_to_num(below.amplification, nan=1) >= 2.0) | below.book_exhausted)
    table = critical_shock_table(found)
    assert list(table.direction) == ["down", "up"] and len(table) == 2
    assert critical_shocks(book, positions, 2.0, tolerance=1e-7) == found


def test_critical_shock_rejects_bad_arguments():
    book, positions = band_market(0.5)
    with pytest.raises(ValueError, match="level"):
        critical_shocks(book, positions, 1.0)
    with pytest.raises(ValueError, match="grid_step"):
        critical_shocks(book, positions, 2.0, grid_step=0.9, max_shock=0.5)
    with pytest.raises(TypeError, match="exhaustion"):
        critical_shocks(book, positions, 2.0, exhaustion="yes")


def test_liquidation_map_by_hand():
    # longs liquidated at 95 (2 x 95) and 91 (1 x 91); a short at 104 (3 x 104); a long never liquidated
    positions = lc.Positions([1, 1, -1, 1], [2.0, 1.0, 3.0, 1.0], 100.0, [10.0, 9.0, 12.0, 200.0], mmr=0.0)
    lmap = liquidation_map(positions, 100.0, edges=[90, 92, 94, 96, 98, 100, 102, 104, 106])
    np.testing.assert_allclose(lmap.long, [91.0, 0, 190.0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(lmap.short, [0, 0, 0, 0, 0, 0, 0, 312.0])  # 104 is a bucket's lower edge
    np.testing.assert_allclose(lmap.cumulative_long, [281.0, 190.0, 190.0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(lmap.cumulative_short, [0, 0, 0, 0, 0, 0, 0, 312.0])
    assert len(lmap.to_table()) == 8


def test_population_map_is_the_mean_of_sample_maps():
    population = lc.PositionPopulation(count=2_000)
    pm = population_liquidation_map(population, samples=3, seed=4, buckets=20)
    maps = [liquidation_map(population.sample(seed=4, scenario=i), 100_000.0, buckets=20) for i in range(3)]
    np.testing.assert_allclose(pm.long, np.mean([m.long for m in maps], axis=0))
    np.testing.assert_allclose(pm.short_stderr, np.std([m.short for m in maps], axis=0, ddof=1) / math.sqrt(3))
    one = population_liquidation_map(population, samples=1, seed=4, buckets=20)
    np.testing.assert_allclose(one.long, maps[0].long)
    assert np.isnan(one.long_stderr).all()


def test_simulation_map_adds_up_to_the_events():
    book = lc.BookModel().build()
    positions = lc.PositionPopulation(count=5_000).sample(seed=1)
    sim = lc.simulate(book, positions, lc.LiquidationPolicy.binance(max_orders_per_step=50), 120, 1.0,
                      flow=-20.0 * (np.arange(120) < 30), resilience=1 / 60, insurance_fund=1e6)
    smap = simulation_liquidation_map(sim, positions, time_buckets=12, price_buckets=10)
    ev = sim.events
    wanted = (ev.kind <= 1) & (ev.position >= 0)
    assert smap.notional.sum() == pytest.approx(float(np.sum(ev.qty[wanted] * ev.price[wanted])))
    assert smap.notional.shape == (12, 10)
    fills = simulation_liquidation_map(sim, positions, kinds=("liquidation",))
    assert fills.notional.sum() == pytest.approx(float(sim.timeline.liquidated_notional.sum()))
    with pytest.raises(ValueError, match="kinds"):
        simulation_liquidation_map(sim, positions, kinds=("bogus",))


def test_liquidation_at_risk_by_hand():
    n = 40
    liquidated = np.arange(n, dtype=float)
    table = lc.ScenarioTable({"scenario": np.arange(n), "shock": np.zeros(n), "final_price": np.ones(n),
                              "final_move": np.zeros(n), "amplification": np.ones(n),
                              "liquidated_notional_long": liquidated, "liquidated_notional_short": np.zeros(n),
                              "n_liquidated": np.zeros(n, dtype=np.int64), "rounds": np.zeros(n, dtype=np.int64),
                              "bad_debt": liquidated / 10, "book_exhausted": np.zeros(n, dtype=np.uint8)})
    lar = liquidation_at_risk(table, insurance_fund=3.0, level=0.9)
    assert lar.quantiles[0.5].value == pytest.approx(np.quantile(liquidated, 0.5))
    assert lar.expected_shortfall.value == pytest.approx(np.mean(liquidated[-4:]))
    assert lar.prob_ruin.value == pytest.approx(np.mean(liquidated / 10 > 3.0))  # 9 of 40
    assert lar.prob_adl is None
    assert lar.liquidated_mean.stderr == pytest.approx(np.std(liquidated, ddof=1) / math.sqrt(n))
    assert "P(fund ruin)" in str(lar) and len(lar.to_table()) == 9
    with pytest.raises(ValueError, match=r"^insurance_fund: "):
        liquidation_at_risk(table, insurance_fund=-1.0)  # a fund's size for the ruin test
