"""Agents in a venue (docs/design.md, "Agents"): traders whose orders follow the price and
carry a move across markets. Given to :class:`liqcascade.venue.VenueState` (or
:func:`liqcascade.venue.venue_cascade`), their orders cross and walk with the liquidations in
the static venue cascade's rounds.

- :class:`StopOrders`: stop-market orders of a quantity at a price — thresholds with no margin.
  :func:`stop_clusters` and :func:`round_number_levels` build them as clusters around round
  numbers or recent highs and lows.
- :class:`LeveragedTokens`: a token on a market with target leverage ``L`` (negative: inverse),
  NAV ``N`` at its last rebalance price ``P``; when the market's last price ``p`` reaches ``P (1
  - theta)`` or ``P (1 + theta)`` it trades ``L (L - 1) r N`` of notional (``r = p / P - 1``) in
  the direction of the move. :func:`token_presets` gives 3x and -3x tokens with a threshold
  rebalance.
- :class:`Funds`: leverage-targeting funds (Greenwood-Landier-Thesmar; Cont-Schaanning) with
  holdings in several markets: equity, target leverage, a buffer ``max_leverage``; past the
  buffer they sell the same fraction of every holding to return to the target.

Range checks are the core's (``ValueError`` naming ``stops.field[i]``, ``tokens.field[i]``,
``funds.field[i]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from . import _core
from ._validation import FloatArray, common_length, float_column, int_scalar, readonly, real_scalar, side_column


class Venue(Protocol):
    """What the agents read of a venue (a :class:`liqcascade.venue.Venue`): its markets' names,
    in its order (a protocol, so that this module does not import the venue's)."""

    @property
    def market_names(self) -> tuple[str, ...]: ...

__all__ = ["Funds", "LeveragedTokens", "StopOrders", "round_number_levels", "round_number_step", "stop_clusters",
           "token_presets", "token_rebalance"]


def _markets(value: Any, field: str, n: int) -> npt.NDArray[Any]:
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{field}: expected a 1-D array of length {n}, got shape {arr.shape}")
    if arr.dtype.kind not in "USiu" or arr.dtype == np.bool_:
        raise TypeError(f"{field}: expected market names or indices, got an array of dtype {arr.dtype}")
    return readonly(np.array(arr))


def _market_index(markets: npt.NDArray[Any], venue: Venue, field: str) -> npt.NDArray[np.int64]:
    if markets.dtype.kind in "US":
        names = venue.market_names
        out = np.empty(markets.shape[0], dtype=np.int64)
        for i, name in enumerate(markets.tolist()):
            if name not in names:
                raise ValueError(f"{field}[{i}]: no market named {name!r} (markets: {', '.join(map(repr, names))})")
            out[i] = names.index(name)
        return out
    return np.ascontiguousarray(markets, dtype=np.int64)


def _length(market: Any, **columns: Any) -> int:
    """The columns' common length, ``market`` (names or indices) included; all scalars: 1."""
    m = np.asarray(market)
    if m.dtype.kind not in "US":
        columns = {"market": m, **columns}
    n = common_length(**columns)
    if m.dtype.kind in "US" and m.ndim == 1 and all(np.ndim(v) == 0 for v in columns.values()):
        n = m.shape[0]
    return n


@dataclass(frozen=True, eq=False)
class StopOrders:
    """Stop-market orders: ``side`` -1 a sell stop (fires once its market has moved down and the
    last price is at or below ``price``), +1 a buy stop (moved up, at or above). Each fires
    once, a market order of ``qty``, after the round's liquidations in priority (sell stops by
    price descending, buy stops ascending, ties by index). ``market``: names or indices.
    Scalars broadcast."""

    market: Any
    side: Any
    qty: Any
    price: Any

    def __post_init__(self) -> None:
        n = _length(self.market, side=self.side, qty=self.qty, price=self.price)
        object.__setattr__(self, "market", _markets(self.market, "market", n))
        object.__setattr__(self, "side", readonly(side_column(self.side, n)))
        object.__setattr__(self, "qty", readonly(float_column(self.qty, "qty", n)))
        object.__setattr__(self, "price", readonly(float_column(self.price, "price", n)))

    def __len__(self) -> int:
        return int(self.qty.shape[0])

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (np.array(self.market), np.array(self.side), np.array(self.qty), np.array(self.price)))

    @classmethod
    def concat(cls, parts: Sequence[StopOrders]) -> StopOrders:
        """Several sets of stops as one (in order)."""
        parts = list(parts)
        if not parts:
            return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8), np.zeros(0), np.zeros(0))
        kinds = {p.market.dtype.kind in "US" for p in parts}
        if len(kinds) > 1:
            raise ValueError("parts: give every part's markets by name or every part's by index")
        return cls(np.concatenate([p.market for p in parts]), np.concatenate([p.side for p in parts]),
                   np.concatenate([p.qty for p in parts]), np.concatenate([p.price for p in parts]))


def round_number_levels(ref_price: float, step: float, count: int, *, below: bool) -> FloatArray:
    """The ``count`` multiples of ``step`` nearest ``ref_price`` strictly below it (``below``)
    or strictly above it, nearest first: where stops cluster (traders put a sell stop just
    under a round number, a buy stop just over one)."""
    ref = real_scalar(ref_price, "ref_price")
    step = real_scalar(step, "step")
    count = int_scalar(count, "count", minimum=0)
    if not isinstance(below, (bool, np.bool_)):
        raise TypeError(f"below: expected a bool, got {type(below).__name__}")
    # the core's rule (a venue population's stop clusters use it too)
    return readonly(_core.round_number_levels(ref, step, count, bool(below)))


def round_number_step(ref_price: float) -> float:
    """The step of a market's round numbers when none is given: the largest 1, 2 or 5 times a
    power of ten at most 5 % of ``ref_price`` (BTC at 122,000: 5,000; ETH at 4,100: 200)."""
    return float(_core.round_number_step(real_scalar(ref_price, "ref_price")))


def stop_clusters(market: str | int, centres: Sequence[float] | FloatArray,
                  qty: float | Sequence[float] | FloatArray, *, side: int, per_cluster: int = 50,
                  width: float = 0.002, seed: int = 0) -> StopOrders:
    """Stops clustered around each price in ``centres`` (round numbers, recent highs or lows):
    ``per_cluster`` stops a cluster, sell stops (``side=-1``) just below the centre, buy stops
    (``side=+1``) just above it, at ``centre * (1 + side * |z| * width)`` with ``z`` standard
    normal; a cluster's total quantity ``qty`` (one per centre, or one for all) split in
    lognormal shares. A pure function of ``seed``."""
    if side not in (-1, 1):
        raise ValueError(f"side: must be +1 (buy stops) or -1 (sell stops), got {side!r}")
    centres = float_column(np.atleast_1d(np.asarray(centres, dtype=np.float64)), "centres")
    per = int_scalar(per_cluster, "per_cluster", minimum=1)
    width = real_scalar(width, "width")
    if not width >= 0:
        raise ValueError(f"width: must be >= 0, got {width}")
    totals = float_column(qty, "qty", centres.shape[0])
    rng = np.random.default_rng(seed)
    z = np.abs(rng.standard_normal((centres.shape[0], per)))
    price = centres[:, None] * (1.0 + side * z * width)
    shares = rng.lognormal(0.0, 1.0, (centres.shape[0], per))
    q = totals[:, None] * shares / shares.sum(axis=1, keepdims=True)
    n = price.size
    return StopOrders(np.full(n, market), np.full(n, side, dtype=np.int8), q.ravel(), price.ravel())


@dataclass(frozen=True, eq=False)
class LeveragedTokens:
    """Leveraged tokens: ``leverage`` ``L`` (> 1, or < 0 for an inverse token), ``nav`` (quote,
    the whole token's), ``threshold`` ``theta`` in (0, 1), ``rebalance_price`` ``P`` (default:
    the market's reference price), ``units`` outstanding (for the NAV per unit; default 1).

    In the static venue cascade a token is read at each round's start price ``p`` of its
    market (once the market has moved that way): at ``p <= P (1 - theta)`` or ``p >= P (1 +
    theta)`` it rebalances — it trades ``L (L - 1) r N`` of notional (``r = p / P - 1``; a buy
    if positive), ``|L (L - 1) r N| / p`` units, after the round's liquidations and stops;
    its NAV becomes ``N (1 + L r)`` less its order's cost against ``p``, and ``P = p``. A token
    whose marked NAV ``N (1 + L r)`` is ``<= 0`` closes its whole exposure ``-L N (1 + r)`` and
    is wiped out (it trades no more)."""

    market: Any
    leverage: Any
    nav: Any
    threshold: Any = 0.10
    rebalance_price: Any = None
    units: Any = 1.0

    def __post_init__(self) -> None:
        n = _length(self.market, leverage=self.leverage, nav=self.nav, threshold=self.threshold, units=self.units,
                    rebalance_price=self.rebalance_price)
        object.__setattr__(self, "market", _markets(self.market, "market", n))
        for name in ("leverage", "nav", "threshold", "units"):
            object.__setattr__(self, name, readonly(float_column(getattr(self, name), name, n)))
        price = np.nan if self.rebalance_price is None else self.rebalance_price
        object.__setattr__(self, "rebalance_price", readonly(float_column(price, "rebalance_price", n)))

    def __len__(self) -> int:
        return int(self.nav.shape[0])

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (np.array(self.market), np.array(self.leverage), np.array(self.nav),
                             np.array(self.threshold), np.array(self.rebalance_price), np.array(self.units)))

    @classmethod
    def concat(cls, parts: Sequence[LeveragedTokens]) -> LeveragedTokens:
        parts = list(parts)
        return cls(np.concatenate([p.market for p in parts]), np.concatenate([p.leverage for p in parts]),
                   np.concatenate([p.nav for p in parts]), np.concatenate([p.threshold for p in parts]),
                   np.concatenate([p.rebalance_price for p in parts]), np.concatenate([p.units for p in parts]))


#: Token products: leverage and rebalance threshold. Shaped like the 3x long and 3x short
#: (inverse) tokens exchanges have listed, which rebalance at a fixed time each day and in
#: between when the underlying moves far enough; the static cascade uses the threshold (a
#: parameter here, not any one issuer's published figure).
TOKEN_PRODUCTS: dict[str, tuple[float, float]] = {"3L": (3.0, 0.10), "3S": (-3.0, 0.10)}


def token_presets(market: str | int, nav: Mapping[str, float], *, nav_per_unit: float = 10.0) -> LeveragedTokens:
    """Tokens on ``market`` from :data:`TOKEN_PRODUCTS` by name (``{"3L": 20e6, "3S": 5e6}``:
    each product's NAV), ``units = nav / nav_per_unit``."""
    if not isinstance(nav, Mapping):
        raise TypeError(f"nav: expected a dict of product name to NAV, got {type(nav).__name__}")
    rows = []
    for name, value in nav.items():
        if name not in TOKEN_PRODUCTS:
            raise ValueError(f"nav: no token product named {name!r} (products: {', '.join(TOKEN_PRODUCTS)})")
        leverage, threshold = TOKEN_PRODUCTS[name]
        rows.append((leverage, real_scalar(value, f"nav[{name!r}]"), threshold))
    arr = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return LeveragedTokens(np.full(arr.shape[0], market), arr[:, 0], arr[:, 1], arr[:, 2],
                           units=arr[:, 1] / real_scalar(nav_per_unit, "nav_per_unit"))


def token_rebalance(leverage: float, nav: float, rebalance_price: float, price: float) -> dict[str, Any]:
    """The engine's rebalance rule for one token at ``price``: ``return`` ``r``, ``nav_marked``
    ``N (1 + L r)``, ``notional`` (signed: ``L (L - 1) r N``, or ``-L N (1 + r)`` when wiped
    out), ``wiped_out``."""
    r, marked, notional, wiped = _core.token_rebalance(float(leverage), float(nav), float(rebalance_price),
                                                       float(price))
    return {"return": r, "nav_marked": marked, "notional": notional, "wiped_out": bool(wiped)}


@dataclass(frozen=True, eq=False)
class Funds:
    """Leverage-targeting funds. ``holdings``: base units held in each market, a dict of market
    name to column (markets not named: 0) or a (funds, markets) array in the venue's order;
    ``equity`` at the reference prices (in ``(0, assets]``: debt = assets - equity >= 0),
    ``target_leverage`` ``>= 1``, ``max_leverage`` (the buffer) ``>= target_leverage``.

    In the static venue cascade a fund is read in a round when one of the markets it holds is
    fresh (it has moved, and its last price or the directions it has moved differ from the
    previous round's start): assets ``A = sum q_m p_m`` at the round's start prices, equity
    ``E = A - debt``. It deleverages when ``E <= 0`` or ``A > max_leverage * E``: it sells the
    fraction ``f = (A - target * E) / A`` (1 when ``E <= 0``) of every holding, after the
    round's liquidations, stops and tokens; what the sales fetch pays down its debt."""

    holdings: Any
    equity: Any
    target_leverage: Any
    max_leverage: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.holdings, Mapping):
            n = common_length(**{f"holdings[{k!r}]": v for k, v in self.holdings.items()}) if self.holdings else None
            holdings: Any = {str(k): readonly(float_column(v, f"holdings[{k!r}]", n)) for k, v in self.holdings.items()}
            if n is None:
                raise ValueError("holdings: give at least one market's column")
        else:
            arr = np.asarray(self.holdings, dtype=np.float64)
            if arr.ndim != 2:
                raise ValueError(f"holdings: expected a dict of market to column or a 2-D array, got shape {arr.shape}")
            n = arr.shape[0]
            holdings = readonly(np.ascontiguousarray(arr))
        object.__setattr__(self, "holdings", holdings)
        object.__setattr__(self, "equity", readonly(float_column(self.equity, "equity", n)))
        object.__setattr__(self, "target_leverage", readonly(float_column(self.target_leverage, "target_leverage", n)))
        maximum = self.target_leverage if self.max_leverage is None else self.max_leverage
        object.__setattr__(self, "max_leverage", readonly(float_column(maximum, "max_leverage", n)))

    def __len__(self) -> int:
        return int(self.equity.shape[0])

    def matrix(self, venue: Venue) -> FloatArray:
        """The holdings as a (funds, markets) array in the venue's market order."""
        names = venue.market_names
        if isinstance(self.holdings, dict):
            out = np.zeros((len(self), len(names)))
            for name, column in self.holdings.items():
                if name not in names:
                    raise ValueError(f"holdings: no market named {name!r} (markets: {', '.join(map(repr, names))})")
                out[:, names.index(name)] = column
            return out
        if self.holdings.shape[1] != len(names):
            raise ValueError(f"holdings: expected {len(names)} columns (one per market), got {self.holdings.shape[1]}")
        return np.array(self.holdings)

    def __reduce__(self) -> tuple[Any, ...]:
        holdings = dict(self.holdings) if isinstance(self.holdings, dict) else np.array(self.holdings)
        return (type(self), (holdings, np.array(self.equity), np.array(self.target_leverage),
                             np.array(self.max_leverage)))


def core_agents(state: Any, venue: Venue, stops: StopOrders | None, tokens: LeveragedTokens | None,
                funds: Funds | None) -> Any:
    """The core's VenueAgents for a core VenueState (None when there are none)."""
    if stops is None and tokens is None and funds is None:
        return None
    for value, kind, name in ((stops, StopOrders, "stops"), (tokens, LeveragedTokens, "tokens"),
                              (funds, Funds, "funds")):
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"{name}: expected liqcascade.agents.{kind.__name__}, got {type(value).__name__}")
    empty_i = np.zeros(0, dtype=np.int64)
    empty_f = np.zeros(0)
    if stops is None:
        s = (empty_i, np.zeros(0, dtype=np.int8), empty_f, empty_f)
    else:
        s = (_market_index(stops.market, venue, "stops.market"), np.asarray(stops.side), np.asarray(stops.qty),
             np.asarray(stops.price))
    if tokens is None:
        t: tuple[Any, ...] = (empty_i, empty_f, empty_f, empty_f, empty_f)
    else:
        t = (_market_index(tokens.market, venue, "tokens.market"), np.asarray(tokens.leverage),
             np.asarray(tokens.nav), np.asarray(tokens.threshold), np.asarray(tokens.rebalance_price))
    if funds is None:
        f: tuple[Any, ...] = (0, empty_f, empty_f, empty_f, empty_f)
    else:
        f = (len(funds), np.asarray(funds.equity), np.asarray(funds.target_leverage), np.asarray(funds.max_leverage),
             funds.matrix(venue).ravel())
    return _core.VenueAgents(state, *s, *t, *f)
