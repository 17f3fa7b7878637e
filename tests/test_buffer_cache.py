"""The cache of freed working buffers: bounded, releasable, and invisible in the results."""

from __future__ import annotations

import numpy as np
import pytest

import liqcascade as lc
from liqcascade.scenarios import calibrated_book, default_positions


@pytest.fixture
def restore_limit():
    before = lc.buffer_cache()["limit"]
    yield
    lc.buffer_cache(before)


def _study() -> list[lc.CascadeResult]:
    book = calibrated_book()
    positions = default_positions(n=200_000, seed=3)
    return [lc.cascade(book, positions, s) for s in (-0.05, 0.03, -0.01)]


def test_results_are_the_same_with_and_without_the_cache(restore_limit):
    lc.buffer_cache(0)
    assert lc.buffer_cache()["cached"] == 0
    without = _study()
    assert lc.buffer_cache()["cached"] == 0  # nothing kept when the limit is 0
    lc.buffer_cache(256 << 20)
    _study()  # fills the cache
    assert lc.buffer_cache()["cached"] > 0
    with_cache = _study()  # runs on recycled blocks
    for a, b in zip(without, with_cache):
        assert a.to_dict() == b.to_dict()
        np.testing.assert_array_equal(a.liquidated_index, b.liquidated_index)
        np.testing.assert_array_equal(a.liquidated_fill_price, b.liquidated_fill_price)


def _simulation(positions: lc.Positions, sell: float) -> lc.SimulationResult:
    flow = np.full(300, -sell)
    return lc.simulate(calibrated_book(), positions, "binance", 300, 1.0, flow=flow, resilience=0.01)


def test_simulations_are_the_same_on_recycled_buffers(restore_limit):
    # The simulator's per-position working copies and final columns come from the cache: a
    # run on blocks that an unlike run has just left full of its own numbers must not see them.
    positions = default_positions(n=1_100_000, seed=3)  # one byte per position: a 1 MiB block
    lc.buffer_cache(0)
    without = _simulation(positions, 2.0)
    lc.buffer_cache(256 << 20)
    other = _simulation(positions, 9.0)
    del other  # its blocks go back to the cache
    again = _simulation(positions, 2.0)
    assert without.liquidated.sum() > 100
    np.testing.assert_array_equal(without.final_qty, again.final_qty)
    np.testing.assert_array_equal(without.liquidated, again.liquidated)
    np.testing.assert_array_equal(without.timeline.price, again.timeline.price)
    for column in without.events.columns:
        np.testing.assert_array_equal(getattr(without.events, column), getattr(again.events, column))


def test_the_cache_stays_under_its_limit_and_releases(restore_limit):
    lc.buffer_cache(8 << 20)
    _study()
    assert 0 < lc.buffer_cache()["cached"] <= 8 << 20
    lc.buffer_cache(2 << 20)  # lowering the limit frees the excess at once
    assert lc.buffer_cache()["cached"] <= 2 << 20
    lc.buffer_cache(64 << 20)
    _study()
    held = lc.buffer_cache()["cached"]
    assert lc.release_buffers() == held
    assert lc.buffer_cache()["cached"] == 0


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), ("1", TypeError), (True, TypeError)])
def test_bad_limits_are_rejected(bad, error):
    with pytest.raises(error, match="^limit: "):
        lc.buffer_cache(bad)
