"""Closed-form cases: the Binance worked example and the uniform-density amplification."""

from __future__ import annotations

import numpy as np
import pytest

import liqcascade as lc


def test_binance_worked_example():
    # docs/design.md: long 1 BTC at 100,000 with 5,000 margin, tier mmr 0.5 %, maint_amount 50.
    tiers = lc.MaintenanceTiers.binance_btcusdt()
    positions = lc.Positions(1, 1.0, 100_000.0, 5_000.0, tiers=tiers)
    assert positions.mmr[0] == 0.005 and positions.maint_amount[0] == 50.0
    assert positions.liquidation_price[0] == pytest.approx(95_427.1, abs=0.05)
    assert positions.bankruptcy_price[0] == 95_000.0
    explicit = lc.Positions(1, 1.0, 100_000.0, 5_000.0, mmr=0.005, maint_amount=50.0)
    assert explicit.liquidation_price[0] == positions.liquidation_price[0]


def test_binance_tiers_are_continuous_and_lower_tier_on_boundary():
    tiers = lc.MaintenanceTiers.binance_btcusdt()
    derived = lc.MaintenanceTiers(tiers.notional_floor, tiers.mmr)  # cum from continuity
    np.testing.assert_allclose(derived.maint_amount, tiers.maint_amount, rtol=0, atol=1e-6)
    floors = tiers.notional_floor[1:]
    assert list(tiers.tier_of(floors)) == list(range(len(floors)))  # a boundary is the lower tier
    assert list(tiers.tier_of(floors * (1 + 1e-12))) == list(range(1, len(tiers)))
    # the requirement mmr*N - cum is the same from both sides of every boundary
    below = tiers.mmr[:-1] * floors - tiers.maint_amount[:-1]
    above = tiers.mmr[1:] * floors - tiers.maint_amount[1:]
    np.testing.assert_allclose(below, above, rtol=1e-12)


def uniform_market(kappa: float, direction: int, tick: float = 0.01, levels: int = 4000,
                   level_qty: float = 1.0) -> tuple[lc.OrderBook, lc.Positions]:
    """A book with `level_qty` on every tick from 100 outwards, and one position per tick whose
    liquidation price sits mid-way between ticks, of size kappa * level_qty: a liquidation
    density of kappa times the book's density."""
    k = np.arange(1, levels + 1)
    bids = 100.0 - tick * k
    asks = 100.0 + tick * k
    book = lc.OrderBook(bids, np.full(levels, level_qty), asks, np.full(levels, level_qty))
    p_liq = 100.0 - direction * tick * (k - 0.5)
    qty = kappa * level_qty
    entry = 100.0
    # mmr = 0, maint = 0: p_liq = entry -/+ margin/qty
    margin = qty * np.abs(entry - p_liq)
    positions = lc.Positions(np.full(levels, direction, dtype=np.int8), qty, entry, margin, mmr=0.0)
    return book, positions


@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("kappa", [0.2, 0.5, 0.75])
@pytest.mark.parametrize("shock", [0.01, 0.03])
def test_uniform_density_amplification_is_one_over_one_minus_kappa(direction, kappa, shock):
    # Triggered quantity down to a depth x below p_ref is lambda*x, the book between the shock
    # level and x holds beta*(x - delta): the cascade stops where they meet,
    # x = delta / (1 - kappa) with kappa = lambda / beta.
    book, positions = uniform_market(kappa, direction)
    result = lc.cascade(book, positions, -direction * shock, ref_price=100.0)
    expected = 1.0 / (1.0 - kappa)
    # discreteness: the stop is known to within a couple of ticks of a move of >= 100 ticks
    tolerance = 3 * 0.01 / (shock * 100.0) * expected
    assert result.amplification == pytest.approx(expected, abs=tolerance)
    assert not result.book_exhausted
    assert result.rounds > 1


def test_supercritical_density_exhausts_the_book():
    book, positions = uniform_market(1.25, 1, levels=500)
    result = lc.cascade(book, positions, -0.01, ref_price=100.0)
    assert result.book_exhausted
    assert result.unfilled_qty > 0
    assert result.final_price == book.bid_price[-1]
    assert result.liquidated_qty + result.unfilled_qty == pytest.approx(float(np.sum(result.trace.qty)))


def test_bad_debt_of_a_long_filled_below_bankruptcy():
    # Long 1 @ 100, margin 5 -> bankrupt at 95, liq at 95 (mmr 0). Only a bid at 90 remains
    # after a -5 % shock: it fills at 90, 5 short of bankruptcy.
    book = lc.OrderBook([90.0], [10.0], [101.0], [1.0])
    positions = lc.Positions(1, 1.0, 100.0, 5.0, mmr=0.0)
    result = lc.cascade(book, positions, -0.05, ref_price=100.0)
    assert result.n_liquidated == 1 and result.fill_price[0] == 90.0
    assert result.bad_debt == pytest.approx(5.0)
    assert result.final_price == 90.0
    # and the mirror for a short
    book = lc.OrderBook([99.0], [1.0], [110.0], [10.0])
    positions = lc.Positions(-1, 2.0, 100.0, 10.0, mmr=0.0)
    result = lc.cascade(book, positions, 0.05, ref_price=100.0)
    assert result.fill_price[0] == 110.0 and result.bad_debt == pytest.approx(2 * 5.0)


def test_quantity_shock_walks_the_book_and_amplification_uses_the_move():
    book = lc.OrderBook([99.0, 98.0, 97.0], [1.0, 1.0, 5.0], [101.0], [1.0])
    positions = lc.Positions([1, 1], [1.0, 1.0], 100.0, [1.5, 10.0], mmr=0.0)  # liq 98.5, 90
    result = lc.cascade(book, positions, sell_qty=1.5)
    assert result.shock_price == 98.0
    assert result.exogenous_filled_qty == 1.5 and result.exogenous_unfilled_qty == 0.0
    assert result.n_liquidated == 1 and result.final_price == 97.0
    assert result.fill_price[0] == pytest.approx((0.5 * 98.0 + 0.5 * 97.0))
    assert result.amplification == pytest.approx((97.0 - 100.0) / (98.0 - 100.0))
    assert list(result.liquidated) == [True, False]


def test_zero_shock_is_the_identity():
    book = lc.OrderBook([99.0], [1.0], [101.0], [1.0])
    positions = lc.Positions([1, -1], 1.0, 100.0, 0.0, mmr=0.0)  # both at liq = 100
    result = lc.cascade(book, positions, 0.0)
    assert result.final_price == 100.0 and result.n_liquidated == 0
    assert np.isnan(result.amplification)
