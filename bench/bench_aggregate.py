"""cascade_many's aggregate path (issue 18): 1,000,000 positions, 100,000 Student-t shocks
(3 d.o.f., scale 2 %), one thread, bad debt included — against NumPy's prefix-sum rounds in
the same run (bench/numpy_baseline.py: cascade_aggregate), per shock.

Run: python -m pytest bench/bench_aggregate.py --benchmark-json=bench.json && python bench/report.py bench.json
"""

from __future__ import annotations

import numpy as np
import numpy_baseline as npb
import pytest

import liqcascade as lc

SHOCKS = 100_000
LOOP = 1_000  # shocks NumPy's Python loop runs (its per-shock time is compared): a random sample of the same law

pytestmark = [
    # heavy-tailed shocks beyond +-100 % are meant here: the library's warning about them is not
    pytest.mark.filterwarnings("ignore:shocks. .* is a relative move:liqcascade.LiqcascadeWarning"),
]


@pytest.fixture(scope="module")
def many():
    book = lc.BookModel().build()
    positions = lc.PositionPopulation(count=1_000_000).sample(seed=0).prepare()
    shocks = np.clip(0.02 * np.random.default_rng(5).standard_t(3.0, SHOCKS), -0.9, None)
    sides = npb.aggregate_sides(
        np.asarray(positions.side), np.asarray(positions.qty), np.asarray(positions.liquidation_price),
        np.asarray(positions.bankruptcy_price),
        *(np.asarray(getattr(book, k)) for k in ("bid_price", "bid_qty", "ask_price", "ask_qty")))
    return book, positions, shocks, sides


def numpy_loop(sides, ref: float, shocks: np.ndarray, bad_debt: bool = True) -> list[dict]:
    return [npb.cascade_aggregate(sides, ref, float(s), bad_debt) for s in shocks]


@pytest.mark.benchmark(group="cascade_many aggregate: 1M positions, Student-t shocks, bad debt")
def test_cascade_many_aggregate_engine(benchmark, many):
    book, positions, shocks, sides = many
    table = benchmark.pedantic(lc.cascade_many, args=(book, positions, shocks), kwargs={"threads": 1},
                               rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["items"] = len(shocks)
    # a fast wrong answer is not a result
    for i in range(0, LOOP, 10):
        want = npb.cascade_aggregate(sides, book.mid, float(shocks[i]))
        assert table.final_price[i] == want["final_price"] and table.n_liquidated[i] == want["n_liquidated"]
        assert table.rounds[i] == want["rounds"]
        assert table.bad_debt[i] == pytest.approx(want["bad_debt"], rel=1e-6, abs=1e-3)
    assert np.count_nonzero(table.bad_debt) > len(shocks) // 2  # bad debt is most of the work here


@pytest.mark.benchmark(group="cascade_many aggregate: 1M positions, Student-t shocks, bad debt")
def test_cascade_many_aggregate_numpy(benchmark, many):
    book, _, shocks, sides = many
    benchmark.pedantic(numpy_loop, args=(sides, book.mid, shocks[:LOOP]), rounds=3, iterations=1)
    benchmark.extra_info["items"] = LOOP


@pytest.mark.benchmark(group="cascade_many aggregate: 1M positions, Student-t shocks, bad debt")
def test_cascade_many_aggregate_python_loop(benchmark, many):
    # NumPy's rounds alone, no bad debt: what the engine's whole answer is compared with in the
    # second ratio
    book, _, shocks, sides = many
    benchmark.pedantic(numpy_loop, args=(sides, book.mid, shocks[:LOOP], False), rounds=3, iterations=1)
    benchmark.extra_info["items"] = LOOP
