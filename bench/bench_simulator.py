"""The time-stepped simulator: steps per second for 1,000,000 positions over 10,000 steps,
against a NumPy implementation of the simplest policy in the same run.

Run: python -m pytest bench --benchmark-json=bench.json && python bench/report.py bench.json
"""

from __future__ import annotations

import numpy as np
import numpy_baseline as npb
import pytest

import liqcascade as lc

STEPS = 10_000
RHO = 1 / 120


@pytest.fixture(scope="module")
def market():
    book = lc.BookModel().build()
    positions = lc.PositionPopulation(count=1_000_000).sample(seed=0).prepare()
    rng = np.random.default_rng(2)
    # steady selling with occasional bursts: a few thousand liquidations over the run
    flow = -(0.5 * rng.exponential(1.0, STEPS) + 40.0 * (rng.random(STEPS) < 0.002))
    c = {k: np.array(getattr(positions, k)) for k in ("side", "qty", "entry_price", "margin", "mmr", "maint_amount")}
    prepared = npb.prepare(c["side"], c["qty"], c["entry_price"], c["margin"], c["mmr"], c["maint_amount"])
    return book, positions, flow, prepared, c["qty"]


def engine(book, positions, flow):
    return lc.simulate(book, positions, "market_orders", STEPS, 1.0, flow=flow, resilience=RHO)


@pytest.mark.benchmark(group="simulate: 1M positions, 10,000 steps")
def test_simulate_engine(benchmark, market):
    book, positions, flow, prepared, qty = market
    sim = benchmark.pedantic(engine, args=(book, positions, flow), rounds=3, iterations=1)
    benchmark.extra_info["liquidated"] = int(sim.liquidated.sum())
    prices, k = npb.simulate_market_orders(np.array(book.bid_price), np.array(book.bid_qty), prepared, qty, flow, RHO)
    assert 1_000 < k == int(sim.liquidated.sum())
    np.testing.assert_allclose(sim.timeline.price, prices, rtol=1e-9)


@pytest.mark.benchmark(group="simulate: 1M positions, 10,000 steps")
def test_simulate_numpy(benchmark, market):
    book, _, flow, prepared, qty = market
    benchmark.pedantic(npb.simulate_market_orders, args=(np.array(book.bid_price), np.array(book.bid_qty),
                                                         prepared, qty, flow, RHO), rounds=3, iterations=1)
