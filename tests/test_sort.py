"""The engine's linear-time stable sort against NumPy's stable argsort, on the key
distributions that break radix sorts: ties, near-equal neighbours, signed zeros, negative
values, huge ranges and clusters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from liqcascade import _core

finite = st.floats(allow_nan=False, allow_infinity=True, width=64)
clustered = st.sampled_from([0.0, -0.0, 1.0, 95_000.0, 95_000.0 * (1 + 2**-52), -3.5, 1e300, -1e-300])


def expected(keys: np.ndarray, descending: bool) -> np.ndarray:
    if descending:
        # stable descending: ties still by position
        return np.lexsort((np.arange(len(keys)), -keys))
    return np.argsort(keys, kind="stable")


@given(keys=hnp.arrays(np.float64, st.integers(0, 300), elements=st.one_of(finite, clustered)),
       descending=st.booleans())
def test_stable_order_matches_numpy(keys, descending):
    np.testing.assert_array_equal(_core.stable_order(keys, descending), expected(keys, descending))


def test_stable_order_large_and_clustered():
    rng = np.random.default_rng(1)
    keys = np.concatenate([
        rng.normal(95_000, 3_000, 200_000),
        np.full(50_000, 90_000.0),                               # one big tie
        90_000.0 + np.arange(50_000) * 1e-11,                    # near-equal run
        rng.choice([1.0, 2.0, 3.0], 50_000),
    ])
    rng.shuffle(keys)
    for descending in (False, True):
        np.testing.assert_array_equal(_core.stable_order(keys, descending), expected(keys, descending))


def test_stable_order_when_an_outlier_puts_everything_in_one_top_bucket():
    # one key far away: the rest share one top digit and must be ordered by the lower ones;
    # the near-equal keys arrive in reverse order (the worst case for an insertion pass)
    rng = np.random.default_rng(2)
    keys = np.concatenate([
        rng.normal(95_000, 3_000, 100_000),
        (90_000.0 + np.arange(30_000) * 1e-11)[::-1],
        [1e300, -1e300],
    ])
    rng.shuffle(keys[:100_000])
    for descending in (False, True):
        np.testing.assert_array_equal(_core.stable_order(keys, descending), expected(keys, descending))


@pytest.mark.parametrize("shock", [-0.002, -0.03, -0.5, 0.002, 0.03, 0.9])
def test_a_fresh_sets_first_cascade_sorts_lazily_and_is_the_prepared_sets(shock):
    # The first cascade on a fresh set sorts its side only as far as it reaches; every result
    # (per-position arrays included) is the prepared set's, bit for bit.
    import liqcascade as lc

    population = lc.PositionPopulation(count=50_000, entry_spread=0.03)
    book = lc.BookModel().build(seed=3)
    fresh = population.sample(seed=3, book_model=lc.BookModel(mid=book.mid))
    prepared = lc.Positions(fresh.side, fresh.qty, fresh.entry_price, fresh.margin, fresh.mmr, fresh.maint_amount)
    prepared.prepare()
    a, b = lc.cascade(book, fresh, shock), lc.cascade(book, prepared, shock)
    for field in ("final_price", "n_liquidated", "liquidated_qty", "liquidated_notional", "unfilled_qty",
                  "bad_debt", "rounds", "book_exhausted"):
        assert getattr(a, field) == getattr(b, field), field
    for field in ("liquidated_index", "liquidated_fill_price", "liquidated_filled_qty"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    # a cascade that stopped early left its side partly unsorted; one that exhausted the book sorted it all
    assert fresh.is_sorted("down" if shock < 0 else "up") == a.book_exhausted
