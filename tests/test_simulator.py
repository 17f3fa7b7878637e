"""The time-stepped simulator: equivalence with the static cascade, the Obizhaeva-Wang
refill, accounting identities, ADL ranking, throughput and circuit breakers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given

import liqcascade as lc
from strategies import books, position_sets, shocks

# Random markets include positions already past their liquidation price at the reference (the
# engine must handle them exactly); the library warns about them, which is not under test here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:positions. .* already past their liquidation price:liqcascade.LiqcascadeWarning")



def positions_of(pos: dict) -> lc.Positions:
    return lc.Positions(np.array(pos["side"], dtype=np.int8), np.array(pos["qty"], dtype=float),
                        np.array(pos["entry_price"], dtype=float), np.array(pos["margin"], dtype=float),
                        np.array(pos["mmr"], dtype=float), np.array(pos["maint_amount"], dtype=float))


@given(book=books(), pos=position_sets(), shock=shocks())
def test_one_step_with_market_orders_reproduces_the_static_cascade(book, pos, shock):
    ob = lc.OrderBook(**book)
    ref = ob.mid
    positions = positions_of(pos)
    # the static cascade reads one side only; drop opposite positions already underwater
    (kind, value), = shock.items()
    down = value <= 0 if kind == "shock" else kind == "sell_qty"
    liq = positions.liquidation_price
    keep = np.where(positions.side > 0, True if down else liq < ref, liq > ref if down else True)
    pos = {k: [v for v, kept in zip(vals, keep) if kept] for k, vals in pos.items()}
    positions = positions_of(pos)
    static = lc.cascade(ob, positions, **shock)
    kwargs = {"shock": value} if kind == "shock" else {"flow": [-value if kind == "sell_qty" else value]}
    if kind == "shock" and value == 0.0:
        return  # the identity on both sides; nothing to compare
    sim = lc.simulate(ob, positions, "market_orders", 1, **kwargs)
    assert sim.timeline.price[0] == static.final_price
    np.testing.assert_array_equal(sim.liquidated, static.liquidated)
    events = sim.events
    fills = events.kind == 0
    assert sim.timeline.liquidated_notional[0] == pytest.approx(static.liquidated_notional, rel=1e-12, abs=1e-9)
    assert sim.timeline.liquidated_qty[0] == pytest.approx(static.liquidated_qty, rel=1e-12, abs=1e-9)
    assert float(events.loss[fills].sum()) == pytest.approx(static.bad_debt, rel=1e-9, abs=1e-9)
    np.testing.assert_array_equal(events.position[fills], static.liquidated_index[static.liquidated_filled_qty > 0])


def flat_book(levels=180, qty=1.0, tick=0.5, mid=100.0):
    k = np.arange(1, levels + 1)
    return lc.OrderBook(mid - tick * k, np.full(levels, qty), mid + tick * k, np.full(levels, qty))


def test_block_sale_deviation_decays_at_the_resilience_rate():
    # Obizhaeva-Wang: after a block sale Q into a book of q per tick, the consumed volume is
    # Q exp(-rho t) and the best bid sits floor(Q exp(-rho t) / q) ticks below the top.
    book = flat_book()
    empty = lc.Positions(np.array([], dtype=np.int8), [], [], [], [], [])
    rho, dt, block = 0.3, 0.5, 40.3
    flow = np.zeros(20)
    flow[0] = -block
    sim = lc.simulate(book, empty, "market_orders", 20, dt, flow=flow, resilience=rho)
    t = sim.timeline.time
    consumed = book.bid_qty.sum() - sim.timeline.bid_depth
    np.testing.assert_allclose(consumed, block * np.exp(-rho * t), rtol=1e-12)
    deviation_ticks = (book.best_bid - sim.timeline.best_bid) / 0.5
    np.testing.assert_allclose(deviation_ticks, np.floor(block * np.exp(-rho * t)), atol=1e-9)
    assert sim.timeline.price[0] == book.bid_price[40]  # the block's last fill


def binance_market(n=3000, seed=5):
    rng = np.random.default_rng(seed)
    side = rng.choice([1, -1], n).astype(np.int8)
    entry = 100.0 * np.exp(rng.normal(0, 0.02, n))
    lev = rng.choice([10.0, 20.0, 50.0], n)
    positions = lc.Positions.from_leverage(side, rng.lognormal(-1, 1, n), entry, lev, mmr=0.005)
    return flat_book(levels=300, qty=3.0, tick=0.1), positions


@pytest.mark.parametrize("fund", [0.0, 50.0, 1e6])
@pytest.mark.parametrize("throughput", [0, 25])
def test_accounting_identities_hold(fund, throughput):
    book, positions = binance_market()
    policy = lc.LiquidationPolicy.binance(max_orders_per_step=throughput, unwind_per_step=5.0)
    flow = np.zeros(60)
    flow[:10] = -40.0
    sim = lc.simulate(book, positions, policy, 60, 1.0, flow=flow, resilience=0.05, insurance_fund=fund)
    e = sim.events
    q0 = positions.qty
    # base quantity: every liquidated position's size = filled + taken over + deleveraged (its
    # rest against others) + deleveraged away earlier (as another's counterparty) + left
    for i in np.flatnonzero(sim.liquidated):
        filled = e.qty[(e.kind == 0) & (e.position == i)].sum()
        taken = e.qty[(e.kind == 1) & (e.position == i)].sum()
        deleveraged = e.qty[(e.kind == 2) & (e.counterparty == i)].sum()
        deleveraged_away = e.qty[(e.kind == 2) & (e.position == i)].sum()
        assert filled + taken + deleveraged + deleveraged_away + sim.final_qty[i] == pytest.approx(q0[i], rel=1e-12)
    # no position liquidated twice, none below zero size
    liq_positions = e.position[e.kind == 0]
    assert len(liq_positions) == len(set(liq_positions.tolist()))
    assert np.all(sim.final_qty >= 0) and np.all(sim.final_qty <= q0)
    # ADL only against the opposite side, and only when the fund could not absorb
    adl = e.kind == 2
    for j, source, balance in zip(e.position[adl], e.counterparty[adl], e.fund[adl]):
        if source >= 0:
            assert positions.side[j] == -positions.side[source]
        assert balance <= 0 or source >= 0 and not policy.takeover
    # the fund: change = fees in - losses covered (unwind profits count as negative losses)
    assert sim.timeline.insurance_fund[-1] - fund == pytest.approx(e.fee.sum() - e.loss.sum(), abs=1e-6)
    # the timeline's liquidated quantity is the events'
    assert sim.timeline.liquidated_qty.sum() == pytest.approx(e.qty[e.kind == 0].sum())
    assert sim.timeline.liquidated_qty.sum() > 0
    if throughput:
        per_step = np.bincount(e.step[e.kind == 0], minlength=60)
        assert per_step.max() <= throughput


def test_binance_fee_is_capped_at_the_equity_left_and_takeover_at_bankruptcy():
    # Mid 100. Long 1 @ 100 with margin 5: bankruptcy 95, liquidation 95.477 (mmr 0.5 %). A
    # -4.6 % shock (to 95.4) triggers it; the IOC order fills 0.5 at 95.2 and stops at the
    # bankruptcy price; the (funded) insurance fund takes the other 0.5 over at 95 and sells it
    # into the 90 bid, losing 2.5. The 5 % fee (2.38) is capped at the equity left, 0.1.
    book = lc.OrderBook([95.2, 90.0], [0.5, 10.0], [104.8], [1.0])
    positions = lc.Positions([1], [1.0], [100.0], [5.0], mmr=0.005)
    sim = lc.simulate(book, positions, lc.LiquidationPolicy.binance(fee_rate=0.05, taker_fee=0.0), 1, shock=-0.046,
                      insurance_fund=10.0)
    e = sim.events
    assert list(e.kind_name) == ["liquidation", "takeover", "unwind"]
    assert (e.qty[0], e.price[0]) == (0.5, 95.2)
    assert e.fee[0] == pytest.approx(0.1)
    assert (e.qty[1], e.price[1]) == (0.5, 95.0)
    assert (e.qty[2], e.price[2]) == (0.5, 90.0) and e.loss[2] == pytest.approx(2.5)
    assert sim.timeline.insurance_fund[0] == pytest.approx(10.0 + 0.1 - 2.5)
    assert sim.timeline.fund_inventory[0] == 0.0 and sim.final_qty[0] == 0.0
    # with Binance's 0.05 % taker fee, the venue takes 0.05 % of 47.6 (0.0238) out of the 0.1
    # of equity first; the clearance fee gets what is left (0.0762)
    taxed = lc.simulate(book, positions, lc.LiquidationPolicy.binance(fee_rate=0.05), 1, shock=-0.046,
                        insurance_fund=10.0)
    assert taxed.timeline.taker_fees[0] == pytest.approx(0.0005 * 47.6)
    assert taxed.events.fee[0] == pytest.approx(0.1 - 0.0005 * 47.6)
    assert taxed.timeline.insurance_fund[0] == pytest.approx(10.0 + 0.1 - 0.0005 * 47.6 - 2.5)


def test_adl_ranks_by_pnl_percent_times_effective_leverage():
    # Mid 100, an empty fund. A -6 % shock (mark 94) triggers the long (3 @ 100, margin 15:
    # liquidation = bankruptcy = 95); no bid at or above 95, so its 3 units are deleveraged at
    # 95 against the shorts. At mark 94 the shorts at 110 (margins 11, 5.5, 22) are in profit
    # 16: PnL% x effective leverage = 1.45 x 3.48, 2.91 x 4.37, 0.73 x 2.47; the short at 90
    # (margin 9.6) is losing: PnL% / leverage < 0. Order: #2, #1, #3; #4 is spared.
    book = lc.OrderBook([80.0], [0.1], [120.0], [1.0])
    side = np.array([1, -1, -1, -1, -1], dtype=np.int8)
    qty = np.array([3.0, 1.0, 1.0, 1.0, 1.0])
    entry = np.array([100.0, 110.0, 110.0, 110.0, 90.0])
    margin = np.array([15.0, 11.0, 5.5, 22.0, 9.6])
    positions = lc.Positions(side, qty, entry, margin, mmr=0.0)
    policy = lc.LiquidationPolicy.binance(adl_ranking="pnl_leverage")
    sim = lc.simulate(book, positions, policy, 1, shock=-0.06, insurance_fund=0.0)
    e = sim.events
    adl = e.kind == 2
    assert list(e.position[adl]) == [2, 1, 3]
    assert np.all(e.counterparty[adl] == 0) and np.all(e.price[adl] == 95.0)
    assert list(sim.final_qty) == [0.0, 0.0, 0.0, 0.0, 1.0]


def binance_adl_score(upnl, wallet, mm):
    """Binance's documented ADL ranking (USDⓈ-M futures, "What is Auto-Deleveraging"):
    PnlPercent = max(0, upnl) / max(1, wallet); MarginRatio = MM / (wallet + upnl), 0 when
    that is <= 0; the ranking is their product."""
    pnl_percent = max(0.0, upnl) / max(1.0, wallet)
    margin_ratio = mm / (wallet + upnl) if wallet + upnl > 0 else 0.0
    return pnl_percent * margin_ratio


def test_binance_adl_score_matches_a_published_example():
    # A Binance square/forum worked example: unrealised PnL 40.2 USDT on a wallet of 4.27 USDT
    # at a margin ratio of 13.42 % ranks 40.2 / 4.27 x 0.1342 = 1.26.
    wallet, upnl = 4.27, 40.2
    mm = 0.1342 * (wallet + upnl)
    assert round(binance_adl_score(upnl, wallet, mm), 2) == 1.26


def test_binance_preset_deleverages_by_pnl_percent_times_margin_ratio():
    # Mid 100, an empty fund: a -6 % shock (mark 94) triggers the long (3 @ 100, margin 15,
    # mmr 0: liquidation = bankruptcy = 95), no bid at or above 95: its 3 units are deleveraged
    # at 95 against the shorts, ranked by Binance's formula (with each position's own mmr):
    # #1 (110, margin 11, mmr 5 %): 16/11 x 4.7/27 = 0.253; #2 (110, margin 5.5, mmr 0.5 %):
    # 16/5.5 x 0.47/21.5 = 0.064; #3 and #4 lose (score 0: by index). Order 1, 2, 3; #4 spared.
    # (The PnL% x leverage ranking would take #2, #1, then the smaller loser #4.)
    book = lc.OrderBook([80.0], [0.1], [120.0], [1.0])
    side = np.array([1, -1, -1, -1, -1], dtype=np.int8)
    entry = np.array([100.0, 110.0, 110.0, 90.0, 92.0])
    margin = np.array([15.0, 11.0, 5.5, 9.6, 9.6])
    mmr = np.array([0.0, 0.05, 0.005, 0.01, 0.01])
    positions = lc.Positions(side, np.array([3.0, 1, 1, 1, 1]), entry, margin, mmr=mmr)
    mark = 94.0
    scores = [binance_adl_score(-(mark - entry[j]), margin[j], mmr[j] * mark) for j in range(1, 5)]
    assert scores[0] > scores[1] > 0 and scores[2] == scores[3] == 0
    sim = lc.simulate(book, positions, "binance", 1, shock=-0.06, insurance_fund=0.0)
    e = sim.events
    adl = e.kind == 2
    assert list(e.position[adl]) == [1, 2, 3]
    assert list(sim.final_qty) == [0.0, 0.0, 0.0, 0.0, 1.0]
    old = lc.simulate(book, positions, lc.LiquidationPolicy.binance(adl_ranking="pnl_leverage"), 1, shock=-0.06)
    assert list(old.events.position[old.events.kind == 2]) == [2, 1, 4]


def test_throughput_limit_queues_in_trigger_order():
    book = flat_book(levels=400, qty=50.0, tick=0.1)
    n = 10
    positions = lc.Positions(np.ones(n, dtype=np.int8), 1.0, 100.0, np.linspace(1.0, 2.0, n), mmr=0.0)
    sim = lc.simulate(book, positions, lc.LiquidationPolicy.market_orders(max_orders_per_step=3), 5, shock=-0.05)
    e = sim.events
    assert list(np.bincount(e.step, minlength=5)) == [3, 3, 3, 1, 0]
    assert list(sim.timeline.queued) == [7, 4, 1, 0, 0]
    assert list(e.position) == list(range(n))  # liquidation price descending = index order here
    # a notional cap: orders start while the step's liquidated notional is below 250 (~2.5 orders)
    capped = lc.simulate(book, positions, lc.LiquidationPolicy.market_orders(max_notional_per_step=250.0), 5,
                         shock=-0.05)
    assert list(np.bincount(capped.events.step, minlength=5)) == [3, 3, 3, 1, 0]


def test_circuit_breaker_halts_resumes_and_contains_the_cascade():
    # 3,000 longs at 20x around 100 against a thin book; an exogenous sale starts a cascade
    # that the engine (50 orders a step) works through over many steps. A 1 % breaker halts
    # trading for 5 steps: the book refills meanwhile, so the queue meets more depth.
    book = flat_book(levels=1000, qty=2.0, tick=0.05)
    rng = np.random.default_rng(3)
    n = 3000
    positions = lc.Positions.from_leverage(np.ones(n, dtype=np.int8), rng.lognormal(-1.2, 0.5, n),
                                           100.0 * np.exp(rng.normal(0, 0.03, n)), 20.0, mmr=0.005)
    flow = np.zeros(80)
    flow[0] = -60.0
    common = dict(flow=flow, resilience=0.1, insurance_fund=1e9)
    policy = lc.LiquidationPolicy.binance(max_orders_per_step=50)
    free = lc.simulate(book, positions, policy, 80, 1.0, **common)
    breaker = lc.CircuitBreaker(move=0.01, window=1, halt=5)
    halted = lc.simulate(book, positions, policy, 80, 1.0, breakers=[breaker], **common)
    h = halted.timeline.halted
    assert list(np.flatnonzero(h)) == [1, 2, 3, 4, 5]  # halts after the 1.95 % first step, resumes
    assert np.all(halted.timeline.liquidated_qty[h] == 0)  # nothing fills while halted
    assert np.all(np.diff(halted.timeline.queued[:6]) == 0)  # the queue is kept
    assert halted.timeline.bid_depth[5] > halted.timeline.bid_depth[0]  # the book refills
    # the halt contains the cascade: no more liquidations, a higher low
    assert halted.liquidated.sum() <= free.liquidated.sum()
    assert halted.timeline.price.min() > free.timeline.price.min()


def test_mark_price_options():
    book = flat_book()
    empty = lc.Positions(np.array([], dtype=np.int8), [], [], [], [], [])
    path = np.linspace(100.0, 90.0, 11)
    sim = lc.simulate(book, empty, "binance", 11, path=path, mark="index", basis=0.5)
    np.testing.assert_allclose(sim.timeline.mark_price, path + 0.5)
    np.testing.assert_allclose(sim.timeline.best_bid, path - 0.5)  # the book re-centres
    flow = np.zeros(11)
    flow[0] = -20.5
    ema = lc.simulate(book, empty, "binance", 11, flow=flow, mark="ema", mark_halflife=2.0)
    assert ema.timeline.mark_price[0] > ema.timeline.price[0]
    assert np.all(np.diff(ema.timeline.mark_price) <= 0)  # converging down toward the last price


def test_gbm_path_is_deterministic_and_has_the_volatility_asked():
    a = lc.gbm_path(100_001, 1.0, 100.0, 0.01, seed=4)
    assert np.array_equal(a, lc.gbm_path(100_001, 1.0, 100.0, 0.01, seed=4))
    assert a[0] == 100.0
    assert np.std(np.diff(np.log(a))) == pytest.approx(0.01, rel=0.02)
    jumps = lc.gbm_path(10_001, 1.0, 100.0, 0.0, jump_rate=0.1, jump_mean=-0.05, jump_std=0.0, seed=1)
    assert np.log(jumps[-1] / 100.0) == pytest.approx(-0.05 * 0.1 * 10_000, rel=0.1)
    with pytest.raises(ValueError, match=r"^sigma: must be finite and >= 0"):
        lc.gbm_path(10, 1.0, 100.0, -0.01)
    with pytest.raises(ValueError, match=r"^dt: must be finite and > 0"):
        lc.gbm_path(10, float("nan"), 100.0, 0.01)


@pytest.mark.parametrize(("kwargs", "error", "pattern"), [
    (dict(steps=0), ValueError, r"^steps: must be >= 1"),
    (dict(dt=0.0), ValueError, r"^dt: must be finite and > 0"),
    (dict(resilience=-1.0), ValueError, r"^resilience"),
    (dict(path=[100.0, 99.0]), ValueError, r"^path: length 2 does not match steps 3"),
    (dict(path=[100.0, -1.0, 99.0]), ValueError, r"^path\[1\]: must be finite and > 0"),
    (dict(flow=[0.0, np.nan, 0.0]), ValueError, r"^flow\[1\]: must be finite"),
    (dict(shock=-1.0), ValueError, r"^shock: must be finite and > -1"),
    (dict(band=1.0), ValueError, r"^band"),
    (dict(mark="vwap"), ValueError, r"^mark"),
    (dict(breakers=[lc.CircuitBreaker(0.0, 1, 1)]), ValueError, r"^breakers\[0\]"),
    (dict(breakers=[(0.1, 1, 1)]), TypeError, r"^breakers"),
    (dict(policy="okx"), ValueError, r"^policy: expected one of"),
    (dict(policy=3), TypeError, r"^policy"),
    (dict(insurance_fund=math.inf), ValueError, r"^insurance_fund"),
])
def test_simulate_rejects_bad_input(kwargs, error, pattern):
    book, positions = flat_book(), lc.Positions([1], [1.0], [100.0], [5.0])
    kwargs.setdefault("steps", 3)
    policy = kwargs.pop("policy", "binance")
    with pytest.raises(error, match=pattern):
        lc.simulate(book, positions, policy, **kwargs)


@pytest.mark.parametrize(("kwargs", "pattern"), [
    (dict(fee_rate=1.5), r"^fee_rate"), (dict(max_orders_per_step=-1), r"^max_orders_per_step"),
    (dict(backstop_fraction=-0.1), r"^backstop_fraction"), (dict(partial_tiers=True), r"^tiers: partial_tiers needs"),
    (dict(unwind_per_step=-1.0), r"^unwind_per_step"), (dict(max_notional_per_step=np.nan), r"^max_notional_per_step"),
])
def test_policy_rejects_bad_parameters(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        lc.LiquidationPolicy.binance(**kwargs)


def test_bybit_steps_down_a_tier_and_keeps_the_rest():
    # Mid 100. Tiers without a maintenance amount: notional up to 100 at mmr 0.5 %, above at 5 %.
    # Long 2 @ 100, margin 20: notional 200 (tier 1), liquidation (200-20)/(2*0.95) = 94.737.
    # A -5.5 % shock (mark 94.5) triggers it. Bybit reduces it to the lower tier's limit,
    # 100/94.5 = 1.0582 units, selling 0.9418 at 94.5 (no worse than bankruptcy, 90); the
    # margin that part leaves (0.9418 * 4.5) goes to the fund; the realised loss (0.9418 * 5.5)
    # settles against the margin: 20 - 5.180 - 4.238 = 10.582. At mmr 0.5 % the rest
    # liquidates at (105.82 - 10.582) / (1.0582 * 0.995) = 90.45 < 94.5: it stays open.
    tiers = lc.MaintenanceTiers([0.0, 100.0], [0.005, 0.05], [0.0, 0.0])
    book = lc.OrderBook([94.5], [100.0], [105.5], [1.0])
    positions = lc.Positions([1], [2.0], [100.0], [20.0], tiers=tiers)
    assert positions.liquidation_price[0] == pytest.approx(94.7368, abs=1e-4)
    sim = lc.simulate(book, positions, lc.LiquidationPolicy.bybit(tiers=tiers, taker_fee=0.0), 3, shock=-0.055)
    e = sim.events
    keep = 100.0 / 94.5
    assert list(e.kind_name) == ["liquidation"]
    assert e.qty[0] == pytest.approx(2.0 - keep) and e.price[0] == 94.5
    assert e.fee[0] == pytest.approx((2.0 - keep) * 4.5)
    assert sim.final_qty[0] == pytest.approx(keep) and not sim.liquidated[0]
    # Binance's engine closes all of it at once
    full = lc.simulate(book, positions, lc.LiquidationPolicy.binance(), 3, shock=-0.055)
    assert full.final_qty[0] == 0.0 and full.liquidated[0]


@pytest.mark.parametrize(("shock", "kind", "price"), [(-0.06, "liquidation", 93.0), (-0.08, "takeover", 92.0)])
def test_hyperliquid_backstop_below_two_thirds_of_maintenance(shock, kind, price):
    # Mid 100. Long 1 @ 100, margin 10, mmr 5 %: liquidation 94.74. At mark m its equity is
    # m - 90 and its maintenance 0.05 m: below 2/3 of it when m < 93.10. At mark 94 a market
    # order sells into the 93 bid; at mark 92 the backstop vault takes the position over at
    # the mark, keeping the 2 of collateral left.
    book = lc.OrderBook([93.0], [10.0], [107.0], [1.0])
    positions = lc.Positions([1], [1.0], [100.0], [10.0], mmr=0.05)
    sim = lc.simulate(book, positions, "hyperliquid", 1, shock=shock)
    e = sim.events
    assert list(e.kind_name) == [kind]
    assert e.price[0] == price and e.qty[0] == 1.0
    if kind == "takeover":
        assert e.fee[0] == pytest.approx(2.0) and sim.timeline.insurance_fund[0] == pytest.approx(2.0)
        assert sim.timeline.fund_inventory[0] == 1.0  # nothing to unwind into: the 93 bid is gone


@pytest.mark.parametrize("preset", ["binance", "bybit", "hyperliquid"])
def test_presets_keep_the_identities_on_a_busy_market(preset):
    book, positions = binance_market(n=2000, seed=8)
    flow = np.zeros(40)
    flow[:8] = -45.0
    flow[20:24] = 60.0
    policy = getattr(lc.LiquidationPolicy, preset)(max_orders_per_step=40)
    sim = lc.simulate(book, positions, policy, 40, 1.0, flow=flow, resilience=0.05, insurance_fund=20.0)
    e = sim.events
    for i in np.union1d(e.position[e.position >= 0], e.counterparty[e.counterparty >= 0]):
        filled = e.qty[(e.kind == 0) & (e.position == i)].sum()
        taken = e.qty[(e.kind == 1) & (e.position == i)].sum()
        deleveraged_as_source = e.qty[(e.kind == 2) & (e.counterparty == i)].sum()
        deleveraged_as_target = e.qty[(e.kind == 2) & (e.position == i)].sum()
        total = filled + taken + deleveraged_as_source + deleveraged_as_target + sim.final_qty[i]
        assert total == pytest.approx(positions.qty[i], rel=1e-9)
    assert sim.timeline.insurance_fund[-1] - 20.0 == pytest.approx(e.fee.sum() - e.loss.sum(), abs=1e-6)
    assert np.all(sim.final_qty >= 0)
    assert (e.kind <= 1).any()  # fills or (Hyperliquid's backstop) takeovers


def test_random_flow_has_the_rate_size_and_sides_asked():
    flow = lc.random_flow(200_000, rate=0.5, mean_size=2.0, buy_share=0.3, seed=9)
    assert np.array_equal(flow, lc.random_flow(200_000, rate=0.5, mean_size=2.0, buy_share=0.3, seed=9))
    assert np.mean(flow) == pytest.approx(0.5 * 2.0 * (0.3 - 0.7), rel=0.03)
    assert np.mean(flow == 0) == pytest.approx(math.exp(-0.5), abs=0.01)  # Poisson: no order in a step
    with pytest.raises(ValueError, match=r"^buy_share"):
        lc.random_flow(10, 1.0, 1.0, buy_share=1.5)


def test_price_band_stops_fills_beyond_it():
    # Mid 100; long 1 @ 100, margin 5 (liquidation 95 at mmr 0). After a -5.5 % shock (mark
    # 94.5) the bids are 94 (0.3) and 90. With a 1 % band fills stop below 93.555: 0.3 fill at
    # 94, the rest goes to the (funded) insurance fund at bankruptcy, 95; without the band
    # the market-order policy sells it all, into 90 as well.
    book = lc.OrderBook([94.0, 90.0], [0.3, 10.0], [106.0], [1.0])
    positions = lc.Positions([1], [1.0], [100.0], [5.0], mmr=0.0)
    policy = lc.LiquidationPolicy.market_orders(takeover=True)
    banded = lc.simulate(book, positions, policy, 1, shock=-0.055, band=0.01, insurance_fund=1.0)
    e = banded.events
    assert list(e.kind_name[:2]) == ["liquidation", "takeover"]
    assert (e.qty[0], e.price[0]) == (0.3, 94.0) and e.qty[1] == pytest.approx(0.7) and e.price[1] == 95.0
    free = lc.simulate(book, positions, policy, 1, shock=-0.055, insurance_fund=1.0)
    assert list(free.events.kind_name) == ["liquidation"] and free.events.qty[0] == 1.0


def test_hyperliquid_liquidates_large_positions_20_percent_at_a_time_with_a_cooldown():
    # Hyperliquid's docs ("Liquidations"): a position above 100,000 USDC of notional is sent to
    # the book 20 % at a time, with a 30-second cooldown between slices. Long 5 BTC at 60,000
    # with 15,000 margin (300,000 of notional), mmr 1 %: liquidation at 57,575.8. A -4.1 %
    # shock (last 57,540) triggers it: 1 BTC goes at 57,500, which frees equity (its new
    # liquidation price is 57,449). A sale at step 10 takes the price to 57,300; the position
    # waits out its cooldown, then 0.8 BTC goes at step 30 and 0.64 at step 60. (Equity stays
    # above 2/3 of maintenance throughout: no backstop.) Steps are seconds.
    book = lc.OrderBook([59_999.0, 57_500.0, 57_300.0], [1.0, 1.0, 100.0], [60_001.0], [1.0])
    positions = lc.Positions([1], [5.0], [60_000.0], [15_000.0], mmr=0.01)
    flow = np.zeros(61)
    flow[10] = -0.5
    sim = lc.simulate(book, positions, "hyperliquid", 61, 1.0, shock=-0.041, flow=flow)
    e = sim.events
    mine = (e.kind == 0) & (e.position == 0)
    assert list(e.step[mine]) == [0, 30, 60]
    np.testing.assert_allclose(e.qty[mine], [1.0, 0.8, 0.64], rtol=1e-12)
    np.testing.assert_allclose(e.price[mine], [57_500.0, 57_300.0, 57_300.0])
    assert sim.final_qty[0] == pytest.approx(5.0 - 1.0 - 0.8 - 0.64)
    assert not np.any(e.kind == 1)  # no backstop takeover
    # without slicing the whole 5 BTC goes at once
    whole = lc.simulate(book, positions, lc.LiquidationPolicy.hyperliquid(slice_above=0.0), 61, 1.0, shock=-0.041,
                        flow=flow)
    assert whole.events.qty[(whole.events.kind == 0) & (whole.events.position == 0)].sum() == pytest.approx(5.0)
    assert list(whole.events.step[whole.events.kind == 0]) == [0]
    # a position at or below 100,000 of notional is closed whole
    small = lc.Positions([1], [1.6], [60_000.0], [4_800.0], mmr=0.01)
    one = lc.simulate(book, small, "hyperliquid", 5, 1.0, shock=-0.041)
    assert list(one.events.qty[one.events.kind == 0]) == [1.6]
    assert list(one.events.step[one.events.kind == 0]) == [0]


def test_slice_parameters_are_checked():
    with pytest.raises(ValueError, match=r"^slice_fraction: must be in \(0, 1\]"):
        lc.LiquidationPolicy.hyperliquid(slice_fraction=0.0)
    with pytest.raises(ValueError, match="^slice_cooldown: must be finite and >= 0"):
        lc.LiquidationPolicy.hyperliquid(slice_cooldown=-1.0)
    with pytest.raises(ValueError, match="^slice_above: must be finite and >= 0"):
        lc.LiquidationPolicy(slice_above=math.inf)
    with pytest.raises(ValueError, match="^adl_ranking: expected one of"):
        lc.LiquidationPolicy(adl_ranking="random")


def test_funding_at_a_known_rate_liquidates_at_the_step_the_closed_form_gives():
    # Long 1 @ 100 with margin 5, mmr 0.5 %, the mark held at 100 (nothing trades). Funding of
    # 0.1 % every 10 steps takes 1 * 100 * 0.001 = 0.1 from its margin each time; it is
    # liquidated when equity 5 - 0.1 k <= MM = 0.5, i.e. at the k = 45th settlement, step 450
    # (funding settles at the start of the step, before the engine runs). A short at 100 with
    # margin 5 receives the same and its liquidation price rises: 100 + (5 + 0.1 k) / 1.005...
    book = lc.OrderBook([99.9, 50.0], [1.0, 100.0], [100.1, 150.0], [1.0, 100.0])
    positions = lc.Positions([1, -1], [1.0, 1.0], [100.0, 100.0], [5.0, 5.0], mmr=0.005)
    steps = 500
    sim = lc.simulate(book, positions, lc.LiquidationPolicy.market_orders(), steps, mark="index",
                      funding_interval=10, funding_rate=np.full(steps, 0.001))
    e = sim.events
    k = int(np.ceil((5.0 - 0.005 * 100.0) / 0.1 - 1e-9))  # settlements until equity <= MM
    assert k == 45
    assert list(e.position[e.kind == 0]) == [0] and e.step[e.kind == 0][0] == 10 * k
    tl = sim.timeline
    settled = np.flatnonzero(tl.funding_rate)
    assert list(settled[:3]) == [10, 20, 30] and len(settled) == steps // 10 - 1
    np.testing.assert_allclose(tl.funding_long[settled[: k]], 0.1)
    np.testing.assert_allclose(tl.funding_short[settled], -0.1)  # the short receives
    assert sim.final_qty[1] == 1.0  # and is never liquidated


def test_funding_from_the_premium_follows_the_venue_formula():
    # The mark (last trade) sits 0.1 % above the index for the whole interval: the premium P is
    # 0.001, interest 0.0001: rate = P + clamp(I - P, -0.0005, 0.0005) = 0.001 - 0.0005 = 0.0005.
    # Capped at 0.0003 when funding_cap = 0.0003.
    book = lc.OrderBook([100.0, 99.0], [1.0, 100.0], [100.2, 101.0], [1.0, 100.0])
    positions = lc.Positions([1], [1.0], [100.0], [50.0], mmr=0.005)
    path = np.full(30, 100.1 / 1.001)
    sim = lc.simulate(book, positions, "market_orders", 30, path=path, mark="index", basis=100.1 - path[0],
                      funding_interval=10)
    rates = sim.timeline.funding_rate[[10, 20]]
    np.testing.assert_allclose(rates, 0.0005, rtol=1e-9)
    capped = lc.simulate(book, positions, "market_orders", 30, path=path, mark="index", basis=100.1 - path[0],
                         funding_interval=10, funding_cap=0.0003)
    np.testing.assert_allclose(capped.timeline.funding_rate[[10, 20]], 0.0003)
    with pytest.raises(ValueError, match="^funding_rate: needs a funding_interval > 0"):
        lc.simulate(book, positions, "market_orders", 30, funding_rate=np.zeros(30))
    with pytest.raises(ValueError, match="^funding_rate: length 3 does not match steps 30"):
        lc.simulate(book, positions, "market_orders", 30, funding_interval=10, funding_rate=np.zeros(3))
    with pytest.raises(ValueError, match="^funding_interval: must be >= 0"):
        lc.simulate(book, positions, "market_orders", 30, funding_interval=-1)


def test_latency_delays_the_order_by_that_many_steps():
    book = flat_book(levels=400, qty=50.0, tick=0.1)
    positions = lc.Positions(np.ones(3, dtype=np.int8), 1.0, 100.0, [1.0, 1.5, 2.0], mmr=0.0)
    now = lc.simulate(book, positions, "market_orders", 8, shock=-0.05)
    later = lc.simulate(book, positions, lc.LiquidationPolicy.market_orders(latency=3), 8, shock=-0.05)
    assert set(now.events.step) == {0}
    assert set(later.events.step) == {3} and list(later.events.position) == [0, 1, 2]
    assert list(later.timeline.queued[:4]) == [3, 3, 3, 0]
    with pytest.raises(ValueError, match="^latency: must be in"):
        lc.LiquidationPolicy(latency=-1)
    with pytest.raises(ValueError, match=r"^taker_fee: must be in \[0, 1\)"):
        lc.LiquidationPolicy(taker_fee=1.0)


def test_a_slice_beyond_bankruptcy_is_not_charged_twice():
    # (review finding) Long 5 BTC at 100,000 with 10,000 margin (50x): bankruptcy 98,000. A
    # Hyperliquid slice of 1 BTC fills beyond bankruptcy; the fund covers that slice's shortfall,
    # and the remaining 4 BTC keep their own share of the margin (8,000), so the fund's total
    # loss is exactly what the fills fell short of the position's bankruptcy value.
    mid = 1e5
    bids = mid - 0.5 - np.arange(100) * 100.0
    asks = mid + 0.5 + np.arange(100) * 100.0
    book = lc.OrderBook(bids, np.full(100, 0.01), asks, np.full(100, 0.01))
    positions = lc.Positions.from_leverage(1, 5.0, mid, 50.0, mmr=0.005)
    sim = lc.simulate(book, positions, lc.LiquidationPolicy.hyperliquid(taker_fee=0.0, adl=False), 100,
                      path=np.linspace(mid, 97_000, 100), mark="index", insurance_fund=1e6)
    e = sim.events
    sold = (e.kind == 0) & (e.position == 0)
    taken = (e.kind == 1) & (e.position == 0)
    assert sold.any() and taken.any()
    # every unit of the position went at some price; the fund lost what they fell short of
    value = (e.qty[sold] * e.price[sold]).sum() + (e.qty[taken] * e.price[taken]).sum()
    qty = e.qty[sold].sum() + e.qty[taken].sum()
    assert qty == pytest.approx(5.0)
    shortfall = max(0.0, 98_000.0 * qty - value)
    fund_loss = e.loss[(e.kind <= 1) & (e.position == 0)].sum() - e.fee[(e.kind <= 1) & (e.position == 0)].sum()
    assert fund_loss == pytest.approx(shortfall, rel=1e-9)


def test_a_close_the_book_fund_and_adl_cannot_absorb_is_retried_next_step():
    # (review finding) Long 1 at 100,000, 20x: liquidation 95,477, bankruptcy 95,000. The mark
    # jumps to 95,000 at step 10 where no bid is at or above bankruptcy (IOC), the fund is empty
    # and no one is short: nothing can absorb it. It stays with the engine and is tried again
    # every step; when bids come back above bankruptcy (the path recovers), it is sold.
    levels = 20_000
    book = lc.OrderBook(1e5 - 0.5 - np.arange(levels), np.full(levels, 5.0),
                        1e5 + 0.5 + np.arange(levels), np.full(levels, 5.0))
    positions = lc.Positions.from_leverage([1], [1.0], 1e5, 20.0)
    path = np.full(60, 1e5)
    path[10:30] = 94_000.0  # the book's centre: every bid below 94,000, beyond bankruptcy
    path[30:] = 95_400.0   # back: bids up to 95,399.5, above bankruptcy, below liquidation
    sim = lc.simulate(book, positions, "binance", 60, path=path, mark="index")
    e = sim.events
    assert sim.liquidated[0]
    assert list(e.step[e.kind == 0]) == [30] and e.qty[0] == 1.0 and e.price[0] > 95_000.0
    assert sim.final_qty[0] == 0.0
    assert list(sim.timeline.queued[10:30]) == [1] * 20  # waiting with the engine meanwhile


def test_a_queued_order_rechecks_the_mark_when_it_goes():
    # (review finding) With a latency of 5 steps, a position triggered by a one-step dip is not
    # sold after the price has recovered above its liquidation price: it is open again.
    book = flat_book(levels=400, qty=50.0, tick=0.1)
    positions = lc.Positions([1], [1.0], [100.0], [5.0], mmr=0.005)  # liquidation 95.48
    path = np.full(20, 100.0)
    path[3] = 95.0
    sim = lc.simulate(book, positions, lc.LiquidationPolicy.market_orders(latency=5), 20, path=path, mark="index")
    assert len(sim.events) == 0 and sim.final_qty[0] == 1.0 and not sim.liquidated[0]
    assert list(sim.timeline.queued[3:8]) == [1, 1, 1, 1, 1] and sim.timeline.queued[8] == 0
    # and a dip that lasts past the latency is sold
    path[3:12] = 95.0
    sim = lc.simulate(book, positions, lc.LiquidationPolicy.market_orders(latency=5), 20, path=path, mark="index")
    assert list(sim.events.step) == [8]


def test_margin_calls_give_a_grace_period_then_a_deposit_or_the_engine():
    # Long 1 @ 100, margin 20 (5x: an initial margin fraction of 20 %), mmr 10 %: liquidation at
    # (100 - 20) / 0.9 = 88.9. The index mark falls to 88 at step 2. With a 5-step grace and the
    # call always met, the position is called at step 2 and, at step 7, its margin is raised so
    # its equity at 88 is 20 % of 88 (17.6): a deposit of 17.6 - (20 - 12) = 9.6; it stays open.
    # Never met: it is liquidated at step 7, not at step 2.
    book = flat_book(levels=400, qty=50.0, tick=0.1)
    positions = lc.Positions([1], [1.0], [100.0], [20.0], mmr=0.10)
    path = np.full(12, 100.0)
    path[2:] = 88.0
    met = lc.simulate(book, positions, lc.LiquidationPolicy.market_orders(margin_call_grace=5, margin_call_met=1.0),
                      12, path=path, mark="index")
    e = met.events
    assert list(e.kind_name) == ["margin_call", "call_met"] and list(e.step) == [2, 7]
    assert met.timeline.margin_deposits[7] == pytest.approx(9.6) and met.timeline.margin_deposits.sum() == \
        pytest.approx(9.6)
    assert met.final_qty[0] == 1.0 and not met.liquidated[0]
    unmet = lc.simulate(book, positions, lc.LiquidationPolicy.market_orders(margin_call_grace=5, margin_call_met=0.0),
                        12, path=path, mark="index")
    assert list(unmet.events.kind_name) == ["margin_call", "liquidation"]
    assert list(unmet.events.step) == [2, 7] and unmet.liquidated[0]
    # a price that comes back within the grace period: not liquidated, open again
    back = path.copy()
    back[4:] = 100.0
    sim = lc.simulate(book, positions, lc.LiquidationPolicy.market_orders(margin_call_grace=5), 12, path=back,
                      mark="index")
    assert list(sim.events.kind_name) == ["margin_call"] and sim.final_qty[0] == 1.0
    # many positions, met with probability 0.3: about 30 % of the calls, the same draws each run
    n = 4_000
    many = lc.Positions(np.ones(n, dtype=np.int8), 1.0, 100.0, 20.0, mmr=0.10)
    policy = lc.LiquidationPolicy.market_orders(margin_call_grace=3, margin_call_met=0.3, margin_call_seed=7)
    a = lc.simulate(book, many, policy, 12, path=path, mark="index")
    b = lc.simulate(book, many, policy, 12, path=path, mark="index")
    met_share = np.count_nonzero(a.events.kind == 5) / n
    assert abs(met_share - 0.3) < 0.03
    np.testing.assert_array_equal(a.events.position, b.events.position)
    with pytest.raises(ValueError, match=r"^margin_call_met: must be a probability in \[0, 1\]"):
        lc.LiquidationPolicy(margin_call_met=1.5)
