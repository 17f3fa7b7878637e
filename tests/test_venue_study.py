"""Correlated shocks and Monte Carlo over a venue (docs/design.md, "Correlated shocks",
"Studies over a venue"): the samplers against their laws (seeded, generous tolerances), the
bivariate normal's quadrant probability in closed form, a pinned hash of the draws, rows equal
to direct venue cascades, bit-identical rows for any thread count and split, the summary and
contagion measures computed by hand, bad input, Ctrl-C."""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import signal
import threading

import numpy as np
import pytest

import liqcascade as lc
from liqcascade.correlated import CorrelatedShockModel
from liqcascade.results import ScenarioTable
from liqcascade.venue import Accounts, Market, Venue, VenuePositions, VenueState, venue_cascade
from liqcascade.venue_scenario import default_agents, default_venue
from liqcascade.venue_study import VenueScenarioTable, sample_venue_scenario, venue_monte_carlo

PERPS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
CORRELATION = np.array([[1.0, 0.8, 0.7], [0.8, 1.0, 0.75], [0.7, 0.75, 1.0]])


@pytest.fixture(scope="module")
def state() -> VenueState:
    venue, positions, accounts = default_venue(accounts=3_000, isolated=3_000, seed=4)
    return VenueState(venue, positions, accounts)


@pytest.fixture(scope="module")
def model() -> CorrelatedShockModel:
    return CorrelatedShockModel.student_t(4.0, CORRELATION, [0.03, 0.04, 0.05], markets=PERPS)


# -- the samplers against their laws ----------------------------------------------------------

def test_normal_moves_have_the_model_correlation_and_scales():
    scale = np.array([0.02, 0.05, 0.1])
    x = CorrelatedShockModel.normal(CORRELATION, scale).sample(seed=1, n_scenarios=100_000)
    assert x.shape == (100_000, 3)
    assert np.allclose(x.mean(axis=0), 0.0, atol=4 * scale / math.sqrt(x.shape[0]))
    assert np.allclose(x.std(axis=0), scale, rtol=0.02)
    assert np.allclose(np.corrcoef(x.T), CORRELATION, atol=0.01)


@pytest.mark.parametrize("rho", [-0.5, 0.3, 0.9])
def test_bivariate_normal_quadrant_probability_closed_form(rho):
    # P(X < 0, Y < 0) = 1/4 + asin(rho) / (2 pi) for a standard bivariate normal
    n = 100_000
    x = CorrelatedShockModel.normal([[1.0, rho], [rho, 1.0]], 0.1).sample(seed=2, n_scenarios=n)
    p = 0.25 + math.asin(rho) / (2 * math.pi)
    hits = np.mean((x[:, 0] < 0) & (x[:, 1] < 0))
    assert abs(hits - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_student_t_shares_one_chi_square_per_scenario():
    df, n = 8.0, 200_000
    scale = np.array([0.01, 0.02])
    x = CorrelatedShockModel.student_t(df, np.eye(2), scale).sample(seed=3, n_scenarios=n) / scale
    # each margin a standard Student-t: variance df / (df - 2)
    assert np.allclose(x.var(axis=0), df / (df - 2), rtol=0.05)
    # uncorrelated, yet dependent through the shared mixing draw: E[X^2 Y^2] = df^2 / ((df-2)(df-4)),
    # not (df / (df - 2))^2 as for independent Student-t moves
    assert abs(np.corrcoef(x.T)[0, 1]) < 0.01
    assert np.mean(x[:, 0] ** 2 * x[:, 1] ** 2) == pytest.approx(df * df / ((df - 2) * (df - 4)), rel=0.1)
    assert (df / (df - 2)) ** 2 < 0.8 * df * df / ((df - 2) * (df - 4))
    # and correlated like the model where it says so (df > 2)
    y = CorrelatedShockModel.student_t(df, CORRELATION, 0.01).sample(seed=4, n_scenarios=n)
    assert np.allclose(np.corrcoef(y.T), CORRELATION, atol=0.015)


def test_student_t_joint_crashes_are_likelier_than_under_the_normal():
    n, rho = 200_000, 0.5
    corr = [[1.0, rho], [rho, 1.0]]
    t = CorrelatedShockModel.student_t(3.0, corr, 0.01).sample(seed=5, n_scenarios=n) / 0.01
    z = CorrelatedShockModel.normal(corr, 0.01).sample(seed=5, n_scenarios=n) / 0.01
    # both below their own 1 % quantile
    def joint(x):
        q = np.quantile(x, 0.01, axis=0)
        return np.mean((x[:, 0] < q[0]) & (x[:, 1] < q[1]))
    assert joint(t) > 1.5 * joint(z)


def test_historical_resamples_whole_rows_uniformly_and_fixed_takes_them_in_turn():
    rows = np.array([[-0.1, -0.2], [0.05, 0.01], [0.0, -0.03], [0.02, 0.02]])
    x = CorrelatedShockModel.historical(rows).sample(seed=6, n_scenarios=40_000)
    index = [int(np.flatnonzero((rows == row).all(axis=1))[0]) for row in x[:2000]]  # every draw is a row
    assert len(index) == 2000
    counts = np.array([np.sum((x == r).all(axis=1)) for r in rows])
    assert counts.sum() == 40_000
    assert np.allclose(counts / 40_000, 0.25, atol=0.01)
    fixed = CorrelatedShockModel.fixed(rows).sample(seed=6, n_scenarios=6, first_scenario=3)
    assert np.array_equal(fixed, rows[[3, 0, 1, 2, 3, 0]])


def test_a_zero_scale_leaves_its_market_alone_and_singular_correlations_factor():
    x = CorrelatedShockModel.normal(np.ones((3, 3)), [0.01, 0.0, 0.03]).sample(seed=7, n_scenarios=1000)
    assert np.all(x[:, 1] == 0.0)
    assert np.allclose(x[:, 2], 3 * x[:, 0], rtol=1e-12)
    model = CorrelatedShockModel.normal(CORRELATION, 0.01)
    factor = model.cholesky()
    assert np.allclose(factor @ factor.T, CORRELATION, atol=1e-15)
    assert np.all(np.triu(factor, 1) == 0.0)


def test_moves_below_minus_one_are_redrawn():
    x = CorrelatedShockModel.student_t(1.5, np.eye(2), [0.5, 0.5]).sample(seed=8, n_scenarios=20_000)
    with pytest.warns(lc.LiqcascadeWarning, match="no mean"):
        CorrelatedShockModel.student_t(0.8, np.eye(2), 0.1)
    assert np.all(x > -1.0) and np.all(np.isfinite(x))


def test_draws_are_a_pure_function_of_seed_and_scenario():
    for model in (CorrelatedShockModel.normal(CORRELATION, 0.02),
                  CorrelatedShockModel.student_t(3.0, CORRELATION, 0.02),
                  CorrelatedShockModel.historical(np.arange(30.0).reshape(10, 3) / 100)):
        whole = model.sample(seed=9, n_scenarios=500)
        parts = np.vstack([model.sample(seed=9, n_scenarios=n, first_scenario=f)
                           for f, n in ((0, 123), (123, 1), (124, 376))])
        assert np.array_equal(whole, parts)
        assert not np.array_equal(whole, model.sample(seed=10, n_scenarios=500))


def test_joint_shock_stream_gives_these_exact_bytes():
    # The draws of Purpose::joint_shock (docs/design.md, "Correlated shocks"): a change to the
    # stream, the Cholesky factor, the gamma sampler or the redraw rule changes this hash, and
    # must be documented as a new layout.
    h = hashlib.sha256()
    for model in (CorrelatedShockModel.normal(CORRELATION, [0.01, 0.02, 0.03]),
                  CorrelatedShockModel.student_t(3.0, CORRELATION, [0.01, 0.02, 0.03]),
                  CorrelatedShockModel.student_t(0.7 + 1.0, np.eye(3), 0.2),
                  CorrelatedShockModel.historical(np.arange(30.0).reshape(10, 3) / 100)):
        h.update(model.sample(seed=2**40 + 3, n_scenarios=257, first_scenario=2**33).tobytes())
    assert h.hexdigest() == JOINT_SHOCK_HASH


JOINT_SHOCK_HASH = "87cc7931d08f8b02d2d0f43707e005107d185ff49cbfede4cc9332dcaae06df9"


# -- the study over a venue -------------------------------------------------------------------

def test_each_row_equals_a_direct_venue_cascade_on_its_shocks(state, model):
    table = venue_monte_carlo(state, model, 24, seed=3, first_scenario=100, threads=2, progress=False)
    assert isinstance(table, VenueScenarioTable)
    assert table.markets == state.venue.market_names
    for row in range(len(table)):
        index = int(table["scenario"][row])
        scenario = sample_venue_scenario(state, model, 3, index)
        assert scenario.shocks["WBETHUSDT"] == 0.0 and scenario.shocks["USDEUSDT"] == 0.0
        direct = venue_cascade(state, shocks=scenario.shocks)
        assert table["rounds"][row] == direct.rounds
        assert table["bad_debt"][row] == direct.bad_debt
        assert table["accounts_liquidated"][row] == len(direct.accounts)
        assert table["n_liquidated"][row] == direct.liquidated_index.size
        assert table["account_bad_debt"][row] == pytest.approx(direct.accounts["bad_debt"].sum(), rel=1e-12, abs=0)
        for m, name in enumerate(table.markets):
            r = direct.market(name)
            assert table[f"{name}.shock"][row] == scenario.shocks[name]
            assert table[f"{name}.final_price"][row] == r["final_price"]
            assert table[f"{name}.final_move"][row] == r["final_move"]
            assert table[f"{name}.n_liquidated"][row] == r["n_liquidated"]
            assert table[f"{name}.sold_notional"][row] == r["sold_notional"]
            assert table[f"{name}.bad_debt"][row] == r["bad_debt"]
            assert table[f"{name}.book_exhausted"][row] == r["book_exhausted"]
            total = table[f"{name}.liquidated_notional_long"][row] + table[f"{name}.liquidated_notional_short"][row]
            assert total == r["liquidated_notional"]
            # the split by side, from the per-position fills
            closed = direct.liquidated_index[direct.state.positions.market_index(state.venue)[direct.liquidated_index]
                                             == m]
            longs = closed[np.asarray(state.positions.side)[closed] > 0]
            if closed.size and longs.size == closed.size:
                assert table[f"{name}.liquidated_notional_short"][row] == 0.0
    assert table["accounts_liquidated"].sum() > 0  # the study reached the accounts


def test_rows_are_bit_identical_for_any_thread_count_and_split(state, model):
    one = venue_monte_carlo(state, model, 60, seed=5, threads=1, progress=False)
    two = venue_monte_carlo(state, model, 60, seed=5, threads=2, progress=False)
    parts = [venue_monte_carlo(state, model, n, seed=5, first_scenario=f, threads=2, progress=False)
             for f, n in ((0, 17), (17, 1), (18, 42))]
    for name in one.columns:
        assert one[name].tobytes() == two[name].tobytes(), name
        assert one[name].tobytes() == np.concatenate([p[name] for p in parts]).tobytes(), name
    assert np.array_equal(one["scenario"], np.arange(60))


def test_monte_carlo_takes_a_venue(state, model):
    a = lc.monte_carlo(state, None, model, 8, 2, threads=1, progress=False)
    b = venue_monte_carlo(state, model, 8, 2, threads=2, progress=False)
    assert isinstance(a, VenueScenarioTable)
    assert all(a[c].tobytes() == b[c].tobytes() for c in a.columns)
    with pytest.raises(TypeError, match="book_model"):
        lc.monte_carlo(state, lc.BookModel(), model, 8)
    with pytest.raises(TypeError, match="CorrelatedShockModel"):
        lc.monte_carlo(state, None, lc.ShockModel.normal(0.02), 8)
    with pytest.raises(TypeError, match="VenueState"):
        lc.monte_carlo(lc.PositionPopulation(count=10), lc.BookModel(), model, 8)


def test_market_tables_summary_and_contagion_by_hand(state, model):
    table = venue_monte_carlo(state, model, 400, seed=8, threads=2, progress=False)
    btc = table.market("BTCUSDT")
    assert isinstance(btc, ScenarioTable)
    assert np.array_equal(btc["final_move"], table["BTCUSDT.final_move"])
    assert table.per_market("shock").shape == (400, 5)
    # origin and contagion share by hand
    shock = table.per_market("shock")
    notional = table.per_market("liquidated_notional_long") + table.per_market("liquidated_notional_short")
    origin = np.argmax(np.abs(shock), axis=1)
    assert np.array_equal(table["origin_market"], origin)
    total = notional.sum(axis=1)
    assert np.allclose(table["liquidated_notional"], total, rtol=1e-12)
    has = total > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        share = 1.0 - notional[np.arange(400), origin] / table["liquidated_notional"]
    assert np.allclose(table["contagion_share"][has], share[has], rtol=1e-12, atol=1e-15)
    assert np.all(np.isnan(table["contagion_share"][~has]))
    # P(ETH liquidates > $1M | the largest move was BTC's), by hand
    c = table.contagion(liquidation_threshold=1e6)
    rows = origin == 0
    expected = np.mean(notional[rows, 1] > 1e6)
    assert c["BTCUSDT"]["ETHUSDT"].value == pytest.approx(expected)
    assert math.isnan(c["WBETHUSDT"]["BTCUSDT"].value)  # a spot book is never shocked here
    big = table.contagion(liquidation_threshold=0.0, shock_threshold=0.05)["SOLUSDT"]["BTCUSDT"]
    sel = (origin == 2) & (np.abs(shock[:, 2]) >= 0.05)
    assert big.value == pytest.approx(np.mean(notional[sel, 0] > 0.0))
    s = table.summary(contagion_threshold=1e6)
    assert s.markets["ETHUSDT"] == table.market("ETHUSDT").summary()
    assert s.liquidated_notional_mean.value == pytest.approx(table["liquidated_notional"].mean())
    assert s.contagion_share_mean.value == pytest.approx(np.nanmean(table["contagion_share"]))
    assert s.contagion["BTCUSDT"]["ETHUSDT"] == c["BTCUSDT"]["ETHUSDT"]
    assert 0.0 < s.contagion_share_pooled < 1.0
    text = str(s)
    assert "largest-move market" in text and "-- SOLUSDT --" in text
    import json
    json.dumps(s.to_dict())


def test_one_market_at_a_time_isolates_contagion():
    # Two markets; accounts long in both: a fall in A alone liquidates accounts in B too.
    levels = np.arange(1, 301, dtype=float)
    book = lc.OrderBook(1000.0 - levels, np.full(300, 2.0), 1000.0 + levels, np.full(300, 2.0))
    venue = Venue([Market("A", book), Market("B", book)])
    n = 50
    positions = VenuePositions(np.ones(2 * n, dtype=np.int8), 1.0, 1000.0, market=np.tile([0, 1], n),
                               account=np.repeat(np.arange(n), 2), mmr=0.01)
    state = VenueState(venue, positions, Accounts({"USDT": 30.0 + np.arange(n)}))
    moves = np.array([[-0.06, 0.0], [0.0, -0.06], [-0.001, 0.0]])
    table = venue_monte_carlo(state, CorrelatedShockModel.fixed(moves), 3, threads=1, progress=False)
    assert np.array_equal(table["origin_market"], [0, 1, 0])
    assert table["B.liquidated_notional_long"][0] > 0.0  # B never moved by itself
    assert table["B.shock"][0] == 0.0
    assert 0.0 < table["contagion_share"][0] < 1.0
    assert np.isnan(table["contagion_share"][2])


def test_tables_pickle_and_export(state, model, tmp_path):
    table = venue_monte_carlo(state, model, 5, seed=1, threads=1, progress=False)
    back = pickle.loads(pickle.dumps(table))
    assert back.markets == table.markets and back.seed == 1
    assert all(np.array_equal(back[c], table[c], equal_nan=True) for c in table.columns)
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.sample(1, 10), model.sample(1, 10))
    frame = table.to_pandas()
    assert "BTCUSDT.final_move" in frame.columns and len(frame) == 5
    table.to_parquet(tmp_path / "study.parquet")


def _threads_of_this_process() -> int:
    return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else threading.active_count()


def test_ctrl_c_stops_a_venue_study_and_joins_every_thread(state, model):
    before = _threads_of_this_process()
    done = []
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        venue_monte_carlo(state, model, 2_000_000, threads=2, progress=lambda finished, total: done.append(finished))
    timer.join()
    assert done and done[-1] < 2_000_000
    assert _threads_of_this_process() <= before  # every worker joined (an earlier test's thread may have ended)


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("make", "error", "pattern"), [
    (lambda: CorrelatedShockModel.normal([[1.0, 0.5], [0.4, 1.0]], 0.1), ValueError,
     r"correlation\[1\]: must be symmetric"),
    (lambda: CorrelatedShockModel.normal([[1.0, 0.0], [0.0, 0.9]], 0.1), ValueError,
     r"correlation\[1\]: the diagonal must be 1"),
    (lambda: CorrelatedShockModel.normal([[1, .9, -.9], [.9, 1, .9], [-.9, .9, 1]], 0.1), ValueError,
     r"correlation\[2\]: is not positive semi-definite"),
    (lambda: CorrelatedShockModel.normal([[1.0, 1.5], [1.5, 1.0]], 0.1), ValueError, r"correlation\[0\]: entry"),
    (lambda: CorrelatedShockModel.normal([[1.0, 0.0, 0.0]], 0.1), ValueError, "square"),
    (lambda: CorrelatedShockModel.normal(np.eye(2), [0.1, 0.1, 0.1]), ValueError, "scale: expected one scale"),
    (lambda: CorrelatedShockModel.normal(np.eye(2), [0.1, -0.1]), ValueError, r"scale\[1\]"),
    (lambda: CorrelatedShockModel.normal(np.eye(2), [0.1, np.nan]), ValueError, r"scale\[1\]"),
    (lambda: CorrelatedShockModel.student_t(0.0, np.eye(2), 0.1), ValueError, "df: must be finite and > 0"),
    (lambda: CorrelatedShockModel.historical([[0.1, -1.0]]), ValueError, r"moves\[0\]: column 1"),
    (lambda: CorrelatedShockModel.historical(np.empty((0, 2))), ValueError, "moves"),
    (lambda: CorrelatedShockModel.historical([0.1, 0.2]), ValueError, "moves: expected a 2-D array"),
    (lambda: CorrelatedShockModel("lognormal", moves=[[0.1]]), ValueError, "kind"),
    (lambda: CorrelatedShockModel.normal(np.eye(2), 0.1, markets=["A"]), ValueError, "markets"),
    (lambda: CorrelatedShockModel.normal(np.eye(2), 0.1, markets=["A", "A"]), ValueError, "named twice"),
    (lambda: CorrelatedShockModel("normal", moves=[[0.1]]), TypeError, "correlation and scale"),
])
def test_bad_models(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


def test_bad_study_arguments(state):
    with pytest.raises(ValueError, match="names none"):
        venue_monte_carlo(state, CorrelatedShockModel.normal(np.eye(2), 0.01), 2)
    with pytest.raises(ValueError, match="no market named 'DOGE'"):
        venue_monte_carlo(state, CorrelatedShockModel.normal(np.eye(2), 0.01, markets=["BTCUSDT", "DOGE"]), 2)
    with pytest.raises(TypeError, match="VenueState"):
        venue_monte_carlo(state.venue, CorrelatedShockModel.normal(np.eye(1), 0.01, markets=["BTCUSDT"]), 2)
    with pytest.raises(ValueError, match="n_scenarios"):
        venue_monte_carlo(state, CorrelatedShockModel.normal(np.eye(1), 0.01, markets=["BTCUSDT"]), -1)
    with pytest.raises(ValueError, match="first_scenario"):
        venue_monte_carlo(state, CorrelatedShockModel.normal(np.eye(1), 0.01, markets=["BTCUSDT"]), 2,
                          first_scenario=2**63 - 1)
    with pytest.raises(ValueError, match="threads"):
        venue_monte_carlo(state, CorrelatedShockModel.normal(np.eye(1), 0.01, markets=["BTCUSDT"]), 2, threads=5000)
    table = venue_monte_carlo(state, CorrelatedShockModel.normal(np.eye(1), 0.01, markets=["BTCUSDT"]), 1)
    with pytest.raises(ValueError, match="at least two"):
        table.summary()
    with pytest.raises(ValueError, match="no market named"):
        table.market("DOGE")


def test_a_state_with_agents_studies_them_too():
    # regression: a study over a VenueState with tokens and funds once ignored them (its rows then
    # differed from venue_cascade(state, ...), which trades them)
    venue, positions, accounts = default_venue(accounts=3_000, isolated=3_000, seed=4)
    stops, tokens, funds = default_agents(venue, funds=50)
    state = VenueState(venue, positions, accounts, stops=stops, tokens=tokens, funds=funds)
    model = CorrelatedShockModel.fixed([[-0.06, 0.0, 0.0], [0.0, -0.07, 0.0], [0.05, 0.03, 0.0]], markets=PERPS)
    table = venue_monte_carlo(state, model, 3, threads=2, progress=False)
    for row in range(3):
        direct = venue_cascade(state, shocks=sample_venue_scenario(state, model, 0, row).shocks)
        assert table["rounds"][row] == direct.rounds
        channels = direct.channels()
        for m, name in enumerate(table.markets):
            assert table[f"{name}.final_price"][row] == direct.market(name)["final_price"]
            assert table[f"{name}.token_notional"][row] == channels["token_rebalancing"][m]
            assert table[f"{name}.fund_notional"][row] == channels["fund_deleveraging"][m]
    assert table.per_market("token_notional").sum() > 0 and table.per_market("fund_notional").sum() > 0
    bare = venue_monte_carlo(VenueState(venue, positions, accounts), model, 3, threads=2, progress=False)
    assert np.all(bare.per_market("token_notional") == 0.0)


def test_rows_carry_the_tokens_bad_debt_of_a_direct_cascade():
    """A 3x token of NAV 1,000 on A (test_agents' hand-worked case): a -40 % move leaves it owing
    200, -50 % 500, -5 % nothing (below its 10 % threshold). Each row's token_bad_debt, venue-wide
    and per market, is the direct cascade's; the venue's bad_debt (its insurance fund's) is not
    mixed with it."""
    k = np.arange(1, 400)
    book = lc.OrderBook(100.0 - 0.5 * k[:199], np.full(199, 1_000.0), 100.0 + 0.5 * k, np.full(399, 1_000.0))
    venue = Venue([Market("A", book), Market("B", book)])
    none = VenuePositions(np.zeros(0, dtype=np.int8), np.zeros(0), np.zeros(0), market=np.zeros(0, dtype=np.int64))
    tokens = lc.agents.LeveragedTokens(["A", "B"], [3.0, -3.0], [1_000.0, 500.0], 0.1)
    state = VenueState(venue, none, tokens=tokens)
    model = CorrelatedShockModel.fixed([[-0.4, 0.0], [-0.5, 0.45], [-0.05, 0.0]], markets=["A", "B"])
    table = venue_monte_carlo(state, model, 3, threads=2, progress=False)
    for row in range(3):
        direct = venue_cascade(state, shocks=sample_venue_scenario(state, model, 0, row).shocks)
        assert table["token_bad_debt"][row] == direct.token_bad_debt
        assert table["bad_debt"][row] == direct.bad_debt == 0.0
        for name in ("A", "B"):
            assert table[f"{name}.token_bad_debt"][row] == direct.market(name)["token_bad_debt"]
    np.testing.assert_allclose(table["A.token_bad_debt"], [200.0, 500.0, 0.0], rtol=1e-12)
    # the -3x token on B: +45 % marks it at 500 (1 - 1.35) < 0, it owes 175
    np.testing.assert_allclose(table["B.token_bad_debt"], [0.0, 175.0, 0.0], rtol=1e-12)
    np.testing.assert_allclose(table["token_bad_debt"], table.per_market("token_bad_debt").sum(axis=1), rtol=1e-15)
