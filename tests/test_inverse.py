"""Inverse (coin-margined) contracts (docs/design.md, "Inverse contracts"): the venues' published
examples, the literal reference model in the contract's own terms (tests/reference.py,
inverse_cascade) against the engine's reciprocal-market cascade, cascade_many on both paths,
and bad input."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import liqcascade as lc
import reference as ref

# -- the venues' published examples ---------------------------------------------------------------

def test_binance_coin_m_maintenance_example():
    # Binance COIN-M futures, "Leverage and Margin": 100 contracts of BTCUSD (100 USD each) at
    # 25,000 are 0.4 BTC of notional; at a maintenance rate of 0.4 % the maintenance is 0.0016 BTC.
    p = lc.Positions.from_leverage(1, 100.0, 25_000.0, 20.0, mmr=0.004, contract="inverse", contract_size=100.0)
    assert p.contract == "inverse" and p.contract_size == 100.0
    assert p.notional[0] == pytest.approx(0.4) and p.margin[0] == pytest.approx(0.02)
    assert 0.004 * p.notional[0] == pytest.approx(0.0016)
    # at its liquidation price, equity in coin equals maintenance in coin (valued at that price)
    liq = p.liquidation_price[0]
    equity = 0.02 + 10_000 * (1 / 25_000 - 1 / liq)
    assert equity == pytest.approx(0.004 * 10_000 / liq, rel=1e-12)


def test_bybit_inverse_bankruptcy_example():
    # Bybit Help Centre, "Bankruptcy price (inverse contract)": balance 0.5 BTC, long 10,000
    # contracts (1 USD each) at 8,000 -> bankruptcy price 5,718.57. Bybit's bankruptcy price keeps
    # the fee to close (0.075 % taker) out of the margin: equity - 0.00075 * N / p = 0, which
    # scales the fee-free price 10,000 / (10,000/8,000 + 0.5) = 5,714.29 by (1 + 0.00075).
    p = lc.Positions(1, 10_000.0, 8_000.0, 0.5, mmr=0.005, contract="inverse")
    assert round(p.bankruptcy_price[0], 2) == 5_714.29
    assert round(p.bankruptcy_price[0] * (1 + 0.00075), 2) == 5_718.57


def test_bitmex_isolated_example():
    # BitMEX guide: 100 XBT of XBTUSD (10,000 contracts) at 100 with 4 XBT of margin (25x)
    # liquidates near 97: bankruptcy 10,000 / (100 + 4) = 96.15, liquidation (0.5 % maintenance)
    # 10,000 * 1.005 / 104 = 96.63.
    p = lc.Positions(1, 10_000.0, 100.0, 4.0, mmr=0.005, contract="inverse")
    assert p.notional[0] == pytest.approx(100.0) and p.leverage[0] == pytest.approx(25.0)
    assert p.bankruptcy_price[0] == pytest.approx(10_000 / 104)
    assert p.liquidation_price[0] == pytest.approx(10_000 * 1.005 / 104)
    assert round(p.liquidation_price[0]) == 97


def test_inverse_prices_follow_the_closed_forms_and_a_hedged_short_is_never_liquidated():
    side = np.array([1, -1, -1], dtype=np.int8)
    contracts, entry, margin = np.array([500.0, 500.0, 500.0]), np.array([40_000.0] * 3), np.array([0.1, 0.1, 0.2])
    p = lc.Positions(side, contracts, entry, margin, mmr=0.005, contract="inverse", contract_size=100.0)
    for i in range(3):
        want = ref.inverse_liquidation_price(int(side[i]), contracts[i], 100.0, entry[i], margin[i], 0.005, 0.0)
        assert p.liquidation_price[i] == pytest.approx(want, rel=1e-14)
        assert p.bankruptcy_price[i] == pytest.approx(
            ref.inverse_bankruptcy_price(int(side[i]), contracts[i], 100.0, entry[i], margin[i]), rel=1e-14)
    # 50,000 USD short at 40,000 with 1.25 BTC (50,000 USD) of margin: a 1x short is fully
    # hedged in coin, never liquidated nor bankrupt
    hedged = lc.Positions(-1, 500.0, 40_000.0, 1.25, mmr=0.005, contract="inverse", contract_size=100.0)
    assert hedged.liquidation_price[0] == math.inf and hedged.bankruptcy_price[0] == math.inf


# -- the engine against the literal model ---------------------------------------------------------

@st.composite
def inverse_markets(draw):
    n_levels = draw(st.integers(1, 12))
    mid = draw(st.floats(1_000.0, 100_000.0))
    gaps = draw(st.lists(st.floats(0.0005, 0.02), min_size=n_levels, max_size=n_levels))
    bids = list(mid * np.cumprod([1 - g for g in gaps]))
    asks = list(mid * np.cumprod([1 + g for g in gaps]))
    qty = st.integers(1, 200).map(float)  # contracts
    book = {"bid_price": bids, "bid_qty": draw(st.lists(qty, min_size=n_levels, max_size=n_levels)),
            "ask_price": asks, "ask_qty": draw(st.lists(qty, min_size=n_levels, max_size=n_levels))}
    n = draw(st.integers(1, 25))
    side = draw(st.lists(st.sampled_from([1, -1]), min_size=n, max_size=n))
    contracts = draw(st.lists(st.integers(1, 80).map(float), min_size=n, max_size=n))
    entry = [mid * draw(st.floats(0.97, 1.03)) for _ in range(n)]
    leverage = draw(st.lists(st.sampled_from([5.0, 10.0, 20.0, 50.0, 100.0]), min_size=n, max_size=n))
    size = draw(st.sampled_from([1.0, 10.0, 100.0]))
    margin = [c * size / e / lev for c, e, lev in zip(contracts, entry, leverage, strict=True)]
    positions = {"side": side, "qty": contracts, "entry_price": entry, "margin": margin,
                 "mmr": [0.005] * n, "maint_amount": [0.0] * n}
    shock = draw(st.floats(-0.08, 0.08).filter(lambda s: abs(s) > 1e-4))
    return book, positions, size, shock


def engine(book, positions, size):
    b = lc.OrderBook(book["bid_price"], book["bid_qty"], book["ask_price"], book["ask_qty"])
    p = lc.Positions(np.array(positions["side"], dtype=np.int8), positions["qty"], positions["entry_price"],
                     positions["margin"], positions["mmr"], positions["maint_amount"], contract="inverse",
                     contract_size=size)
    return b, p


@settings(max_examples=200, deadline=None)
@given(inverse_markets())
def test_engine_agrees_with_the_literal_inverse_model(market):
    book, positions, size, shock = market
    b, p = engine(book, positions, size)
    want = ref.inverse_cascade(book, positions, size, shock)
    # the engine compares prices as reciprocals: a threshold within a few ulps of a price it is
    # compared with may fall either way (the rule is the reciprocal market's); skip those draws
    liq = p.liquidation_price
    prices = book["bid_price"] + book["ask_price"] + [want.shock_price]
    assume(all(abs(a / b_ - 1) > 1e-12 for a in liq if math.isfinite(a) for b_ in prices))
    # nor two thresholds within a few ulps of each other (their order may differ by rounding;
    # exact ties go by index in both)
    # (in both models: the literal one's USD thresholds of two positions the engine ties exactly
    # may differ in their last bits, and then go by price, not index)
    reference_liq = [ref.inverse_liquidation_price(*(positions[k][i] for k in ("side", "qty")), size,
                                                   *(positions[k][i] for k in ("entry_price", "margin", "mmr",
                                                                               "maint_amount")))
                     for i in range(len(positions["side"]))]
    for thresholds in (liq, reference_liq):
        finite = sorted(a for a in thresholds if math.isfinite(a))
        assume(all(a == b_ or abs(a / b_ - 1) > 1e-12 for a, b_ in zip(finite, finite[1:], strict=False)))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LiqcascadeWarning)  # (positions past their liquidation price)
        got = lc.cascade(b, p, shock)
    assert got.direction == want.direction
    assert got.n_liquidated == want.n_liquidated and got.rounds == want.rounds
    assert got.book_exhausted == want.book_exhausted
    assert got.final_price == pytest.approx(want.final_price, rel=1e-12)
    assert got.shock_price == pytest.approx(want.shock_price, rel=1e-12)
    assert got.liquidated_qty == pytest.approx(want.liquidated_qty, rel=1e-12, abs=1e-9)
    assert got.unfilled_qty == pytest.approx(want.unfilled_qty, rel=1e-12, abs=1e-9)
    assert got.liquidated_notional == pytest.approx(want.liquidated_notional, rel=1e-9, abs=1e-15)
    assert got.bad_debt == pytest.approx(want.bad_debt, rel=1e-7, abs=1e-12)
    assert sorted(got.liquidated_index.tolist()) == [i for i, x in enumerate(want.liquidated) if x]
    for i, price in zip(got.liquidated_index, got.liquidated_fill_price, strict=True):
        assert price == pytest.approx(want.fill_price[i], rel=1e-12, nan_ok=True)
    for (start, count, qty), row in zip(want.trace, range(len(got.trace)), strict=True):
        assert got.trace.start_price[row] == pytest.approx(start, rel=1e-12)
        assert got.trace.count[row] == count and got.trace.qty[row] == pytest.approx(qty)
    # cascade_many: both paths give cascade()'s row
    for detail in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lc.LiqcascadeWarning)
            row = lc.cascade_many(b, p, [shock], detail=detail, threads=1)
        assert row.final_price[0] == got.final_price and row.n_liquidated[0] == got.n_liquidated
        assert row.rounds[0] == got.rounds and bool(row.book_exhausted[0]) == got.book_exhausted
        assert row.bad_debt[0] == pytest.approx(got.bad_debt, rel=1e-9, abs=1e-12)
        notional = row.liquidated_notional_long[0] + row.liquidated_notional_short[0]
        assert notional == pytest.approx(got.liquidated_notional, rel=1e-9, abs=1e-15)


def test_a_quantity_shock_sells_contracts():
    # a sell of 30 contracts walks the bids of an inverse book like any sell: 10 at 99, 20 at 98
    book = lc.OrderBook([99.0, 98.0, 97.0], [10.0, 50.0, 50.0], [101.0], [10.0])
    p = lc.Positions([1], [5.0], [100.0], [0.0001], mmr=0.0, contract="inverse", contract_size=10.0)
    r = lc.cascade(book, p, sell_qty=30.0)
    assert r.direction == "down" and r.exogenous_filled_qty == pytest.approx(30.0)
    assert r.shock_price == pytest.approx(98.0)
    # the long (liquidation 50 / (0.5 + 0.0001) ~ 99.98) is then sold: 5 contracts at 98
    assert r.n_liquidated == 1 and r.liquidated_qty == pytest.approx(5.0)
    assert r.liquidated_notional == pytest.approx(5 * 10 / 98.0)  # coin


def test_inverse_positions_pickle():
    p = lc.Positions.from_leverage([1, -1], [100.0, 50.0], 30_000.0, 10.0, mmr=0.005, contract="inverse",
                                   contract_size=100.0)
    q = pickle.loads(pickle.dumps(p))
    assert q.contract == "inverse" and q.contract_size == 100.0
    np.testing.assert_array_equal(q.qty, p.qty)
    np.testing.assert_array_equal(q.liquidation_price, p.liquidation_price)
    book = lc.OrderBook([29_990.0], [1_000.0], [30_010.0], [1_000.0])
    with pytest.raises(ValueError, match="^path: an inverse market's book levels must stay above 0"):
        lc.simulate(book, p, "binance", 2, path=[30_000.0, 10.0])


def test_bad_contract_inputs_name_their_field():
    with pytest.raises(ValueError, match="^contract: expected one of 'linear', 'inverse'"):
        lc.Positions(1, 1.0, 100.0, 1.0, contract="quanto")
    with pytest.raises(ValueError, match="^contract_size: must be finite and > 0"):
        lc.Positions(1, 1.0, 100.0, 1.0, contract="inverse", contract_size=0.0)
    with pytest.raises(ValueError, match="^contract_size: only an inverse contract"):
        lc.Positions(1, 1.0, 100.0, 1.0, contract_size=100.0)
    with pytest.raises(ValueError, match=r"^entry_price\[0\]: must be finite and > 0"):
        lc.Positions(1, 1.0, -100.0, 1.0, contract="inverse")
    with pytest.raises(ValueError, match=r"^side\[1\]: must be \+1 or -1"):
        lc.Positions([1, 2], 1.0, 100.0, 1.0, contract="inverse")


def test_shocks_market_inverse_prints_both_contracts(capsys):
    import json

    from liqcascade import cli

    assert cli.main(["shocks", "--market", "inverse", "--positions", "20000", "--shocks=-5%,5%", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    down, up = out["results"]
    assert down["inverse"]["direction"] == "down" and up["inverse"]["direction"] == "up"
    # the coin-margined longs are liquidated earlier: a fall cascades at least as far
    assert down["inverse"]["final_move"] <= down["linear"]["final_move"]
    assert out["scenario"]["contract_size"] == 100.0 and out["scenario"]["inverse_left_out"] >= 0


# -- through time -----------------------------------------------------------------------------------

def test_simulate_with_market_orders_and_one_step_is_the_static_inverse_cascade():
    rng = np.random.default_rng(3)
    n = 400
    mid = 50_000.0
    bids = mid - 10.0 * np.arange(1, 301)
    asks = mid + 10.0 * np.arange(1, 301)
    book = lc.OrderBook(bids, rng.integers(20, 200, 300).astype(float), asks, rng.integers(20, 200, 300).astype(float))
    side = rng.choice([1, -1], n).astype(np.int8)
    contracts = rng.integers(10, 300, n).astype(float)
    entry = mid * np.exp(rng.normal(0, 0.01, n))
    lev = rng.choice([10.0, 20.0, 50.0], n)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LiqcascadeWarning)
        p = lc.Positions.from_leverage(side, contracts, entry, lev, mmr=0.005, contract="inverse", contract_size=100.0)
        for shock in (-0.02, 0.015):
            static = lc.cascade(book, p, shock)
            sim = lc.simulate(book, p, "market_orders", 1, shock=shock)
            assert sim.timeline.price[0] == pytest.approx(static.final_price, rel=1e-12)
            e = sim.events
            assert np.count_nonzero(sim.liquidated) == static.n_liquidated
            assert e.qty[e.kind == 0].sum() == pytest.approx(static.liquidated_qty, rel=1e-12)  # contracts
            assert sim.timeline.liquidated_notional[0] == pytest.approx(static.liquidated_notional, rel=1e-9)  # coin
            # per position: the same contracts filled at the same (harmonic-mean) price
            for i, q, price in zip(static.liquidated_index, static.liquidated_filled_qty,
                                   static.liquidated_fill_price, strict=True):
                mine = (e.kind == 0) & (e.position == i)
                if q > 0:
                    assert e.qty[mine].sum() == pytest.approx(q, rel=1e-12)
                    assert e.price[mine][0] == pytest.approx(price, rel=1e-12)


def test_inverse_funding_reaches_liquidation_at_the_closed_form_step():
    # A coin-margined long of 1,000 contracts of 100 USD (N = 100,000 USD) at 50,000 with 0.1 BTC
    # of margin (20x), mmr 0.5 %, the mark held at 50,000: each settlement at 0.1 % takes
    # N / p * 0.001 = 0.002 BTC; liquidated when 0.1 - 0.002 k <= mmr * N / p = 0.01, k = 45.
    book = lc.OrderBook([49_990.0, 25_000.0], [10.0, 1e6], [50_010.0, 100_000.0], [10.0, 1e6])
    p = lc.Positions(1, 1_000.0, 50_000.0, 0.1, mmr=0.005, contract="inverse", contract_size=100.0)
    sim = lc.simulate(book, p, "market_orders", 500, mark="index", funding_interval=10,
                      funding_rate=np.full(500, 0.001))
    e = sim.events
    assert list(e.step[e.kind == 0]) == [450]
    settled = np.flatnonzero(sim.timeline.funding_rate)
    np.testing.assert_allclose(sim.timeline.funding_long[settled[:45]], 0.002)  # BTC, paid by the long


def test_inverse_accounting_holds_through_the_binance_engine():
    rng = np.random.default_rng(11)
    n = 1_500
    mid = 30_000.0
    levels = 400
    book = lc.OrderBook(mid - 5.0 * np.arange(1, levels + 1), np.full(levels, 30.0),
                        mid + 5.0 * np.arange(1, levels + 1), np.full(levels, 30.0))
    side = rng.choice([1, -1], n).astype(np.int8)
    contracts = rng.integers(1, 50, n).astype(float)
    entry = mid * np.exp(rng.normal(0, 0.01, n))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LiqcascadeWarning)
        p = lc.Positions.from_leverage(side, contracts, entry, rng.choice([20.0, 50.0, 100.0], n), mmr=0.005,
                                       contract="inverse", contract_size=100.0)
        flow = np.zeros(60)
        flow[:10] = -300.0  # contracts sold per step
        fund = 0.05  # BTC
        sim = lc.simulate(book, p, lc.LiquidationPolicy.binance(unwind_per_step=50.0), 60, 1.0, flow=flow,
                          resilience=0.05, insurance_fund=fund)
    e = sim.events
    assert sim.timeline.liquidated_qty.sum() > 0
    for i in np.flatnonzero(sim.liquidated):  # contracts: filled + taken over + deleveraged + left
        total = (e.qty[(e.kind <= 1) & (e.position == i)].sum() + e.qty[(e.kind == 2) & (e.counterparty == i)].sum()
                 + e.qty[(e.kind == 2) & (e.position == i)].sum() + sim.final_qty[i])
        assert total == pytest.approx(contracts[i], rel=1e-9)
    assert np.all(sim.final_qty >= 0) and np.all(sim.final_qty <= contracts * (1 + 1e-12))
    # the fund, in BTC: change = clearance fees - losses covered (unwind PnL as negative losses)
    assert sim.timeline.insurance_fund[-1] - fund == pytest.approx(e.fee.sum() - e.loss.sum(), abs=1e-9)
    # event prices are USD prices on the book's scale
    liq = e.kind == 0
    assert np.all((e.price[liq] > mid * 0.8) & (e.price[liq] < mid * 1.2))


def test_inverse_results_keep_level_prices_exact_and_name_the_users_values():
    # (review findings) a cascade that ends on a level reports that level's price exactly (not
    # 1/(1/p)); a zero shock is 'down' as for a linear set; bad values are reported as given
    book = lc.OrderBook([99.0, 97.0, 96.0, 95.0, 93.0], [3_000.0, 4_000.0, 5_000.0, 7_000.0, 50_000.0],
                        [101.0], [1_000.0])
    p = lc.Positions(1, 10_000.0, 100.0, 4.0, mmr=0.005, contract="inverse")
    r = lc.cascade(book, p, -0.035)
    assert r.final_price == 95.0 and r.shock_price == 96.5
    assert list(r.trace.start_price) == [96.5]
    zero = lc.cascade(book, p, 0.0)
    assert zero.direction == "down" and zero.final_price == zero.ref_price == 100.0
    with pytest.raises(ValueError, match=r"^entry_price\[0\]: must be finite and > 0, got 0"):
        lc.Positions(1, 1.0, 0.0, 1.0, contract="inverse")
    with pytest.raises(ValueError, match=r"^qty\[0\]: must be finite and > 0, got -1"):
        lc.Positions(1, -1.0, 100.0, 1.0, contract="inverse", contract_size=100.0)
    with pytest.raises(ValueError, match=r"^side\[0\]: must be \+1 or -1, got 2"):
        lc.Positions(2, 1.0, 100.0, 1.0, contract="inverse")


def test_studies_of_an_inverse_population_equal_direct_cascades_on_their_scenarios():
    # A study's row on an inverse population is the static inverse cascade of its scenario's
    # book (in contracts), positions and shock (sample_scenario), whatever the threads
    pop = lc.PositionPopulation(count=20_000, contract="inverse", contract_size=100.0)
    book = lc.BookModel(thinning=0.3, level_noise=0.2)
    shocks = lc.ShockModel.student_t(3.0, 0.03)
    one = lc.monte_carlo(pop, book, shocks, 12, seed=7, threads=1, progress=False)
    two = lc.monte_carlo(pop, book, shocks, 12, seed=7, threads=2, progress=False)
    np.testing.assert_array_equal(one.final_price, two.final_price)
    np.testing.assert_array_equal(one.bad_debt, two.bad_debt)
    for index in (0, 3, 11):
        scenario = lc.sample_scenario(pop, book, shocks, seed=7, index=index)
        assert scenario.positions.contract == "inverse" and scenario.positions.contract_size == 100.0
        direct = lc.cascade(scenario.book, scenario.positions, scenario.shock)
        assert direct.final_price == one.final_price[index]
        assert direct.n_liquidated == one.n_liquidated[index] and direct.rounds == one.rounds[index]
        assert direct.bad_debt == one.bad_debt[index]
    # the same draws as the linear population: the same sides, sizes (in USD) and entries
    linear = lc.PositionPopulation(count=20_000).sample(seed=7, scenario=3, book_model=book)
    inverse = pop.sample(seed=7, scenario=3, book_model=book)
    np.testing.assert_array_equal(inverse.side, linear.side)
    np.testing.assert_allclose(inverse.qty * 100.0, linear.qty * linear.entry_price, rtol=1e-12)
    with pytest.raises(ValueError, match="^contract_size: only an inverse contract has a size"):
        lc.PositionPopulation(contract_size=100.0)


def test_an_inverse_study_reads_its_book_model_in_contracts_and_names_its_unit():
    # (review finding) the book model's profile is USD notional: an inverse population's study
    # book holds notional / contract_size contracts per level, so moves are the linear market's
    # order of magnitude, not an exhausted book; the table's amounts are coin
    shocks = lc.ShockModel.fixed([-0.03, 0.03, -0.01])
    inverse = lc.monte_carlo(lc.PositionPopulation(count=20_000, contract="inverse", contract_size=100.0),
                             lc.BookModel(), shocks, 3, seed=1, progress=False)
    linear = lc.monte_carlo(lc.PositionPopulation(count=20_000), lc.BookModel(), shocks, 3, seed=1, progress=False)
    assert not inverse.book_exhausted.any()
    np.testing.assert_allclose(inverse.final_move, linear.final_move, atol=0.02)
    assert inverse.notional_unit == "coin" and linear.notional_unit == "USD"
    assert "coin" in str(inverse.summary())
    scenario = lc.sample_scenario(lc.PositionPopulation(count=2_000, contract="inverse", contract_size=100.0),
                                  lc.BookModel(), shocks, seed=1, index=0)
    plain = lc.BookModel().build()
    np.testing.assert_allclose(scenario.book.bid_qty, plain.bid_qty * plain.bid_price / 100.0)


def test_policy_levers_and_maps_keep_an_inverse_set_inverse():
    # (review findings) a leverage cap on an inverse set raises its coin margin; the liquidation
    # map counts an inverse position at its USD face value
    from liqcascade.policy import leverage_cap

    inv = lc.Positions([1, -1], [1000.0, 1000.0], [1e5, 1e5], [0.02, 0.02], mmr=0.005, contract="inverse",
                       contract_size=100.0)  # 1,000 contracts of 100 USD: 1 BTC at 50x
    capped = leverage_cap(20).apply(inv)
    assert capped.contract == "inverse" and capped.contract_size == 100.0
    np.testing.assert_allclose(capped.margin, 1.0 / 20)  # 1 BTC of notional at 20x
    m = lc.liquidation_map(inv, 1e5)
    assert float(np.sum(m.long) + np.sum(m.short)) == pytest.approx(200_000.0)
