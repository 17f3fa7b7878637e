"""Limit order book snapshots."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, overload

import numpy as np

from . import _core
from ._validation import FloatArray, first_bad, float_column

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class BookDepth:
    """Resting quantity (base units) and notional (quote) within a distance of the mid.

    Scalars when :meth:`OrderBook.depth` was given a scalar distance, arrays otherwise.
    """

    within: Any
    bid_qty: Any
    bid_notional: Any
    ask_qty: Any
    ask_notional: Any


def _levels(levels: Any, field: str) -> tuple[FloatArray, FloatArray]:
    """``[[price, qty], ...]`` (numbers or numeric strings) as two float64 arrays."""
    if isinstance(levels, (str, bytes, Mapping)):
        raise TypeError(f"{field}: expected a sequence of [price, qty] pairs, got {type(levels).__name__}")
    try:
        arr = np.asarray(levels, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{field}: expected [price, qty] pairs of numbers ({exc})") from None
    if arr.size == 0:
        return np.empty(0), np.empty(0)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{field}: expected shape (n, 2) of [price, qty] pairs, got {arr.shape}")
    return np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1])


def _l2_number(value: Any, field: str) -> float:
    """A BitMEX row's ``size`` or ``price`` (a number or a numeric string), finite and > 0."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{field}: expected a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{field}: expected a number, got {value!r}") from None
    if not (np.isfinite(x) and x > 0):
        raise ValueError(f"{field}: must be finite and > 0, got {value!r}")
    return x


class OrderBook:
    """A snapshot of one market's book: bids best (highest) first, asks best (lowest) first.

    Prices in quote currency, quantities in base units; both finite and > 0, bids strictly
    decreasing, asks strictly increasing, not crossed. Either side may be empty, but an
    operation that needs it (``mid``, a shock in its direction) then raises ``ValueError``.
    The book is immutable: a cascade never changes it.
    """

    __slots__ = ("_book",)

    def __init__(self, bid_price: Any, bid_qty: Any, ask_price: Any, ask_qty: Any) -> None:
        self._book = _core.OrderBook(
            float_column(bid_price, "bid_price"),
            float_column(bid_qty, "bid_qty"),
            float_column(ask_price, "ask_price"),
            float_column(ask_qty, "ask_qty"),
        )

    @classmethod
    def _from_core(cls, core_book: _core.OrderBook) -> OrderBook:
        book = cls.__new__(cls)
        book._book = core_book
        return book

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and copy from the four arrays (the compiled book is rebuilt, and re-checked)."""
        return (type(self), (self.bid_price, self.bid_qty, self.ask_price, self.ask_qty))

    @classmethod
    def from_levels(cls, bids: Sequence[Sequence[Any]], asks: Sequence[Sequence[Any]]) -> OrderBook:
        """From ``[[price, qty], ...]`` per side; numbers or numeric strings (as exchanges send)."""
        bid_price, bid_qty = _levels(bids, "bids")
        ask_price, ask_qty = _levels(asks, "asks")
        return cls(bid_price, bid_qty, ask_price, ask_qty)

    @classmethod
    def from_binance_depth(cls, obj_or_path: Mapping[str, Any] | PathLike) -> OrderBook:
        """From Binance's REST depth answer (``GET /fapi/v1/depth``): the parsed JSON object or
        the path of a file holding it. Only ``bids`` and ``asks`` are read."""
        if isinstance(obj_or_path, (str, os.PathLike)):
            with Path(obj_or_path).open(encoding="utf-8") as handle:
                obj = json.load(handle)
        else:
            obj = obj_or_path
        if not isinstance(obj, Mapping):
            raise TypeError(f"obj_or_path: expected a depth object or a path, got {type(obj).__name__}")
        for key in ("bids", "asks"):
            if key not in obj:
                raise ValueError(f"{key}: missing from the depth object")
        return cls.from_levels(obj["bids"], obj["asks"])

    @classmethod
    def from_bitmex_l2(cls, obj_or_path: Sequence[Mapping[str, Any]] | Mapping[str, Any] | PathLike) -> OrderBook:
        """From BitMEX's L2 book: the answer of ``GET /api/v1/orderBook/L2`` (a list of rows
        ``{"symbol", "id", "side", "size", "price"}``), a websocket ``orderBookL2`` partial (an
        object whose ``data`` is that list), or the path of a file holding either.

        Bids are the ``"Buy"`` rows, best (highest) first, asks the ``"Sell"`` rows, lowest
        first; a level's quantity is ``size`` (contracts: 1 USD each for XBTUSD), rows at the same
        price on a side are summed. Rows must all be of one ``symbol``; a bad row is a
        ``ValueError`` naming it (``data[3].side: ...``).
        """
        if isinstance(obj_or_path, (str, os.PathLike)):
            with Path(obj_or_path).open(encoding="utf-8") as handle:
                obj = json.load(handle)
        else:
            obj = obj_or_path
        if isinstance(obj, Mapping):
            action = obj.get("action", "partial")
            if action != "partial":
                raise ValueError(f"action: expected a 'partial' message (the whole book), got {action!r}")
            if "data" not in obj:
                raise ValueError("data: missing from the orderBookL2 message")
            obj = obj["data"]
        if isinstance(obj, (str, bytes, Mapping)) or not isinstance(obj, Sequence):
            raise TypeError("obj_or_path: expected a list of L2 rows, a partial message or a path, "
                            f"got {type(obj).__name__}")
        books: dict[str, dict[float, float]] = {"Buy": {}, "Sell": {}}
        symbol = None
        for i, row in enumerate(obj):
            if not isinstance(row, Mapping):
                raise TypeError(f"data[{i}]: expected an object, got {type(row).__name__}")
            for key in ("symbol", "side", "size", "price"):
                if key not in row:
                    raise ValueError(f"data[{i}].{key}: missing")
            if symbol is None:
                symbol = row["symbol"]
            elif row["symbol"] != symbol:
                raise ValueError(f"data[{i}].symbol: expected every row of one symbol ({symbol!r}), "
                                 f"got {row['symbol']!r}")
            if row["side"] not in ("Buy", "Sell"):
                raise ValueError(f"data[{i}].side: expected 'Buy' or 'Sell', got {row['side']!r}")
            size, price = _l2_number(row["size"], f"data[{i}].size"), _l2_number(row["price"], f"data[{i}].price")
            level = books[row["side"]]
            level[price] = level.get(price, 0.0) + size
        bids, asks = sorted(books["Buy"].items(), reverse=True), sorted(books["Sell"].items())
        return cls(np.array([p for p, _ in bids]), np.array([q for _, q in bids]),
                   np.array([p for p, _ in asks]), np.array([q for _, q in asks]))

    # -- views ---------------------------------------------------------------------------------
    @property
    def bid_price(self) -> FloatArray:
        return self._book.bid_price

    @property
    def bid_qty(self) -> FloatArray:
        return self._book.bid_qty

    @property
    def ask_price(self) -> FloatArray:
        return self._book.ask_price

    @property
    def ask_qty(self) -> FloatArray:
        return self._book.ask_qty

    @property
    def best_bid(self) -> float:
        return self._book.best_bid

    @property
    def best_ask(self) -> float:
        return self._book.best_ask

    @property
    def mid(self) -> float:
        """``(best_bid + best_ask) / 2``, the default reference price."""
        return self._book.mid

    @property
    def spread(self) -> float:
        return self.best_ask - self.best_bid

    @overload
    def depth(self, within: float) -> BookDepth: ...
    @overload
    def depth(self, within: Any) -> BookDepth: ...

    def depth(self, within: Any) -> BookDepth:
        """Quantity and notional resting within a relative distance of the mid.

        ``within`` is a fraction (0.01 = 1 %), a scalar or an array; a level counts when
        ``|price - mid| <= within * mid``.
        """
        scalar = np.ndim(within) == 0
        dist = float_column(np.atleast_1d(np.asarray(within)), "within")
        first_bad(~np.isfinite(dist) | (dist < 0), "within", dist, "must be finite and >= 0")
        mid = self.mid
        bid_qty, bid_notional = _cumulative(mid - self.bid_price, self.bid_price, self.bid_qty, dist * mid)
        ask_qty, ask_notional = _cumulative(self.ask_price - mid, self.ask_price, self.ask_qty, dist * mid)
        if scalar:
            return BookDepth(float(dist[0]), float(bid_qty[0]), float(bid_notional[0]),
                             float(ask_qty[0]), float(ask_notional[0]))
        return BookDepth(dist, bid_qty, bid_notional, ask_qty, ask_notional)

    def __repr__(self) -> str:
        sides = f"{len(self.bid_price)} bids, {len(self.ask_price)} asks"
        if len(self.bid_price) and len(self.ask_price):
            # repr: every digit that tells two prices apart (":g" printed 11657.07 and 11657.08 alike)
            return f"OrderBook({sides}, best_bid={float(self.best_bid)!r}, best_ask={float(self.best_ask)!r})"
        return f"OrderBook({sides})"


def _cumulative(distance: FloatArray, price: FloatArray, qty: FloatArray,
                limit: FloatArray) -> tuple[FloatArray, FloatArray]:
    # distance from the mid grows along each side, so a prefix sum answers every limit at once
    cum_qty = np.concatenate(([0.0], np.cumsum(qty)))
    cum_notional = np.concatenate(([0.0], np.cumsum(qty * price)))
    count = np.searchsorted(distance, limit, side="right")
    return cum_qty[count], cum_notional[count]
