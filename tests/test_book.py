"""OrderBook construction, Binance depth snapshots and depth queries."""

from __future__ import annotations

import json

import numpy as np
import pytest

import liqcascade as lc


def test_from_levels_accepts_numeric_strings_and_numbers():
    book = lc.OrderBook.from_levels([["99.5", "1.25"], [99.0, 2]], [["100.5", "0.5"]])
    np.testing.assert_array_equal(book.bid_price, [99.5, 99.0])
    np.testing.assert_array_equal(book.bid_qty, [1.25, 2.0])
    assert book.best_bid == 99.5 and book.best_ask == 100.5 and book.mid == 100.0
    assert book.spread == 1.0
    empty = lc.OrderBook.from_levels([], [["100.5", "0.5"]])
    assert len(empty.bid_price) == 0 and empty.best_ask == 100.5


def test_depth_counts_levels_within_distance_inclusive():
    book = lc.OrderBook([99.0, 98.0, 90.0], [1.0, 2.0, 4.0], [101.0, 102.0], [3.0, 5.0])
    d = book.depth(0.02)  # |p - 100| <= 2
    assert (d.bid_qty, d.bid_notional) == (3.0, 99.0 + 196.0)
    assert (d.ask_qty, d.ask_notional) == (8.0, 101.0 * 3 + 102.0 * 5)
    many = book.depth([0.0, 0.01, 0.1])
    np.testing.assert_array_equal(many.bid_qty, [0.0, 1.0, 7.0])
    np.testing.assert_array_equal(many.ask_qty, [0.0, 3.0, 8.0])


def test_binance_snapshot_loads_from_path_and_object(binance_depth_path):
    book = lc.OrderBook.from_binance_depth(binance_depth_path)
    raw = json.loads(binance_depth_path.read_text())
    same = lc.OrderBook.from_binance_depth(raw)
    assert len(book.bid_price) == len(raw["bids"]) == 1000
    assert book.best_bid == float(raw["bids"][0][0]) and book.best_ask == float(raw["asks"][0][0])
    np.testing.assert_array_equal(book.ask_qty, same.ask_qty)
    assert 61_000 < book.mid < 62_500
    d = book.depth(0.0025)
    # the snapshot covers about +-0.25 %: within it sit most of the 1000 levels
    assert d.bid_qty == pytest.approx(float(np.sum(book.bid_qty[book.bid_price >= book.mid * 0.9975])))


@pytest.mark.filterwarnings("ignore:positions. .* already past their liquidation price:liqcascade.LiqcascadeWarning")
def test_cascade_on_the_real_snapshot_agrees_with_the_reference(binance_depth_path):
    import reference

    raw = json.loads(binance_depth_path.read_text())
    book = lc.OrderBook.from_binance_depth(raw)
    rng = np.random.default_rng(7)
    n = 300
    pos = {
        "side": rng.choice([1, -1], n).astype(np.int8),
        "qty": np.minimum(rng.lognormal(-2.0, 1.0, n), 0.8),  # within the first tier (125x allowed)
        "entry_price": book.mid * (1 + rng.normal(0, 0.002, n)),
        "leverage": rng.choice([100.0, 125.0], n),
    }
    tiers = lc.MaintenanceTiers.binance_btcusdt()
    positions = lc.Positions.from_leverage(pos["side"], pos["qty"], pos["entry_price"], pos["leverage"], tiers=tiers)
    cols = {k: list(getattr(positions, k)) for k in ("side", "qty", "entry_price", "margin", "mmr", "maint_amount")}
    ref_book = {k: list(getattr(book, k)) for k in ("bid_price", "bid_qty", "ask_price", "ask_qty")}
    for shock in (-0.0024, 0.0024):
        got = lc.cascade(book, positions, shock)
        want = reference.cascade(ref_book, cols, shock=shock)
        assert got.final_price == want.final_price
        assert got.n_liquidated == want.n_liquidated > 0
        assert got.book_exhausted == want.book_exhausted
        np.testing.assert_array_equal(got.liquidated, want.liquidated)


def test_repr_tells_close_prices_apart():
    book = lc.OrderBook([11657.07], [1.0], [11657.08], [1.0])
    assert repr(book) == "OrderBook(1 bids, 1 asks, best_bid=11657.07, best_ask=11657.08)"
    assert repr(lc.OrderBook([0.1 + 0.2], [1.0], [1.0], [1.0])).endswith("best_bid=0.30000000000000004, best_ask=1.0)")
