"""The C++ engine agrees with the literal reference model on every result field."""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import books, position_sets, shocks

import liqcascade as lc

# Random markets include positions already past their liquidation price at the reference (the
# engine must handle them exactly); the library warns about them, which is not under test here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:positions. .* already past their liquidation price:liqcascade.LiqcascadeWarning")



def build(book: dict, pos: dict) -> tuple[lc.OrderBook, lc.Positions]:
    return (
        lc.OrderBook(book["bid_price"], book["bid_qty"], book["ask_price"], book["ask_qty"]),
        lc.Positions(np.array(pos["side"], dtype=np.int8), np.array(pos["qty"], dtype=float),
                     np.array(pos["entry_price"], dtype=float), np.array(pos["margin"], dtype=float),
                     np.array(pos["mmr"], dtype=float), np.array(pos["maint_amount"], dtype=float)),
    )


def assert_agrees(got: lc.CascadeResult, want: reference.Result) -> None:
    close = dict(rel=1e-12, abs=1e-9)
    assert got.direction == want.direction
    assert got.ref_price == want.ref_price
    assert got.shock_price == want.shock_price
    assert got.final_price == want.final_price
    assert got.n_liquidated == want.n_liquidated
    assert got.rounds == want.rounds == len(got.trace)
    assert got.book_exhausted == want.book_exhausted
    assert got.liquidated_qty == pytest.approx(want.liquidated_qty, **close)
    assert got.liquidated_notional == pytest.approx(want.liquidated_notional, **close)
    assert got.unfilled_qty == pytest.approx(want.unfilled_qty, **close)
    assert got.bad_debt == pytest.approx(want.bad_debt, **close)
    assert list(got.trace.start_price) == [t[0] for t in want.trace]
    assert list(got.trace.count) == [t[1] for t in want.trace]
    np.testing.assert_allclose(got.trace.qty, [t[2] for t in want.trace], rtol=1e-12)
    np.testing.assert_array_equal(got.liquidated, want.liquidated)
    np.testing.assert_array_equal(got.fill_price, np.array(want.fill_price, dtype=float))
    assert got.liquidated_qty + got.unfilled_qty == pytest.approx(float(np.sum(got.trace.qty)), **close)


@given(book=books(), pos=position_sets(), shock=shocks(),
       ref=st.one_of(st.none(), st.floats(90.0, 110.0)))
@example(  # exact exhaustion of a level by one order, then of the whole side
    book={"bid_price": [99.0, 98.0], "bid_qty": [1.0, 1.0], "ask_price": [101.0], "ask_qty": [1.0]},
    pos={"side": [1, 1, 1], "qty": [1.0, 1.0, 1.0], "entry_price": [100.0] * 3,
         "margin": [0.5, 1.5, 1.5], "mmr": [0.0] * 3, "maint_amount": [0.0] * 3},
    shock={"shock": -0.005}, ref=None)
@example(  # ties in liquidation price are processed by index
    book={"bid_price": [99.0, 98.0, 97.0], "bid_qty": [0.5, 0.5, 5.0], "ask_price": [101.0], "ask_qty": [1.0]},
    pos={"side": [1, 1, -1, 1], "qty": [1.0, 0.5, 1.0, 0.5], "entry_price": [100.0] * 4,
         "margin": [1.0, 0.5, 1.0, 0.5], "mmr": [0.0] * 4, "maint_amount": [0.0] * 4},
    shock={"sell_qty": 0.25}, ref=None)
def test_engine_agrees_with_reference(book, pos, shock, ref):
    ob, positions = build(book, pos)
    got = lc.cascade(ob, positions, **shock, ref_price=ref)
    want = reference.cascade(book, pos, **shock, ref_price=ref)
    assert_agrees(got, want)


@given(book=books(), pos=position_sets(), first=shocks(), second=shocks())
def test_repeated_cascades_reuse_the_sort_and_agree(book, pos, first, second):
    ob, positions = build(book, pos)
    for shock in (first, second, first):
        assert_agrees(lc.cascade(ob, positions, **shock), reference.cascade(book, pos, **shock))
    # each cascade sorts only the side it triggers (as far as it reaches), once
    moved = {("up" if s.get("shock", 0.0) > 0 or "buy_qty" in s else "down")
             for s in (first, second) if s != {"shock": 0.0}}
    for direction in ("down", "up"):
        if direction not in moved:
            assert not positions.is_sorted(direction)
    assert positions.prepare().prepared
    for shock in (first, second):  # and again on the sorted sides
        assert_agrees(lc.cascade(ob, positions, **shock), reference.cascade(book, pos, **shock))


@given(pos=position_sets())
def test_liquidation_and_bankruptcy_prices_match_reference(pos):
    _, positions = build({"bid_price": [99.0], "bid_qty": [1.0], "ask_price": [101.0], "ask_qty": [1.0]}, pos)
    n = len(pos["side"])
    want_liq = [reference.liquidation_price(*(pos[k][i] for k in
                ("side", "qty", "entry_price", "margin", "mmr", "maint_amount"))) for i in range(n)]
    want_bank = [reference.bankruptcy_price(*(pos[k][i] for k in ("side", "qty", "entry_price", "margin")))
                 for i in range(n)]
    np.testing.assert_array_equal(positions.liquidation_price, np.array(want_liq, dtype=float))
    np.testing.assert_array_equal(positions.bankruptcy_price, np.array(want_bank, dtype=float))


@given(pos=position_sets(), price=st.floats(50.0, 150.0))
def test_equity_equals_maintenance_at_the_liquidation_price(pos, price):
    # The defining identity of docs/design.md, checked independently of the formula's form.
    _, positions = build({"bid_price": [99.0], "bid_qty": [1.0], "ask_price": [101.0], "ask_qty": [1.0]}, pos)
    p = positions.liquidation_price
    side = positions.side.astype(float)
    equity = positions.margin + side * positions.qty * (p - positions.entry_price)
    requirement = positions.mmr * positions.qty * p - positions.maint_amount
    np.testing.assert_allclose(equity, requirement, atol=1e-9 * float(np.max(positions.notional, initial=1.0)))


def test_empty_position_set():
    book = {"bid_price": [99.0], "bid_qty": [1.0], "ask_price": [101.0], "ask_qty": [1.0]}
    pos = {k: [] for k in ("side", "qty", "entry_price", "margin", "mmr", "maint_amount")}
    ob, positions = build(book, pos)
    got = lc.cascade(ob, positions, -0.02)
    assert_agrees(got, reference.cascade(book, pos, shock=-0.02))
    assert got.n_liquidated == 0 and got.final_price == 98.0 and math.isclose(got.amplification, 1.0)


def test_a_negative_zero_threshold_at_the_smallest_price():
    # The engine compares thresholds with prices by their bit patterns; -0.0 (the first
    # long's liquidation price: -5e-324 / 4 rounds to -0.0) must still count as 0.0: neither
    # it nor the +0.0 threshold triggers at the smallest price > 0, as in the reference.
    book = {"bid_price": [1.0], "bid_qty": [1.0], "ask_price": [2.0], "ask_qty": [1.0]}
    pos = {"side": [1, 1], "qty": [4.0, 1.0], "entry_price": [2.5e-321, 0.5], "margin": [1e-320, 0.5],
           "mmr": [0.0, 0.0], "maint_amount": [5e-324, 0.0]}
    ob, positions = build(book, pos)
    assert math.copysign(1.0, positions.liquidation_price[0]) == -1.0 and positions.liquidation_price[0] == 0.0
    got = lc.cascade(ob, positions, -0.5, ref_price=1e-323)
    assert got.shock_price == 5e-324 and got.n_liquidated == 0
    assert_agrees(got, reference.cascade(book, pos, shock=-0.5, ref_price=1e-323))


def test_a_shock_that_moves_the_price_to_zero_or_beyond_the_largest_double_is_an_error():
    # Hardening issue: a shocked price that underflows to 0 would trade at 0; one that
    # overflows gave inf prices and a NaN amplification.
    book = {"bid_price": [1.0], "bid_qty": [1.0], "ask_price": [2.0], "ask_qty": [1.0]}
    pos = {"side": [1], "qty": [1.0], "entry_price": [1.5], "margin": [0.5], "mmr": [0.0], "maint_amount": [0.0]}
    ob, positions = build(book, pos)
    for shock, ref in ((-0.6, 5e-324), (1e308, 2.0), (0.5, 1.5e308)):
        with pytest.raises(ValueError, match=r"^shock: moves the reference price"):
            lc.cascade(ob, positions, shock, ref_price=ref)
        with pytest.raises(ValueError, match=r"^shock:"):
            reference.cascade(book, pos, shock=shock, ref_price=ref)
