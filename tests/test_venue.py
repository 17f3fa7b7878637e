"""The static cascade over a venue (docs/design.md, "Many markets"): the engine against the
literal reference model on every field, against the one-market cascade, conservation, the
hand-worked cases, bad input."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import liqcascade as lc
import reference
import reference_venue
from liqcascade.venue import Accounts, Asset, Market, Venue, VenuePositions, VenueState, venue_cascade
from strategies import QTYS, books, position_sets, shocks

pytestmark = pytest.mark.filterwarnings(
    "ignore:positions. .* already past their liquidation price:liqcascade.LiqcascadeWarning")

same = reference_venue.same


def book_of(sides: dict) -> lc.OrderBook:
    return lc.OrderBook(np.array(sides["bid_price"]), np.array(sides["bid_qty"]),
                        np.array(sides["ask_price"]), np.array(sides["ask_qty"]))


# -- one market, isolated positions only: today's cascade, exactly ---------------------------

@given(book=books(), pos=position_sets(), shock=shocks())
def test_one_market_without_accounts_is_todays_cascade(book, pos, shock):
    b = book_of(book)
    positions = lc.Positions(np.array(pos["side"], dtype=np.int8), np.array(pos["qty"]), np.array(pos["entry_price"]),
                             np.array(pos["margin"]), np.array(pos["mmr"]), np.array(pos["maint_amount"]))
    try:
        one = lc.cascade(b, positions, **shock)
    except ValueError:
        return  # (an empty side a shock needs: the venue refuses it too, tested below)
    venue = Venue([Market("M", b)])
    vp = VenuePositions(np.array(pos["side"]), np.array(pos["qty"]), np.array(pos["entry_price"]),
                        market=np.zeros(len(pos["qty"]), dtype=np.int64), margin=np.array(pos["margin"]),
                        mmr=np.array(pos["mmr"]), maint_amount=np.array(pos["maint_amount"]))
    (kind, value), = shock.items()
    arg = {"shock": "shocks", "sell_qty": "sell_qty", "buy_qty": "buy_qty"}[kind]
    r = venue_cascade(venue, vp, **{arg: {"M": value}})
    m = r.market("M")
    for name in ("ref_price", "shock_price", "final_price", "n_liquidated", "liquidated_qty", "liquidated_notional",
                 "unfilled_qty", "book_exhausted", "bad_debt", "levels_touched", "exogenous_filled_qty",
                 "exogenous_unfilled_qty"):
        assert same(m[name], getattr(one, name)), name
    assert r.rounds == one.rounds
    assert same(r.bad_debt, one.bad_debt)
    assert same(r.trace["start_price"], one.trace.start_price)
    assert np.array_equal(r.trace["count"], one.trace.count)
    assert same(r.trace["qty"], one.trace.qty)
    assert np.array_equal(r.liquidated_index, one.liquidated_index)
    assert same(r.liquidated_filled_qty, one.liquidated_filled_qty)
    assert same(r.liquidated_fill_price, one.liquidated_fill_price)
    assert np.array_equal(r.liquidated, one.liquidated)
    assert same(r.fill_price, one.fill_price)
    assert m["crossed_qty"] == 0.0


# -- random venues against the literal reference ----------------------------------------------

TIERS = lc.MaintenanceTiers(np.array([0.0, 100.0, 300.0]), np.array([0.01, 0.02, 0.05]))


@st.composite
def venues(draw):
    n_markets = draw(st.integers(1, 3))
    markets = []
    for m in range(n_markets):
        basis = draw(st.sampled_from(["mark", "entry"]))
        tiers = draw(st.sampled_from([None, TIERS]))
        markets.append(Market(f"M{m}", book_of(draw(books(max_levels=8))), tiers=tiers, basis=basis,
                              close_fee=draw(st.sampled_from([0.0, 0.0, 0.001]))))
    n_assets = draw(st.integers(0, 2))
    assets = []
    for k in range(n_assets):
        # fixed, its own market, an index that follows a market (sold into its own market, or not sold)
        kind = draw(st.sampled_from(["fixed", "market", "index", "index and market"]))
        fixed = kind == "fixed"
        own = kind in ("market", "index and market")
        index = None
        if kind.startswith("index"):
            index = (f"M{draw(st.integers(0, n_markets - 1))}", draw(st.sampled_from([1.0, 0.5, 1.07, 0.013])))
        assets.append(Asset(f"A{k}", priced_by=f"M{draw(st.integers(0, n_markets - 1))}" if own else None,
                            price=draw(st.sampled_from([1.0, 100.0])) if fixed else None,
                            haircut=draw(st.sampled_from([0.0, 0.1, 0.5])),
                            floor=draw(st.sampled_from([None, None, 90.0])), index=index))
    venue = Venue(markets, assets)
    n_accounts = draw(st.integers(0, 6))
    balance = st.one_of(st.sampled_from([0.0, 0.0, 1.0, 5.0, 20.0, -1.0]), st.floats(-5.0, 50.0))
    collateral = {name: np.array(draw(st.lists(balance, min_size=n_accounts, max_size=n_accounts)))
                  for name in venue.asset_names}
    accounts = Accounts(collateral, count=n_accounts)
    pos = draw(position_sets(max_size=14))
    n = len(pos["qty"])
    market = draw(st.lists(st.integers(0, n_markets - 1), min_size=n, max_size=n))
    account = draw(st.lists(st.integers(-1, n_accounts - 1), min_size=n, max_size=n))
    if n_accounts > 0 and n_markets > 1 and draw(st.booleans()):
        # accounts holding every market, on drawn sides: an account a move in one market
        # liquidates closes its positions in the others, often against their moves (a buy in a
        # market shocked down), so orders of both directions reach shocked markets
        for a in range(n_accounts):
            for m in range(n_markets):
                pos["side"].append(draw(st.sampled_from([1, -1])))
                pos["qty"].append(draw(st.sampled_from([0.5, 1.0, 3.0])))
                pos["entry_price"].append(draw(st.sampled_from([95.0, 100.0, 105.0])))
                pos["margin"].append(0.0)
                pos["mmr"].append(draw(st.sampled_from([0.004, 0.01, 0.05])))
                pos["maint_amount"].append(0.0)
                market.append(m)
                account.append(a)
    margin = [0.0 if a >= 0 else mg for a, mg in zip(account, pos["margin"], strict=True)]
    positions = VenuePositions(np.array(pos["side"]), np.array(pos["qty"]), np.array(pos["entry_price"]),
                               market=np.array(market, dtype=np.int64), margin=np.array(margin),
                               account=np.array(account, dtype=np.int64), mmr=np.array(pos["mmr"]),
                               maint_amount=np.array(pos["maint_amount"]))
    market_shocks: dict[str, dict[str, float]] = {"shocks": {}, "sell_qty": {}, "buy_qty": {}}
    for m in range(n_markets):
        kind = draw(st.sampled_from(["none", "shocks", "shocks", "sell_qty", "buy_qty"]))
        if kind == "shocks":
            market_shocks[kind][f"M{m}"] = draw(st.one_of(st.floats(-0.3, 0.3), st.sampled_from([-0.05, 0.05])))
        elif kind != "none":
            market_shocks[kind][f"M{m}"] = draw(st.one_of(st.sampled_from(QTYS), st.floats(0.01, 20.0)))
    return venue, positions, accounts, market_shocks


def run_both(venue, positions, accounts, market_shocks):
    try:
        r = venue_cascade(venue, positions, accounts, **market_shocks)
    except ValueError as exc:  # an empty side a shock needs, a position the tiers make invalid
        return None, exc
    ref = reference_venue.venue_cascade(venue, positions, accounts, **market_shocks)
    return r, ref


@given(case=venues())
def test_engine_agrees_with_reference_venue(case):
    r, ref = run_both(*case)
    if r is None:
        return
    mk = r.markets
    for name in ("ref_price", "shock_price", "final_price", "liquidated_qty", "liquidated_notional", "unfilled_qty",
                 "sold_qty", "sold_notional", "sale_unfilled_qty", "crossed_qty", "bad_debt", "exogenous_filled_qty",
                 "exogenous_unfilled_qty"):
        assert same(mk[name], ref["markets"][name]), name
    assert np.array_equal(mk["n_liquidated"], ref["markets"]["n_liquidated"])
    assert np.array_equal(mk["book_exhausted"], ref["markets"]["book_exhausted"])
    assert r.rounds == ref["rounds"]
    assert same(r.bad_debt, ref["bad_debt"])
    trace = np.array(ref["trace"], dtype=float).reshape(-1, 11)
    for j, name in enumerate(("round", "market", "start_price", "count", "qty", "sale_qty", "crossed_qty", "end_price",
                              "stop_qty", "token_qty", "fund_qty")):
        assert same(r.trace[name], trace[:, j]), name
    assert np.array_equal(r.liquidated, ref["liquidated"])
    assert same(r.fill_price, ref["fill_price"])
    acc = r.accounts
    assert list(acc["account"]) == [a["account"] for a in ref["accounts"]]
    for name in ("round", "equity", "maintenance", "equity_after", "bad_debt"):
        assert same(acc[name], [a[name] for a in ref["accounts"]]), name
    assert same(r.equity_before, ref["equity_before"])
    assert same(r.equity_after, ref["equity_after"])
    assert same(r.state.liquidation_price, ref["liquidation_price"])


@given(case=venues())
def test_conservation(case):
    venue, positions, accounts, _ = case
    r, _ref = run_both(*case)
    if r is None:
        return
    mk = r.markets
    # each market: what liquidation and sale orders filled, net of the crossing, is what the
    # book sides gave (sells against bids, buys against asks)
    side = np.asarray(positions.side)
    market = positions.market_index(venue)
    filled = np.zeros(len(positions))
    filled[r.liquidated_index] = r.liquidated_filled_qty
    for m in range(len(venue.markets)):
        sold = filled[(market == m) & (side > 0)].sum() + mk["sold_qty"][m]
        bought = filled[(market == m) & (side < 0)].sum()
        assert math.isclose(sold - bought, mk["bid_qty_taken"][m] - mk["ask_qty_taken"][m], rel_tol=1e-9, abs_tol=1e-9)
        assert sold - mk["bid_qty_taken"][m] == pytest.approx(bought - mk["ask_qty_taken"][m], abs=1e-9)
        assert sold - mk["bid_qty_taken"][m] <= mk["crossed_qty"][m] * (1 + 1e-12) + 1e-9
        # quantity: nothing filled beyond the orders
        assert np.all(filled[(market == m)] <= np.asarray(positions.qty)[market == m] * (1 + 1e-12))
    # cash: an account's settlement is its collateral, sales and realised PnL (the reference
    # adds them literally); bad debt is what is left short, >= 0
    acc = r.accounts
    assert np.all(acc["bad_debt"] >= 0)
    assert np.array_equal(acc["bad_debt"], np.where(acc["equity_after"] < 0, -acc["equity_after"], 0.0))
    assert len(set(acc["account"].tolist())) == len(acc["account"])  # each at most once
    assert r.bad_debt >= 0
    assert r.bad_debt == pytest.approx(mk["bad_debt"].sum() + acc["bad_debt"].sum(), rel=1e-12, abs=1e-12)
    # every position of a liquidated account was closed (ordered), none of a survivor's
    account = np.asarray(positions.account)
    for a in range(len(accounts)):
        mine = account == a
        assert np.all(r.liquidated[mine] == r.account_liquidated[a])


# -- hand-worked cases ------------------------------------------------------------------------

def ladder(mid: float, step: float, n: int, qty: float) -> lc.OrderBook:
    bids = mid - step * np.arange(1, n + 1)
    asks = mid + step * np.arange(1, n + 1)
    return lc.OrderBook(bids, np.full(n, qty), asks, np.full(n, qty))


def test_bitmex_cross_example():
    """BitMEX's cross-margin example: wallet 10,000 USDT, long 20 ETHUSDT at 1,000 (50x),
    maintenance 1 % at entry (200): liquidation where 10,000 + 20 (p - 1,000) = 200, p = 510;
    bankruptcy where it is 0, p = 500."""
    book = lc.OrderBook(np.arange(1000.0, 400.0, -1.0), np.full(600, 10.0), np.arange(1001.0, 1600.0),
                        np.full(599, 10.0))
    venue = Venue([Market("ETHUSDT", book, basis="entry", ref_price=1000.0)])
    pos = VenuePositions(1, 20.0, 1000.0, market="ETHUSDT", account=0, mmr=0.01)
    accounts = Accounts({"USDT": np.array([10_000.0])})
    state = VenueState(venue, pos, accounts)
    assert state.maintenance_before[0] == 200.0
    assert state.equity_at({"ETHUSDT": 510.0})[0] == state.maintenance_at({"ETHUSDT": 510.0})[0]  # liquidation 510
    assert state.equity_at({"ETHUSDT": 500.0})[0] == 0.0  # bankruptcy 500
    assert venue_cascade(state, shocks={"ETHUSDT": -0.4899}).rounds == 0  # 510.1: not yet
    r = venue_cascade(state, shocks={"ETHUSDT": -0.49})  # 510: liquidated
    assert r.account_liquidated[0] and r.accounts["equity"][0] == 200.0
    # it sells 20 into 10 at 510 and 10 at 509: 10,000 + 20 * (509.5 - 1,000) = 190 left
    assert r.accounts["equity_after"][0] == 190.0 and r.accounts["bad_debt"][0] == 0.0


def test_another_positions_maintenance_moves_the_liquidation_price():
    """Long 1 at 100 (20x) in a cross account with equity 5, mmr 0.4 %, and another position
    needing 4 of maintenance: the account is liquidated where 5 + (p - 100) = 0.004 p + 4, p =
    99 / 0.996 = 99.398 — not at 95.40, where the position alone (5 + (p - 100) = 0.004 p)
    would be."""
    p_liq = 99.0 / 0.996
    assert p_liq == pytest.approx(99.40, abs=0.005)
    book_a = ladder(100.0, 0.01, 2000, 100.0)
    # the other position: a short of 1 at 50 in a market that does not move, mmr 8 % (4 of maintenance)
    book_b = ladder(50.0, 0.5, 10, 100.0)
    venue = Venue([Market("A", book_a, ref_price=100.0), Market("B", book_b, ref_price=50.0)])
    pos = VenuePositions([1, -1], [1.0, 1.0], [100.0, 50.0], market=["A", "B"], account=[0, 0], mmr=[0.004, 0.08])
    accounts = Accounts({"USDT": np.array([5.0])})
    state = VenueState(venue, pos, accounts)
    assert state.maintenance_before[0] == pytest.approx(0.4 + 4.0)
    survive = venue_cascade(state, shocks={"A": 99.41 / 100 - 1})
    assert survive.rounds == 0
    hit = venue_cascade(state, shocks={"A": 99.39 / 100 - 1})
    assert hit.account_liquidated[0]
    # both positions closed, in their own markets
    assert hit.liquidated.tolist() == [True, True]
    # alone, the position would survive down to 95.40
    alone = VenueState(venue, VenuePositions(1, 1.0, 100.0, market="A", account=0, mmr=0.004), accounts)
    assert venue_cascade(alone, shocks={"A": 95.45 / 100 - 1}).rounds == 0
    assert venue_cascade(alone, shocks={"A": 95.35 / 100 - 1}).rounds == 1
    assert (95.0 / 0.996) == pytest.approx(95.38, abs=0.01)


def spiral_venue(haircut: float = 0.0):
    """ETHUSDT perpetual and a thin wBETH/USDT spot book pricing the wBETH collateral."""
    eth = ladder(1000.0, 1.0, 400, 50.0)
    wbeth = ladder(1000.0, 10.0, 60, 0.05)  # thin: 0.05 wBETH a level, 10 apart
    return Venue([Market("ETHUSDT", eth), Market("WBETHUSDT", wbeth)],
                 [Asset("wBETH", priced_by="WBETHUSDT", haircut=haircut)])


def test_wrong_way_collateral_spiral():
    """Accounts long ETH with their margin in wBETH, priced on its own thin book (10 October
    2025). A 10 % fall of ETH (to 900) liquidates account 0 (10 ETH at 1,000 on 1 wBETH:
    equity 1,000 - 1,000 = 0 <= 90); it sells its wBETH, which walks the thin book from 990 to
    about 800. Accounts 1-4 (2 ETH at 1,000 on 0.25 wBETH: equity 250 - 200 = 50 > 18 at ETH
    900, wBETH 1,000) survive the ETH move, but at wBETH 800 their equity is 0.25 * 800 - 200 =
    0 <= 18: they are liquidated in the next round, and their own sales crash wBETH further."""
    venue = spiral_venue()
    n = 5
    pos = VenuePositions(side=np.ones(n, dtype=np.int8), qty=np.array([10.0, 2.0, 2.0, 2.0, 2.0]),
                         entry_price=np.full(n, 1000.0), market=np.zeros(n, dtype=np.int64),
                         account=np.arange(n), mmr=0.01)
    accounts = Accounts({"wBETH": np.array([1.0, 0.25, 0.25, 0.25, 0.25])})
    state = VenueState(venue, pos, accounts)
    r = venue_cascade(state, shocks={"ETHUSDT": -0.10})
    eth_price = r.market("ETHUSDT")["shock_price"]
    assert eth_price == 900.0
    alone = state.equity_at([eth_price, 1000.0]) > state.maintenance_at([eth_price, 1000.0])
    assert alone.tolist() == [False, True, True, True, True]  # the ETH move alone: account 0 only
    assert r.accounts["account"].tolist() == [0, 1, 2, 3, 4]
    assert r.accounts["round"].tolist() == [1, 2, 2, 2, 2]
    w = r.market("WBETHUSDT")
    assert w["sold_qty"] == pytest.approx(2.0) and w["final_price"] <= 700.0
    assert r.market("ETHUSDT")["n_liquidated"] == 5
    ref = reference_venue.venue_cascade(venue, pos, accounts, shocks={"ETHUSDT": -0.10})
    assert [a["account"] for a in ref["accounts"]] == r.accounts["account"].tolist()
    assert same(r.markets["final_price"], ref["markets"]["final_price"])


def test_haircut_turns_a_survivor_into_a_liquidation():
    """Long 1 ETH at 1,000 margined by 0.06 wBETH (60): at 950 the loss is 50 and the
    requirement 9.5 (1 %). Without a haircut the equity 60 - 50 = 10 > 9.5 survives; with a
    haircut of 5 % the collateral counts 57, the equity 7 <= 9.5 is liquidated."""
    for haircut, liquidated in ((0.0, False), (0.05, True)):
        venue = spiral_venue(haircut)
        pos = VenuePositions(1, 1.0, 1000.0, market="ETHUSDT", account=0, mmr=0.01)
        state = VenueState(venue, pos, Accounts({"wBETH": np.array([0.06])}))
        r = venue_cascade(state, shocks={"ETHUSDT": -0.05})
        assert bool(r.account_liquidated[0]) is liquidated


def test_orders_of_both_directions_cross_before_the_book():
    """Account 0 (long 3 A at 100 on 3.5 USDT) and account 1 (hedged: short 1 A at 100, long 2
    B at 120, on 45 USDT) are liquidated in the same round by falls of A (to 99) and B (to 97):
    in A, account 0's sale of 3 and account 1's buy of 1 meet at the round's start price (1
    crossed) and only the imbalance, 2, walks the bids."""
    book = ladder(100.0, 1.0, 50, 1.0)
    venue = Venue([Market("A", book), Market("B", ladder(100.0, 1.0, 50, 1.0))])
    pos = VenuePositions(side=[1, -1, 1], qty=[3.0, 1.0, 2.0], entry_price=[100.0, 100.0, 120.0],
                         market=["A", "A", "B"], account=[0, 1, 1], mmr=0.01)
    accounts = Accounts({"USDT": np.array([3.5, 45.0])})
    state = VenueState(venue, pos, accounts)
    assert np.all(state.equity_before > state.maintenance_before)
    r = venue_cascade(state, shocks={"A": -0.01, "B": -0.03})
    a = r.market("A")
    assert r.account_liquidated.tolist() == [True, True]
    assert a["crossed_qty"] == 1.0  # 3 sold, 1 bought: 1 crosses at the start price
    assert a["bid_qty_taken"] == 2.0 and a["ask_qty_taken"] == 0.0
    ref = reference_venue.venue_cascade(venue, pos, accounts, shocks={"A": -0.01, "B": -0.03})
    assert same(r.fill_price, ref["fill_price"])


def test_exhausted_book_leaves_bad_debt_on_the_account():
    book = lc.OrderBook(np.array([99.0, 98.0]), np.array([1.0, 1.0]), np.array([101.0]), np.array([1.0]))
    venue = Venue([Market("A", book)])
    pos = VenuePositions(1, 5.0, 100.0, market="A", account=0, mmr=0.01)
    r = venue_cascade(venue, pos, Accounts({"USDT": np.array([3.0])}), shocks={"A": -0.01})
    a = r.market("A")
    assert a["book_exhausted"] and a["unfilled_qty"] == 3.0 and a["liquidated_qty"] == 2.0
    # 3 + (99 + 98 - 200) realised + 3 unfilled marked at 98: 3 - 3 - 6 = -6
    assert r.accounts["equity_after"][0] == -6.0 and r.accounts["bad_debt"][0] == 6.0 and r.bad_debt == 6.0


def test_zero_shock_is_the_identity_even_for_underwater_accounts():
    venue = Venue([Market("A", ladder(100.0, 1.0, 5, 1.0))])
    pos = VenuePositions(1, 1.0, 200.0, market="A", account=0)  # far underwater at the reference
    r = venue_cascade(venue, pos, Accounts({"USDT": np.array([1.0])}))
    assert r.rounds == 0 and not r.account_liquidated[0]
    r = venue_cascade(venue, pos, Accounts({"USDT": np.array([1.0])}), shocks={"A": 0.01})
    assert r.account_liquidated[0]  # its market moved: liquidated in the first round


def test_a_shock_moves_the_whole_market():
    """The review's reproducer: A and B each a ladder around 100 (bids 99.9 down to 90.0, asks
    100.1 up to 110.0, 0.1 apart, 500 a level); account 0 long 1 A and short 10 B at 100 on 100
    USDT, mmr 1 %; both markets shocked +20 %. The shocks remove every ask (all below 120) and
    re-anchor the bids: each bid times 120 / 100, so A's best bid is 99.9 x 1.2 = 119.88. At
    (120, 120) the account's equity is 100 + 20 - 200 = -80 <= MM 13.2: liquidated in round 1.
    Its sale of 1 A (against A's move) fills at 119.88, where A now trades — not at the
    pre-shock 99.9; its buy of 10 B finds no asks (unfilled, marked at 120). equity_after = 100
    + (119.88 - 100) - 10 x (120 - 100) = -80.12: bad debt 80.12 (100.1 when the sale filled at
    99.9). A ends at 119.88 (+19.88 %), not at -0.1 %."""
    def ladder_of(mid, step, qty, n):
        k = np.arange(1, n + 1)
        return lc.OrderBook(mid - step * k, np.full(n, qty), mid + step * k, np.full(n, qty))

    venue = Venue([Market("A", ladder_of(100, 0.1, 500, 100)), Market("B", ladder_of(100, 0.1, 500, 100))])
    pos = VenuePositions(side=[1, -1], qty=[1.0, 10.0], entry_price=100.0, market=["A", "B"], account=[0, 0],
                         mmr=0.01)
    accounts = Accounts({"USDT": np.array([100.0])})
    r = venue_cascade(venue, pos, accounts, shocks={"A": 0.2, "B": 0.2})
    mk = r.markets
    assert mk["shock_price"].tolist() == [120.0, 120.0]
    assert mk["final_price"][0] == pytest.approx(119.88, abs=1e-12) and mk["final_price"][1] == 120.0
    assert mk["final_move"][0] == pytest.approx(0.1988, abs=1e-12)
    assert r.fill_price[0] == pytest.approx(119.88, abs=1e-12) and np.isnan(r.fill_price[1])
    assert mk["unfilled_qty"][1] == 10.0 and mk["book_exhausted"].tolist() == [False, True]
    assert r.rounds == 1
    assert r.accounts["equity"][0] == pytest.approx(-80.0) and r.accounts["maintenance"][0] == pytest.approx(13.2)
    assert r.accounts["equity_after"][0] == pytest.approx(-80.12, abs=1e-9)
    assert r.bad_debt == pytest.approx(80.12, abs=1e-9)
    ref = reference_venue.venue_cascade(venue, pos, accounts, shocks={"A": 0.2, "B": 0.2})
    assert same(mk["final_price"], ref["markets"]["final_price"]) and same(r.bad_debt, ref["bad_debt"])
    # a quantity shock is an order: it moves nothing on the other side (A's sale walks the
    # bids as they stand)
    r = venue_cascade(venue, pos, accounts, buy_qty={"A": 100_000.0, "B": 100_000.0})
    assert r.markets["final_price"][0] == 99.9


def test_an_account_past_its_trigger_at_the_reference_may_recover_under_the_shock():
    """Short 10 A at 100 on 5 USDT, mmr 1 %: at the reference (100) equity 5 <= MM 10, past its
    trigger. Accounts are evaluated at the round's start prices, after the shocks: at 99.9 (a
    -0.1 % shock) equity 5 + 1 = 6 <= MM 9.99, liquidated — its buy of 10 walks the asks
    re-anchored at 99.9 / 100: 100.1 x 0.999 = 99.9999, equity_after 5 + 10 x 0.0001 = 5.001;
    at 99 (-1 %) equity 15 > MM 9.9: it survives."""
    venue = Venue([Market("A", ladder(100.0, 0.1, 50, 500.0))])
    pos = VenuePositions(-1, 10.0, 100.0, market="A", account=0, mmr=0.01)
    accounts = Accounts({"USDT": np.array([5.0])})
    state = VenueState(venue, pos, accounts)
    assert state.equity_before[0] == 5.0 and state.maintenance_before[0] == pytest.approx(10.0)
    r = venue_cascade(state, shocks={"A": -0.001})
    assert r.account_liquidated[0] and r.accounts["equity"][0] == pytest.approx(6.0)
    assert r.fill_price[0] == pytest.approx(99.9999, abs=1e-9)
    assert r.accounts["equity_after"][0] == pytest.approx(5.001, abs=1e-9)
    r = venue_cascade(state, shocks={"A": -0.01})
    assert not r.account_liquidated[0] and r.rounds == 0
    for s in (-0.001, -0.01):
        ref = reference_venue.venue_cascade(venue, pos, accounts, shocks={"A": s})
        assert ref["liquidated"] == [s == -0.001]


@given(case=venues())
def test_a_relative_shock_ends_on_the_reanchored_book(case):
    """What a relative shock s guarantees its market (down; up mirrors it): the final price is
    the target or a level of the book the shock left — a bid at or below the target, or an ask
    times (1 + s). With no ask taken it ends at or below the target; it ends above the
    reference only if what was bought through the asks covers every re-anchored ask below the
    final price (an opposite imbalance may legitimately push it back, but only through the
    depth the book had, moved with the price)."""
    venue, positions, accounts, market_shocks = case
    r, _ = run_both(*case)
    if r is None:
        return
    mk = r.markets
    for name, s in market_shocks["shocks"].items():
        if s == 0.0:
            continue
        m = venue.market_names.index(name)
        book = venue.markets[m].book
        ref, target, final = mk["ref_price"][m], mk["shock_price"][m], mk["final_price"][m]
        factor = target / ref
        down = s < 0
        walked, opposite = (book.bid_price, book.ask_price) if down else (book.ask_price, book.bid_price)
        opposite_qty = book.ask_qty if down else book.bid_qty
        reanchored = opposite * factor
        allowed = {target, *reanchored.tolist(), *[p for p in walked if (p <= target if down else p >= target)]}
        assert final in allowed
        taken = mk["ask_qty_taken" if down else "bid_qty_taken"][m]
        if taken == 0.0:
            assert (final <= target) if down else (final >= target)
        if (final > ref) if down else (final < ref):
            below = reanchored < final if down else reanchored > final
            assert taken >= opposite_qty[below].sum() * (1 - 1e-12)


def test_pickle_round_trip():
    venue = spiral_venue(0.1)
    pos = VenuePositions(1, 1.0, 1000.0, market="ETHUSDT", account=0, mmr=0.01)
    state = VenueState(venue, pos, Accounts({"wBETH": np.array([0.06])}))
    r = venue_cascade(state, shocks={"ETHUSDT": -0.05})
    again = pickle.loads(pickle.dumps(r))
    assert same(again.markets["final_price"], r.markets["final_price"])
    assert venue_cascade(pickle.loads(pickle.dumps(state)), shocks={"ETHUSDT": -0.05}).rounds == r.rounds


# -- bad input --------------------------------------------------------------------------------

def test_bad_input_names_the_field_and_index():
    book = ladder(100.0, 1.0, 5, 1.0)
    venue = Venue([Market("A", book)], [Asset("ETH", priced_by="A", haircut=0.1)])
    with pytest.raises(ValueError, match=r"market\[1\]: no market named 'B'"):
        VenueState(venue, VenuePositions([1, 1], 1.0, 100.0, market=["A", "B"]))
    with pytest.raises(ValueError, match=r"market\[0\]: must be a market index in \[0, 1\), got 3"):
        VenueState(venue, VenuePositions(1, 1.0, 100.0, market=np.array([3])))
    with pytest.raises(ValueError, match=r"account\[1\]: must be an account index in \[0, 2\)"):
        VenueState(venue, VenuePositions([1, 1], 1.0, 100.0, market="A", account=[0, 2]), Accounts(count=2))
    with pytest.raises(ValueError, match=r"margin\[0\]: a cross position"):
        VenueState(venue, VenuePositions(1, 1.0, 100.0, market="A", account=0, margin=5.0), Accounts(count=1))
    with pytest.raises(ValueError, match=r"qty\[1\]: must be finite and > 0, got -1"):
        VenueState(venue, VenuePositions(1, [1.0, -1.0], 100.0, market="A"))
    with pytest.raises(ValueError, match=r"assets\[1\]\.haircut: must be in \[0, 1\), got 1"):
        Venue([Market("A", book)], [Asset("ETH", priced_by="A", haircut=1.0)])
    with pytest.raises(ValueError, match=r"assets\[0\]\.priced_by: no market named 'B'"):
        Venue([Market("A", book)], [Asset("ETH", priced_by="B")])
    with pytest.raises(ValueError, match=r"markets\[1\]\.name: duplicated"):
        Venue([Market("A", book), Market("A", book)])
    with pytest.raises(ValueError, match=r"collateral: no asset named 'BTC'"):
        VenueState(venue, VenuePositions(1, 1.0, 100.0, market="A"), Accounts({"BTC": np.zeros(1)}))
    with pytest.raises(ValueError, match=r"collateral\[0\]\[ETH\]: must be finite"):
        VenueState(venue, VenuePositions(1, 1.0, 100.0, market="A"), Accounts({"ETH": np.array([np.nan])}))
    with pytest.raises(ValueError, match=r"shocks\[0\]: \('A'\) shock: must be finite and > -1"):
        venue_cascade(venue, VenuePositions(1, 1.0, 100.0, market="A"), shocks={"A": -2.0})
    with pytest.raises(ValueError, match=r"no market named 'Z'"):
        venue_cascade(venue, VenuePositions(1, 1.0, 100.0, market="A"), shocks={"Z": -0.1})
    with pytest.raises(TypeError, match=r"shocks\['A'\]: expected a real number"):
        venue_cascade(venue, VenuePositions(1, 1.0, 100.0, market="A"), shocks={"A": "x"})
    with pytest.raises(TypeError, match="book: expected liqcascade.OrderBook"):
        Market("A", "book")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="give exactly one of priced_by"):
        Asset("X")


def test_reference_liquidation_prices_of_isolated_positions_with_tiers():
    """The isolated positions' tiers (at the liquidation price) and prices are Positions'."""
    book = ladder(100.0, 1.0, 5, 1.0)
    venue = Venue([Market("A", book, tiers=TIERS)])
    side, qty, entry, margin = [1, -1, 1], [1.0, 2.0, 4.0], [100.0, 100.0, 90.0], [10.0, 10.0, 20.0]
    state = VenueState(venue, VenuePositions(side, qty, entry, market="A", margin=margin))
    positions = lc.Positions(side, qty, entry, margin, tiers=TIERS)
    assert same(state.liquidation_price, positions.liquidation_price)
    assert reference.tier_of([0.0, 100.0, 300.0], 100.0) == 0


def random_venue(seed: int, n_accounts: int = 150, n_isolated: int = 150):
    """A larger venue than Hypothesis draws: three perpetuals and a spot book, accounts of 1-3
    positions with collateral in two assets priced by markets, isolated positions; cascades of
    many rounds in which the account index re-evaluates survivors."""
    rng = np.random.default_rng(seed)
    markets = [Market(name, ladder(mid, mid * 0.002, 150, float(depth)), tiers=tiers)
               for name, mid, depth, tiers in (("BTC", 100.0, 3, TIERS), ("ETH", 50.0, 5, None),
                                               ("SOL", 20.0, 10, None), ("WB", 50.0, 0.5, None))]
    venue = Venue(markets, [Asset("ETHC", priced_by="ETH", haircut=0.1), Asset("WBC", priced_by="WB", haircut=0.05)])
    mids = np.array([100.0, 50.0, 20.0])
    k = rng.integers(1, 4, n_accounts)
    account = np.repeat(np.arange(n_accounts), k)
    market = rng.integers(0, 3, account.size)
    n_cross = account.size
    side = np.where(rng.random(n_cross + n_isolated) < 0.7, 1, -1)
    market = np.concatenate([market, rng.integers(0, 3, n_isolated)])
    entry = mids[market] * np.exp(rng.normal(0, 0.02, market.size))
    qty = rng.lognormal(0, 0.7, market.size) * 100.0 / mids[market]
    lev = rng.choice([5.0, 10.0, 20.0, 50.0], market.size)
    margin = np.concatenate([np.zeros(n_cross), qty[n_cross:] * entry[n_cross:] / lev[n_cross:]])
    account = np.concatenate([account, np.full(n_isolated, -1)])
    notional = np.bincount(account[:n_cross], weights=qty[:n_cross] * entry[:n_cross], minlength=n_accounts)
    collateral = {"USDT": notional / rng.choice([5.0, 10.0, 20.0], n_accounts) * rng.random(n_accounts),
                  "ETHC": rng.random(n_accounts) * notional / 50.0 / 20.0,
                  "WBC": rng.random(n_accounts) * notional / 50.0 / 20.0}
    positions = VenuePositions(side, qty, entry, market=market, margin=margin, account=account, mmr=0.01)
    return venue, positions, Accounts(collateral)


@pytest.mark.parametrize("seed", range(6))
def test_larger_venues_agree_with_reference(seed):
    venue, positions, accounts = random_venue(seed)
    state = VenueState(venue, positions, accounts)
    for moves in ({"BTC": -0.04}, {"BTC": -0.08, "SOL": 0.03}, {"ETH": -0.1}, {"WB": -0.2, "BTC": 0.05}):
        r = venue_cascade(state, shocks=moves)
        ref = reference_venue.venue_cascade(venue, positions, accounts, shocks=moves)
        assert r.accounts["account"].tolist() == [a["account"] for a in ref["accounts"]]
        assert same(r.accounts["equity_after"], [a["equity_after"] for a in ref["accounts"]])
        assert same(r.markets["final_price"], ref["markets"]["final_price"])
        assert same(r.fill_price, ref["fill_price"])
        assert r.rounds == ref["rounds"] and same(r.bad_debt, ref["bad_debt"])
        assert same(r.equity_after, ref["equity_after"])
