"""Many markets through time (docs/design.md, "Many markets through time"): one market and no
accounts is ``simulate`` bit for bit; one step of market orders is the static venue cascade; the
engine against the literal reference model (tests/reference_venue_sim.py) on every field;
conservation; hand-worked cases; correlated paths; bad input; pickling."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import liqcascade as lc
import reference_venue_sim
from liqcascade.venue import Accounts, Asset, Market, Venue, VenuePositions, VenueState, venue_cascade
from liqcascade.venue_simulator import correlated_gbm_paths, simulate_venue
from strategies import QTYS, books, position_sets

pytestmark = pytest.mark.filterwarnings(
    "ignore:positions. .* already past their liquidation price:liqcascade.LiqcascadeWarning",
    "ignore:insurance_fund. starts negative:liqcascade.LiqcascadeWarning")


def book_of(sides: dict) -> lc.OrderBook:
    return lc.OrderBook(np.array(sides["bid_price"]), np.array(sides["bid_qty"]),
                        np.array(sides["ask_price"]), np.array(sides["ask_qty"]))


def same_array(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))
    return np.array_equal(a, b)


def flat_book(mid=100.0, levels=150, qty=1.0, tick=0.5) -> lc.OrderBook:
    k = np.arange(1, levels + 1)
    return lc.OrderBook(mid - tick * k, np.full(levels, qty), mid + tick * k, np.full(levels, qty))


# -- one market, no accounts: today's simulate, bit for bit ------------------------------------

@st.composite
def one_market_runs(draw):
    book = draw(books())
    pos = draw(position_sets(max_size=15))
    steps = draw(st.integers(1, 25))
    kwargs: dict = {}
    kwargs["policy"] = draw(st.sampled_from(["binance", "bybit", "hyperliquid", "market_orders"]))
    if draw(st.booleans()):
        sigma = draw(st.sampled_from([0.005, 0.02]))
        kwargs["path"] = lc.gbm_path(steps, 1.0, 100.0, sigma, seed=draw(st.integers(0, 9)))
    if draw(st.booleans()):
        kwargs["flow"] = lc.random_flow(steps, 0.5, draw(st.sampled_from([0.5, 3.0])), seed=draw(st.integers(0, 9)))
    kwargs["shock"] = draw(st.sampled_from([0.0, 0.0, -0.03, 0.03, -0.1]))
    kwargs["resilience"] = draw(st.sampled_from([0.0, 0.0, 0.1, 1.0]))
    kwargs["mark"] = draw(st.sampled_from(["last", "ema", "index"]))
    kwargs["mark_halflife"] = draw(st.sampled_from([0.0, 2.0]))
    kwargs["band"] = draw(st.sampled_from([0.0, 0.0, 0.02]))
    if draw(st.booleans()):
        kwargs["breakers"] = [lc.CircuitBreaker(0.03, 2, 3)]
    kwargs["insurance_fund"] = draw(st.sampled_from([0.0, 50.0, -5.0]))
    if draw(st.booleans()):
        kwargs["funding_interval"] = 4
    return book, pos, steps, kwargs


@settings(max_examples=150, deadline=None)
@given(run=one_market_runs())
def test_one_market_without_accounts_is_todays_simulate_bit_for_bit(run):
    book, pos, steps, kwargs = run
    b = book_of(book)
    positions = lc.Positions(np.array(pos["side"], dtype=np.int8), np.array(pos["qty"]), np.array(pos["entry_price"]),
                             np.array(pos["margin"]), np.array(pos["mmr"]), np.array(pos["maint_amount"]))
    try:
        one = lc.simulate(b, positions, steps=steps, **kwargs)
    except ValueError as exc:  # (e.g. an index mark below 0): the venue refuses it as well
        with pytest.raises(ValueError, match=str(exc).split(":")[0]):
            simulate_venue(Venue([Market("M", b)]), VenuePositions(
                np.array(pos["side"]), np.array(pos["qty"]), np.array(pos["entry_price"]),
                market=np.zeros(len(pos["qty"]), dtype=np.int64), margin=np.array(pos["margin"]),
                mmr=np.array(pos["mmr"]), maint_amount=np.array(pos["maint_amount"])), steps=steps, **_venue(kwargs))
        return
    vp = VenuePositions(np.array(pos["side"]), np.array(pos["qty"]), np.array(pos["entry_price"]),
                        market=np.zeros(len(pos["qty"]), dtype=np.int64), margin=np.array(pos["margin"]),
                        mmr=np.array(pos["mmr"]), maint_amount=np.array(pos["maint_amount"]))
    venue = simulate_venue(Venue([Market("M", b)]), vp, steps=steps, **_venue(kwargs))
    m = venue.market("M")
    assert set(one.timeline.columns) <= set(m.timeline.columns)
    for name in one.timeline.columns:
        assert same_array(m.timeline[name], one.timeline[name]), name
    assert set(one.events.columns) == set(m.events.columns)
    for name in one.events.columns:
        assert same_array(m.events[name], one.events[name]), name
    assert same_array(m.final_qty, one.final_qty)
    assert same_array(m.liquidated, one.liquidated)
    assert m.exogenous_filled == one.exogenous_filled
    assert m.insurance_fund_start == one.insurance_fund_start
    assert same_array(venue.final_qty, one.final_qty)
    assert len(venue.accounts) == 0 and len(venue.orders) == 0


def _venue(kwargs: dict) -> dict:
    """simulate's keyword arguments as simulate_venue's for the market "M"."""
    out = dict(kwargs)
    if "path" in out:
        out["paths"] = {"M": out.pop("path")}
    if "flow" in out:
        out["flows"] = {"M": out.pop("flow")}
    out["shocks"] = {"M": out.pop("shock")}
    return out


# -- the literal reference model -------------------------------------------------------------

@st.composite
def small_venues(draw, isolated: bool = True):
    n_markets = draw(st.integers(1, 3))
    markets = [Market(f"M{m}", book_of(draw(books(max_levels=8)))) for m in range(n_markets)]
    assets = []
    for k in range(draw(st.integers(0, 2))):
        fixed = draw(st.booleans())
        assets.append(Asset(f"A{k}", priced_by=None if fixed else f"M{draw(st.integers(0, n_markets - 1))}",
                            price=draw(st.sampled_from([1.0, 100.0])) if fixed else None,
                            haircut=draw(st.sampled_from([0.0, 0.1, 0.5])),
                            floor=draw(st.sampled_from([None, None, 90.0]))))
    venue = Venue(markets, assets)
    n_accounts = draw(st.integers(0, 6))
    balance = st.one_of(st.sampled_from([0.0, 0.0, 1.0, 5.0, 20.0, -1.0]), st.floats(-5.0, 50.0))
    collateral = {name: np.array(draw(st.lists(balance, min_size=n_accounts, max_size=n_accounts)))
                  for name in venue.asset_names}
    accounts = Accounts(collateral, count=n_accounts)
    pos = draw(position_sets(max_size=14))
    n = len(pos["qty"])
    market = draw(st.lists(st.integers(0, n_markets - 1), min_size=n, max_size=n))
    low = -1 if isolated else 0
    account = draw(st.lists(st.integers(low, n_accounts - 1), min_size=n, max_size=n)) if n_accounts or isolated \
        else [-1] * n
    margin = [0.0 if a >= 0 else mg for a, mg in zip(account, pos["margin"], strict=True)]
    positions = VenuePositions(np.array(pos["side"]), np.array(pos["qty"]), np.array(pos["entry_price"]),
                               market=np.array(market, dtype=np.int64), margin=np.array(margin),
                               account=np.array(account, dtype=np.int64), mmr=np.array(pos["mmr"]),
                               maint_amount=np.array(pos["maint_amount"]))
    return venue, positions, accounts


@st.composite
def venue_runs(draw):
    venue, positions, accounts = draw(small_venues())
    n_markets = len(venue.markets)
    steps = draw(st.integers(1, 6))
    paths = None
    if draw(st.booleans()):
        moves = draw(st.lists(st.lists(st.sampled_from([-0.02, -0.01, 0.0, 0.01, 0.03]), min_size=n_markets,
                                       max_size=n_markets), min_size=steps, max_size=steps))
        mids = [m.book.mid for m in venue.markets]
        paths = (np.array(mids) * np.cumprod(1.0 + np.array(moves), axis=0)).tolist()
    shocks = {f"M{m}": draw(st.sampled_from([0.0, -0.05, 0.05, -0.2])) for m in range(n_markets)}
    mark = draw(st.sampled_from(["last", "index"]))
    max_orders = draw(st.sampled_from([0, 0, 1, 2]))
    grouped = n_markets > 1 and draw(st.booleans())
    fund_groups = [[f"M{m}" for m in range(n_markets)]] if grouped else None
    fund_group = [0] * n_markets if grouped else list(range(n_markets))
    start_fund = draw(st.sampled_from([0.0, 25.0]))
    return venue, positions, accounts, steps, paths, shocks, mark, max_orders, fund_groups, fund_group, start_fund


@settings(max_examples=200, deadline=None)
@given(run=venue_runs())
def test_engine_agrees_with_the_reference_model_on_every_field(run):
    venue, positions, accounts, steps, paths, shocks, mark, max_orders, fund_groups, fund_group, start_fund = run
    policy = lc.LiquidationPolicy.market_orders(max_orders_per_step=max_orders)
    r = simulate_venue(venue, positions, accounts, steps, policy=policy,
                       paths=None if paths is None else np.array(paths), shocks=shocks, mark=mark,
                       fund_groups=fund_groups, insurance_fund=start_fund)
    n_funds = max(fund_group) + 1
    ref = reference_venue_sim.simulate_venue(venue, positions, accounts, steps, paths=paths, shocks=shocks, mark=mark,
                                             max_orders_per_step=max_orders, fund_group=fund_group,
                                             insurance_fund=[start_fund] * n_funds)
    for m, name in enumerate(venue.market_names):
        tl = r.market(name).timeline
        for key, values in ref["timeline"][m].items():
            assert same_array(tl[key], values), (name, key)
    events = [(int(s), int(p), q, pr, lo, f) for mk in r.markets
              for s, p, q, pr, lo, f in zip(mk.events.step, mk.events.position, mk.events.qty, mk.events.price,
                                            mk.events.loss, mk.events.fund, strict=True)]
    expected = [(e["step"], e["position"], e["qty"], e["price"], e["loss"], e["fund"]) for e in ref["events"]]
    assert sorted(events) == sorted(expected)
    assert all(k == 0 for mk in r.markets for k in mk.events.kind)  # (market orders: fills only)
    isolated = np.asarray(positions.account) < 0
    assert same_array(r.final_qty[isolated], np.array(ref["final_qty"])[isolated])
    assert same_array(r.liquidated[isolated], np.array(ref["liquidated"])[isolated])
    rows = ref["accounts"]
    for key in ("account", "step", "settled_step", "equity", "maintenance", "equity_after", "bad_debt"):
        assert same_array(r.accounts[key], [row[key] for row in rows]), key
    for key in ("step", "market", "account", "kind", "item", "qty", "price", "unfilled"):
        assert same_array(r.orders[key], [o[key] for o in ref["orders"]]), key
    assert same_array(r.fund_final, ref["fund"])


# -- conservation --------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(run=venue_runs())
def test_quantity_and_cash_are_conserved_across_markets(run):
    venue, positions, accounts, steps, paths, shocks, mark, max_orders, fund_groups, fund_group, start_fund = run
    r = simulate_venue(venue, positions, accounts, steps,
                       policy=lc.LiquidationPolicy.market_orders(max_orders_per_step=max_orders),
                       paths=None if paths is None else np.array(paths), shocks=shocks, mark=mark,
                       fund_groups=fund_groups, insurance_fund=start_fund)
    qty = np.asarray(positions.qty)
    side = np.asarray(positions.side)
    # each position: what filled (its engine's fills, or its account's closes) + what is left = its size
    filled = np.zeros(len(qty))
    for mk in r.markets:
        np.add.at(filled, mk.events.position, mk.events.qty)
    closes = r.orders["kind"] == 0
    np.add.at(filled, r.orders["item"][closes], r.orders["qty"][closes])
    np.testing.assert_allclose(filled + r.final_qty, qty, rtol=1e-12, atol=1e-9)
    assert np.all(r.final_qty >= -1e-9)
    # per market, the step's liquidated quantity is the isolated fills plus the cross closes
    for m, mk in enumerate(r.markets):
        tl = mk.timeline
        iso = np.bincount(mk.events.step, weights=mk.events.qty, minlength=steps)
        np.testing.assert_allclose(tl.liquidated_qty, iso + tl.account_qty, rtol=1e-12, atol=1e-9)
        # the book: sells taken from the bids, buys from the asks (no refill, no exogenous flow)
        sells = float(np.sum(mk.events.qty[side[mk.events.position] > 0]))
        buys = float(np.sum(mk.events.qty[side[mk.events.position] < 0]))
        mine = (r.orders["market"] == m)
        for kind, item, q in zip(r.orders["kind"][mine], r.orders["item"][mine], r.orders["qty"][mine], strict=True):
            if kind == 1 or side[item] > 0:
                sells += q
            else:
                buys += q
        book = venue.markets[m].book
        if shocks[venue.market_names[m]] != 0.0:
            continue  # (a shock removes levels: the static cascade's rule, tested there)
        ask_taken = float(book.ask_qty.sum()) - tl.ask_depth[-1]
        assert buys == pytest.approx(ask_taken, rel=1e-9, abs=1e-9)
        if paths is None:  # (a path may shift bids to prices <= 0, which no longer count as depth)
            bid_taken = float(book.bid_qty.sum()) - tl.bid_depth[-1]
            assert sells == pytest.approx(bid_taken, rel=1e-9, abs=1e-9)
    # accounts: liquidated once, bad debt >= 0 and what settlement left short
    acc = r.accounts
    assert len(set(acc["account"].tolist())) == len(acc)
    assert np.all(acc["bad_debt"] >= 0.0)
    np.testing.assert_array_equal(acc["bad_debt"], np.maximum(0.0, -acc["equity_after"]))
    # cash: the funds lost the isolated fills' shortfalls and the settled accounts' bad debt
    start = np.full(max(fund_group) + 1, start_fund)
    losses = np.zeros_like(start)
    for m, mk in enumerate(r.markets):
        losses[r.fund_of_market[m]] += float(np.sum(mk.events.loss))
    settled = acc["settled_step"] >= 0
    assert float(np.sum(start - r.fund_final)) == pytest.approx(
        float(np.sum(losses)) + float(np.sum(acc["bad_debt"][settled])), rel=1e-9, abs=1e-9)


# -- one step of market orders: the static venue cascade ----------------------------------------

@settings(max_examples=150, deadline=None)
@given(venue_positions=small_venues(), moves=st.lists(st.sampled_from([0.0, -0.03, 0.03, -0.1, 0.1, -0.3]),
                                                     min_size=3, max_size=3))
def test_one_step_of_isolated_positions_is_the_static_venue_cascade(venue_positions, moves):
    venue, positions, accounts = venue_positions
    n_markets = len(venue.markets)
    shocks = {f"M{m}": moves[m] for m in range(n_markets)}
    # isolated positions only; the static cascade reads one side per market: drop the opposite
    # positions already past their trigger at the reference (the engine would close them)
    keep = np.asarray(positions.account) < 0
    state = VenueState(venue, positions, accounts)
    liq = state.liquidation_price
    mid = np.array([m.book.mid for m in venue.markets])[positions.market_index(venue)]
    move = np.array(moves)[positions.market_index(venue)]
    side = np.asarray(positions.side)
    keep &= np.where(side > 0, (move < 0) | (liq < mid), (move > 0) | (liq > mid))
    idx = np.flatnonzero(keep)
    vp = VenuePositions(side[idx], np.asarray(positions.qty)[idx], np.asarray(positions.entry_price)[idx],
                        market=positions.market_index(venue)[idx], margin=np.asarray(positions.margin)[idx],
                        mmr=np.asarray(positions.mmr)[idx], maint_amount=np.asarray(positions.maint_amount)[idx])
    static = venue_cascade(venue, vp, shocks=shocks)
    sim = simulate_venue(venue, vp, None, 1, policy="market_orders", shocks=shocks)
    for m, name in enumerate(venue.market_names):
        tl = sim.market(name).timeline
        row = static.market(name)
        assert tl.price[0] == row["final_price"], name
        assert tl.liquidated_qty[0] == pytest.approx(row["liquidated_qty"], rel=1e-12, abs=1e-9)
        assert tl.liquidated_notional[0] == pytest.approx(row["liquidated_notional"], rel=1e-12, abs=1e-9)
        loss = sim.markets[m].events.loss
        assert float(loss.sum()) == pytest.approx(row["bad_debt"], rel=1e-9, abs=1e-9)
    np.testing.assert_array_equal(sim.liquidated, static.liquidated)


@st.composite
def long_accounts(draw):
    """Cross accounts holding longs and positive collateral, no isolated positions: every
    order of the static cascade is a sell (no crossing)."""
    n_markets = draw(st.integers(1, 3))
    markets = [Market(f"M{m}", book_of(draw(books(max_levels=8)))) for m in range(n_markets)]
    assets = [Asset("A0", priced_by=f"M{draw(st.integers(0, n_markets - 1))}",
                    haircut=draw(st.sampled_from([0.0, 0.1, 0.5])))]
    venue = Venue(markets, assets)
    n_accounts = draw(st.integers(1, 6))
    collateral = {name: np.array(draw(st.lists(st.sampled_from([0.0, 1.0, 5.0, 20.0, 60.0]), min_size=n_accounts,
                                               max_size=n_accounts))) for name in venue.asset_names}
    n = draw(st.integers(1, 12))
    qty = draw(st.lists(st.one_of(st.sampled_from(QTYS), st.floats(0.01, 3.0)), min_size=n, max_size=n))
    entry = draw(st.lists(st.sampled_from([95.0, 100.0, 105.0]), min_size=n, max_size=n))
    positions = VenuePositions(np.ones(n, dtype=np.int8), np.array(qty), np.array(entry),
                               market=np.array(draw(st.lists(st.integers(0, n_markets - 1), min_size=n, max_size=n))),
                               account=np.array(draw(st.lists(st.integers(0, n_accounts - 1), min_size=n, max_size=n))),
                               mmr=np.full(n, draw(st.sampled_from([0.004, 0.01, 0.05]))))
    shocks = {f"M{m}": draw(st.sampled_from([0.0, -0.02, -0.05, -0.2])) for m in range(n_markets)}
    return venue, positions, Accounts(collateral, count=n_accounts), shocks


@settings(max_examples=150, deadline=None)
@given(run=long_accounts())
def test_one_step_of_accounts_is_the_static_venue_cascade(run):
    venue, positions, accounts, shocks = run
    static = venue_cascade(venue, positions, accounts, shocks=shocks)
    sim = simulate_venue(venue, positions, accounts, 1, policy="market_orders", shocks=shocks)
    for name in venue.market_names:
        assert sim.market(name).timeline.price[0] == static.market(name)["final_price"], name
    np.testing.assert_array_equal(sim.account_liquidated, static.account_liquidated)
    order = np.argsort(static.accounts["account"], kind="stable")
    mine = np.argsort(sim.accounts["account"], kind="stable")
    np.testing.assert_allclose(sim.accounts["equity_after"][mine], static.accounts["equity_after"][order],
                               rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(sim.accounts["bad_debt"][mine], static.accounts["bad_debt"][order],
                               rtol=1e-9, atol=1e-9)
    # the static cascade's rounds are the passes of the step: same accounts, same order
    np.testing.assert_array_equal(sim.accounts["account"], static.accounts["account"])


def test_an_order_against_a_shock_is_where_one_step_and_the_static_cascade_part():
    """The documented exception to the one-step equivalence (docs/design.md, "Many markets
    through time", reduction 2): the static cascade re-anchors the side opposite a relative
    shock, the simulator's shock sweeps only the side it consumes around an unchanged
    fundamental. Account 0 (long 1 A, short 10 B at 100 on 100 USDT), both markets +20 %: its
    sale of 1 A fills at 99.9 x 1.2 = 119.88 in the static cascade, at the book's 99.9 in the
    step."""
    k = np.arange(1, 101)
    book = lc.OrderBook(100.0 - 0.1 * k, np.full(100, 500.0), 100.0 + 0.1 * k, np.full(100, 500.0))
    venue = Venue([Market("A", book), Market("B", book)])
    positions = VenuePositions(side=[1, -1], qty=[1.0, 10.0], entry_price=100.0, market=["A", "B"],
                               account=[0, 0], mmr=0.01)
    accounts = Accounts({"USDT": np.array([100.0])})
    shocks = {"A": 0.2, "B": 0.2}
    static = venue_cascade(venue, positions, accounts, shocks=shocks)
    sim = simulate_venue(venue, positions, accounts, 1, policy="market_orders", shocks=shocks)
    assert static.market("A")["final_price"] == pytest.approx(119.88, abs=1e-12)
    assert sim.market("A").timeline.price[0] == 99.9
    assert sim.account_liquidated[0] and static.account_liquidated[0]


# -- hand-worked cases ---------------------------------------------------------------------------

def test_bitmex_cross_example_through_time():
    """BitMEX's cross example: wallet 10,000 USDT, long 20 ETHUSDT at 1,000 (50x), maintenance
    0.5 %: equity 10,000 + 20 (p - 1,000) meets 0.1 p at p = 10,000 / 19.9 = 502.51. An index
    mark walking down 10 a step from 1,000 first reaches it at step 50 (p = 500); the close of
    20 walks a book of 1 a level, 0.5 apart below 500: VWAP 500 - 0.5 x 10.5 = 494.75, equity
    after 10,000 + 20 (494.75 - 1,000) = -105, the fund's loss."""
    steps = 61
    path = 1000.0 - 10.0 * np.arange(steps)
    venue = Venue([Market("ETHUSDT", flat_book(1000.0, levels=400))])
    positions = VenuePositions(np.array([1]), np.array([20.0]), np.array([1000.0]), market=np.array([0]),
                               account=np.array([0]), mmr=np.array([0.005]))
    accounts = Accounts({"USDT": np.array([10_000.0])})
    r = simulate_venue(venue, positions, accounts, steps, policy="market_orders", paths={"ETHUSDT": path},
                       mark="index", insurance_fund=1_000.0)
    assert 10_000.0 / 19.9 == pytest.approx(502.5126, abs=1e-4)
    acc = r.accounts
    assert acc["step"].tolist() == [50] and acc["settled_step"].tolist() == [50]
    assert acc["equity"][0] == pytest.approx(10_000.0 + 20 * (500.0 - 1000.0))
    assert acc["maintenance"][0] == pytest.approx(0.1 * 500.0)
    assert r.orders["price"][0] == pytest.approx(494.75)
    assert acc["equity_after"][0] == pytest.approx(-105.0)
    assert acc["bad_debt"][0] == pytest.approx(105.0)
    fund = r.market("ETHUSDT").timeline.insurance_fund
    assert fund[49] == 1_000.0 and fund[50] == pytest.approx(895.0)
    assert r.bad_debt == pytest.approx(105.0)


def test_wrong_way_collateral_spiral_through_time():
    """Two accounts hold 20 units of a collateral priced on its own thin book (1 unit a level at
    0.495, 0.485, ...: mid 0.5, no haircut) against BTC longs at 100 (mmr 0.5 %): account 0 long
    1, account 1 long 0.6. A 10 % BTC fall (last 90) leaves account 0 with equity 20 x 0.5 - 10 =
    0 <= 0.45: liquidated; account 1 with 10 - 6 = 4 > 0.27: safe. Account 0 closes 1 BTC at
    the 90.0 level and sells its 20 units down 20 levels (VWAP 0.40, last 0.305): account 1's
    equity falls to 20 x 0.305 - 6 = 0.1 <= 0.27, and the step's next pass liquidates it: it
    closes 0.6 at 89.5 and sells 20 more units (VWAP 0.20). Equity after: account 0 -10 + 8 = -2,
    account 1 0.6 x (89.5 - 100) + 4 = -2.3, both BTC's fund's loss (the weights: BTC
    positions only). One step: the static venue cascade's two rounds."""
    btc = flat_book(100.0, levels=100, qty=1.0, tick=0.5)
    k = np.arange(1, 50)
    coll = lc.OrderBook(0.5 - 0.01 * k + 0.005, np.full(49, 1.0), 0.5 + 0.01 * k - 0.005, np.full(49, 1.0))
    venue = Venue([Market("BTC", btc), Market("COLL", coll)], [Asset("COLL", priced_by="COLL")])
    positions = VenuePositions(np.array([1, 1]), np.array([1.0, 0.6]), np.array([100.0, 100.0]),
                               market=np.array([0, 0]), account=np.array([0, 1]), mmr=np.array([0.005, 0.005]))
    accounts = Accounts({"USDT": np.array([0.0, 0.0]), "COLL": np.array([20.0, 20.0])})
    r = simulate_venue(venue, positions, accounts, 1, policy="market_orders", shocks={"BTC": -0.10})
    acc = r.accounts
    assert acc["account"].tolist() == [0, 1] and acc["step"].tolist() == [0, 0]
    assert acc["equity"][0] == pytest.approx(0.0, abs=1e-12)
    assert acc["equity"][1] == pytest.approx(20 * 0.305 - 6.0)
    sales = r.orders["kind"] == 1
    np.testing.assert_allclose(r.orders["price"][sales], [0.40, 0.20])
    np.testing.assert_allclose(r.orders["price"][~sales], [90.0, 89.5])
    np.testing.assert_allclose(acc["equity_after"], [-2.0, -2.3])
    np.testing.assert_allclose(acc["bad_debt"], [2.0, 2.3])
    assert r.fund_final.tolist() == pytest.approx([-4.3, 0.0])
    assert r.market("COLL").timeline.sale_qty[0] == pytest.approx(40.0)
    static = venue_cascade(venue, positions, accounts, shocks={"BTC": -0.10})
    assert static.rounds == 2
    np.testing.assert_allclose(static.accounts["equity_after"], acc["equity_after"])
    assert static.market("COLL")["final_price"] == r.market("COLL").timeline.price[0]


def test_throughput_spreads_account_orders_over_steps_and_a_halt_holds_them():
    venue = Venue([Market("M", flat_book(100.0, levels=150))])
    n = 4
    positions = VenuePositions(np.ones(n, dtype=np.int8), np.full(n, 1.0), np.full(n, 100.0),
                               market=np.zeros(n, dtype=np.int64), account=np.arange(n), mmr=np.full(n, 0.01))
    accounts = Accounts({"USDT": np.array([2.0, 3.0, 4.0, 5.0])})
    r = simulate_venue(venue, positions, accounts, 6, shocks={"M": -0.06},
                       policy=lc.LiquidationPolicy.market_orders(max_orders_per_step=1))
    # all four triggered at step 0 (equity <= 6 - 6 + ... at 94), one close a step
    assert r.accounts["step"].tolist() == [0, 0, 0, 0]
    assert r.orders["step"].tolist() == [0, 1, 2, 3]
    # equity <= 0 first by index, then by margin ratio: account 0 (2 - 6 = -4) ... all negative here
    assert r.orders["account"].tolist() == [0, 1, 2, 3]
    assert r.market("M").timeline.accounts_liquidated.tolist() == [4, 0, 0, 0, 0, 0]
    halted = simulate_venue(venue, positions, accounts, 6, policy="market_orders", shocks={"M": -0.06},
                            breakers=[lc.CircuitBreaker(0.05, 1, 2)], mark="index",
                            paths={"M": np.array([100.0, 94.0, 94.0, 94.0, 94.0, 94.0])})
    # step 0: the shock's 6 % trips the breaker (index mark still 100: no account triggered);
    # step 1: the index mark 94 triggers all four, whose orders wait out the halt (steps 1, 2)
    tl = halted.market("M").timeline
    assert tl.halted.tolist()[:4] == [False, True, True, False]
    assert halted.accounts["step"].tolist() == [1, 1, 1, 1]
    assert halted.orders["step"].tolist() == [3, 3, 3, 3]
    assert tl.account_qty.tolist()[:3] == [0.0, 0.0, 0.0] and tl.account_qty[3] == pytest.approx(4.0)
    assert bool(np.all(tl.account_qty[tl.halted] == 0.0))


def test_a_shared_fund_pays_for_every_market_of_its_group():
    """Binance's layout: BTCUSDT and ETHUSDT each own a fund, the other markets share one. A
    bad debt in SOLUSDT draws the shared fund, which XRPUSDT's timeline shows too."""
    names = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
    venue = Venue([Market(name, flat_book(100.0, levels=50)) for name in names])
    positions = VenuePositions(np.array([1]), np.array([5.0]), np.array([100.0]), market=np.array([2]),
                               margin=np.array([1.0]), mmr=np.array([0.005]))
    r = simulate_venue(venue, positions, None, 2, policy="market_orders", shocks={"SOLUSDT": -0.05},
                       fund_groups=[["SOLUSDT", "XRPUSDT"]], insurance_fund={"BTCUSDT": 10.0, "SOLUSDT": 100.0})
    assert r.fund_of_market.tolist() == [0, 1, 2, 2]
    loss = float(r.market("SOLUSDT").events.loss.sum())
    assert loss > 0
    assert r.fund_final.tolist() == [10.0, 0.0, pytest.approx(100.0 - loss)]
    assert r.market("XRPUSDT").timeline.insurance_fund[-1] == pytest.approx(100.0 - loss)
    assert r.market("BTCUSDT").timeline.insurance_fund.tolist() == [10.0, 10.0]


# -- correlated paths ----------------------------------------------------------------------------

def test_correlated_paths_have_the_input_correlation_and_volatility():
    corr = np.array([[1.0, 0.8, -0.3], [0.8, 1.0, 0.1], [-0.3, 0.1, 1.0]])
    sigma = np.array([0.02, 0.03, 0.01])
    paths = correlated_gbm_paths(40_001, 1.0, [100.0, 50.0, 10.0], sigma, correlation=corr, seed=7)
    assert paths.shape == (40_001, 3)
    np.testing.assert_array_equal(paths[0], [100.0, 50.0, 10.0])
    returns = np.diff(np.log(paths), axis=0)
    # 40,000 draws: the sample correlation's standard error is below 0.005
    np.testing.assert_allclose(np.corrcoef(returns.T), corr, atol=0.02)
    np.testing.assert_allclose(returns.std(axis=0), sigma, rtol=0.02)
    # the mean log-return is (mu - sigma^2 / 2) dt, within 4 standard errors (sigma / 200)
    assert np.all(np.abs(returns.mean(axis=0) + 0.5 * sigma**2) < 4 * sigma / 200)
    again = correlated_gbm_paths(40_001, 1.0, [100.0, 50.0, 10.0], sigma, correlation=corr, seed=7)
    np.testing.assert_array_equal(paths, again)
    other = correlated_gbm_paths(40_001, 1.0, [100.0, 50.0, 10.0], sigma, correlation=corr, seed=8)
    assert not np.array_equal(paths, other)
    cov = corr * np.outer(sigma, sigma)
    np.testing.assert_allclose(correlated_gbm_paths(100, 1.0, [100.0, 50.0, 10.0], cov=cov, seed=7), paths[:100],
                               rtol=1e-12)


def test_correlated_paths_bad_input_names_the_field():
    with pytest.raises(ValueError, match="correlation"):
        correlated_gbm_paths(10, 1.0, [1.0, 1.0], [0.1, 0.1], correlation=[[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="sigma"):
        correlated_gbm_paths(10, 1.0, [1.0, 1.0], [0.1, -0.1])
    with pytest.raises(ValueError, match="start"):
        correlated_gbm_paths(10, 1.0, [1.0, 0.0], [0.1, 0.1])
    with pytest.raises(ValueError, match="cov"):
        correlated_gbm_paths(10, 1.0, [1.0, 1.0], cov=np.eye(3))
    with pytest.raises(ValueError, match="sigma"):
        correlated_gbm_paths(100_000, 1.0, [1.0], [50.0], mu=1e3)
    with pytest.raises(ValueError, match="dt"):
        correlated_gbm_paths(10, 0.0, [1.0], [0.1])


# -- bad input; pickling -------------------------------------------------------------------------

def test_bad_input_names_the_field():
    venue = Venue([Market("A", flat_book()), Market("B", flat_book())])
    positions = VenuePositions(np.array([1]), np.array([1.0]), np.array([100.0]), market=np.array([0]),
                               margin=np.array([5.0]))
    with pytest.raises(ValueError, match="paths"):
        simulate_venue(venue, positions, None, 3, paths=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"paths\[1\]: market 1"):
        simulate_venue(venue, positions, None, 3, paths=np.array([[1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="flows"):
        simulate_venue(venue, positions, None, 2, flows=np.array([[0.0, math.nan], [0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"shocks\[0\]"):
        simulate_venue(venue, positions, None, 2, shocks={"A": -1.5})
    with pytest.raises(ValueError, match=r"resilience\[1\]"):
        simulate_venue(venue, positions, None, 2, resilience={"B": -1.0})
    with pytest.raises(ValueError, match="fund_groups"):
        simulate_venue(venue, positions, None, 2, fund_groups=[["A", "B"], ["B"]])
    with pytest.raises(TypeError, match="fund_groups"):
        simulate_venue(venue, positions, None, 2, fund_groups=["AB"])
    with pytest.raises(ValueError, match="insurance_fund"):
        simulate_venue(venue, positions, None, 2, fund_groups=[["A", "B"]], insurance_fund={"A": 1.0, "B": 2.0})
    with pytest.raises(ValueError, match="steps"):
        simulate_venue(venue, positions, None, 0)
    with pytest.raises(ValueError, match="dt"):
        simulate_venue(venue, positions, None, 2, dt=-1.0)
    with pytest.raises(ValueError, match="market"):
        simulate_venue(venue, positions, None, 2, shocks={"C": -0.1})
    with pytest.raises(TypeError, match="positions"):
        simulate_venue(venue, None, None, 2)
    with pytest.raises(ValueError, match="policy"):
        simulate_venue(venue, positions, None, 2, policy="nasdaq")
    spot = lc.OrderBook([99.0, 98.0], [1.0, 1.0], np.zeros(0), np.zeros(0))
    one_sided = Venue([Market("A", flat_book()), Market("SPOT", spot, ref_price=99.5)])
    with pytest.raises(ValueError, match=r"markets\[1\]: 'SPOT': ask_price: the ask side is empty"):
        simulate_venue(one_sided, positions, None, 2, paths={"A": np.full(2, 100.0)})


def test_result_pickles():
    venue = Venue([Market("A", flat_book()), Market("B", flat_book())], [Asset("B", priced_by="B", haircut=0.1)])
    positions = VenuePositions(np.array([1, 1]), np.array([1.0, 2.0]), np.array([100.0, 100.0]),
                               market=np.array([0, 1]), margin=np.array([5.0, 0.0]), account=np.array([-1, 0]))
    accounts = Accounts({"USDT": np.array([5.0]), "B": np.array([0.1])})
    r = simulate_venue(venue, positions, accounts, 5, policy="market_orders", shocks={"A": -0.08, "B": -0.1})
    back = pickle.loads(pickle.dumps(r))
    assert back.market_names == r.market_names
    assert same_array(back.market("A").timeline.price, r.market("A").timeline.price)
    assert same_array(back.accounts["bad_debt"], r.accounts["bad_debt"])
    assert same_array(back.final_qty, r.final_qty)
    assert len(r.accounts) == 1 and len(r.timeline) == 10
    events = r.events
    assert len(events) == len(r.markets[0].events) + len(r.markets[1].events) + len(r.orders)
    assert bool(np.all(np.diff(events["step"]) >= 0))
    assert set(events["kind_name"].tolist()) == {"liquidation", "account_close", "collateral_sale"}
    assert events["account"][events["kind_name"] == "account_close"].tolist() == [0]
    assert events["market"][events["kind_name"] == "collateral_sale"].tolist() == ["B"]


def test_a_long_venue_run_answers_ctrl_c():
    # the step loop and the account passes read the cancel flag: SIGINT stops a long run
    from pathlib import Path

    from test_hardening import answers_ctrl_c

    bench = Path(__file__).resolve().parents[1] / "bench"
    answers_ctrl_c(f"sys.path.insert(0, {str(bench)!r})\nimport bench_venue_sim as b\n"
                   "venue, positions, accounts = b.bench_venue(200_000)\n"
                   "state = lc.venue.VenueState(venue, positions, accounts)\n"
                   "paths = lc.correlated_gbm_paths(200_000, 1.0, b.MIDS, b.SIGMA, correlation=b.CORRELATION)",
                   "lc.simulate_venue(state, steps=200_000, policy='market_orders', paths=paths, mark='index')",
                   wait=3.0)


@pytest.mark.parametrize("fund", [1_000.0, 0.0])
def test_what_a_book_will_not_take_of_an_account_goes_to_the_fund_or_adl(fund):
    """An account (quote 5, long 10 at 100, mmr 0.5 %) and an isolated short (20 at 105, margin
    100). A 2 % shock leaves bids of 1 at 98, 97.5 and 97: the account (equity 5 - 20 = -15) is
    liquidated; its close fills 3 (last and mark 97) and 7 are left. With a fund of 1,000 the
    fund takes the 7 over at the mark 97; with none, ADL closes 7 of the short at 97 for it.
    Either way the account realises 3 fills (-7.5) and 7 x (97 - 100) = -21: equity after
    5 - 7.5 - 21 = -23.5, bad debt 23.5 that the fund covers."""
    k = np.arange(6)
    book = lc.OrderBook(99.5 - 0.5 * k, np.ones(6), 100.5 + 0.5 * np.arange(100), np.full(100, 10.0))
    venue = Venue([Market("M", book)])
    positions = VenuePositions(np.array([1, -1]), np.array([10.0, 20.0]), np.array([100.0, 105.0]),
                               market=np.array([0, 0]), margin=np.array([0.0, 100.0]), account=np.array([0, -1]),
                               mmr=np.array([0.005, 0.005]))
    accounts = Accounts({"USDT": np.array([5.0])})
    r = simulate_venue(venue, positions, accounts, 2, policy="binance", shocks={"M": -0.02}, insurance_fund=fund)
    o = r.orders
    assert o["qty"].tolist() == [3.0] and o["unfilled"].tolist() == [7.0] and o["absorbed"].tolist() == [7.0]
    assert r.accounts["equity_after"].tolist() == pytest.approx([-23.5])
    assert r.accounts["settled_step"].tolist() == [0]
    events = r.market("M").events
    if fund > 0:
        assert events["kind_name"].tolist() == ["takeover"]
        assert events["position"].tolist() == [0] and events["qty"].tolist() == [7.0] and events["price"][0] == 97.0
        assert r.market("M").timeline.fund_inventory[0] == 7.0
        assert r.final_qty.tolist() == [0.0, 20.0]
    else:
        assert events["kind_name"].tolist() == ["adl"]
        assert events["position"].tolist() == [1] and events["counterparty"].tolist() == [0]
        assert events["qty"].tolist() == [7.0] and events["price"][0] == 97.0
        assert r.market("M").timeline.adl_qty[0] == 7.0
        assert r.final_qty.tolist() == [0.0, 13.0]
    assert r.fund_final[0] == pytest.approx(fund - 23.5)


@settings(max_examples=40, deadline=None)
@given(run=venue_runs())
def test_a_venue_runs_liquidation_map_bins_every_liquidation_fill_by_market_side_step_and_price(run):
    # fragility.venue_simulation_liquidation_map: per market, the notional of the engine's
    # liquidation fills and takeovers (isolated positions) and the accounts' closes, by the
    # side of the position closed, summed over the map equals the events' own sum
    from liqcascade.fragility import venue_simulation_liquidation_map

    venue, positions, accounts, steps, paths, shocks, mark, max_orders, fund_groups, _, start_fund = run
    r = simulate_venue(venue, positions, accounts, steps, policy=lc.LiquidationPolicy.market_orders(
                       max_orders_per_step=max_orders), paths=None if paths is None else np.array(paths),
                       shocks=shocks, mark=mark, fund_groups=fund_groups, insurance_fund=start_fund)
    maps = venue_simulation_liquidation_map(r, positions, time_buckets=3, price_buckets=5)
    assert list(maps) == list(venue.market_names)
    ev = r.events
    side = np.asarray(positions.side)
    for name, smap in maps.items():
        mine = (ev.market == name) & np.isin(ev.kind_name, ["liquidation", "takeover", "account_close"]) & (ev.qty > 0)
        for sign, grid in ((1, smap.long), (-1, smap.short)):
            pick = mine & (side[np.maximum(ev.position, 0)] == sign) & (ev.position >= 0)
            assert grid.sum() == pytest.approx(float(np.sum(ev.qty[pick] * ev.price[pick])), rel=1e-12, abs=1e-9)
        assert smap.time_edges[0] == 0 and smap.time_edges[-1] == steps
    with pytest.raises(ValueError, match="^kinds: expected items of"):
        venue_simulation_liquidation_map(r, positions, kinds=("collateral_sale",))
    with pytest.raises(ValueError, match="^price_edges: no market named 'X'"):
        venue_simulation_liquidation_map(r, positions, price_edges={"X": [1.0, 2.0]})
