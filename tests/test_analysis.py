"""The key moments of a simulation (analysis.py), read against its timeline and events."""

from __future__ import annotations

import numpy as np

from liqcascade.analysis import intervals, key_moments
from liqcascade.scenarios import default_simulation


def test_intervals_are_the_runs_of_true():
    assert intervals(np.array([False, True, True, False, True])) == [(1, 3), (4, 5)]
    assert intervals(np.array([], dtype=bool)) == []


def test_key_moments_read_the_timeline():
    sim = default_simulation(positions=20_000, steps=400, sell_seconds=60)
    m = key_moments(sim)
    tl = sim.timeline
    first = int(np.flatnonzero(tl.liquidated_qty > 0)[0])
    assert m["first_liquidation"] == {"t": first, "price": float(tl.price[first])}
    assert m["low"]["price"] == float(tl.price.min())
    assert sum(1 for _ in m["halts"]) == len(intervals(tl.halted))
    assert m["final"]["liquidated_positions"] == int(sim.liquidated.sum())
    assert m["peak_minute"]["liquidated_notional"] == max(
        float(tl.liquidated_notional[k:k + 60].sum()) for k in range(0, len(tl), 60))
