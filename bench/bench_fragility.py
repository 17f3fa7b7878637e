"""The critical-shock search (issue 21) on 1,000,000 positions of the default scenario, both
directions, level 2x or book exhaustion, a 0.1 % grid to 50 % refined to 1e-6 — against the same
search in NumPy (bench/numpy_baseline.py's prefix-sum cascade, a Python loop over the grid's
shocks until the first crossing, then a plain bisection), in the same run, from the same input:
the set's columns with their liquidation prices (the engine sorts and indexes them, NumPy
argsorts and builds its prefix sums, both inside the timing). A second pair starts from a
prepared set (the engine's sort done; NumPy's index built outside the timing).

Run: python -m pytest bench/bench_fragility.py --benchmark-json=bench.json && python bench/report.py bench.json
"""

from __future__ import annotations

import math

import numpy as np
import numpy_baseline as npb
import pytest

import liqcascade as lc
from liqcascade.fragility import critical_shocks

LEVEL, TOP, STEP, TOL = 2.0, 0.5, 0.001, 1e-6


@pytest.fixture(scope="module")
def search_market():
    book = lc.BookModel().build()
    positions = lc.PositionPopulation(count=1_000_000).sample(seed=0)
    columns = {k: np.array(getattr(positions, k)) for k in ("side", "qty", "entry_price", "margin", "mmr",
                                                              "maint_amount")}
    book_arrays = tuple(np.asarray(getattr(book, k)) for k in ("bid_price", "bid_qty", "ask_price", "ask_qty"))
    return book, positions, columns, book_arrays


def numpy_index(columns, book_arrays, liq, bankrupt):
    return npb.aggregate_sides(columns["side"], columns["qty"], liq, bankrupt, *book_arrays)


def numpy_search(sides, ref: float) -> dict[str, float | None]:
    """Grid until the first crossing, then bisection to TOL: one cascade per evaluation."""
    def reached(shock: float) -> bool:
        r = npb.cascade_aggregate(sides, ref, shock, bad_debt=False)
        move = r["final_price"] / ref - 1
        return r["book_exhausted"] or move / shock >= LEVEL

    out: dict[str, float | None] = {}
    grid = STEP * np.arange(1, int(math.floor(TOP / STEP + 1e-9)) + 1)
    for name, sign in (("down", -1.0), ("up", 1.0)):
        out[name] = None
        for k, g in enumerate(grid):
            if reached(sign * float(g)):
                if k == 0:
                    out[name] = sign * float(g)
                    break
                low, high = float(grid[k - 1]), float(g)
                while high - low > TOL:
                    mid = 0.5 * (low + high)
                    low, high = (low, mid) if reached(sign * mid) else (mid, high)
                out[name] = sign * high
                break
    return out


def engine_from_columns(book, columns):
    positions = lc.Positions(columns["side"], columns["qty"], columns["entry_price"], columns["margin"],
                             columns["mmr"], columns["maint_amount"])
    return critical_shocks(book, positions, LEVEL, max_shock=TOP, grid_step=STEP, tolerance=TOL, threads=1)


def numpy_from_columns(book, columns, book_arrays):
    c = columns
    s = c["side"].astype(np.float64)
    liq = (c["qty"] * c["entry_price"] - s * (c["margin"] + c["maint_amount"])) / (c["qty"] * (1.0 - s * c["mmr"]))
    bankrupt = c["entry_price"] - s * (c["margin"] / c["qty"])
    return numpy_search(numpy_index(c, book_arrays, liq, bankrupt), book.mid)


def agree(engine, baseline):
    """A fast wrong answer is not a result: both find the same crossing, within the tolerance."""
    for d in ("down", "up"):
        assert engine[d].shock is not None and baseline[d] is not None
        assert engine[d].shock == pytest.approx(baseline[d], abs=2 * TOL)


@pytest.mark.benchmark(group="critical shock: 1M positions, both directions, from the columns")
def test_critical_shock_engine(benchmark, search_market):
    book, _, columns, book_arrays = search_market
    found = benchmark.pedantic(engine_from_columns, args=(book, columns), rounds=3, iterations=1, warmup_rounds=1)
    agree(found, numpy_from_columns(book, columns, book_arrays))


@pytest.mark.benchmark(group="critical shock: 1M positions, both directions, from the columns")
def test_critical_shock_numpy(benchmark, search_market):
    book, _, columns, book_arrays = search_market
    benchmark.pedantic(numpy_from_columns, args=(book, columns, book_arrays), rounds=3, iterations=1)


@pytest.mark.benchmark(group="critical shock: 1M positions, both directions, prepared")
def test_critical_shock_engine_prepared(benchmark, search_market):
    book, positions, _, _ = search_market
    positions.prepare()
    benchmark.pedantic(critical_shocks, args=(book, positions, LEVEL),
                       kwargs={"max_shock": TOP, "grid_step": STEP, "tolerance": TOL, "threads": 1},
                       rounds=5, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="critical shock: 1M positions, both directions, prepared")
def test_critical_shock_numpy_prepared(benchmark, search_market):
    book, positions, columns, book_arrays = search_market
    sides = numpy_index(columns, book_arrays, np.asarray(positions.liquidation_price),
                        np.asarray(positions.bankruptcy_price))
    benchmark.pedantic(numpy_search, args=(sides, book.mid), rounds=3, iterations=1)
