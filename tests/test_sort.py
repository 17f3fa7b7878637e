"""The engine's linear-time stable sort against NumPy's stable argsort, on the key
distributions that break radix sorts: ties, near-equal neighbours, signed zeros, negative
values, huge ranges and clusters."""

from __future__ import annotations

import numpy as np
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
