"""Monte Carlo throughput: resampled 1,000,000-position scenarios, thread scaling, and
cascade_many on a fixed set — each against NumPy in the same run.

Run: python -m pytest bench --benchmark-json=bench.json && python bench/report.py bench.json
"""

from __future__ import annotations

import numpy as np
import numpy_baseline as npb
import pytest

import liqcascade as lc

POPULATION = lc.PositionPopulation(count=1_000_000)
BOOK = lc.BookModel()
SHOCK = -0.05  # every scenario samples and cascades the long side
SCENARIOS = 4


@pytest.fixture(scope="module")
def book_arrays():
    book = BOOK.build()
    return tuple(np.array(getattr(book, k)) for k in ("bid_price", "bid_qty", "ask_price", "ask_qty"))


def engine_study(threads: int, n: int = SCENARIOS) -> lc.ScenarioTable:
    return lc.monte_carlo(POPULATION, BOOK, [SHOCK], n, seed=1, threads=threads, progress=False)


def numpy_study(book_arrays, n: int = SCENARIOS) -> list[dict]:
    rng = np.random.default_rng(1)
    return [npb.monte_carlo_scenario(rng, POPULATION, book_arrays, SHOCK) for _ in range(n)]


@pytest.mark.benchmark(group="resampled 1M-position scenarios, one thread")
def test_resampled_scenarios_engine(benchmark, book_arrays):
    table = benchmark.pedantic(engine_study, args=(1,), rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["items"] = SCENARIOS
    # Different generators, same model: the outcomes must agree in distribution.
    baseline = numpy_study(book_arrays, 2)
    assert np.mean(table.final_move) == pytest.approx(np.mean([b["final_price"] / 1e5 - 1 for b in baseline]), abs=0.01)


@pytest.mark.benchmark(group="resampled 1M-position scenarios, one thread")
def test_resampled_scenarios_numpy(benchmark, book_arrays):
    benchmark.pedantic(numpy_study, args=(book_arrays,), rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["items"] = SCENARIOS


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.benchmark(group="thread scaling, 8 scenarios of 1M positions")
def test_thread_scaling_engine(benchmark, threads):
    # warm-up: the first run with a second worker maps that worker's buffers (page faults, once
    # per process), which is not what scaling measures
    table = benchmark.pedantic(engine_study, args=(threads, 8), rounds=3, iterations=1, warmup_rounds=1)
    assert table.final_price.tobytes() == engine_study(1, 8).final_price.tobytes() if threads == 2 else True


@pytest.fixture(scope="module")
def fixed_set():
    book = BOOK.build()
    positions = POPULATION.sample(seed=0).prepare()
    shocks = 0.02 * np.random.default_rng(5).standard_t(3.0, 100_000)
    shocks = np.clip(shocks, -0.9, None)
    c = {k: np.array(getattr(positions, k)) for k in ("side", "qty", "entry_price", "margin", "mmr", "maint_amount")}
    baseline = npb.prepare(c["side"], c["qty"], c["entry_price"], c["margin"], c["mmr"], c["maint_amount"])
    arrays = tuple(np.array(getattr(book, k)) for k in ("bid_price", "bid_qty", "ask_price", "ask_qty"))
    return book, positions, shocks, baseline, arrays, c["qty"]


LOOP = 1000  # shocks the Python loop runs (per-shock times are compared; 1% of the engine's set)


@pytest.mark.benchmark(group="cascade_many: 1M positions, 100,000 shocks")
# heavy-tailed shocks beyond +-100 % are meant here: the library's warning about them is not
@pytest.mark.filterwarnings("ignore:shocks. .* is a relative move:liqcascade.LiqcascadeWarning")
def test_cascade_many_engine(benchmark, fixed_set):
    # the walk over every position a shock reaches (detail=True), against the whole-set NumPy
    # loop; the aggregate path (the default) is bench_aggregate.py's
    book, positions, shocks, baseline, arrays, qty = fixed_set
    table = benchmark.pedantic(lc.cascade_many, args=(book, positions, shocks), kwargs={"threads": 1, "detail": True},
                               rounds=3, iterations=1)
    benchmark.extra_info["items"] = len(shocks)
    for i in range(0, LOOP, 20):
        assert table.final_price[i] == npb.cascade(*arrays, baseline, qty, float(shocks[i]))["final_price"]


@pytest.mark.benchmark(group="cascade_many: 1M positions, 100,000 shocks")
def test_cascade_many_python_loop(benchmark, fixed_set):
    _, _, shocks, baseline, arrays, qty = fixed_set
    benchmark.pedantic(lambda: [npb.cascade(*arrays, baseline, qty, float(s)) for s in shocks[:LOOP]],
                       rounds=3, iterations=1)
    benchmark.extra_info["items"] = LOOP
