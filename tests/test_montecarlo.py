"""Monte Carlo studies: reproducibility, agreement with direct cascades, a closed-form
statistical check of the whole pipeline, results, progress, interruption and bad models."""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import sys
import threading

import numpy as np
import pytest

import liqcascade as lc
from liqcascade import _core

SMALL = lc.PositionPopulation(count=20_000)
NOISY_BOOK = lc.BookModel(thinning=0.3, level_noise=0.25)
SHOCKS = lc.ShockModel.student_t(df=3.0, scale=0.03)


def run(n=12, seed=7, **kwargs):
    kwargs.setdefault("progress", False)
    return lc.monte_carlo(kwargs.pop("population", SMALL), kwargs.pop("book_model", NOISY_BOOK),
                          kwargs.pop("shocks", SHOCKS), n, seed, **kwargs)


def same_bytes(a: lc.ScenarioTable, b: lc.ScenarioTable) -> bool:
    return all(a[c].tobytes() == b[c].tobytes() for c in a.columns)


def test_philox_known_answers():
    # Random123's kat_vectors for philox4x32_10
    assert _core.philox4x32_10([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert _core.philox4x32_10([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    assert _core.philox4x32_10([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0]) == \
        [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


def test_same_bytes_for_any_thread_count_and_split():
    whole = run(12, threads=1)
    assert same_bytes(whole, run(12, threads=2))
    assert same_bytes(whole, run(12, threads=5))
    first, second = run(5, threads=2), run(7, first_scenario=5, threads=1)
    for c in whole.columns:
        assert whole[c].tobytes() == np.concatenate([first[c], second[c]]).tobytes()
    assert list(whole.scenario) == list(range(12))
    assert not same_bytes(whole, run(12, seed=8))


MODEL_COMBINATIONS = [
    dict(entry_distribution=entry, size_distribution=size, size_shape=1.5 if size == "pareto" else 0.8,
         entry_spread=0.03)
    for entry in ("lognormal", "student_t", "uniform") for size in ("pareto", "lognormal", "fixed")
]


def test_stream_layout_2_gives_these_exact_bytes():
    # Pins stream layout 2 (README): the same seed gives these bytes on every machine, build and
    # SIMD width (the samplers are libm-free and FMA-free). A change of any draw, any formula or
    # of the cascade's arithmetic changes this hash: that is a new layout, to be documented.
    # (2026-12-01: same streams, new margin rules — tiers at the liquidation price, whales drawn
    # at their tier's max_leverage — so the sampled mmr, maint_amount and margins changed.)
    h = hashlib.sha256()
    book = lc.BookModel(thinning=0.3, level_noise=0.2)
    for k, kw in enumerate(MODEL_COMBINATIONS):
        population = lc.PositionPopulation(count=20_003, **kw)
        scenario = lc.sample_scenario(population, book, lc.ShockModel.student_t(3.0, 0.03), seed=7 + k, index=3)
        for name in ("side", "qty", "entry_price", "margin", "mmr", "maint_amount"):
            h.update(np.ascontiguousarray(getattr(scenario.positions, name)).tobytes())
        for name in ("bid_price", "bid_qty", "ask_price", "ask_qty"):
            h.update(np.ascontiguousarray(getattr(scenario.book, name)).tobytes())
        table = lc.monte_carlo(population, book, [-0.04, 0.03], 6, seed=11 + k, threads=1, progress=False)
        for c in ("final_price", "bad_debt", "liquidated_notional_long", "liquidated_notional_short", "n_liquidated"):
            h.update(np.ascontiguousarray(getattr(table, c)).tobytes())
    assert h.hexdigest() == "0eff121dd7cfe69172643c64d30ec685d4dcfa20daca38c071cee2f49449949b"


@pytest.mark.parametrize("index", [0, 3, 11])
def test_each_row_equals_a_direct_cascade_on_the_sampled_inputs(index):
    table = run(12)
    scenario = lc.sample_scenario(SMALL, NOISY_BOOK, SHOCKS, seed=7, index=index)
    assert scenario.shock == table.shock[index]
    assert len(scenario.positions) == SMALL.count
    direct = lc.cascade(scenario.book, scenario.positions, scenario.shock)
    assert direct.final_price == table.final_price[index]
    assert direct.n_liquidated == table.n_liquidated[index]
    assert direct.rounds == table.rounds[index]
    assert direct.bad_debt == table.bad_debt[index]
    assert direct.book_exhausted == table.book_exhausted[index]
    side = "long" if scenario.shock < 0 else "short"
    assert direct.liquidated_notional == table[f"liquidated_notional_{side}"][index]
    assert math.isclose(direct.final_move, table.final_move[index], rel_tol=0, abs_tol=0) or \
        direct.final_move == table.final_move[index]


def test_books_vary_per_scenario_only_when_the_model_is_random():
    fixed = lc.BookModel()
    assert np.array_equal(fixed.build(1, 0).bid_qty, fixed.build(1, 5).bid_qty)
    a, b = NOISY_BOOK.build(1, 0), NOISY_BOOK.build(1, 5)
    assert not np.array_equal(a.bid_qty, b.bid_qty)
    np.testing.assert_array_equal(a.bid_price, b.bid_price)
    # thinning only removes depth; noise is mean-one
    ratio = a.depth(0.1).bid_notional / fixed.build().depth(0.1).bid_notional
    assert 0.6 < ratio < 1.05


@pytest.mark.parametrize("kappa", [0.3, 0.5])
def test_linear_feedback_multiplier_closed_form(kappa):
    """The liquidation-spiral fixed point (the linear feedback multiplier of fire-sale models,
    e.g. Brunnermeier & Pedersen 2009; Cont & Wagalath 2013) checked on the whole pipeline.

    Longs of one leverage L = 10 with entries uniform on ref*(1 +- 10 %) and equal notional N
    have liquidation prices 0.9*entry, uniform on [81, 99] (ref = 100), and quantity
    0.9 N / p at liquidation price p: a quantity density c/p per unit price. A linear book of
    D notional per 1 % holds D/p per unit price. A shock to p_t triggers everything down to
    the final price p* where the quantity sold equals the depth consumed:
        c ln(99 / p*) = D ln(p_t / p*)
    so, in log-distances from the reference (x* = ln(100/p*), s = ln(100/p_t), g = ln(100/99))
    and kappa = c/D:
        x* = (s - kappa g) / (1 - kappa),
    a slope 1/(1 - kappa) in the shock. With kappa = 0.05 OI / D the populations are random
    (uniform entries), the shocks fixed; the tolerance (2 % per scenario, 2 % on the slope) is
    far below the 9 % that separates kappa = 0.5 from 0.45.
    """
    depth, n = 2e6, 100_000
    population = lc.PositionPopulation(
        count=n, long_share=1.0, leverage=[10.0], leverage_weights=[1.0], entry_distribution="uniform",
        entry_spread=0.1, size_distribution="fixed", open_interest=kappa * depth / 0.05, tiers=None,
        mmr=0.0, exclude_underwater=False)
    book = lc.BookModel.linear(depth, max_distance=0.5, mid=100.0, tick=0.01)
    g = math.log(100 / 99)
    x_end = math.log(100 / 81.5)  # stay inside the liquidation region
    s = np.linspace(0.015, (1 - kappa) * x_end + kappa * g, 12)
    shocks = np.expm1(-s)
    table = lc.monte_carlo(population, book, lc.ShockModel.fixed(shocks), len(shocks), seed=11, progress=False)
    x = -np.log1p(table.final_move)
    predicted = (s - kappa * g) / (1 - kappa)
    np.testing.assert_allclose(x, predicted, rtol=0.02)
    slope = np.polyfit(s, x, 1)[0]
    assert slope == pytest.approx(1 / (1 - kappa), rel=0.02)


def test_cascade_many_equals_a_loop_of_cascades():
    book = lc.BookModel().build()
    positions = SMALL.sample(seed=2)
    shocks = np.array([-0.05, 0.0, 0.03, -0.01, 0.1])
    table = lc.cascade_many(book, positions, shocks, threads=2)
    detail = lc.cascade_many(book, positions, shocks, threads=2, detail=True)
    for i, shock in enumerate(shocks):
        direct = lc.cascade(book, positions, float(shock))
        # the walk's rows are cascade() to the bit; the aggregate path's sums agree to rounding
        # (docs/design.md, "Aggregate path"; tests/test_aggregate.py)
        assert detail.final_price[i] == table.final_price[i] == direct.final_price
        assert detail.n_liquidated[i] == table.n_liquidated[i] == direct.n_liquidated
        assert detail.bad_debt[i] == direct.bad_debt
        assert table.bad_debt[i] == pytest.approx(direct.bad_debt, rel=1e-9, abs=1e-9 * direct.liquidated_notional)
    assert list(table.scenario) == list(range(5))
    assert same_bytes(table, lc.cascade_many(book, positions, shocks, threads=1))
    with pytest.raises(ValueError, match=r"^shocks\[1\]: must be finite and > -1"):
        lc.cascade_many(book, positions, [-0.1, -1.0])


def test_summary_matches_direct_computations():
    table = run(400, population=lc.PositionPopulation(count=2_000))
    summary = table.summary(thresholds=(0.02,), level=0.9)
    move = table.final_move
    p = np.mean(move <= -0.02)
    assert summary.prob_down[0.02].value == pytest.approx(p)
    assert summary.prob_down[0.02].stderr == pytest.approx(math.sqrt(p * (1 - p) / 400))
    notional = table.liquidated_notional
    assert summary.liquidated_notional_mean.value == pytest.approx(notional.mean())
    assert summary.liquidated_notional_mean.stderr == pytest.approx(notional.std(ddof=1) / 20)
    worst = np.sort(notional)[-40:]
    assert summary.liquidated_notional_es.value == pytest.approx(worst.mean())
    assert summary.liquidated_notional_es.stderr > 0
    assert summary.move_quantiles[0.5].value == pytest.approx(np.median(move))
    assert "scenarios" in str(summary) and summary.to_dict()["n_scenarios"] == 400


def test_expected_shortfall_standard_error_is_honest():
    # The ES estimator's stated standard error matches its spread over independent studies.
    rng = np.random.default_rng(0)
    from liqcascade.results import _expected_shortfall

    estimates = [_expected_shortfall(rng.standard_normal(4000), 0.975) for _ in range(300)]
    spread = np.std([e.value for e in estimates], ddof=1)
    stated = np.mean([e.stderr for e in estimates])
    assert stated == pytest.approx(spread, rel=0.2)
    assert np.mean([e.value for e in estimates]) == pytest.approx(2.3378, abs=0.02)  # phi(q)/(1-a)


def test_tables_export(tmp_path):
    table = run(6)
    pd = pytest.importorskip("pandas")
    frame = table.to_pandas()
    assert list(frame.columns) == list(table.columns) and len(frame) == 6
    assert frame["book_exhausted"].dtype == bool
    pytest.importorskip("pyarrow")
    table.to_parquet(tmp_path / "t.parquet")
    back = pd.read_parquet(tmp_path / "t.parquet")
    np.testing.assert_array_equal(back["final_price"].to_numpy(), table.final_price)


def test_optional_dependencies_are_optional(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pandas", None)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "tqdm", None)
    table = run(4, progress=True)  # tqdm hidden: a plain progress line instead
    assert "scenarios:" in capsys.readouterr().err
    with pytest.raises(ImportError, match="pip install pandas"):
        table.to_pandas()
    with pytest.raises(ImportError, match="pip install pyarrow"):
        table.to_arrow()


def test_progress_callback_reaches_the_total():
    seen = []
    run(6, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (6, 6)
    assert all(total == 6 for _, total in seen)


def test_progress_callback_error_stops_the_run():
    def fail(done, total):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        run(50, population=lc.PositionPopulation(count=200_000), progress=fail)


def _threads_of_this_process() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")
def test_ctrl_c_stops_a_study_early_and_joins_every_thread():
    # Stopped early: far fewer rows were done than asked for (the whole run takes minutes), and
    # every worker thread is joined. (No timed assertion: the machine may be loaded.)
    before = _threads_of_this_process()
    done = []
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        run(10_000, population=lc.PositionPopulation(count=1_000_000), threads=2,
            progress=lambda finished, total: done.append(finished))
    timer.join()
    assert done and done[-1] < 10_000
    assert _threads_of_this_process() <= before  # every worker joined (an earlier test's thread may have ended)


def test_memory_stays_bounded_across_scenarios():
    resource = pytest.importorskip("resource")
    population = lc.PositionPopulation(count=300_000)
    shocks = lc.ShockModel.fixed([-0.2])  # every scenario samples and sorts the long side
    lc.monte_carlo(population, lc.BookModel(), shocks, 4, threads=1, progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    lc.monte_carlo(population, lc.BookModel(), shocks, 40, threads=1, progress=False)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown_kib < 40_000  # 40 scenarios hold no more than 4 did (one sample per thread)


@pytest.mark.parametrize(("kwargs", "error", "pattern"), [
    (dict(count=-1), ValueError, r"^count: must be >= 0"),
    (dict(count=1.5), TypeError, r"^count: expected an integer"),
    (dict(leverage_weights=(0.5, 0.4), leverage=(10, 20)), ValueError, r"^leverage_weights: must sum to 1"),
    (dict(leverage=(10, 0), leverage_weights=(0.5, 0.5)), ValueError, r"^leverage\[1\]: must be finite and > 0"),
    (dict(leverage=(10, -5), leverage_weights=(0.5, 0.5)), ValueError, r"^leverage\[1\]"),
    (dict(leverage=(10,), leverage_weights=(0.5, 0.5)), ValueError, r"^leverage_weights: length 2 does not match"),
    (dict(leverage_weights=(np.nan,) + (0.1,) * 10), ValueError, r"^leverage_weights\[0\]"),
    (dict(long_share=1.5), ValueError, r"^long_share: must be finite and in \[0, 1\]"),
    (dict(long_share=float("nan")), ValueError, r"^long_share"),
    (dict(entry_spread=float("nan")), ValueError, r"^entry_spread"),
    (dict(entry_spread=1.5, entry_distribution="uniform"), ValueError, r"^entry_spread"),
    (dict(entry_distribution="cauchy"), ValueError, r"^entry_distribution: expected one of"),
    (dict(size_shape=1.0), ValueError, r"^size_shape: must be finite and > 1"),
    (dict(open_interest=0.0), ValueError, r"^open_interest"),
    (dict(open_interest=float("inf")), ValueError, r"^open_interest"),
    (dict(mmr=1.0, tiers=None), ValueError, r"^mmr"),
    (dict(tiers="binance"), TypeError, r"^tiers: expected MaintenanceTiers"),
    (dict(margin_mode="cross"), ValueError, r"^margin_mode"),
])
def test_bad_population_models(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        lc.PositionPopulation(**kwargs)


@pytest.mark.parametrize(("make", "error", "pattern"), [
    (lambda: lc.BookModel(mid=-1.0), ValueError, r"^mid"),
    (lambda: lc.BookModel(tick=float("nan")), ValueError, r"^tick"),
    (lambda: lc.BookModel(thinning=1.0), ValueError, r"^thinning"),
    (lambda: lc.BookModel(level_noise=-0.1), ValueError, r"^level_noise"),
    (lambda: lc.BookModel(profile=((0.0, 0.0),)), ValueError, r"^profile"),
    (lambda: lc.BookModel(profile=((0.0, 0.0), (0.1, "x"))), TypeError, r"^profile"),
    (lambda: lc.BookModel(profile=((0.1, 0.0), (0.2, 1.0))).build(), ValueError, r"^profile: distances must start at 0"),
    (lambda: lc.BookModel(profile=((0.0, 0.0), (0.2, 1.0), (0.1, 2.0))).build(), ValueError, r"^profile\[2\]"),
    (lambda: lc.BookModel(tick=1e6).build(), ValueError, r"^tick"),
    (lambda: lc.ShockModel.normal(0.0), ValueError, r"^scale"),
    (lambda: lc.ShockModel.student_t(-1.0, 0.02), ValueError, r"^df"),
    (lambda: lc.ShockModel.fixed([]), ValueError, r"^values: at least one"),
    (lambda: lc.ShockModel.fixed([-0.1, -1.0]), ValueError, r"^values\[1\]: must be finite and > -1"),
    (lambda: lc.ShockModel.empirical([np.nan]), ValueError, r"^values\[0\]"),
    (lambda: lc.ShockModel("gaussian"), ValueError, r"^kind"),
])
def test_bad_book_and_shock_models(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


@pytest.mark.parametrize(("kwargs", "error", "pattern"), [
    (dict(n=-1), ValueError, r"^n_scenarios: must be >= 0"),
    (dict(seed=-1), ValueError, r"^seed: must be >= 0"),
    (dict(seed=2**64), ValueError, r"^seed: must be <= 18446744073709551615"),
    (dict(seed=1.5), TypeError, r"^seed: expected an integer"),
    (dict(threads=0), ValueError, r"^threads: must be >= 1"),
    (dict(first_scenario=-3), ValueError, r"^first_scenario"),
    (dict(progress="sometimes"), ValueError, r"^progress"),
    (dict(population={"count": 3}), TypeError, r"^population: expected PositionPopulation"),
])
def test_bad_run_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        run(**kwargs)


def test_a_sampled_position_whose_price_overflows_is_rejected_not_cascaded():
    # A valid model can still sample a position PositionSet rejects (here a maintenance amount
    # near -DBL_MAX pushes the longs' liquidation price past it); studies raise its error,
    # naming the population (the user's parameter) and the position's own error.
    population = lc.PositionPopulation(count=10, open_interest=1e6, size_distribution="fixed", tiers=None, mmr=0.5,
                                       maint_amount=-1.79e308,
                                       exclude_underwater=False)
    with pytest.raises(ValueError, match=r"^population: scenario 0 drew a position the engine cannot represent "
                                         r"\(qty\[0\]: liquidation price overflows"):
        lc.monte_carlo(population, lc.BookModel(), [-0.05], 2, seed=1, threads=1, progress=False)
    # the shorts' price (entry + margin + maint) stays finite: that side runs
    assert lc.monte_carlo(population, lc.BookModel(), [0.05], 2, seed=1, threads=1, progress=False).final_price.size == 2


def test_shock_models_sample_what_they_say():
    pop = lc.PositionPopulation(count=10)
    normal = lc.monte_carlo(pop, lc.BookModel(), lc.ShockModel.normal(0.02), 4000, 1, progress=False).shock
    assert normal.std() == pytest.approx(0.02, rel=0.05) and abs(normal.mean()) < 0.002
    t = lc.monte_carlo(pop, lc.BookModel(), lc.ShockModel.student_t(4.0, 0.01), 4000, 1, progress=False).shock
    assert t.std() == pytest.approx(0.01 * math.sqrt(2.0), rel=0.15)  # var of t(4) is 2
    emp = lc.monte_carlo(pop, lc.BookModel(), lc.ShockModel.empirical([-0.1, 0.2]), 1000, 1, progress=False).shock
    assert set(emp) == {-0.1, 0.2} and 0.4 < np.mean(emp == -0.1) < 0.6
    fixed = lc.monte_carlo(pop, lc.BookModel(), [-0.1, 0.2, 0.3], 5, 1, progress=False).shock
    assert list(fixed) == [-0.1, 0.2, 0.3, -0.1, 0.2]


def test_population_samples_what_it_says():
    pop = lc.PositionPopulation(count=200_000, long_share=0.3, size_distribution="lognormal", size_shape=0.5,
                                open_interest=1e8, leverage=(5.0, 20.0), leverage_weights=(0.25, 0.75),
                                exclude_underwater=False)  # untruncated entry spread
    positions = pop.sample(seed=4)
    assert np.mean(positions.side > 0) == pytest.approx(0.3, abs=0.005)
    assert positions.notional.sum() == pytest.approx(1e8, rel=0.01)
    lev = np.round(positions.leverage, 9)
    assert set(np.unique(lev)) == {5.0, 20.0} and np.mean(lev == 20.0) == pytest.approx(0.75, abs=0.01)
    assert np.std(np.log(positions.entry_price / 100_000.0)) == pytest.approx(0.025, rel=0.05)


def test_normal_draws_follow_the_normal_law():
    from statistics import NormalDist

    pop = lc.PositionPopulation(count=10)
    draws = lc.monte_carlo(pop, lc.BookModel(), lc.ShockModel.normal(0.01), 50_000, 9, progress=False).shock / 0.01
    for q in (0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999):
        # distribution-free bound on the sample quantile's rank error, 4.5 sigma
        rank_tol = 4.5 * math.sqrt(q * (1 - q) / draws.size)
        assert NormalDist().cdf(np.quantile(draws, q)) == pytest.approx(q, abs=rank_tol)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")
def test_ctrl_c_stops_cascade_many_too():
    book = lc.BookModel().build()
    positions = lc.PositionPopulation(count=200_000).sample(seed=1).prepare()
    shocks = np.full(200_000, -0.2)  # the walk (detail) touches every long: tens of seconds in all
    before = _threads_of_this_process()
    done = []
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        lc.cascade_many(book, positions, shocks, threads=2, detail=True,
                        progress=lambda finished, total: done.append(finished))
    timer.join()
    assert done and done[-1] < shocks.size
    assert _threads_of_this_process() <= before  # every worker joined (an earlier test's thread may have ended)


# -- summary: honest uncertainty (issue 16) ------------------------------------------------------

def _table(move, exhausted=None):
    n = len(move)
    zeros = np.zeros(n)
    return lc.ScenarioTable({
        "scenario": np.arange(n), "shock": zeros, "final_price": 100.0 * (1 + np.asarray(move)),
        "final_move": np.asarray(move, dtype=float), "amplification": zeros + 1.0,
        "liquidated_notional_long": np.linspace(0.0, 1e6, n), "liquidated_notional_short": zeros,
        "n_liquidated": np.zeros(n, dtype=np.int64), "rounds": np.zeros(n, dtype=np.int64), "bad_debt": zeros,
        "book_exhausted": np.zeros(n, dtype=bool) if exhausted is None else np.asarray(exhausted, dtype=bool)})


def test_summary_of_five_scenarios_says_the_sample_is_too_small():
    summary = _table([-0.02, -0.01, 0.0, 0.01, 0.02]).summary()
    text = str(summary)
    assert "± 0.00" not in text and "± 0.000M" not in text
    zero = summary.prob_down[0.05]
    assert zero.value == 0 and math.isnan(zero.stderr) and zero.note == "n too small"
    assert zero.low == 0 and zero.high == pytest.approx(0.4345, abs=1e-4)  # Wilson, 0 of 5
    assert "0.00% [0.00, 43.45] (n too small)" in text
    assert summary.bad_debt_mean.note == "n too small" and summary.bad_debt_es.note == "n too small"
    assert summary.move_quantiles[0.01].low == -math.inf and "[-inf, " in text
    data = summary.to_dict()
    json.dumps(data, allow_nan=False)  # machine-readable: no NaN or inf
    assert data["prob_down"]["0.05"] == {"value": 0.0, "stderr": None, "low": 0.0, "high": zero.high,
                                         "note": "n too small", "bound": None}


def test_probability_intervals_are_wilson_and_asymmetric():
    from liqcascade.results import _probability

    e = _probability(np.arange(200) < 15)  # 15 of 200
    assert e.value == 0.075 and e.stderr == pytest.approx(math.sqrt(0.075 * 0.925 / 200))
    assert (e.low, e.high) == (pytest.approx(0.04599, abs=1e-4), pytest.approx(0.12004, abs=1e-4))
    assert e.high - e.value > e.value - e.low and e.note is None
    none = _probability(np.zeros(300, dtype=bool))  # 0 of n: about the rule of three
    assert none.low == 0 and none.high == pytest.approx(3 / 300, rel=0.3)


def test_quantile_intervals_are_order_statistics_printed_as_such():
    move = np.random.default_rng(0).standard_t(3, 400) * 0.02
    summary = _table(move).summary(quantiles=(0.05, 0.5))
    q = summary.move_quantiles[0.05]
    s = np.sort(move)
    assert q.low in s and q.high in s and q.low < q.value < q.high and q.note is None
    assert q.stderr == pytest.approx((q.high - q.low) / (2 * 1.959963984540054))
    assert f"{q.value * 100:+7.2f}% [{q.low * 100:+.2f}, {q.high * 100:+.2f}]" in str(summary)


def test_quantile_at_an_exhausted_books_edge_is_flagged_as_a_bound():
    move = np.r_[np.full(10, -0.5), np.linspace(-0.1, 0.1, 190)]
    exhausted = np.r_[np.ones(10, dtype=bool), np.zeros(190, dtype=bool)]
    summary = _table(move, exhausted).summary(quantiles=(0.01, 0.5), thresholds=(0.05, 0.6))
    edge = summary.move_quantiles[0.01]
    assert edge.value == -0.5 and edge.bound == "upper" and edge.note == "book exhausted"
    assert "≤ -50.00% (book exhausted)" in str(summary)
    assert summary.move_quantiles[0.5].bound is None
    assert summary.prob_down[0.6].bound == "lower"  # an exhausted -50 % may truly reach -60 %
    assert summary.prob_down[0.05].bound is None and summary.n_book_exhausted == 10
    assert summary.to_dict()["move_quantiles"]["0.01"]["bound"] == "upper"
