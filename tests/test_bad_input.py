"""Every entry point rejects bad input with ValueError/TypeError naming the field (and the
first offending index for arrays); never a crash, a hang or a silently wrong number."""

from __future__ import annotations

import re

import numpy as np
import pytest

import liqcascade as lc
from liqcascade import _core

GOOD = dict(side=[1, -1, 1], qty=[1.0, 2.0, 3.0], entry_price=[100.0, 100.0, 100.0],
            margin=[10.0, 10.0, 10.0], mmr=[0.005, 0.005, 0.005], maint_amount=[0.0, 0.0, 0.0])


def book() -> lc.OrderBook:
    return lc.OrderBook([99.0, 98.0], [1.0, 1.0], [101.0, 102.0], [1.0, 1.0])


def with_value(field: str, index: int, value) -> dict:
    columns = {k: list(v) for k, v in GOOD.items()}
    columns[field][index] = value
    return columns


@pytest.mark.parametrize(("field", "value", "rule"), [
    ("qty", np.nan, "finite"), ("qty", np.inf, "finite"), ("qty", 0.0, "> 0"), ("qty", -1.0, "> 0"),
    ("entry_price", np.nan, "finite"), ("entry_price", -np.inf, "finite"), ("entry_price", 0.0, "> 0"),
    ("margin", np.nan, "finite"), ("margin", np.inf, "finite"), ("margin", -0.01, ">= 0"),
    ("mmr", np.nan, "[0, 1)"), ("mmr", 1.0, "[0, 1)"), ("mmr", -0.001, "[0, 1)"),
    ("maint_amount", np.nan, "finite"), ("maint_amount", np.inf, "finite"),
    ("side", 0, "+1 or -1"), ("side", 2, "+1 or -1"), ("side", 0.5, "+1 or -1"),
])
def test_positions_reject_bad_values_with_field_and_index(field, value, rule):
    with pytest.raises(ValueError, match=rf"^{field}\[2\]: .*{re.escape(rule)}"):
        lc.Positions(**with_value(field, 2, value))


def test_positions_reject_mismatched_lengths():
    with pytest.raises(ValueError, match=r"qty: length 2 does not match side length 3"):
        lc.Positions(**{**GOOD, "qty": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"maint_amount: length 4"):
        lc.Positions(**{**GOOD, "maint_amount": [0.0] * 4})


def test_positions_reject_non_1d_and_non_numeric():
    with pytest.raises(ValueError, match=r"^qty: expected a 1-D array, got 2 dimensions"):
        lc.Positions(**{**GOOD, "qty": np.ones((3, 1))})
    with pytest.raises(TypeError, match=r"^entry_price: expected numbers"):
        lc.Positions(**{**GOOD, "entry_price": ["a", "b", "c"]})
    with pytest.raises(TypeError, match=r"^side: expected numbers"):
        lc.Positions(**{**GOOD, "side": np.array([True, False, True])})
    with pytest.raises(TypeError, match=r"^margin: expected a number"):
        lc.Positions(**{**GOOD, "margin": {"a": 1}})
    with pytest.raises(ValueError, match=r"^mmr\[0\]: must be in \[0, 1\), got nan"):
        lc.Positions(**{**GOOD, "mmr": [None, 0.1, 0.1]})  # None reads as NaN


def test_positions_from_leverage_rejects_bad_leverage():
    for value, index in ((0.0, 1), (-5.0, 1), (np.nan, 1), (np.inf, 1)):
        lev = [10.0, 10.0, 10.0]
        lev[index] = value
        with pytest.raises(ValueError, match=rf"^leverage\[{index}\]: must be finite and > 0"):
            lc.Positions.from_leverage(GOOD["side"], GOOD["qty"], GOOD["entry_price"], lev)
    with pytest.raises(ValueError, match=r"^qty\[0\]"):
        lc.Positions.from_leverage(1, [np.nan], 100.0, 10.0)


def test_tiers_and_explicit_mmr_are_exclusive_and_tiers_validate():
    tiers = lc.MaintenanceTiers.binance_btcusdt()
    with pytest.raises(ValueError, match=r"^tiers: give either"):
        lc.Positions(1, 1.0, 100.0, 10.0, mmr=0.01, tiers=tiers)
    with pytest.raises(TypeError, match=r"^tiers: expected MaintenanceTiers"):
        lc.Positions(1, 1.0, 100.0, 10.0, tiers={"mmr": 0.01})
    with pytest.raises(ValueError, match=r"^qty\[1\]"):
        lc.Positions([1, 1], [1.0, -1.0], 100.0, 10.0, tiers=tiers)
    with pytest.raises(ValueError, match=r"^notional_floor\[0\]: the first tier must start at 0"):
        lc.MaintenanceTiers([10.0, 20.0], [0.01, 0.02])
    with pytest.raises(ValueError, match=r"^notional_floor\[2\]: must be strictly increasing"):
        lc.MaintenanceTiers([0.0, 20.0, 20.0], [0.01, 0.02, 0.03])
    with pytest.raises(ValueError, match=r"^mmr\[1\]: must be in \[0, 1\)"):
        lc.MaintenanceTiers([0.0, 20.0], [0.01, 1.0])
    with pytest.raises(ValueError, match=r"^mmr: length 1 does not match"):
        lc.MaintenanceTiers([0.0, 20.0], [0.01])
    with pytest.raises(ValueError, match=r"^max_leverage\[0\]"):
        lc.MaintenanceTiers([0.0, 20.0], [0.01, 0.02], max_leverage=[0.0, 10.0])
    with pytest.raises(ValueError, match=r"^notional\[0\]"):
        tiers.tier_of([-1.0])


@pytest.mark.parametrize(("kwargs", "pattern"), [
    (dict(bid_price=[99.0, np.nan], bid_qty=[1.0, 1.0]), r"^bid_price\[1\]: must be finite and > 0"),
    (dict(bid_price=[99.0, 0.0], bid_qty=[1.0, 1.0]), r"^bid_price\[1\]: must be finite and > 0"),
    (dict(bid_qty=[1.0, -1.0]), r"^bid_qty\[1\]: must be finite and > 0"),
    (dict(ask_qty=[np.inf, 1.0]), r"^ask_qty\[0\]: must be finite and > 0"),
    (dict(bid_price=[98.0, 99.0]), r"^bid_price\[1\]: bids must be strictly decreasing"),
    (dict(bid_price=[99.0, 99.0]), r"^bid_price\[1\]: bids must be strictly decreasing \(duplicated"),
    (dict(ask_price=[102.0, 101.0]), r"^ask_price\[1\]: asks must be strictly increasing"),
    (dict(bid_price=[101.0, 98.0]), r"^bid_price\[0\]: crossed book"),
    (dict(bid_price=[101.5, 98.0]), r"^bid_price\[0\]: crossed book"),
    (dict(bid_qty=[1.0]), r"^bid_qty: length 1 does not match bid_price length 2"),
    (dict(ask_price=np.ones((2, 1))), r"^ask_price: expected a 1-D array"),
])
def test_order_book_rejects_bad_levels(kwargs, pattern):
    args = dict(bid_price=[99.0, 98.0], bid_qty=[1.0, 1.0], ask_price=[101.0, 102.0], ask_qty=[1.0, 1.0])
    args.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        lc.OrderBook(**args)


def test_order_book_from_levels_and_depth_reject_bad_input():
    with pytest.raises(ValueError, match=r"^bids: expected \[price, qty\] pairs"):
        lc.OrderBook.from_levels([["abc", "1"]], [["101", "1"]])
    with pytest.raises(ValueError, match=r"^asks: expected shape \(n, 2\)"):
        lc.OrderBook.from_levels([["99", "1"]], [["101", "1", "3"]])
    with pytest.raises(TypeError, match=r"^bids: expected a sequence"):
        lc.OrderBook.from_levels("99,1", [])
    with pytest.raises(ValueError, match=r"^asks: missing"):
        lc.OrderBook.from_binance_depth({"bids": []})
    with pytest.raises(TypeError, match=r"^obj_or_path"):
        lc.OrderBook.from_binance_depth(42)
    with pytest.raises(ValueError, match=r"^within\[0\]: must be finite and >= 0"):
        book().depth(-0.01)


def test_empty_book_side_where_it_is_needed():
    positions = lc.Positions(**GOOD)
    no_bids = lc.OrderBook([], [], [101.0], [1.0])
    with pytest.raises(ValueError, match=r"^bid_price: the bid side is empty"):
        no_bids.mid
    with pytest.raises(ValueError, match=r"^bid_price: the bid side is empty"):
        lc.cascade(no_bids, positions, -0.01, ref_price=100.0)
    with pytest.raises(ValueError, match=r"^bid_price: the bid side is empty"):
        lc.cascade(no_bids, positions, sell_qty=1.0, ref_price=100.0)
    # an up shock does not need bids
    assert lc.cascade(no_bids, positions, 0.01, ref_price=100.0).direction == "up"
    no_asks = lc.OrderBook([99.0], [1.0], [], [])
    with pytest.raises(ValueError, match=r"^ask_price: the ask side is empty"):
        lc.cascade(no_asks, positions, buy_qty=1.0, ref_price=100.0)
    with pytest.raises(ValueError, match=r"^ask_price: the ask side is empty"):
        lc.cascade(no_asks, positions, -0.01)  # the default reference (mid) needs both sides


@pytest.mark.parametrize(("kwargs", "error", "pattern"), [
    (dict(shock=-1.0), ValueError, r"^shock: must be finite and > -1"),
    (dict(shock=-1.5), ValueError, r"^shock: must be finite and > -1"),
    (dict(shock=np.nan), ValueError, r"^shock: must be finite"),
    (dict(shock=np.inf), ValueError, r"^shock: must be finite"),
    (dict(sell_qty=0.0), ValueError, r"^sell_qty: must be finite and > 0"),
    (dict(buy_qty=-1.0), ValueError, r"^buy_qty: must be finite and > 0"),
    (dict(buy_qty=np.nan), ValueError, r"^buy_qty: must be finite and > 0"),
    (dict(shock=-0.1, sell_qty=1.0), ValueError, r"give exactly one of shock, sell_qty, buy_qty; got shock, sell_qty"),
    (dict(sell_qty=1.0, buy_qty=1.0), ValueError, r"give exactly one of"),
    (dict(), ValueError, r"give exactly one of shock, sell_qty, buy_qty$"),
    (dict(shock="-0.1"), TypeError, r"^shock: expected a real number"),
    (dict(shock=True), TypeError, r"^shock: expected a real number"),
    (dict(sell_qty=[1.0]), TypeError, r"^sell_qty: expected a real number"),
    (dict(shock=-0.1, ref_price=0.0), ValueError, r"^ref_price: must be finite and > 0"),
    (dict(shock=-0.1, ref_price=-5.0), ValueError, r"^ref_price: must be finite and > 0"),
    (dict(shock=-0.1, ref_price=np.nan), ValueError, r"^ref_price: must be finite and > 0"),
    (dict(shock=-0.1, ref_price="100"), TypeError, r"^ref_price: expected a real number"),
])
def test_cascade_rejects_bad_shocks(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        lc.cascade(book(), lc.Positions(**GOOD), **kwargs)


def test_cascade_rejects_wrong_object_types():
    with pytest.raises(TypeError, match=r"^book: expected liqcascade.OrderBook"):
        lc.cascade({"bids": []}, lc.Positions(**GOOD), -0.1)
    with pytest.raises(TypeError, match=r"^positions: expected liqcascade.Positions"):
        lc.cascade(book(), GOOD, -0.1)


def test_core_checks_dtype_dimension_and_objects():
    f = np.ones(3)
    s = np.ones(3, dtype=np.int8)
    with pytest.raises(TypeError, match=r"^side: expected dtype int8, got float64"):
        _core.PositionSet(f, f, f, f, f * 0, f * 0)
    with pytest.raises(TypeError, match=r"^qty: expected a numpy array of float64"):
        _core.PositionSet(s, [1.0, 1.0, 1.0], f, f, f * 0, f * 0)
    with pytest.raises(ValueError, match=r"^qty: expected a 1-D array, got 2 dimensions"):
        _core.PositionSet(s, np.ones((3, 1)), f, f, f * 0, f * 0)
    with pytest.raises(ValueError, match=r"^mmr\[0\]: must be in \[0, 1\)"):
        _core.PositionSet(s, f, f, f, f, f * 0)
    good = _core.PositionSet(s, f, f * 100, f, f * 0, f * 0)
    core_book = _core.OrderBook(np.array([99.0]), np.array([1.0]), np.array([101.0]), np.array([1.0]))
    with pytest.raises(TypeError, match=r"^book: expected a liqcascade._core.OrderBook"):
        _core.cascade(good, good, "relative", -0.1)
    with pytest.raises(TypeError, match=r"^positions: expected a liqcascade._core.PositionSet"):
        _core.cascade(core_book, core_book, "relative", -0.1)
    with pytest.raises(ValueError, match=r"^kind: expected"):
        _core.cascade(core_book, good, "sideways", -0.1)


def test_overflowing_position_is_rejected_not_returned_as_inf():
    with pytest.raises(ValueError, match=r"^qty\[0\]: qty \* entry_price \+ margin must be <= 8.98"):
        lc.Positions(1, 1e300, 1e10, 0.0)
    with pytest.raises(ValueError, match=r"^qty\[0\]: liquidation price overflows"):
        lc.Positions(1, 1.0, 1.0, 0.0, maint_amount=-1.79e308)


def test_strided_input_is_read_correctly():
    # a strided view must not be read as if it were contiguous
    wide = np.arange(20, dtype=np.float64) + 1.0
    strided = wide[::2]
    positions = lc.Positions(1, strided, 100.0, 1.0, mmr=0.0)
    np.testing.assert_array_equal(positions.qty, strided)
    np.testing.assert_array_equal(positions.liquidation_price, (strided * 100.0 - 1.0) / strided)


def test_results_and_columns_are_read_only_and_inputs_untouched():
    qty = np.array([1.0, 2.0, 3.0])
    positions = lc.Positions(1, qty, 100.0, 10.0)
    with pytest.raises(ValueError, match="read-only"):
        positions.liquidation_price[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        positions.qty[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        book().bid_price[0] = 1.0
    lc.cascade(book(), positions, -0.5)
    np.testing.assert_array_equal(qty, [1.0, 2.0, 3.0])
    assert qty.flags.writeable


def test_stable_order_rejects_nan_and_wrong_dtype():
    with pytest.raises(ValueError, match=r"^keys\[1\]: must not be NaN"):
        _core.stable_order(np.array([1.0, np.nan]))
    with pytest.raises(TypeError, match=r"^keys: expected dtype float64"):
        _core.stable_order(np.array([1, 2]))
