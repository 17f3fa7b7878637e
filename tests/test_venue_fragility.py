"""A venue's critical shocks and amplification curve (docs/design.md, "Fragility of a venue"):
the one-market answer on a one-market venue, hand-worked contagion and exhaustion thresholds
through cross accounts, rows that are direct venue cascades."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import liqcascade as lc
from liqcascade.fragility import critical_shocks, venue_amplification_curve, venue_critical_shocks
from liqcascade.venue import Accounts, Market, Venue, VenuePositions, VenueState, venue_cascade
from test_fragility import REF, band_market


def _one_market_venue(kappa: float, direction: int) -> tuple[lc.OrderBook, lc.Positions, VenueState]:
    book, positions = band_market(kappa, direction=direction)
    venue = Venue([Market("X", book, ref_price=REF)])
    vp = VenuePositions(positions.side, positions.qty, positions.entry_price, market=0, margin=positions.margin,
                        mmr=0.0)
    return book, positions, VenueState(venue, vp)


@pytest.mark.parametrize("direction", [1, -1])
def test_a_one_market_venue_of_isolated_positions_gives_critical_shocks_answer(direction):
    """One market, isolated positions only: the venue cascade is the one-market cascade exactly
    (docs/design.md, "Many markets"), and the search is the same bracketing on the same grid, so
    every discrete part of the answer is the same bits: the shock, the point below it, the cause,
    the amplification and the final move (the liquidated notional is a sum in another grouping on
    the aggregate path: to 1e-9)."""
    book, positions, state = _one_market_venue(0.5, direction)
    for level, exhaustion in ((1.5, False), (5.0, True)):
        one = critical_shocks(book, positions, level, exhaustion=exhaustion, max_shock=0.3, tolerance=1e-7,
                              ref_price=REF)
        table = venue_critical_shocks(state, level, exhaustion=exhaustion, max_shock=0.3, tolerance=1e-7)
        assert list(table["direction"]) == ["down", "up"] and list(table["market"]) == ["X", "X"]
        for row, key in enumerate(("down", "up")):
            c = one[key]
            assert table["cause"][row] == c.cause
            if c.shock is None:
                assert math.isnan(table["critical_shock"][row])
                assert table["not_reached"][row] == c.not_reached
                continue
            assert table["critical_shock"][row] == c.shock
            assert table["not_reached"][row] == c.not_reached
            assert table["amplification"][row] == c.amplification
            assert table["final_move"][row] == c.final_move
            assert table["book_exhausted"][row] == c.book_exhausted
            assert table["liquidated_notional"][row] == pytest.approx(c.liquidated_notional, rel=1e-9)
            assert table["contagion_market"][row] == ""  # no other market
    # the level's side found on the rising branch (closed form in test_fragility), exhaustion at 15.5 % too
    table = venue_critical_shocks(state, 1.5, exhaustion=False, max_shock=0.3)
    at_risk = 0 if direction > 0 else 1
    assert table["cause"][at_risk] == "amplification"
    assert abs(table["critical_shock"][at_risk]) == pytest.approx(0.5 / (1 - 1.5 * 0.5) / REF, abs=2e-4)


def _two_markets(b_levels: int = 6000, b_qty: float = 1000.0) -> VenueState:
    """Markets A and B, books of `qty` units a level every 0.01 from 100 (A: 6,000 levels, 1,000
    units each: deep). Two cross accounts, no maintenance (mmr 0), quote collateral:
    account 0 long 1 A and 10 B at 100 with 10 of collateral, account 1 long 1 A and 20 B with 20.
    With B at 100, account a's equity is c_a + (p_A - 100): account 0 triggers at p_A <= 90 (a
    -10 % move of A), account 1 at p_A <= 80 (-20 %). Each then sells its 1 A (one level of A's
    deep book: A barely moves) and its B into B's bids from 99.99."""
    def book(levels: int, qty: float) -> lc.OrderBook:
        k = np.arange(1, levels + 1)
        return lc.OrderBook(100.0 - 0.01 * k, np.full(levels, qty), 100.0 + 0.01 * k, np.full(levels, qty))

    venue = Venue([Market("A", book(6000, 1000.0), ref_price=100.0),
                   Market("B", book(b_levels, b_qty), ref_price=100.0)])
    positions = VenuePositions([1, 1, 1, 1], [1.0, 10.0, 1.0, 20.0], 100.0, market=["A", "B", "A", "B"],
                               account=[0, 0, 1, 1], mmr=0.0)
    return VenueState(venue, positions, Accounts({"USDT": [10.0, 20.0]}))


def test_a_contagion_threshold_made_by_cross_accounts():
    """Hand-worked (see _two_markets). A move s of A alone sets A's last price to p = 100 (1 + s)
    (the bids above it removed). Round 1: account 0 triggers at 10 + (p - 100) <= 0, i.e. s <=
    -0.1; it sells 1 A at the highest level <= p (A's last becomes that level) and 10 B at 99.99
    (B's last 99.99): 999.9 of notional in B. Round 2: account 1's equity is 20 + (last_A - 100)
    + 20 (99.99 - 100), <= 0 once last_A <= 80.20, i.e. once p < 80.21 (the level at 80.21 is
    the highest at or below p up to it): s < -0.1979. It sells its 20 B at 99.99 too: 2,999.7 in
    B. So the smallest fall of A that liquidates more than 500 in B is -10 %, more than 1,500 is
    -19.79 % (not -20 %: account 0's sale of B has cost account 1 0.2 first — contagion between
    the accounts), more than 5,000 none; a rise of A liquidates nothing. A's own amplification
    stays ~1 (level 2 is never reached) and no book runs out."""
    state = _two_markets()
    for threshold, expected, notional in ((500.0, -0.1, 999.9), (1_500.0, -0.1979, 2_999.7)):
        table = venue_critical_shocks(state, 2.0, markets="A", exhaustion=False, contagion=threshold)
        assert list(table["direction"]) == ["down", "up"]
        down = {c: table[c][0] for c in table.columns}
        assert down["cause"] == "contagion" and down["contagion_market"] == "B"
        assert down["critical_shock"] == pytest.approx(expected, abs=1e-6 + 1e-12)
        assert down["critical_shock"] <= expected + 1e-12  # the answer reaches it: at or beyond the trigger
        assert down["not_reached"] > expected - 1e-12 and down["critical_shock"] - down["not_reached"] >= -1e-6
        assert down["contagion_notional"] == pytest.approx(notional, rel=1e-12)
        assert down["accounts_liquidated"] == (1 if threshold == 500.0 else 2)
        assert not down["book_exhausted"]
        # the answer is a direct cascade's, and the point below it liquidates nothing in B
        hit = venue_cascade(state, shocks={"A": down["critical_shock"]})
        assert hit.market("B")["liquidated_notional"] > threshold
        below = venue_cascade(state, shocks={"A": down["not_reached"]})
        assert below.market("B")["liquidated_notional"] <= threshold
        assert table["cause"][1] == "none" and math.isnan(table["critical_shock"][1])
    assert venue_critical_shocks(state, None, markets="A", exhaustion=False, contagion=5_000.0)["cause"][0] == "none"
    # without a contagion threshold, A's own amplification never reaches 2 within 50 %
    assert list(venue_critical_shocks(state, 2.0, markets=["A"], exhaustion=False)["cause"]) == ["none", "none"]


def test_exhausting_another_market_s_book():
    """B's book holds 5 units a side (1 a level): account 0's 10 units of B, sold when A falls
    10 %, run it out. With exhaustion as the only criterion A's critical fall is -10 % and the
    exhausted book is B's."""
    state = _two_markets(b_levels=5, b_qty=1.0)
    table = venue_critical_shocks(state, None, markets="A", exhaustion=True)
    assert table["cause"][0] == "exhaustion" and table["exhausted_markets"][0] == "B"
    assert table["critical_shock"][0] == pytest.approx(-0.1, abs=1e-6 + 1e-12)
    assert table["book_exhausted"][0]
    # A fall of B alone: a move to p removes B's bids above p (a relative move is not an order:
    # no book runs out by it); account 0 triggers at 10 + 10 (p - 100) <= 0, p <= 99 (-1 %),
    # and its 10 B find no bid left: B's book is exhausted from -1 % on (account 1, 20 + 20 (p -
    # 100) + (100 - 100), triggers there too).
    both = venue_critical_shocks(state, None, markets=["A", "B"], exhaustion=True)
    b_down = int(np.flatnonzero((both["market"] == "B") & (both["direction"] == "down"))[0])
    assert both["critical_shock"][b_down] == pytest.approx(-0.01, abs=1e-6 + 1e-12)
    assert both["critical_shock"][b_down] <= -0.01 + 1e-12 and both["exhausted_markets"][b_down] == "B"
    assert both["accounts_liquidated"][b_down] == 2
    assert not venue_cascade(state, shocks={"B": -0.009}).market("B")["book_exhausted"]


def test_venue_amplification_curve_rows_are_direct_cascades():
    state = _two_markets()
    shocks = [-0.25, -0.15, -0.05, 0.05]
    curve = venue_amplification_curve(state, "A", shocks, threads=2)
    assert list(curve["shock"]) == shocks and list(curve["direction"]) == [-1, -1, -1, 1]
    assert set(curve["market"]) == {"A"}
    for row, s in enumerate(shocks):
        direct = venue_cascade(state, shocks={"A": s})
        assert curve["accounts_liquidated"][row] == len(direct.accounts)
        assert curve["bad_debt"][row] == direct.bad_debt
        assert curve["token_bad_debt"][row] == direct.token_bad_debt
        for name in ("A", "B"):
            r = direct.market(name)
            assert curve[f"{name}.final_move"][row] == r["final_move"]
            assert curve[f"{name}.liquidated_notional"][row] == pytest.approx(r["liquidated_notional"], rel=1e-15)
        assert curve["final_move"][row] == curve["A.final_move"][row]
    # B's liquidation follows the hand-worked accounts: 0 above -10 %, 999.9 to -19.79 %, 2,999.7 beyond
    np.testing.assert_allclose(curve["B.liquidated_notional"], [2_999.7, 999.9, 0.0, 0.0], rtol=1e-12)
    a, b = curve["A.liquidated_notional"][:2], curve["B.liquidated_notional"][:2]
    np.testing.assert_allclose(curve["contagion_share"][:2], b / (a + b), rtol=1e-12)
    assert np.isnan(curve["contagion_share"][2:]).all()  # nothing liquidated
    default = venue_amplification_curve(state, "B", max_shock=0.1, points=10)
    assert len(default) == 10 and default["shock"][0] == pytest.approx(-0.1)


def test_results_are_reproducible_and_pickle():
    state = _two_markets()
    a = venue_critical_shocks(state, 2.0, markets="A", contagion=500.0, threads=1)
    b = venue_critical_shocks(pickle.loads(pickle.dumps(state)), 2.0, markets="A", contagion=500.0, threads=2)
    for c in a.columns:
        assert np.array_equal(a[c], b[c]) or np.array_equal(a[c].astype(str), b[c].astype(str)), c
    assert pickle.loads(pickle.dumps(a))["critical_shock"][0] == a["critical_shock"][0]


def test_bad_arguments_name_the_field():
    state = _two_markets()
    with pytest.raises(TypeError, match="state"):
        venue_critical_shocks(state.venue)
    with pytest.raises(ValueError, match="no market named 'C'"):
        venue_critical_shocks(state, markets=["C"])
    with pytest.raises(TypeError, match=r"markets\[0\]"):
        venue_critical_shocks(state, markets=[0])
    with pytest.raises(ValueError, match="named twice"):
        venue_critical_shocks(state, markets=["A", "A"])
    with pytest.raises(ValueError, match="level"):
        venue_critical_shocks(state, 1.0)
    with pytest.raises(ValueError, match="contagion"):
        venue_critical_shocks(state, contagion=-1.0)
    with pytest.raises(ValueError, match="at least one criterion"):
        venue_critical_shocks(state, None, exhaustion=False)
    with pytest.raises(TypeError, match="exhaustion"):
        venue_critical_shocks(state, exhaustion="yes")
    with pytest.raises(ValueError, match="max_shock"):
        venue_critical_shocks(state, max_shock=1.0)
    with pytest.raises(ValueError, match="tolerance"):
        venue_critical_shocks(state, tolerance=0.0)
    with pytest.raises(ValueError, match="refine_points"):
        venue_critical_shocks(state, refine_points=0)
    with pytest.raises(TypeError, match="market"):
        venue_amplification_curve(state, 0)
    with pytest.raises(ValueError, match="no market named"):
        venue_amplification_curve(state, "C")
    with pytest.raises(ValueError, match="points"):
        venue_amplification_curve(state, "A", points=1)


def test_the_answer_is_the_first_crossing_on_the_grid_of_a_venue_with_agents():
    """On the default venue with its agents (cross accounts, collateral on thin spot books,
    tokens, funds, stops): each answer reaches the criterion in a direct venue cascade, the point
    below it does not, and no grid point below it does."""
    from liqcascade.venue_scenario import default_agents, default_venue

    venue, positions, accounts = default_venue(accounts=2_000, isolated=2_000, seed=2)
    stops, tokens, funds = default_agents(venue, funds=40)
    state = VenueState(venue, positions, accounts, stops=stops, tokens=tokens, funds=funds)
    level, threshold, step = 1.5, 2e5, 0.005
    table = venue_critical_shocks(state, level, markets=["BTCUSDT", "WBETHUSDT"], contagion=threshold,
                                  grid_step=step, max_shock=0.3, tolerance=1e-5, refine_points=15, threads=2)
    names = venue.market_names

    def reached(market: str, move: float) -> bool:
        r = venue_cascade(state, shocks={market: move})
        m = r.market(market)
        amplification = (m["final_price"] - m["ref_price"]) / (m["shock_price"] - m["ref_price"])
        others = max(r.market(o)["liquidated_notional"] for o in names if o != market)
        return bool(amplification >= level or r.markets["book_exhausted"].any() or others > threshold)

    found = 0
    for i in range(len(table)):
        market, shock = table["market"][i], table["critical_shock"][i]
        if math.isnan(shock):
            assert table["cause"][i] == "none"
            continue
        found += 1
        assert reached(market, shock)
        if table["not_reached"][i] != 0.0:
            assert not reached(market, table["not_reached"][i])
            assert abs(shock) - abs(table["not_reached"][i]) <= 1e-5 + 1e-15
        sign = math.copysign(1.0, shock)
        for k in range(1, int(abs(shock) / step + 1e-9) + 1):
            if k * step < abs(shock):
                assert not reached(market, sign * k * step), (market, k * step)
    assert found >= 2
