"""Agents through time in the venue simulator (docs/design.md, "Agents through time"): a token
rebalanced every step follows N_T = N_0 prod (1 + L r_k) (less its orders' costs, to the bit),
scheduled and threshold rebalances, one step against the static venue cascade's agents, halts;
the literal reference model (tests/reference_venue_sim.py) with agents, on every field."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import liqcascade as lc
import reference_venue_sim
from liqcascade.agents import Funds, LeveragedTokens, StopOrders
from liqcascade.venue import Market, Venue, VenuePositions, venue_cascade
from liqcascade.venue_simulator import simulate_venue
from test_venue_simulator import venue_runs

NO_POSITIONS = VenuePositions(np.zeros(0, dtype=np.int8), np.zeros(0), np.zeros(0), market=np.zeros(0, dtype=np.int64))


def ladder(mid: float, tick: float, levels: int, qty: float) -> lc.OrderBook:
    k = np.arange(1, levels + 1)
    return lc.OrderBook(mid - tick * k, np.full(levels, qty), mid + tick * k, np.full(levels, qty))


def test_a_token_rebalanced_every_step_follows_the_product_form():
    """Rebalanced at every step's mark p_k (the index: the path), a token's NAV is

        N_k = N_{k-1} (1 + L r_k) - c_k,   r_k = p_k / p_{k-1} - 1,

    c_k its order's cost against p_k (a sell's filled x p_k - fetched, a buy's paid - filled x
    p_k): to the bit, row by row. Its order is L (L - 1) r_k N_{k-1} of notional, exactly. On
    a book one tick (1e-4, about 1e-6 of the price) from the mark, refilled whole every step,
    each cost is at most filled x tick; unrolled, N_T = N_0 prod (1 + L r_k) - sum c_k prod_{j>k}
    (1 + L r_j), so N_0 prod (1 + L r_k) to 2e-4 here, which tends to (P_T /
    P_0)^L exp(-L (L - 1) sum r_k^2 / 2) (test_agents.py derives it): to 0.3 % here."""
    steps, leverage, nav0 = 2_001, 3.0, 1_000.0
    path = lc.gbm_path(steps, 1.0, 100.0, 0.005, seed=4)
    venue = Venue([Market("A", ladder(100.0, 1e-4, 3_000, 50.0))])
    tokens = LeveragedTokens("A", leverage, nav0, threshold=0.99)
    r = simulate_venue(venue, NO_POSITIONS, None, steps, policy="market_orders", paths={"A": path}, mark="index",
                       resilience=1e3, tokens=tokens, token_rebalance_interval=1)
    tr = r.token_rebalances
    assert len(tr) == steps - 1 and tr["step"].tolist() == list(range(1, steps))
    assert bool(np.all(tr["scheduled"] == 1))
    assert bool(np.all(tr["filled_qty"] == np.abs(tr["order_qty"])))  # (the book took every order)
    nav, product, cost_total = nav0, nav0, 0.0
    factors, costs = [], []
    for k in range(steps - 1):
        p, prev = path[k + 1], path[k]
        ret = p / prev - 1.0
        assert tr["price"][k] == p and tr["return"][k] == ret
        notional = leverage * (leverage - 1.0) * ret * nav
        assert tr["order_qty"][k] == (abs(notional) / p if notional > 0 else -abs(notional) / p)
        filled, fetched = tr["filled_qty"][k], tr["notional"][k]
        cost = filled * p - fetched if notional < 0 else fetched - filled * p
        nav = nav * (1.0 + leverage * ret) - cost
        assert tr["nav_after"][k] == nav
        product *= 1.0 + leverage * ret
        factors.append(1.0 + leverage * ret)
        costs.append(cost)
        cost_total += abs(cost)
        assert abs(cost) <= filled * 1e-4 * (1 + 1e-6)  # one tick of the book from the mark
    assert r.token_nav[0] == nav
    # unrolled: N_T = N_0 prod_k (1 + L r_k) - sum_k c_k prod_{j > k} (1 + L r_j)
    growth = np.concatenate([np.cumprod(np.array(factors)[::-1])[::-1][1:], [1.0]])
    assert nav == pytest.approx(product - float(np.dot(costs, growth)), rel=1e-9)
    assert cost_total < 2e-4 * nav0 and nav == pytest.approx(product, rel=2e-4)
    returns = path[1:] / path[:-1] - 1.0
    closed = (path[-1] / path[0]) ** leverage * math.exp(-leverage * (leverage - 1.0) * float(np.sum(returns**2)) / 2)
    assert nav / nav0 == pytest.approx(closed, rel=3e-3)
    assert r.market("A").timeline.token_qty.sum() == pytest.approx(np.abs(tr["filled_qty"]).sum())


def test_scheduled_and_threshold_rebalances():
    """With a 3 % threshold and a daily-like schedule every 50 steps: a threshold rebalance at
    every mark at or past P (1 -+ 0.03) since the last rebalance price P; the schedule at steps
    50, 100, ... whatever the move; never twice in a step."""
    steps, theta = 400, 0.03
    path = lc.gbm_path(steps, 1.0, 100.0, 0.01, seed=11)
    venue = Venue([Market("A", ladder(100.0, 0.01, 3_000, 50.0))])
    r = simulate_venue(venue, NO_POSITIONS, None, steps, policy="market_orders", paths={"A": path}, mark="index",
                       resilience=1e3, tokens=LeveragedTokens("A", -3.0, 500.0, threshold=theta),
                       token_rebalance_interval=50)
    tr = r.token_rebalances
    assert len(set(tr["step"].tolist())) == len(tr)
    last = 100.0
    expected = []
    for t in range(steps):
        p = path[t]
        if (t > 0 and t % 50 == 0) or p <= last * (1 - theta) or p >= last * (1 + theta):
            expected.append(t)
            last = p
    assert tr["step"].tolist() == expected
    on_schedule = tr["step"] % 50 == 0
    assert bool(np.all(tr["scheduled"][~on_schedule] == 0))
    assert bool(np.all(np.abs(tr["return"][tr["scheduled"] == 1]) < theta))
    assert len(expected) > 10 and on_schedule.sum() == 7


def test_one_step_of_agents_is_the_static_venue_cascade():
    """Stops, a token and a fund, one step of the last-price mark after a shock: each acts once
    (the static cascade's rounds here never re-trigger one), so every row agrees with the static
    venue cascade's: the stops' fills, the token's rebalance, the fund's sale, final prices."""
    venue = Venue([Market("A", ladder(100.0, 0.5, 120, 3.0)), Market("B", ladder(50.0, 0.25, 120, 6.0))])
    stops = StopOrders(["A", "A", "B"], [-1, -1, -1], [2.0, 1.0, 3.0], [95.0, 91.0, 49.0])
    tokens = LeveragedTokens(["A"], [3.0], [2_000.0], threshold=[0.05])
    funds = Funds({"A": np.array([10.0]), "B": np.array([20.0])}, equity=[700.0], target_leverage=[2.0],
                  max_leverage=[2.2])
    shocks = {"A": -0.08}
    static = venue_cascade(venue, NO_POSITIONS, stops=stops, tokens=tokens, funds=funds, shocks=shocks)
    sim = simulate_venue(venue, NO_POSITIONS, None, 1, policy="market_orders", shocks=shocks, stops=stops,
                         tokens=tokens, funds=funds)
    assert len(static.token_rebalances) == 1 and len(static.fund_sales) == 1  # (each once)
    assert static.rounds == 2 and len(static.stops) == 2 and len(sim.stops) == 2
    for name in venue.market_names:
        assert sim.market(name).timeline.price[0] == static.market(name)["final_price"], name
    order = np.argsort(static.stops["stop"])
    mine = np.argsort(sim.stops["stop"])
    np.testing.assert_array_equal(sim.stops["stop"][mine], static.stops["stop"][order])
    np.testing.assert_array_equal(sim.stops["filled_qty"][mine], static.stops["filled_qty"][order])
    np.testing.assert_array_equal(sim.stops["fill_price"][mine], static.stops["fill_price"][order])
    for key in ("price", "return", "order_qty", "filled_qty", "notional", "nav_after"):
        assert sim.token_rebalances[key][0] == static.token_rebalances[key][0], key
    for key in ("assets", "equity", "fraction", "notional"):
        assert sim.fund_sales[key][0] == static.fund_sales[key][0], key
    np.testing.assert_array_equal(sim.token_nav, static.token_nav)
    np.testing.assert_array_equal(sim.fund_debt_after, static.fund_debt_after)
    np.testing.assert_array_equal(sim.fund_holdings_after, static.fund_holdings_after)


def test_a_halt_holds_stops_and_tokens_until_trading_resumes():
    venue = Venue([Market("A", ladder(100.0, 0.5, 150, 5.0))])
    path = np.array([100.0, 92.0, 92.0, 92.0, 92.0])
    r = simulate_venue(venue, NO_POSITIONS, None, 5, policy="market_orders", paths={"A": path}, mark="index",
                       shocks={"A": -0.06}, breakers=[lc.CircuitBreaker(0.05, 1, 2)],
                       stops=StopOrders("A", -1, 1.0, 95.0), tokens=LeveragedTokens("A", 3.0, 1_000.0, 0.05))
    tl = r.market("A").timeline
    assert tl.halted.tolist()[:3] == [False, True, True]
    # the index mark (the path) reaches the stop and the token at step 1, halted: both go at step 3
    assert r.stops["step"].tolist() == [3]
    assert r.token_rebalances["step"].tolist() == [3]
    assert bool(np.all(tl.stop_qty[tl.halted] == 0.0)) and bool(np.all(tl.token_qty[tl.halted] == 0.0))


def test_agents_bad_input_names_the_field():
    venue = Venue([Market("A", ladder(100.0, 0.5, 150, 5.0))])
    with pytest.raises(ValueError, match="token_rebalance_interval"):
        simulate_venue(venue, NO_POSITIONS, None, 3, token_rebalance_interval=-1)
    with pytest.raises(TypeError, match="tokens"):
        simulate_venue(venue, NO_POSITIONS, None, 3, tokens="3x")


# -- the literal reference model, with agents -------------------------------------------------------

@st.composite
def agent_runs(draw):
    venue, positions, accounts, steps, paths, shocks, mark, max_orders, fund_groups, fund_group, start = draw(
        venue_runs())
    names = list(venue.market_names)
    n_markets = len(names)
    mids = [m.book.mid for m in venue.markets]
    n_stops = draw(st.integers(0, 3))
    stop_market = draw(st.lists(st.integers(0, n_markets - 1), min_size=n_stops, max_size=n_stops))
    stops = None if n_stops == 0 else StopOrders(
        [names[m] for m in stop_market], draw(st.lists(st.sampled_from([-1, 1]), min_size=n_stops, max_size=n_stops)),
        draw(st.lists(st.sampled_from([0.5, 1.0, 3.0]), min_size=n_stops, max_size=n_stops)),
        [mids[m] * draw(st.sampled_from([0.9, 0.97, 0.99, 1.01, 1.05])) for m in stop_market])
    n_tokens = draw(st.integers(0, 2))
    tokens = None if n_tokens == 0 else LeveragedTokens(
        [names[draw(st.integers(0, n_markets - 1))] for _ in range(n_tokens)],
        draw(st.lists(st.sampled_from([3.0, -3.0, 2.0]), min_size=n_tokens, max_size=n_tokens)),
        draw(st.lists(st.sampled_from([50.0, 300.0]), min_size=n_tokens, max_size=n_tokens)),
        threshold=draw(st.lists(st.sampled_from([0.01, 0.03, 0.1]), min_size=n_tokens, max_size=n_tokens)))
    n_funds = draw(st.integers(0, 2))
    funds = None
    if n_funds:
        holdings = np.array(draw(st.lists(st.lists(st.sampled_from([0.0, 1.0, 4.0]), min_size=n_markets,
                                                   max_size=n_markets), min_size=n_funds, max_size=n_funds)))
        holdings[:, 0] += 1.0  # (something held)
        assets = holdings @ np.array(mids)
        target = np.array(draw(st.lists(st.sampled_from([1.0, 1.5, 2.0]), min_size=n_funds, max_size=n_funds)))
        funds = Funds(holdings, equity=assets * np.array(draw(st.lists(st.sampled_from([0.4, 0.5, 0.7, 1.0]),
                                                                       min_size=n_funds, max_size=n_funds))),
                      target_leverage=target, max_leverage=target + draw(st.sampled_from([0.0, 0.1, 0.5])))
    interval = draw(st.sampled_from([0, 0, 1, 2]))
    return (venue, positions, accounts, steps, paths, shocks, mark, max_orders, fund_groups, fund_group, start,
            stops, tokens, funds, interval)


def same_array(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


@settings(max_examples=200, deadline=None)
@given(run=agent_runs())
def test_engine_agrees_with_the_reference_model_with_agents(run):
    (venue, positions, accounts, steps, paths, shocks, mark, max_orders, fund_groups, fund_group, start,
     stops, tokens, funds, interval) = run
    policy = lc.LiquidationPolicy.market_orders(max_orders_per_step=max_orders)
    r = simulate_venue(venue, positions, accounts, steps, policy=policy,
                       paths=None if paths is None else np.array(paths), shocks=shocks, mark=mark,
                       fund_groups=fund_groups, insurance_fund=start, stops=stops, tokens=tokens, funds=funds,
                       token_rebalance_interval=interval)
    ref = reference_venue_sim.simulate_venue(venue, positions, accounts, steps, paths=paths, shocks=shocks, mark=mark,
                                             max_orders_per_step=max_orders, fund_group=fund_group,
                                             insurance_fund=[start] * (max(fund_group) + 1), stops=stops,
                                             tokens=tokens, funds=funds, token_rebalance_interval=interval)
    for m, name in enumerate(venue.market_names):
        tl = r.market(name).timeline
        for key, values in ref["timeline"][m].items():
            assert same_array(tl[key], values), (name, key)
    for table, rows, keys in ((r.stops, ref["stops"], ("stop", "step", "filled_qty", "fill_price")),
                              (r.token_rebalances, ref["tokens"], ("token", "step", "scheduled", "price", "return",
                                                                   "order_qty", "filled_qty", "notional",
                                                                   "nav_after")),
                              (r.fund_sales, ref["fund_sales"], ("fund", "step", "assets", "equity", "fraction",
                                                                 "notional"))):
        for key in keys:
            assert same_array(table[key], [row[key] for row in rows]), key
    assert same_array(r.token_nav, ref["token_nav"])
    assert same_array(r.fund_debt_after, ref["fund_debt"])
    assert same_array(r.fund_holdings_after.ravel(), np.array(ref["fund_holdings"]).ravel())
    for key in ("account", "step", "equity_after", "bad_debt"):
        assert same_array(r.accounts[key], [row[key] for row in ref["accounts"]]), key
    assert same_array(r.fund_final, ref["fund"])
