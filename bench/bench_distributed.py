"""Scale-out on Dask against the in-process thread pool, on the same machine: a study of
1,000,000-position scenarios (the default study's book and shocks) run by 2 Dask worker
processes of 1 thread each, at a few chunk sizes, and by ``monte_carlo(threads=2)`` — 2 cores
either way, so the ratio of times is the per-core throughput ratio. Every Dask table is checked
bit for bit against the thread pool's.

Run: python -m pytest bench/bench_distributed.py --benchmark-json=dask.json -s
(about two minutes on 2 cores; the ratios of medians print at the end).
"""

from __future__ import annotations

import pytest

import liqcascade as lc
from liqcascade.scenarios import DEFAULT_STUDY_BOOK, DEFAULT_STUDY_SHOCKS

distributed = pytest.importorskip("distributed")
from liqcascade import distributed as ld  # noqa: E402

POPULATION = lc.PositionPopulation(count=1_000_000)
SCENARIOS = 240
CHUNKS = (10, 40, 120)
TIMES: dict[str, float] = {}


def threaded() -> lc.ScenarioTable:
    return lc.monte_carlo(POPULATION, DEFAULT_STUDY_BOOK, DEFAULT_STUDY_SHOCKS, SCENARIOS, seed=1, threads=2,
                          progress=False)


@pytest.fixture(scope="module")
def reference() -> lc.ScenarioTable:
    return threaded()


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with cluster, distributed.Client(cluster) as c:
        # warm-up: each worker imports liqcascade and maps its buffers once
        ld.monte_carlo(c, POPULATION, DEFAULT_STUDY_BOOK, DEFAULT_STUDY_SHOCKS, 4, seed=1, chunk=1, progress=False)
        yield c


@pytest.mark.benchmark(group="240 scenarios of 1M positions on 2 cores")
def test_thread_pool_two_threads(benchmark, reference):
    table = benchmark.pedantic(threaded, rounds=3, iterations=1, warmup_rounds=1)
    assert table.final_price.tobytes() == reference.final_price.tobytes()
    TIMES["threads=2"] = benchmark.stats.stats.median
    benchmark.extra_info["items"] = SCENARIOS


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.benchmark(group="240 scenarios of 1M positions on 2 cores")
def test_dask_two_workers(benchmark, client, reference, chunk):
    def run() -> lc.ScenarioTable:
        return ld.monte_carlo(client, POPULATION, DEFAULT_STUDY_BOOK, DEFAULT_STUDY_SHOCKS, SCENARIOS, seed=1,
                              chunk=chunk, progress=False)

    table = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    for name in table.columns:  # a fast wrong answer is not a result
        assert table[name].tobytes() == reference[name].tobytes(), name
    TIMES[f"dask chunk={chunk}"] = benchmark.stats.stats.median
    benchmark.extra_info["items"] = SCENARIOS
    benchmark.extra_info["chunk"] = chunk
    if "threads=2" in TIMES:
        benchmark.extra_info["per_core_ratio"] = TIMES["threads=2"] / benchmark.stats.stats.median


def teardown_module() -> None:
    base = TIMES.get("threads=2")
    if not base:
        return
    print("\nper-core throughput of 2 Dask workers relative to the thread pool (threads=2):")
    for name, seconds in TIMES.items():
        print(f"  {name:<16} {seconds:6.2f} s  {SCENARIOS / seconds:7.1f} scenarios/s  ratio {base / seconds:.2f}")
