"""Agents in the static venue cascade (docs/design.md, "Agents"): the engine against the literal
reference model on every field, conservation, and the closed forms — a leveraged token's
rebalance and its NAV along a path, Greenwood-Landier-Thesmar's one-round fire sale with
linear impact, a Cont-Schaanning two-fund contagion with exponential impact."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import liqcascade as lc
import reference_venue
from liqcascade.agents import (
    Funds,
    LeveragedTokens,
    StopOrders,
    round_number_levels,
    stop_clusters,
    token_presets,
    token_rebalance,
)
from liqcascade.venue import Market, Venue, VenuePositions, VenueState, venue_cascade
from strategies import QTYS
from test_venue import venues

pytestmark = pytest.mark.filterwarnings(
    "ignore:positions. .* already past their liquidation price:liqcascade.LiqcascadeWarning")

same = reference_venue.same
NO_POSITIONS = VenuePositions(np.zeros(0, dtype=np.int8), np.zeros(0), np.zeros(0), market=np.zeros(0, dtype=np.int64))


def linear_book(mid: float, tick: float, levels: int, qty: float) -> lc.OrderBook:
    """Equal quantity on equally spaced levels: selling x units moves the price x * tick / qty
    (to one level) — linear impact. (At most the levels priced above 0.)"""
    k = np.arange(1, min(levels, math.ceil(mid / tick) - 1) + 1)
    levels = k.size
    return lc.OrderBook(mid - tick * k, np.full(levels, qty), mid + tick * k, np.full(levels, qty))


def geometric_book(mid: float, step: float, levels: int, qty: float) -> lc.OrderBook:
    """Equal quantity on levels mid * exp(-+ step k): selling x units multiplies the price by
    exp(-x / D), D = qty / step (to one level) — exponential impact (Cont-Schaanning)."""
    k = np.arange(1, levels + 1)
    return lc.OrderBook(mid * np.exp(-step * k), np.full(levels, qty), mid * np.exp(step * k), np.full(levels, qty))


# -- random venues with agents against the literal reference ------------------------------------

@st.composite
def agents(draw, n_markets: int):
    ref = 100.0
    n_stops = draw(st.integers(0, 6))
    stops = StopOrders(
        np.array(draw(st.lists(st.integers(0, n_markets - 1), min_size=n_stops, max_size=n_stops)), dtype=np.int64),
        np.array(draw(st.lists(st.sampled_from([1, -1]), min_size=n_stops, max_size=n_stops)), dtype=np.int8),
        np.array(draw(st.lists(st.one_of(st.sampled_from(QTYS), st.floats(0.01, 5.0)), min_size=n_stops,
                               max_size=n_stops))),
        np.array(draw(st.lists(st.one_of(st.sampled_from([95.0, 99.0, 101.0, 105.0]), st.floats(70.0, 130.0)),
                               min_size=n_stops, max_size=n_stops))))
    n_tokens = draw(st.integers(0, 3))
    tokens = LeveragedTokens(
        np.array(draw(st.lists(st.integers(0, n_markets - 1), min_size=n_tokens, max_size=n_tokens)), dtype=np.int64),
        np.array(draw(st.lists(st.sampled_from([3.0, -3.0, 2.0, -1.0, 5.0]), min_size=n_tokens, max_size=n_tokens))),
        np.array(draw(st.lists(st.floats(10.0, 2_000.0), min_size=n_tokens, max_size=n_tokens))),
        np.array(draw(st.lists(st.sampled_from([0.01, 0.02, 0.05, 0.1]), min_size=n_tokens, max_size=n_tokens))),
        np.array(draw(st.lists(st.sampled_from([math.nan, math.nan, 97.0, 103.0]), min_size=n_tokens,
                               max_size=n_tokens))))
    n_funds = draw(st.integers(0, 3))
    holdings = np.array(draw(st.lists(st.lists(st.sampled_from([0.0, 0.0, 1.0, 5.0, 20.0]) | st.floats(0.1, 20.0),
                                               min_size=n_markets, max_size=n_markets),
                                      min_size=n_funds, max_size=n_funds))).reshape(n_funds, n_markets)
    holdings[:, 0] += 1.0  # (something held)
    assets = holdings.sum(axis=1) * ref  # (the books are centred near 100; equity well inside)
    share = np.array(draw(st.lists(st.sampled_from([0.05, 0.1, 0.3, 1.0]), min_size=n_funds, max_size=n_funds)))
    target = np.array(draw(st.lists(st.sampled_from([1.0, 2.0, 5.0, 10.0]), min_size=n_funds, max_size=n_funds)))
    buffer = np.array(draw(st.lists(st.sampled_from([1.0, 1.0, 1.1, 1.5]), min_size=n_funds, max_size=n_funds)))
    funds = Funds(holdings, equity=assets * share * 0.9, target_leverage=target, max_leverage=target * buffer)
    return stops, tokens, funds


@st.composite
def venues_with_agents(draw):
    venue, positions, accounts, market_shocks = draw(venues())
    stops, tokens, funds = draw(agents(len(venue.markets)))
    return venue, positions, accounts, market_shocks, stops, tokens, funds


def run_both(venue, positions, accounts, market_shocks, stops, tokens, funds):
    try:
        r = venue_cascade(venue, positions, accounts, **market_shocks, stops=stops, tokens=tokens, funds=funds)
    except ValueError:  # an empty side a shock needs, a fund whose equity exceeds its assets at the mid
        return None, None
    ref = reference_venue.venue_cascade(venue, positions, accounts, **market_shocks, stops=stops, tokens=tokens,
                                        funds=funds)
    return r, ref


def rows(records, name):
    return [rec[name] for rec in records]


@given(case=venues_with_agents())
def test_engine_agrees_with_reference_on_agents(case):
    r, ref = run_both(*case)
    if r is None:
        return
    mk = r.markets
    for name in ("final_price", "liquidated_qty", "liquidated_notional", "unfilled_qty", "sold_qty", "crossed_qty",
                 "bad_debt"):
        assert same(mk[name], ref["markets"][name]), name
    for kind in ("stop", "token", "fund"):
        assert np.array_equal(mk[f"{kind}_orders"], ref["markets"][f"{kind}_orders"]), kind
        for col in ("sold_qty", "bought_qty", "notional", "unfilled_qty"):
            assert same(mk[f"{kind}_{col}"], ref["markets"][f"{kind}_{col}"]), (kind, col)
    assert np.array_equal(mk["book_exhausted"], ref["markets"]["book_exhausted"])
    assert r.rounds == ref["rounds"]
    assert same(r.bad_debt, ref["bad_debt"])
    trace = np.array(ref["trace"], dtype=float).reshape(-1, 11)
    for j, name in enumerate(("round", "market", "start_price", "count", "qty", "sale_qty", "crossed_qty", "end_price",
                              "stop_qty", "token_qty", "fund_qty")):
        assert same(r.trace[name], trace[:, j]), name
    assert np.array_equal(r.liquidated, ref["liquidated"])
    assert same(r.fill_price, ref["fill_price"])
    for name in ("equity_after", "bad_debt"):
        assert same(r.accounts[name], rows(ref["accounts"], name)), name
    for name in ("stop", "round", "filled_qty", "fill_price"):
        assert same(r.stops[name], rows(ref["stops"], name)), name
    for name in ("token", "round", "price", "return", "order_qty", "filled_qty", "notional", "nav_after"):
        assert same(r.token_rebalances[name], rows(ref["token_rebalances"], name)), name
    for name in ("fund", "round", "assets", "equity", "fraction", "sale_value", "notional"):
        assert same(r.fund_sales[name], rows(ref["fund_sales"], name)), name
    assert same(r.token_nav, ref["token_nav"])
    assert same(mk["token_bad_debt"], ref["markets"]["token_bad_debt"])
    assert same(r.token_bad_debt, ref["token_bad_debt"])
    assert same(r.fund_debt_after, ref["fund_debt_after"])
    assert same(r.fund_equity_after, ref["fund_equity_after"])
    assert same(r.fund_holdings_after, np.array(ref["fund_holdings_after"]).reshape(r.fund_holdings_after.shape))


@given(case=venues_with_agents())
def test_conservation_with_agents(case):
    venue, positions, _accounts, _shocks, stops, _tokens, funds = case
    r, _ = run_both(*case)
    if r is None:
        return
    mk = r.markets
    side = np.asarray(positions.side)
    market = positions.market_index(venue)
    filled = np.zeros(len(positions))
    filled[r.liquidated_index] = r.liquidated_filled_qty
    for m in range(len(venue.markets)):
        sold = filled[(market == m) & (side > 0)].sum() + mk["sold_qty"][m]
        bought = filled[(market == m) & (side < 0)].sum()
        for kind in ("stop", "token", "fund"):
            sold += mk[f"{kind}_sold_qty"][m]
            bought += mk[f"{kind}_bought_qty"][m]
        assert math.isclose(sold - bought, mk["bid_qty_taken"][m] - mk["ask_qty_taken"][m], rel_tol=1e-9,
                            abs_tol=1e-9)
        assert sold - mk["bid_qty_taken"][m] <= mk["crossed_qty"][m] * (1 + 1e-12) + 1e-9
    # each stop fires at most once, filling no more than its quantity
    assert len(set(r.stops["stop"].tolist())) == len(r.stops)
    assert np.all(r.stops["filled_qty"] <= np.asarray(stops.qty)[r.stops["stop"]] * (1 + 1e-12))
    # a fund's debt falls by exactly what its sales fetched; its holdings by what filled
    fetched = np.zeros(len(funds))
    np.add.at(fetched, r.fund_sales["fund"], r.fund_sales["notional"])
    debt0 = np.asarray(r.state._agents.fund_debt)
    assert np.allclose(debt0 - fetched, r.fund_debt_after, rtol=1e-12, atol=1e-9)
    assert np.all(r.fund_holdings_after >= -1e-9)
    # funds only sell, and never more than they hold
    assert np.all(mk["fund_bought_qty"] == 0)
    assert np.all(r.fund_sales["fraction"] > 0) and np.all(r.fund_sales["fraction"] <= 1)


def test_zero_shock_is_the_identity_and_no_agents_is_todays_cascade():
    venue = Venue([Market("A", linear_book(100.0, 0.5, 50, 2.0))])
    tokens = LeveragedTokens("A", 3.0, 1_000.0, 0.01)
    stops = StopOrders("A", -1, 1.0, 110.0)  # past its price already: fires once the market moves down
    funds = Funds({"A": [10.0]}, equity=[100.0], target_leverage=[10.0])
    r = venue_cascade(venue, NO_POSITIONS, stops=stops, tokens=tokens, funds=funds)
    assert r.rounds == 0 and len(r.token_rebalances) == 0 and len(r.stops) == 0 and len(r.fund_sales) == 0
    hit = venue_cascade(venue, NO_POSITIONS, stops=stops, tokens=tokens, funds=funds, shocks={"A": -0.005})
    assert list(hit.stops["round"]) == [1]
    pos = VenuePositions(np.array([1, -1], dtype=np.int8), np.array([1.0, 1.0]), np.array([100.0, 100.0]),
                         market=np.zeros(2, dtype=np.int64), margin=np.array([5.0, 5.0]))
    plain = venue_cascade(venue, pos, shocks={"A": -0.04})
    empty = venue_cascade(venue, pos, shocks={"A": -0.04}, stops=StopOrders.concat([]),
                          tokens=LeveragedTokens(np.zeros(0, dtype=np.int64), [], []), funds=None)
    for name in ("final_price", "liquidated_notional", "bid_qty_taken"):
        assert same(plain.markets[name], empty.markets[name])


# -- a token: the rebalance rule and its NAV along a path ------------------------------------------

@pytest.mark.parametrize("leverage", [3.0, -3.0, 2.0, -1.0])
@pytest.mark.parametrize("shock", [-0.06, 0.06])
def test_token_alone_trades_exactly_L_L_minus_1_r_nav(leverage, shock):
    """A token of leverage L, NAV N and exposure L N at its last rebalance price P: at p = P (1 +
    r) its exposure is worth L N (1 + r) and its NAV N (1 + L r); back to leverage L it must hold
    L N (1 + L r): it trades L N (1 + L r) - L N (1 + r) = L (L - 1) r N of notional — with the
    move for L > 1 and for L < 0 (L (L - 1) > 0), |L (L - 1) r N| / p units at the round's
    start price p. Its NAV after is N (1 + L r) less what the order's fill cost against p."""
    nav, theta = 1_000_000.0, 0.05
    venue = Venue([Market("A", linear_book(100.0, 0.01, 9_000, 50.0))])
    r = venue_cascade(venue, NO_POSITIONS, tokens=LeveragedTokens("A", leverage, nav, theta), shocks={"A": shock})
    row = {k: r.token_rebalances[k][0] for k in ("round", "price", "return", "order_qty", "filled_qty", "notional",
                                                   "nav_after")}
    p = 100.0 * (1 + shock)
    assert row["round"] == 1 and row["price"] == p
    ret = p / 100.0 - 1.0
    notional = leverage * (leverage - 1.0) * ret * nav
    assert row["return"] == ret
    assert row["order_qty"] == math.copysign(abs(notional) / p, notional)  # exactly the closed form
    assert math.copysign(1, row["order_qty"]) == math.copysign(1, shock)  # in the direction of the move
    cost = abs(row["filled_qty"] * p - row["notional"])
    assert row["filled_qty"] == abs(row["order_qty"])
    assert row["nav_after"] == nav * (1.0 + leverage * ret) - cost
    assert r.markets["token_notional"][0] == row["notional"]


def test_token_ladder_in_the_cascade_follows_the_rule_round_by_round():
    """A 3x token with a 0.5 % threshold on a thin book: its own sale moves the price past its
    next rebalance price, so it rebalances again in the next round, at that round's start
    price with the NAV the last one left — and trades less as its NAV shrinks."""
    venue = Venue([Market("A", linear_book(100.0, 0.05, 2_000, 5.0))])
    tokens = LeveragedTokens("A", 3.0, 100_000.0, 0.005)
    r = venue_cascade(venue, NO_POSITIONS, tokens=tokens, shocks={"A": -0.02})
    tr = r.token_rebalances
    assert len(tr) >= 3
    nav, price = 100_000.0, 100.0
    for k in range(len(tr)):
        rb = token_rebalance(3.0, nav, price, tr["price"][k])
        assert tr["return"][k] == rb["return"] and tr["price"][k] <= price * (1 - 0.005)
        assert tr["order_qty"][k] == -abs(rb["notional"]) / tr["price"][k]
        cost = tr["filled_qty"][k] * tr["price"][k] - tr["notional"][k]
        assert tr["nav_after"][k] == rb["nav_marked"] - cost
        nav, price = tr["nav_after"][k], tr["price"][k]
    assert r.token_nav[0] == nav


def test_token_nav_along_a_path_is_the_product_form():
    """Along a path p_0, ..., p_T with a rebalance at every step (threshold reached each time,
    no cost), N_k = N_{k-1} (1 + L r_k), r_k = p_k / p_{k-1} - 1, so exactly

        N_T = N_0 * prod_k (1 + L r_k).

    With a threshold the product runs over the rebalance points only (r between successive
    rebalance prices), and the NAV between them is marked: N (1 + L r) from the last one.

    Continuous limit: log(1 + L r) = L r - L^2 r^2 / 2 + O(r^3) and L log(1 + r) = L r - L r^2 / 2
    + O(r^3), so log(N_T / N_0) = L log(P_T / P_0) - L (L - 1) / 2 * sum r_k^2 + O(sum |r|^3):

        N_T / N_0 -> (P_T / P_0)^L * exp(-L (L - 1) sigma^2 T / 2)

    for a path whose quadratic variation sum r_k^2 -> sigma^2 T (geometric Brownian motion)."""
    rng = np.random.default_rng(7)
    for leverage in (3.0, -3.0):
        n, sigma, horizon = 20_000, 0.8, 1.0
        dt = horizon / n
        path = 100.0 * np.exp(np.cumsum(sigma * math.sqrt(dt) * rng.standard_normal(n) - sigma**2 * dt / 2))
        path = np.concatenate([[100.0], path])
        nav, factors = 1_000.0, []
        for k in range(1, n + 1):
            rb = token_rebalance(leverage, nav, path[k - 1], path[k])
            factors.append(1.0 + leverage * (path[k] / path[k - 1] - 1.0))
            assert rb["notional"] == leverage * (leverage - 1.0) * rb["return"] * nav
            nav = rb["nav_marked"]
        assert nav == math.prod([1_000.0, *factors])  # the discrete identity, to the bit
        returns = path[1:] / path[:-1] - 1.0
        realised = float(np.sum(returns**2))
        closed = (path[-1] / path[0]) ** leverage * math.exp(-leverage * (leverage - 1) * realised / 2)
        assert nav / 1_000.0 == pytest.approx(closed, rel=2e-3)
        expected = (path[-1] / path[0]) ** leverage * math.exp(-leverage * (leverage - 1) * sigma**2 * horizon / 2)
        assert nav / 1_000.0 == pytest.approx(expected, rel=0.05)
    # with a threshold: the product over the rebalance points, marked since the last
    theta, leverage, nav, last = 0.05, 3.0, 1_000.0, 100.0
    path = 100.0 * np.exp(np.cumsum(0.01 * rng.standard_normal(2_000)))
    points = []
    for p in path:
        if p <= last * (1 - theta) or p >= last * (1 + theta):
            nav = token_rebalance(leverage, nav, last, p)["nav_marked"]
            points.append(p)
            last = p
    prices = [100.0, *points]
    product = math.prod([1_000.0, *(1.0 + leverage * (b / a - 1.0) for a, b in zip(prices, prices[1:], strict=False))])
    assert len(points) > 5 and nav == product
    marked = nav * (1.0 + leverage * (path[-1] / last - 1.0))
    ends = [*prices, path[-1]]
    assert marked == pytest.approx(1_000.0 * math.prod(1.0 + leverage * (b / a - 1.0)
                                                       for a, b in zip(ends, ends[1:], strict=False)), rel=1e-12)


def test_a_token_wiped_out_closes_its_exposure_and_trades_no_more():
    venue = Venue([Market("A", linear_book(100.0, 0.5, 400, 1_000.0))])
    r = venue_cascade(venue, NO_POSITIONS, tokens=LeveragedTokens("A", 3.0, 1_000.0, 0.1), shocks={"A": -0.4})
    tr = r.token_rebalances
    assert len(tr) == 1
    # marked NAV 1,000 (1 - 1.2) < 0: it sells its whole exposure 3 x 1,000 x 0.6 at 60
    assert tr["order_qty"][0] == -(3.0 * 1_000.0 * (1 + (60.0 / 100.0 - 1.0))) / 60.0
    assert tr["nav_after"][0] < 0
    # what it is left owing is its issuer's bad debt, recorded apart from the venue's
    assert r.token_nav[0] == tr["nav_after"][0]
    assert r.token_bad_debt == -tr["nav_after"][0]
    assert r.market("A")["token_bad_debt"] == -tr["nav_after"][0]
    assert r.bad_debt == 0.0


def test_token_bad_debt_hand_worked():
    """A 3x token of NAV 1,000 rebalanced last at 100, threshold 10 %, on a book of 1,000 units
    a level every 0.5 from 99.5; no other order. A -40 % shock: last = 60, r = -0.4, marked NAV
    1,000 (1 + 3 x -0.4) = -200 <= 0, so it closes its exposure -L N (1 + r) = -1,800 of
    notional: 30 units sold. The shock removed the bids above 60; the level at 60 (1,000 units)
    takes them all: 1,800, no cost against the round's start price. NAV after: -200, the
    token's bad debt 200, none of it the venue's. With a -50 % shock instead, last = 50 and the
    marked NAV -500; the exposure -3 x 1,000 x 0.5 = -1,500 is 30 units again, filled at 50:
    bad debt 500."""
    venue = Venue([Market("A", linear_book(100.0, 0.5, 400, 1_000.0))])
    r = venue_cascade(venue, NO_POSITIONS, tokens=LeveragedTokens("A", 3.0, 1_000.0, 0.1), shocks={"A": -0.4})
    assert r.token_rebalances["order_qty"][0] == pytest.approx(-30.0, rel=1e-12)
    assert r.token_rebalances["notional"][0] == pytest.approx(30 * 60.0, rel=1e-12)
    assert r.token_bad_debt == pytest.approx(200.0, rel=1e-12)
    assert r.market("A")["token_bad_debt"] == pytest.approx(200.0, rel=1e-12)
    assert r.bad_debt == 0.0
    deeper = venue_cascade(venue, NO_POSITIONS, tokens=LeveragedTokens("A", 3.0, 1_000.0, 0.1), shocks={"A": -0.5})
    assert deeper.token_rebalances["order_qty"][0] == pytest.approx(-30.0, rel=1e-12)
    assert deeper.token_bad_debt == pytest.approx(500.0, rel=1e-12)


# -- Greenwood-Landier-Thesmar: one round of fire sales, linear impact -----------------------------

def test_glt_one_round_fire_sale_matches_the_matrix_formula():
    """Greenwood, Landier and Thesmar (2015), in this parameterisation. Fund j holds q_jm units
    of market m (assets A_j = sum q_jm p_m, weights M_jm = q_jm p_m / A_j), equity E_j, debt D_j =
    A_j - E_j, leverage lambda_j = A_j / E_j, which it targets (max_leverage = target =
    lambda_j: no buffer). GLT's leverage is debt / equity: b_j = lambda_j - 1.

    Shock r0 (a relative move per market): the fund's return R = M r0, A' = A (1 + R), E' = E +
    A R. Back to lambda it sells S = A' - lambda E' = A R - (A / E) A R = -b A R (exactly),
    the same fraction f = S / A' of every holding: q_jm S_j / A'_j units of m, S_j M'_jm in
    quote at p'_m = p_m (1 + r0_m), with M'_jm = q_jm p'_m / A'_j.

    A linear book (Q units on every level, tick tau) moves the price by x tau / Q for x units
    sold: a return of -ell_m x_m p'_m with ell_m = tau_m / (Q_m p'_m^2) per unit of quote sold.
    So the fire sale's returns are

        r1 = Lambda M'^T B A M r0     (Lambda = diag(ell), B = diag(b), A = diag(assets)),

    GLT's formula; to first order in r0 (M' = M, ell at p) it is theirs exactly. The engine's
    first round ends within one level (tau) of p' (1 + r1) in every market."""
    tick, qty = 0.01, np.array([400.0, 250.0, 600.0])
    markets = [Market(name, linear_book(100.0, tick, 9_000, q)) for name, q in zip("ABC", qty, strict=True)]
    venue = Venue(markets)
    holdings = np.array([[300.0, 100.0, 0.0], [50.0, 200.0, 150.0], [0.0, 120.0, 400.0]])
    p = np.full(3, 100.0)
    assets = holdings @ p
    leverage = np.array([10.0, 8.0, 12.0])
    equity = assets / leverage
    funds = Funds(holdings, equity=equity, target_leverage=assets / equity)
    r0 = np.array([-0.05, -0.02, 0.0])
    shocks = {name: float(x) for name, x in zip("ABC", r0, strict=True) if x != 0}
    r = venue_cascade(venue, NO_POSITIONS, funds=funds, shocks=shocks)
    first = r.trace["round"] == 1
    market = r.trace["market"][first]
    p1 = p * (1 + r0)
    end = p1.copy()
    end[market] = r.trace["end_price"][first]
    # the closed form
    lam = assets / equity
    b = lam - 1.0
    weights = holdings * p / assets[:, None]
    weights1 = holdings * p1 / (holdings @ p1)[:, None]
    ell = tick / (qty * p1**2)
    r1 = np.diag(ell) @ weights1.T @ np.diag(b) @ np.diag(assets) @ weights @ r0
    assert np.all(r1 < 0)
    np.testing.assert_array_less(np.abs(end - p1 * (1 + r1)), tick * (1 + 1e-9))
    # each fund sold S = -b A R of value at the round's start prices
    sales = r.fund_sales
    sold = sales["sale_value"][sales["round"] == 1]
    np.testing.assert_allclose(sold, -b * assets * (weights @ r0), rtol=1e-12)
    # GLT's first-order form (M' = M, impact at p): within the second-order terms
    r1_glt = np.diag(tick / (qty * p**2)) @ weights.T @ np.diag(b) @ np.diag(assets) @ weights @ r0
    np.testing.assert_allclose(r1, r1_glt, rtol=0.15)


# -- Cont-Schaanning: two funds, overlapping holdings, exponential impact -----------------------------

def test_cont_schaanning_two_funds_exponential_impact():
    """Cont and Schaanning (2017)-style contagion through overlapping portfolios. Markets A, B, C
    with exponential impact (a geometric book: Q units every level, levels a factor exp(-delta)
    apart, so selling x units multiplies the price by exp(-x / D), D = Q / delta, to one level;
    what it fetches is p D (1 - exp(-x / D))). Fund 1 holds A and B, fund 2 holds B and C; each
    has a target leverage and a buffer above it (deleverage only past lambda_max, back to
    lambda*).

    A falls 10 %. Round 1: fund 1 (past its buffer) sells f1 = (A1 - lambda1* E1) / A1 of A and
    B; B falls by exp(-f1 q1B / D_B). Fund 2 does not hold A and is not read. Round 2: B has
    moved, fund 2's leverage is past its buffer: it sells f2 of B and C — the shock in A has
    reached C, which neither it nor fund 1's sale touched. Fund 1 (re-read, B and A moved again)
    stays under its buffer. The closed form below computes both rounds; the engine matches it
    to a level per market per round."""
    delta, qty = 1e-4, 5.0
    depth = qty / delta
    names = "ABC"
    venue = Venue([Market(n, geometric_book(100.0, delta, 6_000, qty), ref_price=100.0) for n in names])
    h1 = np.array([2_000.0, 3_000.0, 0.0])
    h2 = np.array([0.0, 4_000.0, 2_000.0])
    p0 = np.full(3, 100.0)
    a1, a2 = h1 @ p0, h2 @ p0
    target1, max1, target2, max2 = 8.0, 12.0, 10.0, 11.0
    e1, e2 = 55_000.0, a2 / 10.5
    d1, d2 = a1 - e1, a2 - e2
    funds = Funds(np.array([h1, h2]), equity=[e1, e2], target_leverage=[target1, target2], max_leverage=[max1, max2])
    r = venue_cascade(venue, NO_POSITIONS, funds=funds, shocks={"A": -0.10})

    # the closed form, round by round
    p = p0 * np.array([0.9, 1.0, 1.0])
    assets1 = h1 @ p
    eq1 = assets1 - d1
    assert assets1 > max1 * eq1
    f1 = (assets1 - target1 * eq1) / assets1
    x1 = f1 * h1
    proceeds1 = float(np.sum(p * depth * (1 - np.exp(-x1 / depth))))
    p_round1 = p * np.exp(-x1 / depth)
    h1_after, d1_after = h1 - x1, d1 - proceeds1
    assets2 = h2 @ p_round1
    eq2 = assets2 - d2
    assert assets2 > max2 * eq2  # fund 2 is pushed past its buffer by fund 1's sale of B
    f2 = (assets2 - target2 * eq2) / assets2
    x2 = f2 * h2
    p_round2 = p_round1 * np.exp(-x2 / depth)
    assets1_r2 = h1_after @ p_round1
    assert not assets1_r2 > max1 * (assets1_r2 - d1_after)  # fund 1 stays under its buffer

    sales = r.fund_sales
    assert list(zip(sales["fund"][:2], sales["round"][:2], strict=True)) == [(0, 1), (1, 2)]
    assert sales["fraction"][0] == pytest.approx(f1, rel=1e-12)
    assert sales["fraction"][1] == pytest.approx(f2, rel=2e-3)
    assert r.fund_debt_after[0] == pytest.approx(d1_after, rel=1e-3)
    level = math.exp(delta) - 1.0
    for rnd, expected in ((1, p_round1), (2, p_round2)):
        sel = r.trace["round"] == rnd
        got = dict(zip(r.trace["market"][sel], r.trace["end_price"][sel], strict=True))
        for m, price in got.items():
            assert abs(price / expected[m] - 1.0) <= rnd * level * (1 + 1e-6), (rnd, names[m])
    assert r.markets["fund_notional"][2] > 0  # C sold, though the shock was in A


# -- builders, input, pickling ------------------------------------------------------------------------

def test_stop_clusters_and_round_numbers():
    levels = round_number_levels(101_234.0, 1_000.0, 3, below=True)
    assert list(levels) == [101_000.0, 100_000.0, 99_000.0]
    assert list(round_number_levels(100_000.0, 1_000.0, 2, below=False)) == [101_000.0, 102_000.0]
    stops = stop_clusters("BTC", levels, [10.0, 20.0, 30.0], side=-1, per_cluster=40, width=0.001, seed=3)
    assert len(stops) == 120
    price = np.asarray(stops.price).reshape(3, 40)
    assert np.all(price <= levels[:, None]) and np.all(price > levels[:, None] * 0.99)
    assert np.allclose(np.asarray(stops.qty).reshape(3, 40).sum(axis=1), [10.0, 20.0, 30.0])
    again = stop_clusters("BTC", levels, [10.0, 20.0, 30.0], side=-1, per_cluster=40, width=0.001, seed=3)
    assert np.array_equal(stops.price, again.price)
    buys = stop_clusters("BTC", [105_000.0], 5.0, side=1, per_cluster=10)
    assert np.all(np.asarray(buys.price) >= 105_000.0)


def test_stops_fire_as_thresholds_after_the_liquidations():
    venue = Venue([Market("A", linear_book(100.0, 1.0, 50, 1.0))])
    pos = VenuePositions(np.array([1], dtype=np.int8), 1.0, 100.0, market=0, margin=4.0)  # liquidated below ~96
    stops = StopOrders(["A", "A", "A"], [-1, -1, 1], [2.0, 1.0, 1.0], [97.0, 95.0, 101.0])
    r = venue_cascade(venue, pos, stops=stops, shocks={"A": -0.03})
    # bids 1 unit a level at 99, 98, ...; the shock leaves 97 on top. Round 1 at 97: the stop at
    # 97 fires (2 units: 97, 96; last 96). Round 2 at 96: the position (liquidation price 96.48)
    # sells 1 at 95; the stop at 95 is not reached at 96. Round 3 at 95: it fires. The buy stop
    # never does (the market has not moved up).
    assert list(r.stops["stop"]) == [0, 1]
    assert list(r.stops["round"]) == [1, 3]
    assert r.markets["stop_sold_qty"][0] == 3.0 and r.markets["stop_bought_qty"][0] == 0.0
    assert list(r.trace["stop_qty"]) == [2.0, 0.0, 1.0]


def test_token_presets_and_channels():
    tokens = token_presets("A", {"3L": 2_000.0, "3S": 1_000.0}, nav_per_unit=10.0)
    assert list(tokens.leverage) == [3.0, -3.0] and list(tokens.units) == [200.0, 100.0]
    venue = Venue([Market("A", linear_book(100.0, 0.1, 2_000, 5.0))])
    r = venue_cascade(venue, NO_POSITIONS, tokens=tokens, shocks={"A": -0.12})
    ch = r.channels()
    assert ch["token_rebalancing"][0] == r.markets["token_notional"][0] > 0
    assert ch["total"][0] == ch["token_rebalancing"][0]
    with pytest.raises(ValueError, match="no token product named 'x'"):
        token_presets("A", {"x": 1.0})


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tokens": LeveragedTokens("A", 0.5, 1.0)}, r"tokens.leverage\[0\]: must be > 1"),
    ({"tokens": LeveragedTokens("A", 3.0, 1.0, 1.5)}, r"tokens.threshold\[0\]: must be in \(0, 1\)"),
    ({"tokens": LeveragedTokens("A", 3.0, -1.0)}, r"tokens.nav\[0\]"),
    ({"tokens": LeveragedTokens("Z", 3.0, 1.0)}, r"tokens.market\[0\]: no market named 'Z'"),
    ({"stops": StopOrders("A", -1, 1.0, -5.0)}, r"stops.price\[0\]: must be finite and > 0"),
    ({"stops": StopOrders(3, -1, 1.0, 5.0)}, r"stops.market\[0\]: must be a market index"),
    ({"funds": Funds({"A": [1.0]}, equity=[200.0], target_leverage=[2.0])}, r"funds.equity\[0\]"),
    ({"funds": Funds({"A": [1.0]}, equity=[50.0], target_leverage=[2.0], max_leverage=[1.5])},
     r"funds.max_leverage\[0\]: must be finite and >= target_leverage"),
    ({"funds": Funds({"A": [-1.0]}, equity=[50.0], target_leverage=[2.0])}, r"funds.holdings\[0\]\[A\]"),
])
def test_bad_agents_name_the_field(kwargs, message):
    venue = Venue([Market("A", linear_book(100.0, 1.0, 10, 1.0))])
    with pytest.raises(ValueError, match=message):
        VenueState(venue, NO_POSITIONS, **kwargs)


def test_state_with_agents_pickles():
    venue = Venue([Market("A", linear_book(100.0, 0.5, 100, 3.0)), Market("B", linear_book(50.0, 0.5, 100, 3.0))])
    state = VenueState(venue, NO_POSITIONS, stops=StopOrders("A", -1, 2.0, 98.0),
                       tokens=LeveragedTokens(["A", "B"], [3.0, -3.0], [500.0, 500.0], 0.02),
                       funds=Funds({"A": [5.0], "B": [4.0]}, equity=[70.0], target_leverage=[10.0]))
    again = pickle.loads(pickle.dumps(state))
    a = venue_cascade(state, shocks={"A": -0.05})
    b = venue_cascade(again, shocks={"A": -0.05})
    assert same(a.markets["final_price"], b.markets["final_price"])
    assert same(a.token_rebalances["nav_after"], b.token_rebalances["nav_after"])
    assert len(a.fund_sales) > 0 and a.markets["fund_notional"][1] > 0  # B sold after a fall in A


def test_a_fund_that_sold_everything_is_done_not_called_again_on_rounding_dust():
    # (review finding) a fund past zero equity sells all of its holding; the fills, summed level
    # by level on 0.1-BTC levels, may leave ~1e-16 BTC: that is dust, not a holding, so later
    # rounds (isolated longs cascading) do not list the fund as deleveraging again
    import numpy as np

    import liqcascade as lc
    from liqcascade.agents import Funds
    from liqcascade.venue import Market, Venue, VenuePositions, venue_cascade

    k = np.arange(1, 20_001)
    book = lc.OrderBook(100_000.0 - 1.0 * k, np.full(k.size, 0.1), 100_000.0 + 1.0 * k, np.full(k.size, 0.1))
    venue = Venue([Market("BTC", book)])
    # a long the fund's sale triggers (liquidation ~96,980, below the shock's 97,000): a second round
    longs = VenuePositions(np.ones(1, dtype=np.int8), [0.1], [100_000.0], market=np.zeros(1, dtype=np.int64),
                           margin=[350.5], mmr=[0.005])
    # 3.3 BTC on 5,000 of equity: at 97,000 its equity is below 0, so it sells all of it
    funds = Funds({"BTC": [3.3]}, equity=[5_000.0], target_leverage=[5.0], max_leverage=[5.5])
    r = venue_cascade(venue, longs, shocks={"BTC": -0.03}, funds=funds)
    sales = r.fund_sales
    assert r.rounds >= 2  # the fund's market moved after its sale: it was read again
    assert list(sales["fund"]) == [0] and sales["fraction"][0] == 1.0  # one deleveraging: all of it
    assert r.fund_holdings_after[0].sum() == 0.0


def test_default_venue_calibration_tells_the_story():
    """Issue 20's calibration (venue_scenario.py's docstring): on the default venue (seed 0,
    20,000 accounts, 20,000 isolated positions) the default shocks do not cross a tipping point
    with agents — -3 % is absorbed, -5 % and -8 % end a few points beyond the move without
    agents, the BTC book holds — and the agents carry a visible share of BTC's fills."""
    from liqcascade.venue import VenueState
    from liqcascade.venue_scenario import default_agents, default_venue

    venue, positions, accounts = default_venue(20_000, 20_000)
    stops, tokens, funds = default_agents(venue)
    without = VenueState(venue, positions, accounts)
    with_agents = VenueState(venue, positions, accounts, stops=stops, tokens=tokens, funds=funds)
    for shock, most in ((-0.03, 0.002), (-0.05, 0.01), (-0.08, 0.05)):
        a = venue_cascade(with_agents, shocks={"BTCUSDT": shock})
        b = venue_cascade(without, shocks={"BTCUSDT": shock})
        move_a, move_b = a.market("BTCUSDT")["final_move"], b.market("BTCUSDT")["final_move"]
        assert not a.market("BTCUSDT")["book_exhausted"], shock
        assert move_b - most <= move_a <= move_b, shock   # agents add at most `most` to the fall
    ch = venue_cascade(with_agents, shocks={"BTCUSDT": -0.08}).channels()
    agents = ch["stops"][0] + ch["token_rebalancing"][0] + ch["fund_deleveraging"][0]
    assert 0.05 < agents / ch["total"][0] < 0.25
