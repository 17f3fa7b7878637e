"""The static cascade of one market (docs/design.md, "Static cascade")."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import _core
from ._running import ProgressArg, _progress_callback, _threads
from ._validation import FloatArray, float_column, real_scalar
from ._warnings import SHOCK_WARN_ABOVE, warn
from .book import OrderBook
from .positions import Positions
from .results import NotionalUnit, ScenarioTable


@dataclass(frozen=True, eq=False)
class CascadeTrace:
    """One row per round: ``start_price`` (the last price when the round began), ``count``
    and ``qty`` of the positions it triggered."""

    start_price: FloatArray
    count: npt.NDArray[np.int64]
    qty: FloatArray

    def __len__(self) -> int:
        return int(self.start_price.shape[0])


@dataclass(frozen=True, eq=False)
class CascadeResult:
    """What a shock did.

    Prices: ``ref_price`` (p_ref), ``shock_price`` (the last price after the exogenous move,
    before any liquidation) and ``final_price``. ``n_liquidated`` counts triggered positions,
    whether their orders filled in full, in part or not at all; ``liquidated_qty`` and
    ``liquidated_notional`` are what those orders filled, ``unfilled_qty`` what found no book.
    ``bad_debt`` sums, over liquidated positions, ``(bankruptcy - vwap) * filled`` for longs
    (``(vwap - bankruptcy) * filled`` for shorts) where positive. ``amplification`` is the
    final move over the shock move, NaN when the shock did not move the price.
    ``book_exhausted``: an order (the exogenous one or a liquidation) ran out of book.
    ``notional_unit``: what ``liquidated_notional`` and ``bad_debt`` count — ``"USD"`` (quote
    currency) on a linear market, ``"coin"`` on an inverse one (quantities then in contracts).
    """

    direction: Literal["down", "up"]
    ref_price: float
    shock_price: float
    final_price: float
    n_liquidated: int
    liquidated_qty: float
    liquidated_notional: float
    unfilled_qty: float
    rounds: int
    book_exhausted: bool
    bad_debt: float
    amplification: float
    trace: CascadeTrace
    n_positions: int
    levels_touched: int
    exogenous_filled_qty: float
    exogenous_unfilled_qty: float
    liquidated_index: npt.NDArray[np.int64] = field(repr=False)
    liquidated_filled_qty: FloatArray = field(repr=False)
    liquidated_fill_price: FloatArray = field(repr=False)
    notional_unit: NotionalUnit = "USD"

    @property
    def shock_move(self) -> float:
        """``shock_price / ref_price - 1``."""
        return self.shock_price / self.ref_price - 1.0

    @property
    def final_move(self) -> float:
        """``final_price / ref_price - 1``."""
        return self.final_price / self.ref_price - 1.0

    @cached_property
    def liquidated(self) -> npt.NDArray[np.bool_]:
        """One bool per position of the set: triggered by the cascade."""
        out = np.zeros(self.n_positions, dtype=bool)
        out[self.liquidated_index] = True
        return out

    @cached_property
    def fill_price(self) -> FloatArray:
        """One float per position: the VWAP of its liquidation fills, NaN where none."""
        out = np.full(self.n_positions, np.nan)
        out[self.liquidated_index] = self.liquidated_fill_price
        return out

    def to_dict(self) -> dict[str, Any]:
        """The scalar results, as plain Python values (for JSON, logging, tables)."""
        names = ("direction", "ref_price", "shock_price", "final_price", "shock_move", "final_move",
                 "amplification", "n_liquidated", "liquidated_qty", "liquidated_notional",
                 "unfilled_qty", "rounds", "book_exhausted", "bad_debt", "notional_unit")
        return {name: getattr(self, name) for name in names}


def cascade(
    book: OrderBook,
    positions: Positions,
    shock: float | None = None,
    *,
    sell_qty: float | None = None,
    buy_qty: float | None = None,
    ref_price: float | None = None,
) -> CascadeResult:
    """Run one static cascade.

    Give exactly one of ``shock`` (a relative move of the reference price, > -1; negative is
    down, 0 moves nothing), ``sell_qty`` or ``buy_qty`` (an exogenous market order, base
    units). ``ref_price`` defaults to the book's mid. A down shock removes every bid priced
    above ``ref_price * (1 + shock)`` and triggers longs whose liquidation price the last
    price reaches; each is closed in full by a market sell walking the bids, in order of
    liquidation price (descending, ties by index), until a round begins with nothing
    triggered. Up shocks mirror this with shorts and asks. The GIL is released while it runs.
    """
    if not isinstance(book, OrderBook):
        raise TypeError(f"book: expected liqcascade.OrderBook, got {type(book).__name__}")
    if not isinstance(positions, Positions):
        raise TypeError(f"positions: expected liqcascade.Positions, got {type(positions).__name__}")
    given = {name: value for name, value in (("shock", shock), ("sell_qty", sell_qty), ("buy_qty", buy_qty))
             if value is not None}
    if len(given) != 1:
        raise ValueError("give exactly one of shock, sell_qty, buy_qty"
                         + (f"; got {', '.join(given)}" if given else ""))
    (name, value), = given.items()
    kinds: dict[str, Literal["relative", "sell", "buy"]] = {"shock": "relative", "sell_qty": "sell", "buy_qty": "buy"}
    kind = kinds[name]
    move = real_scalar(value, name)
    ref = None if ref_price is None else real_scalar(ref_price, "ref_price")
    raw = _core.cascade(book._book, positions._set, kind, move, ref)
    if kind == "relative":
        _warn_large_shocks(np.array([move]))
    _warn_triggered_at_start(raw, positions)
    return _result(raw, len(positions), notional_unit(positions))


def notional_unit(positions: Positions) -> NotionalUnit:
    """What a cascade of ``positions`` counts its notional and bad debt in: ``"coin"`` for an
    inverse set, else ``"USD"``."""
    return "coin" if positions.contract == "inverse" else "USD"


def _warn_large_shocks(shocks: FloatArray, name: str = "shock") -> None:
    """Warn when a relative shock is beyond +-``SHOCK_WARN_ABOVE`` (1.0 = +-100 %)."""
    large = np.flatnonzero(np.abs(shocks) > SHOCK_WARN_ABOVE)
    if large.size:
        where = "" if shocks.size == 1 else f"{large.size:,} of {shocks.size:,} shocks, first {name}[{large[0]}] = "
        value = float(shocks[large[0]])
        move = f"{value:+.0%}" if abs(value) < 1e6 else f"{value * 100:+.3g}%"  # (not 300 digits for 1e300)
        warn(f"{name}: {where}{value:g} is a relative move of {move}; shocks are fractions (0.05 = +5 %), "
             f"and moves beyond +-{SHOCK_WARN_ABOVE:.0%} are warned about")


def _past_liquidation_message(count: int, total: int, side: str, ref: float) -> str:
    return (f"positions: {count:,} of {total:,} {side} positions are already past their liquidation price at the "
            f"reference price {ref:,.6g} and are liquidated by any move that reaches them; were the positions "
            "built around another price than this book's (e.g. sampled around another mid)?")


def _warn_triggered_at_start(raw: dict[str, Any], positions: Positions) -> None:
    """Warn when the cascade liquidated positions already past their liquidation price at the
    reference price. They are triggered in the first round, first (that round closes its batch
    in order of liquidation price), so the check reads one entry in the normal case."""
    index = raw["liquidated_index"]
    if index.size == 0:
        return
    liquidation = positions.liquidation_price
    ref = raw["ref_price"]
    down = raw["direction"] < 0

    def past(values: FloatArray) -> npt.NDArray[np.bool_]:
        return values >= ref if down else values <= ref

    if not past(liquidation[index[:1]])[0]:
        return
    first_round = index[: int(raw["trace_count"][0])]
    count = int(np.count_nonzero(past(liquidation[first_round])))
    side = positions.side
    total = int(np.count_nonzero(side > 0 if down else side < 0))
    warn(_past_liquidation_message(count, total, "long" if down else "short", ref))


def _warn_past_liquidation(positions: Positions, ref: float, *, longs: bool = True, shorts: bool = True) -> None:
    """Warn when positions of the given sides are past their liquidation price at ``ref``."""
    for check, direction, name in ((longs, -1, "long"), (shorts, 1, "short")):
        if not check:
            continue
        # a binary search of the side's sorted thresholds (the core's; the cascade sorts it anyway)
        count, total = positions._set.past_liquidation(direction, ref)
        if count:
            warn(_past_liquidation_message(int(count), int(total), name, ref))


_SCALARS = ("ref_price", "shock_price", "final_price", "n_liquidated", "liquidated_qty",
            "liquidated_notional", "unfilled_qty", "rounds", "book_exhausted", "bad_debt",
            "levels_touched", "exogenous_filled_qty", "exogenous_unfilled_qty")


def _result(raw: dict[str, Any], n_positions: int, unit: NotionalUnit = "USD") -> CascadeResult:
    return CascadeResult(
        notional_unit=unit,
        direction="down" if raw["direction"] < 0 else "up",
        amplification=raw["amplification"],  # the core's definition
        trace=CascadeTrace(raw["trace_start_price"], raw["trace_count"], raw["trace_qty"]),
        n_positions=n_positions,
        liquidated_index=raw["liquidated_index"],
        liquidated_filled_qty=raw["filled_qty"],
        liquidated_fill_price=raw["fill_price"],
        **{name: raw[name] for name in _SCALARS},
    )


# -- many shocks on one set -------------------------------------------------------------------

def _warn_at_start_of_many(book: OrderBook, positions: Positions, shocks: FloatArray, ref: float | None) -> None:
    """cascade_many's warnings: shocks beyond +-100 %, positions already past their
    liquidation price at the reference price (on the sides the shocks put at risk)."""
    finite = shocks[np.isfinite(shocks)]  # (bad values are the engine's to refuse)
    _warn_large_shocks(finite, "shocks")
    if ref is None and (book.bid_price.size == 0 or book.ask_price.size == 0):
        return  # no mid: the engine says so
    _warn_past_liquidation(positions, book.mid if ref is None else ref,
                           longs=bool((finite < 0).any()), shorts=bool((finite > 0).any()))


def _is_scalar(value: Any) -> bool:
    return isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.ndim == 0)


def cascade_many(book: OrderBook, positions: Positions, shocks: Any, *, ref_price: float | None = None,
                 threads: int | None = None, progress: ProgressArg = False, detail: bool = False) -> ScenarioTable:
    """One static cascade per relative shock on one fixed position set, in one C++ call. Row
    ``i`` is ``shocks[i]`` (its ``scenario`` column is ``i``).

    By default each row comes from the aggregate path: the set's thresholds and quantities and
    the book's depth are indexed once (prefix sums), and each round of a shock is two binary
    searches, ``O(rounds · log n)`` per shock; bad debt adds only the positions whose fills can
    fall short of their bankruptcy price. ``detail=True`` walks every position a shock reaches,
    as :func:`cascade` does. The two give the same final prices, counts, rounds and exhaustion
    always, and the same sums to rounding (docs/design.md, "Aggregate path")."""
    if not isinstance(book, OrderBook):
        raise TypeError(f"book: expected liqcascade.OrderBook, got {type(book).__name__}")
    if not isinstance(positions, Positions):
        raise TypeError(f"positions: expected liqcascade.Positions, got {type(positions).__name__}")
    if not isinstance(detail, (bool, np.bool_)):
        raise TypeError(f"detail: expected a bool, got {type(detail).__name__}")
    values = float_column(shocks, "shocks", 1) if _is_scalar(shocks) else float_column(shocks, "shocks")
    ref = None if ref_price is None else real_scalar(ref_price, "ref_price")
    _warn_at_start_of_many(book, positions, values, ref)
    callback, close = _progress_callback(progress, values.shape[0], "shocks")
    try:
        raw = _core.cascade_many(book._book, positions._set, values, ref, _threads(threads), callback, bool(detail))
    finally:
        close()
    return ScenarioTable(raw, notional_unit=notional_unit(positions))
