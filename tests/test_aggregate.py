"""The aggregate path (cascade_many's default; docs/design.md, "Aggregate path") against the
walk (cascade(), detail=True), the literal reference model and the NumPy prefix-sum baseline.

The rule under test: the discrete results — final and shock price, n_liquidated, rounds, the
trace's start prices and counts, book exhaustion, levels touched — equal cascade()'s always;
on an exact binary grid (integer quantities, say) the quantities do too, to the bit; the sums
agree within TOLERANCE of their scale everywhere.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import liqcascade as lc
import reference
from liqcascade import _core
from strategies import books, position_sets, shocks
from test_hardening import answers_ctrl_c

# the benchmarks' NumPy baseline, checked here for agreement
_spec = importlib.util.spec_from_file_location(
    "bench_numpy_baseline", Path(__file__).resolve().parents[1] / "bench" / "numpy_baseline.py")
assert _spec is not None and _spec.loader is not None
npb = sys.modules.setdefault("bench_numpy_baseline", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(npb)

pytestmark = pytest.mark.filterwarnings(
    "ignore:positions. .* already past their liquidation price:liqcascade.LiqcascadeWarning")

#: docs/design.md: the sums of the aggregate path agree with cascade()'s within this fraction of
#: their scale (the liquidated notional for notional and bad debt, the quantity sold for
#: quantities).
TOLERANCE = 1e-9

DISCRETE = ("direction", "ref_price", "shock_price", "final_price", "n_liquidated", "rounds", "book_exhausted",
            "levels_touched", "exogenous_filled_qty", "exogenous_unfilled_qty")
QUANTITIES = ("liquidated_qty", "unfilled_qty")


def build(book: dict, pos: dict) -> tuple[lc.OrderBook, lc.Positions]:
    return (
        lc.OrderBook(book["bid_price"], book["bid_qty"], book["ask_price"], book["ask_qty"]),
        lc.Positions(np.array(pos["side"], dtype=np.int8), np.array(pos["qty"], dtype=float),
                     np.array(pos["entry_price"], dtype=float), np.array(pos["margin"], dtype=float),
                     np.array(pos["mmr"], dtype=float), np.array(pos["maint_amount"], dtype=float)),
    )


def kind_of(shock: dict) -> tuple[str, float]:
    (name, value), = shock.items()
    return {"shock": "relative", "sell_qty": "sell", "buy_qty": "buy"}[name], float(value)


def both(book: lc.OrderBook, positions: lc.Positions, shock: dict, ref: float | None
         ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(aggregate, walk) raw results, or None when the walk rejects the shock — then the
    aggregate path must reject it with the same message."""
    kind, value = kind_of(shock)
    try:
        walk = _core.cascade(book._book, positions._set, kind, value, ref)
    except ValueError as error:
        with pytest.raises(ValueError) as caught:
            _core.cascade_aggregate(book._book, positions._set, kind, value, ref)
        assert str(caught.value) == str(error)
        return None
    return _core.cascade_aggregate(book._book, positions._set, kind, value, ref), walk


def assert_agrees(agg: dict[str, Any], walk: dict[str, Any], *, exact: bool = False) -> None:
    for name in DISCRETE:
        assert agg[name] == walk[name], name
    np.testing.assert_array_equal(agg["trace_start_price"], walk["trace_start_price"])
    np.testing.assert_array_equal(agg["trace_count"], walk["trace_count"])
    sold = walk["liquidated_qty"] + walk["unfilled_qty"]
    if exact:
        for name in QUANTITIES:
            assert agg[name] == walk[name], name
        np.testing.assert_array_equal(agg["trace_qty"], walk["trace_qty"])
    for name in QUANTITIES:
        assert abs(agg[name] - walk[name]) <= TOLERANCE * sold, name
    np.testing.assert_allclose(agg["trace_qty"], walk["trace_qty"], rtol=TOLERANCE, atol=TOLERANCE * sold)
    scale = walk["liquidated_notional"]
    assert abs(agg["liquidated_notional"] - walk["liquidated_notional"]) <= TOLERANCE * scale
    assert abs(agg["bad_debt"] - walk["bad_debt"]) <= TOLERANCE * scale
    assert agg["liquidated_index"].size == 0  # no per-position results on this path


# -- against the walk and the reference ----------------------------------------------------------

@given(book=books(), pos=position_sets(), shock=shocks(), ref=st.one_of(st.none(), st.floats(90.0, 110.0)))
@example(  # 0.1 + 0.2 against a level of 0.3: the walk leaves 2.8e-17 for the next level
    book={"bid_price": [99.0, 98.0], "bid_qty": [0.3, 1.0], "ask_price": [101.0], "ask_qty": [1.0]},
    pos={"side": [1, 1], "qty": [0.1, 0.2], "entry_price": [100.0] * 2, "margin": [0.01, 0.02],
         "mmr": [0.0] * 2, "maint_amount": [0.0] * 2},
    shock={"shock": -0.005}, ref=None)
def test_aggregate_agrees_with_the_walk_and_the_reference(book, pos, shock, ref):
    b, p = build(book, pos)
    results = both(b, p, shock, ref)
    if results is None:
        return
    agg, walk = results
    assert_agrees(agg, walk)
    want = reference.cascade(book, pos, ref_price=ref, **shock)
    assert agg["final_price"] == want.final_price
    assert agg["n_liquidated"] == want.n_liquidated
    assert agg["rounds"] == want.rounds
    assert agg["book_exhausted"] == want.book_exhausted
    assert abs(agg["bad_debt"] - want.bad_debt) <= TOLERANCE * want.liquidated_notional
    assert abs(agg["liquidated_notional"] - want.liquidated_notional) <= TOLERANCE * want.liquidated_notional


@st.composite
def grid_markets(draw: Any) -> tuple[dict, dict]:
    """Integer (or dyadic) quantities only, levels and positions of the same few sizes: the
    cumulative quantity sold lands exactly on a level's cumulative depth again and again."""
    unit = draw(st.sampled_from([1.0, 0.5, 0.25]))
    size = st.integers(1, 4).map(lambda k: k * unit)
    book: dict[str, list[float]] = {}
    for name, sign in (("bid", -1.0), ("ask", 1.0)):
        n = draw(st.integers(1, 10))
        book[f"{name}_price"] = [100.0 + sign * float(k + 1) for k in range(n)]
        book[f"{name}_qty"] = draw(st.lists(size, min_size=n, max_size=n))
    n = draw(st.integers(0, 25))
    pos = {
        "side": draw(st.lists(st.sampled_from([1, -1]), min_size=n, max_size=n)),
        "qty": draw(st.lists(size, min_size=n, max_size=n)),
        "entry_price": draw(st.lists(st.sampled_from([97.0, 100.0, 103.0]), min_size=n, max_size=n)),
        "margin": draw(st.lists(st.one_of(st.sampled_from([0.0, 1.0, 2.0, 4.0]), st.floats(0.0, 12.0)),
                                min_size=n, max_size=n)),
        "mmr": [0.0] * n,
        "maint_amount": [0.0] * n,
    }
    return book, pos


@given(market=grid_markets(), shock=st.one_of(
    st.sampled_from([-0.015, -0.025, -0.05, 0.015, 0.025, 0.05]).map(lambda s: {"shock": s}),
    st.integers(1, 12).map(lambda q: {"sell_qty": float(q)}),
    st.integers(1, 12).map(lambda q: {"buy_qty": float(q)})))
@example(  # two orders of 1 end exactly at the end of a level of 2: the next level is not touched
    market=({"bid_price": [99.0, 98.0, 97.0], "bid_qty": [2.0, 2.0, 2.0], "ask_price": [101.0], "ask_qty": [1.0]},
            {"side": [1, 1, 1], "qty": [1.0, 1.0, 2.0], "entry_price": [100.0] * 3, "margin": [0.5, 0.5, 3.0],
             "mmr": [0.0] * 3, "maint_amount": [0.0] * 3}),
    shock={"shock": -0.005})
def test_on_the_integer_grid_the_aggregate_is_the_walk_to_the_bit(market, shock):
    book, pos = market
    b, p = build(book, pos)
    results = both(b, p, shock, None)
    if results is None:
        return
    agg, walk = results
    assert agg["fallbacks"] == 0  # exact comparisons: no round is left to the walk
    assert_agrees(agg, walk, exact=True)


def test_a_sale_ending_exactly_at_a_level_boundary_stops_there():
    book = lc.OrderBook([99.0, 98.0, 97.0], [2.0, 2.0, 2.0], [101.0], [1.0])
    # two longs of 1 liquidate at 99.5; a third at 98.5 only if the price reaches 98
    positions = lc.Positions([1, 1, 1], [1.0, 1.0, 2.0], 100.0, [0.5, 0.5, 3.0], 0.0)
    agg = _core.cascade_aggregate(book._book, positions._set, "relative", -0.005)
    assert agg["final_price"] == 99.0 and agg["n_liquidated"] == 2 and agg["levels_touched"] == 1
    assert agg["fallbacks"] == 0
    # one unit more and the sale takes from the next level: the third long follows
    bigger = lc.Positions([1, 1, 1], [1.0, 2.0, 2.0], 100.0, [0.5, 1.0, 3.0], 0.0)
    agg = _core.cascade_aggregate(book._book, bigger._set, "relative", -0.005)
    assert agg["final_price"] == 97.0 and agg["n_liquidated"] == 3 and agg["rounds"] == 2


def test_off_the_grid_a_round_within_rounding_of_a_boundary_is_left_to_the_walk():
    # exactly, 0.1 + 0.2 fills the level of 0.3; the walk's `left` rounds to leave 2.8e-17 of
    # the second order for the next level, so its last price is 98: the aggregate path must
    # not decide this on its own sums
    book = lc.OrderBook([99.0, 98.0], [0.3, 1.0], [101.0], [1.0])
    positions = lc.Positions([1, 1], [0.1, 0.2], 100.0, [0.01, 0.02], 0.0)
    walk = _core.cascade(book._book, positions._set, "relative", -0.005)
    agg = _core.cascade_aggregate(book._book, positions._set, "relative", -0.005)
    assert walk["final_price"] == 98.0
    assert agg["fallbacks"] == 1
    assert_agrees(agg, walk)


# -- cascade_many: aggregate rows, detail rows, the NumPy baseline ---------------------------------

@pytest.fixture(scope="module")
def market() -> tuple[lc.OrderBook, lc.Positions, np.ndarray]:
    book = lc.BookModel().build()
    positions = lc.PositionPopulation(count=20_000).sample(seed=3)
    shocks = np.clip(0.02 * np.random.default_rng(11).standard_t(3.0, 600), -0.9, 0.9)
    return book, positions, shocks


def test_cascade_many_aggregate_rows_agree_with_detail_rows(market):
    book, positions, shocks = market
    agg = lc.cascade_many(book, positions, shocks, threads=2)
    walk = lc.cascade_many(book, positions, shocks, threads=2, detail=True)
    for name in ("scenario", "shock", "final_price", "final_move", "amplification", "n_liquidated", "rounds",
                 "book_exhausted"):
        np.testing.assert_array_equal(getattr(agg, name), getattr(walk, name), err_msg=name)
    scale = walk.liquidated_notional_long + walk.liquidated_notional_short
    for name in ("liquidated_notional_long", "liquidated_notional_short", "bad_debt"):
        assert np.all(np.abs(getattr(agg, name) - getattr(walk, name)) <= TOLERANCE * scale), name
    assert np.count_nonzero(walk.bad_debt) > 100  # the case bad debt is here to test is here
    # one thread or two: the same bytes
    again = lc.cascade_many(book, positions, shocks, threads=1)
    for name in agg.columns:
        assert getattr(again, name).tobytes() == getattr(agg, name).tobytes(), name


def test_the_numpy_prefix_sum_baseline_agrees(market):
    book, positions, shocks = market
    book_arrays = (np.asarray(getattr(book, k)) for k in ("bid_price", "bid_qty", "ask_price", "ask_qty"))
    sides = npb.aggregate_sides(np.asarray(positions.side), np.asarray(positions.qty),
                                np.asarray(positions.liquidation_price), np.asarray(positions.bankruptcy_price),
                                *book_arrays)
    agg = lc.cascade_many(book, positions, shocks, threads=1)
    for i, shock in enumerate(shocks):
        want = npb.cascade_aggregate(sides, book.mid, float(shock))
        assert agg.final_price[i] == want["final_price"]
        assert agg.n_liquidated[i] == want["n_liquidated"]
        assert agg.rounds[i] == want["rounds"]
        assert bool(agg.book_exhausted[i]) == want["book_exhausted"]
        notional = agg.liquidated_notional_long[i] + agg.liquidated_notional_short[i]
        # NumPy's sums differ in cumulative notional of the whole side: its own rounding
        assert notional == pytest.approx(want["liquidated_notional"], rel=1e-9)
        assert agg.bad_debt[i] == pytest.approx(want["bad_debt"], rel=1e-6, abs=1e-9 * notional)


# -- inputs and interrupts -------------------------------------------------------------------------

def test_detail_must_be_a_bool(market):
    book, positions, _ = market
    with pytest.raises(TypeError, match="detail: expected a bool"):
        lc.cascade_many(book, positions, [-0.01], detail="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("detail", [False, True])
def test_both_paths_refuse_the_same_shocks_the_same_way(detail):
    no_asks = lc.OrderBook([99.0, 98.0], [1.0, 1.0], [], [])
    positions = lc.Positions([1, -1], 1.0, 100.0, 5.0)
    with pytest.raises(ValueError, match="ask side is empty"):
        lc.cascade_many(no_asks, positions, [-0.01, 0.01], ref_price=100.0, detail=detail)
    book = lc.OrderBook([99.0], [1.0], [101.0], [1.0])
    with pytest.raises(ValueError, match=r"shocks\[1\]: must be finite and > -1"):
        lc.cascade_many(book, positions, [-0.01, math.nan], detail=detail)
    with pytest.raises(ValueError, match="ref_price"):
        lc.cascade_many(book, positions, [-0.01], ref_price=-1.0, detail=detail)
    rows = lc.cascade_many(book, positions, [0.0, -0.0], detail=detail)  # no move: the identity
    assert list(rows.final_price) == [100.0, 100.0] and list(rows.rounds) == [0, 0]


def test_an_empty_side_or_set_has_no_rounds():
    book = lc.OrderBook([99.0], [1.0], [101.0], [1.0])
    shorts_only = lc.Positions([-1], 1.0, 100.0, 5.0)
    rows = lc.cascade_many(book, shorts_only, [-0.5, -0.001])
    assert list(rows.rounds) == [0, 0] and list(rows.final_price) == [50.0, 99.9]
    empty = lc.Positions(np.array([], dtype=np.int8), [], [], [])
    assert list(lc.cascade_many(book, empty, [0.3]).n_liquidated) == [0]


def test_ctrl_c_stops_aggregate_runs():
    answers_ctrl_c(
        "book = lc.BookModel().build()\n"
        "positions = lc.PositionPopulation(count=300_000).sample(seed=1).prepare()\n"
        "shocks = np.clip(0.02 * np.random.default_rng(0).standard_t(3.0, 1_000_000), -0.9, None)",
        "lc.cascade_many(book, positions, shocks, threads=2)", 1.0)
