"""A venue of many markets: cross-margin accounts, collateral assets with haircuts, isolated
positions, and the static cascade over them (docs/design.md, "Many markets").

(``venues.py`` holds a venue's *rule set* for one market — ``venue_rules("binance")`` — which
:meth:`Market.from_rules` applies to one market of a :class:`Venue`.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._table import ColumnTable
from ._validation import FloatArray, common_length, float_column, int_scalar, readonly, real_scalar, side_column
from .book import OrderBook
from .positions import DEFAULT_MMR, Basis, MaintenanceTiers, TierRule, _margin_rules

if TYPE_CHECKING:
    from .agents import Funds, LeveragedTokens, StopOrders
    from .venues import VenueRules

__all__ = ["Accounts", "Asset", "Market", "Venue", "VenueCascadeResult", "VenuePositions", "VenueState",
           "venue_cascade"]


def _name(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field}: expected a str, got {type(value).__name__}")
    return value


@dataclass(frozen=True, eq=False)
class Market:
    """One market of a venue: its book and how its positions are margined.

    ``tiers`` (a :class:`MaintenanceTiers`) gives each position's ``mmr`` and ``maint_amount``:
    an isolated position's by ``tier_rule`` (as :class:`Positions`), a cross position's from
    its notional at the market's price whenever it is valued (at ``basis="entry"``: at entry).
    Without tiers, each position's own ``mmr``/``maint_amount`` apply. ``ref_price`` defaults
    to the book's mid. A spot book that only collateral sales trade is a market with no
    positions.
    """

    name: str
    book: OrderBook
    tiers: MaintenanceTiers | None = None
    basis: Basis = "mark"
    close_fee: float = 0.0
    tier_rule: TierRule | None = None
    ref_price: float | None = None
    _market: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _name(self.name, "name")
        if not isinstance(self.book, OrderBook):
            raise TypeError(f"book: expected liqcascade.OrderBook, got {type(self.book).__name__}")
        if self.tiers is not None and not isinstance(self.tiers, MaintenanceTiers):
            raise TypeError(f"tiers: expected liqcascade.MaintenanceTiers, got {type(self.tiers).__name__}")
        rule, tier_rule = _margin_rules(self.basis, self.close_fee, self.tier_rule)
        ref = None if self.ref_price is None else real_scalar(self.ref_price, "ref_price")
        market = _core.VenueMarket(self.name, self.book._book, None if self.tiers is None else self.tiers._table,
                                   rule, tier_rule, ref)
        object.__setattr__(self, "_market", market)

    @classmethod
    def from_rules(cls, name: str, book: OrderBook, rules: VenueRules, *, ref_price: float | None = None) -> Market:
        """A market under a venue's rule set (``liqcascade.venues.venue_rules(...)``): its tier
        table, basis, close fee and tier rule."""
        return cls(name, book, rules.tiers, rules.basis, rules.close_fee, rules.tier_rule, ref_price)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.book, self.tiers, self.basis, self.close_fee, self.tier_rule,
                             self.ref_price))


@dataclass(frozen=True)
class Asset:
    """A collateral asset: priced by a market's last price (``priced_by``, a market name; its
    balances are sold into that market when an account is liquidated), on an index that follows
    a market (``index=(market, ratio)``: valued at ``ratio x`` that market's last price, as
    Binance values wBETH on ETH times its conversion rate; with ``priced_by`` its balances are
    still sold into its own market, without it they are not sold), or at a fixed ``price`` (an
    external index; never sold). A positive balance counts at ``price * (1 - haircut)``, a
    negative one (a loan) in full; ``floor``: valued at no less than it."""

    name: str
    priced_by: str | None = None
    price: float | None = None
    haircut: float = 0.0
    floor: float | None = None
    index: tuple[str, float] | None = None

    def __post_init__(self) -> None:
        _name(self.name, "name")
        if self.price is not None and (self.priced_by is not None or self.index is not None):
            raise ValueError(f"assets['{self.name}']: a fixed price excludes priced_by and index")
        if self.price is None and self.priced_by is None and self.index is None:
            raise ValueError(f"assets['{self.name}']: give exactly one of priced_by (a market) and price (fixed), "
                             "or an index (market, ratio)")
        if self.priced_by is not None:
            _name(self.priced_by, "priced_by")
        if self.index is not None:
            if not isinstance(self.index, tuple | list) or len(self.index) != 2:
                raise TypeError(f"index: expected (market name, ratio), got {self.index!r}")
            object.__setattr__(self, "index", (_name(self.index[0], "index[0]"),
                                               real_scalar(self.index[1], "index[1]")))
        for name in ("price", "haircut", "floor"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, real_scalar(value, name))


class Venue:
    """Markets and collateral assets. The quote asset (``quote``, price 1) is asset 0; ``assets``
    are the others. Range checks are the core's (``ValueError`` naming ``markets[i].field`` or
    ``assets[k].field``)."""

    __slots__ = ("markets", "assets", "quote", "_venue")

    def __init__(self, markets: Sequence[Market], assets: Sequence[Asset] = (), *, quote: str = "USDT") -> None:
        markets = list(markets)
        assets = list(assets)
        for i, m in enumerate(markets):
            if not isinstance(m, Market):
                raise TypeError(f"markets[{i}]: expected liqcascade.venue.Market, got {type(m).__name__}")
        for k, a in enumerate(assets):
            if not isinstance(a, Asset):
                raise TypeError(f"assets[{k}]: expected liqcascade.venue.Asset, got {type(a).__name__}")
        names = [m.name for m in markets]
        core_assets = [_core.VenueAsset(_name(quote, "quote"))]
        def market_of(name: str, field: str) -> int:
            if name not in names:
                raise ValueError(f"{field}: no market named {name!r} (markets: {', '.join(map(repr, names))})")
            return names.index(name)

        for k, a in enumerate(assets):
            index = -1 if a.priced_by is None else market_of(a.priced_by, f"assets[{k}].priced_by")
            follows, ratio = (-1, 1.0) if a.index is None else (market_of(a.index[0], f"assets[{k}].index"),
                                                                 a.index[1])
            core_assets.append(_core.VenueAsset(a.name, index, 1.0 if a.price is None else a.price, a.haircut,
                                                0.0 if a.floor is None else a.floor, follows, ratio))
        self.markets: tuple[Market, ...] = tuple(markets)
        self.assets: tuple[Asset, ...] = tuple(assets)
        self.quote = quote
        self._venue = _core.Venue([m._market for m in markets], core_assets)

    @property
    def market_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.markets)

    @property
    def asset_names(self) -> tuple[str, ...]:
        """The quote asset first, then the others."""
        return (self.quote, *(a.name for a in self.assets))

    def market_index(self, name: str) -> int:
        names = self.market_names
        if name not in names:
            raise ValueError(f"no market named {name!r} (markets: {', '.join(map(repr, names))})")
        return names.index(name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_venue, (self.markets, self.assets, self.quote))

    def __repr__(self) -> str:
        return f"Venue(markets={list(self.market_names)}, assets={list(self.asset_names)})"


def _rebuild_venue(markets: Sequence[Market], assets: Sequence[Asset], quote: str) -> Venue:
    return Venue(markets, assets, quote=quote)


@dataclass(frozen=True, eq=False)
class Accounts:
    """Cross-margin accounts as columns: each account's balance of each asset (``collateral``,
    a dict of asset name to a column; an asset not given is 0 everywhere; negative balances are
    loans). Accounts are numbered by row. ``count`` is needed only when no column is given."""

    collateral: Mapping[str, FloatArray] = field(default_factory=dict)
    count: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.collateral, Mapping):
            raise TypeError("collateral: expected a dict of asset name to column, got "
                            f"{type(self.collateral).__name__}")
        columns = {_name(k, "collateral key"): v for k, v in self.collateral.items()}
        n = None if self.count is None else int_scalar(self.count, "count", minimum=0)
        if columns:
            length = common_length(**{f"collateral[{k!r}]": v for k, v in columns.items()})
            if n is not None and n != length and any(np.ndim(v) for v in columns.values()):
                raise ValueError(f"count: {n} does not match the collateral columns' length {length}")
            n = length if n is None or any(np.ndim(v) for v in columns.values()) else n
        if n is None:
            raise ValueError("count: needed when no collateral column is given")
        object.__setattr__(self, "collateral",
                           {k: readonly(float_column(v, f"collateral[{k!r}]", n)) for k, v in columns.items()})
        object.__setattr__(self, "count", n)

    def __len__(self) -> int:
        return int(self.count or 0)

    def matrix(self, venue: Venue) -> FloatArray:
        """The balances as a (count, assets) array in the venue's asset order."""
        names = venue.asset_names
        for k in self.collateral:
            if k not in names:
                raise ValueError(f"collateral: no asset named {k!r} in the venue "
                                 f"(assets: {', '.join(map(repr, names))})")
        out = np.zeros((len(self), len(names)))
        for j, name in enumerate(names):
            if name in self.collateral:
                out[:, j] = self.collateral[name]
        return out


def _int_column(value: Any, field: str, length: int) -> npt.NDArray[np.int64]:
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(length, arr)
    if arr.ndim != 1 or arr.shape[0] != length:
        raise ValueError(f"{field}: expected a 1-D array of length {length}, got shape {arr.shape}")
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iu":
        raise TypeError(f"{field}: expected integers, got an array of dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class VenuePositions:
    """Positions across a venue's markets, as columns.

    ``market``: each position's market, by name (a str array) or index. ``account``: the cross
    account holding it, or -1 for an isolated position (the default). An isolated position
    carries its own ``margin``; a cross position's margin is its account's (``margin`` must be
    0). ``mmr``/``maint_amount`` apply in markets without tiers (default ``DEFAULT_MMR``, 0).
    Scalars broadcast.
    """

    side: Any
    qty: Any
    entry_price: Any
    market: Any
    margin: Any = 0.0
    account: Any = -1
    mmr: Any = None
    maint_amount: Any = None

    def __post_init__(self) -> None:
        market = np.asarray(self.market)
        numeric = {"qty": self.qty, "entry_price": self.entry_price, "margin": self.margin, "mmr": self.mmr,
                   "maint_amount": self.maint_amount, "account": self.account}
        if market.dtype.kind not in "US":
            numeric["market"] = market
        n = common_length(**numeric)
        if market.dtype.kind in "US" and market.ndim == 1 and all(np.ndim(v) == 0 for v in numeric.values()):
            n = market.shape[0]
        values = {
            "side": side_column(self.side, n),
            "qty": float_column(self.qty, "qty", n),
            "entry_price": float_column(self.entry_price, "entry_price", n),
            "margin": float_column(self.margin, "margin", n),
            "mmr": float_column(DEFAULT_MMR if self.mmr is None else self.mmr, "mmr", n),
            "maint_amount": float_column(0.0 if self.maint_amount is None else self.maint_amount, "maint_amount", n),
            "account": _int_column(self.account, "account", n),
        }
        if market.dtype.kind in "US":
            market = np.broadcast_to(market, (n,)) if market.ndim == 0 else market
            if market.shape != (n,):
                raise ValueError(f"market: expected {n} names, got shape {market.shape}")
            values["market"] = readonly(np.ascontiguousarray(market))
        else:
            values["market"] = _int_column(market, "market", n)
        for name, value in values.items():
            object.__setattr__(self, name, readonly(value) if isinstance(value, np.ndarray) else value)

    def __len__(self) -> int:
        return int(self.qty.shape[0])

    def market_index(self, venue: Venue) -> npt.NDArray[np.int64]:
        market = np.asarray(self.market)
        if market.dtype.kind in "US":
            names = np.asarray(venue.market_names)
            order = np.argsort(names)
            pos = np.searchsorted(names[order], market)
            pos = np.minimum(pos, len(names) - 1)
            found = names[order][pos] == market
            if not found.all():
                i = int(np.flatnonzero(~found)[0])
                raise ValueError(f"market[{i}]: no market named {str(market[i])!r} "
                                 f"(markets: {', '.join(map(repr, venue.market_names))})")
            return np.ascontiguousarray(order[pos], dtype=np.int64)
        return np.ascontiguousarray(market, dtype=np.int64)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (np.array(self.side), np.array(self.qty), np.array(self.entry_price),
                             np.array(self.market), np.array(self.margin), np.array(self.account),
                             np.array(self.mmr), np.array(self.maint_amount)))


class VenueState:
    """A venue with its positions and accounts, validated and indexed once (each market's
    isolated positions in trigger order; accounts by the prices at which they may first
    trigger): cascades over it cost what they touch. Agents (``stops``, ``tokens``, ``funds``:
    :mod:`liqcascade.agents`) trade in its cascades' rounds. Pickles through its inputs."""

    __slots__ = ("venue", "positions", "accounts", "stops", "tokens", "funds", "_state", "_agents", "__dict__")

    def __init__(self, venue: Venue, positions: VenuePositions, accounts: Accounts | None = None, *,
                 stops: StopOrders | None = None, tokens: LeveragedTokens | None = None,
                 funds: Funds | None = None) -> None:
        from .agents import core_agents

        if not isinstance(venue, Venue):
            raise TypeError(f"venue: expected liqcascade.venue.Venue, got {type(venue).__name__}")
        if not isinstance(positions, VenuePositions):
            raise TypeError(f"positions: expected liqcascade.venue.VenuePositions, got {type(positions).__name__}")
        if accounts is None:
            accounts = Accounts(count=0)
        if not isinstance(accounts, Accounts):
            raise TypeError(f"accounts: expected liqcascade.venue.Accounts, got {type(accounts).__name__}")
        self.venue, self.positions, self.accounts = venue, positions, accounts
        p = positions
        self._state = _core.VenueState(
            venue._venue, np.asarray(p.side), np.asarray(p.qty), np.asarray(p.entry_price), np.asarray(p.margin),
            np.asarray(p.mmr), np.asarray(p.maint_amount), p.market_index(venue), np.asarray(p.account),
            len(accounts), accounts.matrix(venue).ravel())
        self.stops, self.tokens, self.funds = stops, tokens, funds
        self._agents = core_agents(self._state, venue, stops, tokens, funds)

    @cached_property
    def ref_price(self) -> FloatArray:
        """Each market's reference price."""
        return readonly(self._state.ref_price)

    @cached_property
    def liquidation_price(self) -> FloatArray:
        """Per position: an isolated position's liquidation price (NaN for cross positions)."""
        return readonly(self._state.liquidation_price)

    @cached_property
    def equity_before(self) -> FloatArray:
        """Per account: equity at the reference prices."""
        return readonly(self._state.equity_ref)

    @cached_property
    def maintenance_before(self) -> FloatArray:
        """Per account: maintenance requirement at the reference prices."""
        return readonly(self._state.maintenance_ref)

    def equity_at(self, prices: Mapping[str, float] | Sequence[float]) -> FloatArray:
        """Every account's equity at these market prices (a dict by name, or one per market)."""
        return self._state.equity_at(self._prices(prices))

    def maintenance_at(self, prices: Mapping[str, float] | Sequence[float]) -> FloatArray:
        """Every account's maintenance requirement at these market prices."""
        return self._state.maintenance_at(self._prices(prices))

    @cached_property
    def trigger_prices(self) -> ColumnTable:
        """Each cross account's trigger price in each market it is exposed to (a position, or a
        collateral balance valued on that market), that market alone moved and every other at
        its reference: ``account``, ``market`` (name), ``down`` (the highest price at or below
        the reference at which equity <= maintenance; NaN: no fall triggers it) and ``up`` (the
        lowest at or above it). An account already past its trigger has both at the reference.
        Found in the core on the piecewise-linear segments of equity - maintenance (docs/design.md,
        "Liquidation map of a venue"); O(accounts x their positions x tiers)."""
        raw = self._state.account_trigger_prices()
        names = np.array(self.venue.market_names)
        return ColumnTable({"account": raw["account"], "market": names[raw["market"]], "down": raw["down"],
                            "up": raw["up"]})

    def _prices(self, prices: Mapping[str, float] | Sequence[float]) -> FloatArray:
        if isinstance(prices, Mapping):
            out = np.array(self.ref_price, dtype=np.float64)
            for name, value in prices.items():
                out[self.venue.market_index(name)] = real_scalar(value, f"prices[{name!r}]")
            return out
        return float_column(prices, "prices", len(self.venue.markets))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_state, (self.venue, self.positions, self.accounts, self.stops, self.tokens, self.funds))


def _rebuild_state(venue: Venue, positions: VenuePositions, accounts: Accounts, stops: Any, tokens: Any,
                   funds: Any) -> VenueState:
    return VenueState(venue, positions, accounts, stops=stops, tokens=tokens, funds=funds)


@dataclass(frozen=True, eq=False)
class VenueCascadeResult:
    """What a venue's static cascade did.

    ``markets``: one row per market (``market``, prices and moves, ``n_liquidated``,
    ``liquidated_qty``/``_notional``, ``unfilled_qty``, collateral ``sold_qty``/``_notional``,
    ``crossed_qty`` (orders matched against each other at a round's start price),
    ``bad_debt`` of its isolated positions, ``book_exhausted``, what was taken from each book
    side). ``rounds`` and ``bad_debt`` are venue-wide (isolated positions' plus accounts').
    ``trace``: one row per round and market that had orders. ``accounts``: one row per
    liquidated account, in liquidation order (``account``, ``round``, ``equity`` and
    ``maintenance`` at the round's start, ``equity_after`` (what its fills and sales left,
    unclosed remainders at the final prices), ``bad_debt``). Per position: ``liquidated`` and
    ``fill_price``; per account: ``account_liquidated``, ``equity_before``, ``equity_after``,
    ``account_bad_debt``.

    Agents (:mod:`liqcascade.agents`): per market and kind (``stop``, ``token``, ``fund``),
    ``{kind}_orders``, ``{kind}_sold_qty``, ``{kind}_bought_qty``, ``{kind}_notional`` (what
    filled) and ``{kind}_unfilled_qty``; the trace's ``end_price``, ``stop_qty``, ``token_qty``,
    ``fund_qty`` (ordered). ``stops``: one row per stop fired (``stop``, ``round``,
    ``filled_qty``, ``fill_price``). ``token_rebalances``: one row per rebalance (``token``,
    ``round``, ``price`` (the round's start), ``return`` since the last rebalance,
    ``order_qty`` (signed, + buys), ``filled_qty``, ``notional``, ``nav_after``).
    ``fund_sales``: one row per deleveraging (``fund``, ``round``, ``assets``, ``equity`` at the
    round's start, ``fraction`` of every holding sold, ``sale_value`` = fraction x assets,
    ``notional`` fetched). Per token ``token_nav`` at the end: a token wiped out can end below
    zero, and what it then owes is ``token_bad_debt`` (its issuer's shortfall, ``sum max(0,
    -NAV)``; per market in ``markets``), kept apart from ``bad_debt`` (the venue's: isolated
    positions' and accounts'). Per fund ``fund_equity_after``
    and ``fund_debt_after`` (final prices) and ``fund_holdings_after`` (funds x markets).
    :meth:`channels` sums what each channel carried per market.
    """

    markets: ColumnTable
    rounds: int
    bad_debt: float
    trace: ColumnTable
    accounts: ColumnTable
    liquidated_index: npt.NDArray[np.int64] = field(repr=False)
    liquidated_filled_qty: FloatArray = field(repr=False)
    liquidated_fill_price: FloatArray = field(repr=False)
    state: VenueState = field(repr=False)
    stops: ColumnTable = field(repr=False)
    token_rebalances: ColumnTable = field(repr=False)
    fund_sales: ColumnTable = field(repr=False)
    token_nav: FloatArray = field(repr=False)
    fund_equity_after: FloatArray = field(repr=False)
    fund_debt_after: FloatArray = field(repr=False)
    fund_holdings_after: FloatArray = field(repr=False)
    token_bad_debt: float = 0.0

    def channels(self) -> ColumnTable:
        """Per market, the notional each channel carried (what filled, in quote): ``liquidations``
        (positions closed), ``collateral_sales``, ``stops``, ``token_rebalancing``,
        ``fund_deleveraging``; and ``total``."""
        m = self.markets
        out = {"market": m["market"], "liquidations": m["liquidated_notional"],
               "collateral_sales": m["sold_notional"], "stops": m["stop_notional"],
               "token_rebalancing": m["token_notional"], "fund_deleveraging": m["fund_notional"]}
        out["total"] = np.sum([out[k] for k in list(out)[1:]], axis=0)
        return ColumnTable(out)

    def market(self, name: str) -> dict[str, Any]:
        """One market's row, as plain Python values."""
        i = self.state.venue.market_index(name)
        return {k: (v[i].item() if isinstance(v[i], np.generic) else v[i]) for k, v in self.markets.to_dict().items()}

    @cached_property
    def liquidated(self) -> npt.NDArray[np.bool_]:
        """One bool per position: closed by the cascade (isolated, or its account's)."""
        out = np.zeros(len(self.state.positions), dtype=bool)
        out[self.liquidated_index] = True
        return out

    @cached_property
    def fill_price(self) -> FloatArray:
        """One float per position: the VWAP of its fills, NaN where none."""
        out = np.full(len(self.state.positions), np.nan)
        out[self.liquidated_index] = self.liquidated_fill_price
        return out

    @cached_property
    def account_liquidated(self) -> npt.NDArray[np.bool_]:
        out = np.zeros(len(self.state.accounts), dtype=bool)
        out[self.accounts["account"]] = True
        return out

    @property
    def equity_before(self) -> FloatArray:
        """Per account: equity at the reference prices."""
        return self.state.equity_before

    @cached_property
    def equity_after(self) -> FloatArray:
        """Per account: a survivor's equity at the final prices; a liquidated account's
        ``equity_after`` (its settlement). O(accounts) on first use."""
        out = np.array(self.state.equity_at(list(self.markets["final_price"])))
        out[self.accounts["account"]] = self.accounts["equity_after"]
        return out

    @cached_property
    def account_bad_debt(self) -> FloatArray:
        out = np.zeros(len(self.state.accounts))
        out[self.accounts["account"]] = self.accounts["bad_debt"]
        return out

    def __repr__(self) -> str:
        moves = zip(self.markets["market"], self.markets["final_move"], strict=True)
        rows = ", ".join(f"{name}: {move:+.2%}" for name, move in moves)
        return (f"VenueCascadeResult(rounds={self.rounds}, accounts liquidated={len(self.accounts)}, "
                f"bad_debt={self.bad_debt:.6g}, {rows})")


def _shock_list(venue: Venue, shocks: Mapping[str, float] | None, sell_qty: Mapping[str, float] | None,
                buy_qty: Mapping[str, float] | None) -> tuple[list[str], list[float]]:
    kinds = ["relative"] * len(venue.markets)
    values = [0.0] * len(venue.markets)
    seen: dict[str, str] = {}
    given_shocks = (("shocks", "relative", shocks), ("sell_qty", "sell", sell_qty), ("buy_qty", "buy", buy_qty))
    for arg, kind, given in given_shocks:
        if given is None:
            continue
        if not isinstance(given, Mapping):
            raise TypeError(f"{arg}: expected a dict of market name to value, got {type(given).__name__}")
        for name, value in given.items():
            i = venue.market_index(_name(name, f"{arg} key"))
            if name in seen:
                raise ValueError(f"{arg}[{name!r}]: market {name!r} already has a shock in {seen[name]}")
            seen[name] = arg
            kinds[i], values[i] = kind, real_scalar(value, f"{arg}[{name!r}]")
    return kinds, values


def venue_cascade(
    venue: Venue | VenueState,
    positions: VenuePositions | None = None,
    accounts: Accounts | None = None,
    *,
    shocks: Mapping[str, float] | None = None,
    sell_qty: Mapping[str, float] | None = None,
    buy_qty: Mapping[str, float] | None = None,
    stops: StopOrders | None = None,
    tokens: LeveragedTokens | None = None,
    funds: Funds | None = None,
) -> VenueCascadeResult:
    """One static cascade over a venue (docs/design.md, "Static cascade over a venue").

    ``venue`` is a :class:`Venue` (with ``positions`` and ``accounts``) or a :class:`VenueState`
    built once for many cascades. Shocks per market name: ``shocks`` (relative moves),
    ``sell_qty``/``buy_qty`` (exogenous market orders); markets not named are not shocked.
    Rounds: every isolated position the market's last price has reached (on a side its market
    has moved to) and every cross account with equity <= maintenance is liquidated together;
    in each market the round's orders cross each other at the round's start price and only the
    imbalance walks the book. With one market and only isolated positions this is
    :func:`liqcascade.cascade`, exactly. Agents (``stops``, ``tokens``, ``funds``; with a
    :class:`Venue`, or held by the :class:`VenueState`) trade in the same rounds after the
    liquidations (docs/design.md, "Agents").
    """
    if isinstance(venue, VenueState):
        if any(x is not None for x in (positions, accounts, stops, tokens, funds)):
            raise TypeError("venue_cascade: give positions, accounts and agents with a Venue, not with a VenueState")
        state = venue
    else:
        if positions is None:
            raise TypeError("venue_cascade: positions are required with a Venue")
        state = VenueState(venue, positions, accounts, stops=stops, tokens=tokens, funds=funds)
    kinds, values = _shock_list(state.venue, shocks, sell_qty, buy_qty)
    raw = _core.venue_cascade(state._state, kinds, values, state._agents)
    mk = dict(raw["markets"])
    mk["final_move"] = mk["final_price"] / mk["ref_price"] - 1.0
    mk["shock_move"] = mk["shock_price"] / mk["ref_price"] - 1.0
    columns = {"market": np.array(state.venue.market_names)}
    columns.update({k: mk[k] for k in ("ref_price", "shock_price", "final_price", "shock_move", "final_move")})
    columns.update({k: v for k, v in mk.items() if k not in columns})
    accounts_table = ColumnTable({
        "account": raw["account_index"], "round": raw["account_round"], "equity": raw["account_equity"],
        "maintenance": raw["account_maintenance"], "equity_after": raw["account_equity_after"],
        "bad_debt": raw["account_bad_debt"]})
    return VenueCascadeResult(
        markets=ColumnTable(columns), rounds=int(raw["rounds"]), bad_debt=float(raw["bad_debt"]),
        trace=ColumnTable(dict(raw["trace"])), accounts=accounts_table,
        liquidated_index=raw["liquidated_index"], liquidated_filled_qty=raw["filled_qty"],
        liquidated_fill_price=raw["fill_price"], state=state,
        stops=ColumnTable({"stop": raw["stop_index"], "round": raw["stop_round"], "filled_qty": raw["stop_filled_qty"],
                           "fill_price": raw["stop_fill_price"]}),
        token_rebalances=ColumnTable({
            "token": raw["token_index"], "round": raw["token_round"], "price": raw["token_price"],
            "return": raw["token_return"], "order_qty": raw["token_order_qty"], "filled_qty": raw["token_filled_qty"],
            "notional": raw["token_notional"], "nav_after": raw["token_nav_after"]}),
        fund_sales=ColumnTable({
            "fund": raw["fund_index"], "round": raw["fund_round"], "assets": raw["fund_assets"],
            "equity": raw["fund_equity"], "fraction": raw["fund_fraction"], "sale_value": raw["fund_sale_value"],
            "notional": raw["fund_notional"]}),
        token_nav=raw["token_nav"], fund_equity_after=raw["fund_equity_after"],
        fund_debt_after=raw["fund_debt_after"],
        fund_holdings_after=raw["fund_holdings_after"].reshape(-1, len(state.venue.markets)),
        token_bad_debt=float(raw["token_bad_debt"]))
