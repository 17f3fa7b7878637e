"""Venue rules (issue 17): prepare + cascade of 1,000,000 positions whose tiers are chosen at the
liquidation price, against the same with the entry rule (the previous default) and against a
NumPy implementation of the tier search, in the same run.

The NumPy baseline resolves every position's tier the way a quant would vectorise the venue
rule: each tier's candidate liquidation price for all positions at once (one pass per tier),
the lowest tier whose liquidation notional is within its cap (argmax of the first True), then
npb.prepare + npb.cascade.
"""

from __future__ import annotations

import numpy as np
import numpy_baseline as npb
import pytest

import liqcascade as lc
from conftest import agree

SHOCK = -0.05
TIERS = lc.MaintenanceTiers.binance_btcusdt()


def engine(market, tier_rule):
    c = market.columns
    positions = lc.Positions(c["side"], c["qty"], c["entry_price"], c["margin"], tiers=TIERS, tier_rule=tier_rule,
                             leverage_limit="ignore")
    return lc.cascade(market.book, positions, SHOCK)


def numpy_tiers_at_liquidation(side, qty, entry, margin):
    s = side.astype(np.float64)
    floors, rates, cums = TIERS.notional_floor, TIERS.mmr, TIERS.maint_amount
    caps = np.append(floors[1:], np.inf)
    tier = np.full(side.shape, len(floors) - 1, dtype=np.intp)
    found = np.zeros(side.shape, dtype=bool)
    for k in range(len(floors) - 1):
        price = (qty * entry - s * (margin + cums[k])) / (qty * (1.0 - s * rates[k]))
        ok = ~found & (qty * price <= caps[k])
        tier[ok] = k
        found |= ok
        if found.all():
            break
    return rates[tier], cums[tier]


def numpy_prepare_and_cascade(market):
    c = market.columns
    mmr, maint = numpy_tiers_at_liquidation(c["side"], c["qty"], c["entry_price"], c["margin"])
    prepared = npb.prepare(c["side"], c["qty"], c["entry_price"], c["margin"], mmr, maint)
    return npb.cascade(*market.book_arrays, prepared, c["qty"], SHOCK)


@pytest.mark.benchmark(group="prepare+cascade 1M, tiers at the liquidation price")
def test_tiers_at_liquidation_engine(benchmark, market_1m):
    result = benchmark(engine, market_1m, "liquidation")
    agree(result, numpy_prepare_and_cascade(market_1m))


@pytest.mark.benchmark(group="prepare+cascade 1M, tiers at the liquidation price")
def test_tiers_at_liquidation_entry_rule(benchmark, market_1m):
    benchmark(engine, market_1m, "entry")


@pytest.mark.benchmark(group="prepare+cascade 1M, tiers at the liquidation price")
def test_tiers_at_liquidation_numpy(benchmark, market_1m):
    benchmark(numpy_prepare_and_cascade, market_1m)
