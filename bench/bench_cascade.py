"""Static cascade on 1,000,000 positions: the engine against the NumPy baseline.

Run: python -m pytest bench --benchmark-json=bench.json && python bench/report.py bench.json
"""

from __future__ import annotations

import numpy as np
import numpy_baseline as npb
import pytest

import liqcascade as lc
from conftest import agree

SHOCK = -0.05


def engine_prepare_and_cascade(market):
    c = market.columns
    positions = lc.Positions(c["side"], c["qty"], c["entry_price"], c["margin"], c["mmr"], c["maint_amount"])
    return lc.cascade(market.book, positions, SHOCK)


def numpy_prepare_and_cascade(market):
    c = market.columns
    prepared = npb.prepare(c["side"], c["qty"], c["entry_price"], c["margin"], c["mmr"], c["maint_amount"])
    return npb.cascade(*market.book_arrays, prepared, c["qty"], SHOCK)


@pytest.mark.benchmark(group="prepare+cascade 1M")
def test_prepare_and_cascade_engine(benchmark, market_1m):
    result = benchmark(engine_prepare_and_cascade, market_1m)
    agree(result, numpy_prepare_and_cascade(market_1m))


@pytest.mark.benchmark(group="prepare+cascade 1M")
def test_prepare_and_cascade_numpy(benchmark, market_1m):
    benchmark(numpy_prepare_and_cascade, market_1m)


def numba_prepare_and_cascade(market):
    import numba_baseline as nbb

    c = market.columns
    return nbb.prepare_and_cascade(c["side"], c["qty"], c["entry_price"], c["margin"], c["mmr"], c["maint_amount"],
                                   *market.book_arrays, SHOCK)


@pytest.mark.benchmark(group="prepare+cascade 1M")
def test_prepare_and_cascade_numba(benchmark, market_1m):
    pytest.importorskip("numba")
    agree(lc.cascade(market_1m.book, lc.Positions(*(market_1m.columns[k] for k in (
        "side", "qty", "entry_price", "margin", "mmr", "maint_amount"))), SHOCK), numba_prepare_and_cascade(market_1m))
    benchmark(numba_prepare_and_cascade, market_1m)  # (compiled by the check above)


# -- the cost of one cascade on an already-prepared set follows what it touches --------------
@pytest.fixture(scope="module")
def prepared_1m(market_1m):
    c = market_1m.columns
    positions = lc.Positions(c["side"], c["qty"], c["entry_price"], c["margin"], c["mmr"], c["maint_amount"])
    positions.prepare()
    baseline = npb.prepare(c["side"], c["qty"], c["entry_price"], c["margin"], c["mmr"], c["maint_amount"])
    return positions, baseline


# shocks that trigger about 1 %, 10 % and 48 % of the set
TOUCHED = {"1pct": -0.0035, "10pct": -0.025, "48pct": -0.05}


@pytest.mark.parametrize("touched", list(TOUCHED))
@pytest.mark.benchmark(group="cascade on a prepared 1M set")
def test_prepared_cascade_engine(benchmark, market_1m, prepared_1m, touched):
    positions, baseline = prepared_1m
    result = benchmark(lc.cascade, market_1m.book, positions, TOUCHED[touched])
    agree(result, npb.cascade(*market_1m.book_arrays, baseline, market_1m.columns["qty"], TOUCHED[touched]))
    benchmark.extra_info["touched_fraction"] = result.n_liquidated / len(positions)
    benchmark.extra_info["levels_touched"] = result.levels_touched


@pytest.mark.parametrize("touched", list(TOUCHED))
@pytest.mark.benchmark(group="cascade on a prepared 1M set")
def test_prepared_cascade_numpy(benchmark, market_1m, prepared_1m, touched):
    _, baseline = prepared_1m
    result = benchmark(npb.cascade, *market_1m.book_arrays, baseline, market_1m.columns["qty"], TOUCHED[touched])
    benchmark.extra_info["touched_fraction"] = result["n_liquidated"] / len(market_1m.columns["qty"])


def test_touched_fractions_are_what_they_say(market_1m, prepared_1m):
    positions, _ = prepared_1m
    got = [lc.cascade(market_1m.book, positions, s).n_liquidated / len(positions) for s in TOUCHED.values()]
    np.testing.assert_allclose(got, [0.01, 0.10, 0.48], rtol=0.35)
