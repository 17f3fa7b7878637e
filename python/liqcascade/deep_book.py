"""Deep books from shallow snapshots: a real snapshot extended beyond its last level by a
calibrated tail, with the boundary between the two kept.

A REST or websocket snapshot covers a fraction of a percent around the mid (Binance's 1,000
levels of BTCUSDT: about 0.25 %), so any larger shock exhausts it and reads as "no losses".
:func:`extend_book` keeps every real level and appends modelled levels out to ``to`` (a
relative distance from the mid) whose cumulative notional continues the snapshot's own:

- ``tail="calibrated"`` (the default): the library's calibrated default market beyond the
  edge — ``N(d) = N_edge + k * (P(d) - P(d_edge))`` with ``P`` the cumulative profile of
  :data:`liqcascade.models.DEFAULT_DEPTH_PROFILE` ($20M / $60M / $75M within 1 / 5 / 10 %,
  thinning with distance) and ``k = min(1, (N_edge / d_edge) / P'(d_edge))``: the calibrated
  market's density, scaled down where the snapshot's own average density is lower (a thinner
  market), never up. So the tail is never denser than the snapshot near its edge, nor than
  the calibrated market, and thins with distance as the latter does (none beyond 50 %);
- ``tail="power"``: ``N(d) = N_edge * (d / d_edge) ** b`` with ``b`` fitted to the snapshot
  (least squares of log cumulative notional on log distance over the side's levels beyond a
  tenth of its edge distance; ``b`` clipped to ``[0.1, 1]``: the density never grows with
  distance). A snapshot that is deep near the touch fits ``b = 1`` and the tail carries its
  touch density 100 times further: on the shipped Binance snapshot 9 and 14 times the
  calibrated market's depth at 5 and 10 % ($516M and $1.03B of bids), so smaller cascades —
  an optimistic tail;
- ``tail="linear"``: the same with ``b = 1`` (the snapshot's average density continued);
- ``tail=BookModel(...)``: that model's profile's increments beyond the edge,
  ``N(d) = N_edge + P(d) - P(d_edge)``.

Notional is ``price * qty`` (base units), or ``qty * contract_size`` USD for a book in
contracts of an inverse market (``contract_size=``); tail levels hold the same unit.

``N_edge`` and ``d_edge`` are the side's real cumulative notional and its last level's
distance, so the tail joins the snapshot without a jump. The result is a :class:`DeepBook`:
the extended :class:`~liqcascade.OrderBook` plus where the real book ends, and
:meth:`DeepBook.tail_reached` / :meth:`DeepBook.cascade` say when a cascade priced in the
model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._validation import FloatArray
from ._validation import bounded_scalar as _finite
from ._warnings import warn
from .book import OrderBook
from .models import DEFAULT_DEPTH_PROFILE, BookModel

__all__ = ["DeepBook", "extend_book"]

#: The fitted exponent's range. Above 1 the density would grow with distance without bound:
#: near the touch real books often fit that way (depth builds up over the first basis points),
#: but carried 100 times beyond the data it invents billions of liquidity. A risk estimate
#: should not lean on liquidity it has not seen, so the tail's density at most stays constant.
EXPONENT_RANGE = (0.1, 1.0)

#: The shapes :func:`extend_book` takes by name; the first is the default.
TAILS = ("calibrated", "power", "linear")


@dataclass(frozen=True, eq=False)
class DeepBook:
    """A real snapshot and its modelled tail as one book.

    ``book`` is the extended :class:`~liqcascade.OrderBook` (use it as any book); ``real`` the
    snapshot. The real bids end at ``real_bid_until`` (the price of the last real bid level),
    the real asks at ``real_ask_until``; prices strictly beyond them are the model's.
    ``bid_exponent``/``ask_exponent`` are the tail's power (1 for ``"linear"``, None for the
    calibrated tail, a given profile or a side not extended), ``tail`` the shape used, ``to``
    the distance the book now reaches."""

    book: OrderBook
    real: OrderBook
    real_bid_until: float
    real_ask_until: float
    tail: str
    to: float
    bid_exponent: float | None
    ask_exponent: float | None

    @property
    def real_bid_levels(self) -> int:
        return len(self.real.bid_price)

    @property
    def real_ask_levels(self) -> int:
        return len(self.real.ask_price)

    @property
    def real_depth(self) -> tuple[float, float]:
        """How far the real book reaches from the mid, relative: ``(bids, asks)``."""
        mid = self.real.mid
        return (1.0 - self.real_bid_until / mid, self.real_ask_until / mid - 1.0)

    def in_tail(self, price: Any) -> Any:
        """Whether a price lies in the modelled part (strictly beyond the last real level on
        either side): a bool for a scalar, a bool array for an array."""
        p = np.asarray(price, dtype=np.float64)
        out = (p < self.real_bid_until) | (p > self.real_ask_until)
        return bool(out) if out.ndim == 0 else out

    def tail_reached(self, result: Any) -> Any:
        """Whether a cascade traded in the modelled tail: its final price (the last level
        traded) lies beyond the real book. A :class:`~liqcascade.CascadeResult` gives a bool,
        a :class:`~liqcascade.ScenarioTable` (``cascade_many`` on this book) a bool per row."""
        if hasattr(result, "final_price"):
            return self.in_tail(result.final_price)
        raise TypeError(f"result: expected a CascadeResult or ScenarioTable, got {type(result).__name__}")

    def cascade(self, positions: Any, shock: float | None = None, *, sell_qty: float | None = None,
                buy_qty: float | None = None, ref_price: float | None = None) -> Any:
        """:func:`liqcascade.cascade` on the extended book (the same arguments); a
        :class:`LiqcascadeWarning` when the cascade's final price lies in the modelled tail (its
        size then depends on the model, not on the snapshot)."""
        from .cascade import cascade

        result = cascade(self.book, positions, shock, sell_qty=sell_qty, buy_qty=buy_qty, ref_price=ref_price)
        if self.tail_reached(result):
            side = "bids" if result.final_price < self.real_bid_until else "asks"
            warn(f"the cascade ended at {result.final_price:,.6g}, in the modelled tail of the book's {side} "
                 f"(the real snapshot ends at {self.real_bid_until if side == 'bids' else self.real_ask_until:,.6g}): "
                 f"its size depends on the tail model ({self.tail})")
        return result

    def __reduce__(self) -> tuple[Any, ...]:
        return (DeepBook, (self.book, self.real, self.real_bid_until, self.real_ask_until, self.tail, self.to,
                           self.bid_exponent, self.ask_exponent))

    def __repr__(self) -> str:
        bid_depth, ask_depth = self.real_depth
        return (f"DeepBook(real to -{bid_depth:.2%} / +{ask_depth:.2%}, {self.tail} tail to ±{self.to:.0%}; "
                f"{len(self.book.bid_price):,} bids, {len(self.book.ask_price):,} asks)")


def _fit_exponent(distance: FloatArray, cumulative: FloatArray) -> float:
    """Least-squares slope of log cumulative notional on log distance over the levels beyond a
    tenth of the edge distance (the touch is noise), clipped to :data:`EXPONENT_RANGE`."""
    usable = (distance > 0) & (cumulative > 0)
    d, n = distance[usable], cumulative[usable]
    if d.size >= 2:
        far = d >= 0.1 * d[-1]
        if np.count_nonzero(far) >= 2:
            d, n = d[far], n[far]
    if d.size < 2 or np.ptp(np.log(d)) == 0:
        return 1.0
    slope = float(np.polyfit(np.log(d), np.log(n), 1)[0])
    return float(np.clip(slope, *EXPONENT_RANGE))


def _calibrated_scale(profile: FloatArray, d_edge: float, n_edge: float) -> float:
    """``k`` of the calibrated tail: 1, or less where the snapshot's average density
    ``n_edge / d_edge`` is below the profile's density just beyond ``d_edge``."""
    segment = int(np.searchsorted(profile[:, 0], d_edge, side="right")) - 1
    if segment < 0 or segment + 1 >= profile.shape[0]:
        return 1.0
    density = (profile[segment + 1, 1] - profile[segment, 1]) / (profile[segment + 1, 0] - profile[segment, 0])
    if density <= 0:
        return 1.0
    return min(1.0, n_edge / d_edge / density)


def _tail_side(price: FloatArray, qty: FloatArray, mid: float, to: float, sign: int, tail: Any,
               tick: float | None, max_levels: int, contract_size: float | None) -> tuple[FloatArray, FloatArray,
                                                                                        float | None]:
    """The modelled levels beyond one side's last real level (``sign`` -1 bids, +1 asks)."""
    distance = sign * (price - mid) / mid
    cumulative = np.cumsum(price * qty if contract_size is None else qty * contract_size)
    d_edge, n_edge = float(distance[-1]), float(cumulative[-1])
    if d_edge >= to:
        return np.empty(0), np.empty(0), None
    if tick is None:
        gaps = np.abs(np.diff(price))
        step = float(np.median(gaps)) if gaps.size else mid * 1e-5
    else:
        step = float(tick)
    step = max(step, (to - d_edge) * mid / max_levels)
    count = int(math.floor((to - d_edge) * mid / step + 1e-9))
    if count < 1:
        return np.empty(0), np.empty(0), None
    prices = price[-1] + sign * step * np.arange(1, count + 1)
    d = sign * (prices - mid) / mid
    exponent: float | None
    if isinstance(tail, BookModel) or tail == "calibrated":
        profile = np.asarray(tail.profile if isinstance(tail, BookModel) else DEFAULT_DEPTH_PROFILE, dtype=np.float64)
        at = np.interp(np.concatenate(([d_edge], d)), profile[:, 0], profile[:, 1])
        if d_edge <= 0:
            raise ValueError("book: the last real level is at the mid; there is no depth to extend")
        scale = 1.0 if isinstance(tail, BookModel) else _calibrated_scale(profile, d_edge, n_edge)
        cum = n_edge + scale * (at[1:] - at[0])
        exponent = None
    else:
        exponent = _fit_exponent(distance, cumulative) if tail == "power" else 1.0
        if d_edge <= 0:
            raise ValueError("book: the last real level is at the mid; there is no depth to extend")
        cum = n_edge * (d / d_edge) ** exponent
    increments = np.diff(np.concatenate(([n_edge], cum)))
    keep = (increments > 0) & (prices > 0)
    quantity = increments[keep] / (prices[keep] if contract_size is None else contract_size)
    return prices[keep], quantity, exponent


def extend_book(book: OrderBook, *, to: float = 0.2,
                tail: Literal["calibrated", "power", "linear"] | BookModel = "calibrated",
                tick: float | None = None, max_levels: int = 20_000,
                contract_size: float | None = None) -> DeepBook:
    """The snapshot ``book`` extended on each side out to ``to`` (relative distance from its
    mid; a side already that deep is kept as it is) by a ``tail`` joined to the snapshot (see
    the module docstring: by default the calibrated default market's density beyond the edge,
    never denser than the snapshot's own). Modelled levels are spaced ``tick`` apart (default:
    the side's median level spacing), widened so that a side gets at most ``max_levels`` of
    them; each holds the model's notional increment over its step, as base quantity at its
    price — or, with ``contract_size`` (a book in contracts of that many USD: an inverse
    market), as contracts."""
    if not isinstance(book, OrderBook):
        raise TypeError(f"book: expected liqcascade.OrderBook, got {type(book).__name__}")
    reach = _finite(to, "to", low=0.0, high=1.0, low_open=True, high_open=True)
    if not (isinstance(tail, BookModel) or (isinstance(tail, str) and tail in TAILS)):
        raise ValueError(f"tail: expected {', '.join(map(repr, TAILS))} or a BookModel, got {tail!r}")
    if tick is not None:
        _finite(tick, "tick", low=0.0, low_open=True)
    size = None if contract_size is None else _finite(contract_size, "contract_size", low=0.0, low_open=True)
    if isinstance(max_levels, bool) or not isinstance(max_levels, (int, np.integer)) or max_levels < 1:
        raise ValueError(f"max_levels: expected an integer >= 1, got {max_levels!r}")
    for name, prices in (("bids", book.bid_price), ("asks", book.ask_price)):
        if prices.size == 0:
            raise ValueError(f"book: its {name} are empty; a tail extends a side's own depth")
    mid = book.mid
    bid_price, bid_qty, bid_exp = _tail_side(book.bid_price, book.bid_qty, mid, reach, -1, tail, tick, max_levels,
                                             size)
    ask_price, ask_qty, ask_exp = _tail_side(book.ask_price, book.ask_qty, mid, reach, +1, tail, tick, max_levels,
                                             size)
    extended = OrderBook(np.concatenate((book.bid_price, bid_price)), np.concatenate((book.bid_qty, bid_qty)),
                         np.concatenate((book.ask_price, ask_price)), np.concatenate((book.ask_qty, ask_qty)))
    name = "profile" if isinstance(tail, BookModel) else str(tail)
    return DeepBook(extended, book, float(book.bid_price[-1]), float(book.ask_price[-1]), name, reach,
                    bid_exp, ask_exp)
