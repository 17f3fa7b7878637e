"""Hypothesis strategies: small books and position sets built to hit ties, exact level
exhaustion and book exhaustion often."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

QTYS = [0.5, 1.0, 1.5, 2.0, 3.0]


@st.composite
def books(draw, max_levels: int = 12) -> dict:
    tick = draw(st.sampled_from([0.5, 1.0, 2.5]))
    sides = {}
    for name, sign in (("bid", -1.0), ("ask", 1.0)):
        n = draw(st.integers(1, max_levels))
        steps = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
        offsets = np.cumsum(steps)
        sides[f"{name}_price"] = [100.0 + sign * tick * float(k) for k in offsets]
        qty = st.one_of(st.sampled_from(QTYS), st.floats(0.01, 5.0))
        sides[f"{name}_qty"] = draw(st.lists(qty, min_size=n, max_size=n))
    return sides


@st.composite
def position_sets(draw, max_size: int = 25) -> dict:
    n = draw(st.integers(0, max_size))

    def column(strategy):
        return draw(st.lists(strategy, min_size=n, max_size=n))

    return {
        "side": column(st.sampled_from([1, -1])),
        "qty": column(st.one_of(st.sampled_from(QTYS), st.floats(0.01, 5.0))),
        "entry_price": column(st.one_of(st.sampled_from([95.0, 100.0, 105.0]), st.floats(80.0, 120.0))),
        "margin": column(st.one_of(st.sampled_from([0.0, 2.0, 5.0, 10.0]), st.floats(0.0, 30.0))),
        "mmr": column(st.sampled_from([0.0, 0.004, 0.01, 0.05])),
        "maint_amount": column(st.sampled_from([0.0, 0.0, 0.1, -0.1])),
    }


def shocks():
    relative = st.one_of(st.floats(-0.4, 0.4), st.sampled_from([0.0, -0.01, 0.01, -0.05, 0.05]))
    quantity = st.one_of(st.floats(0.01, 25.0), st.sampled_from(QTYS))
    return st.one_of(
        relative.map(lambda s: {"shock": s}),
        quantity.map(lambda q: {"sell_qty": q}),
        quantity.map(lambda q: {"buy_qty": q}),
    )
