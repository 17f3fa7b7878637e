"""Isolated-margin positions of one market, and tiered maintenance margin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from . import _core
from ._validation import (
    FloatArray,
    choice,
    common_length,
    core_enum,
    first_bad,
    float_column,
    float_values,
    readonly,
    real_scalar,
    side_column,
)

#: Maintenance margin rate used when neither ``mmr`` nor ``tiers`` is given (0.5 %).
DEFAULT_MMR = 0.005

Basis = Literal["mark", "entry"]
TierRule = Literal["liquidation", "entry"]
LeverageLimit = Literal["reject", "clip", "ignore"]
Contract = Literal["linear", "inverse"]


def _margin_rules(basis: Any, close_fee: Any, tier_rule: Any) -> tuple[Any, Any]:
    """The engine's MarginRule and TierRule. ``tier_rule`` None is the venue rule of the basis:
    the tier at the liquidation price at mark basis, the entry notional's at entry basis (where
    the requirement is fixed at entry)."""
    rule = _core.MarginRule(core_enum(_core.MarginBasis, basis, "basis"), real_scalar(close_fee, "close_fee"))
    rule.validate()
    if tier_rule is None:
        tier_rule = "liquidation" if basis == "mark" else "entry"
    return rule, core_enum(_core.TierRule, tier_rule, "tier_rule")


@dataclass(frozen=True, eq=False)
class MaintenanceTiers:
    """A notional-tiered maintenance table (Binance's "leverage brackets").

    Tier ``k`` applies to a position whose notional is in ``(notional_floor[k],
    notional_floor[k+1]]`` (a notional on a boundary belongs to the lower tier, as on
    Binance); its requirement is ``mmr[k] * notional - maint_amount[k]``. ``maint_amount`` is
    the tier's "cum" that keeps the requirement continuous across boundaries; when omitted it
    is derived so: ``maint_amount[k] = maint_amount[k-1] + notional_floor[k] * (mmr[k] -
    mmr[k-1])``. ``max_leverage`` (optional) is the tier's leverage limit: a position whose
    entry notional falls in the tier may not be levered above it (``Positions``'
    ``leverage_limit``; a population draws such positions at the limit).

    Which tier a position takes is :class:`Positions`' ``tier_rule``: the tier of its notional
    at its own liquidation price (the venues' rule, the default) or at entry.
    """

    notional_floor: FloatArray
    mmr: FloatArray
    maint_amount: FloatArray = field(default=None)  # type: ignore[arg-type]
    max_leverage: FloatArray | None = None
    _table: Any = field(init=False, repr=False, compare=False)  # the engine's TierTable

    def __post_init__(self) -> None:
        floor = float_column(self.notional_floor, "notional_floor")
        n = floor.shape[0]
        if n == 0:
            raise ValueError("notional_floor: at least one tier is required")
        mmr = float_column(self.mmr, "mmr", n)
        table = _core.TierTable()
        table.notional_floor, table.mmr = floor.tolist(), mmr.tolist()
        if self.maint_amount is None:  # the continuity rule is the core's
            maint = np.asarray(_core.TierTable.continuous_maint_amount(table.notional_floor, table.mmr))
        else:
            maint = float_column(self.maint_amount, "maint_amount", n)
        table.maint_amount = maint.tolist()
        lev = None if self.max_leverage is None else float_column(self.max_leverage, "max_leverage", n)
        if lev is not None:
            table.max_leverage = lev.tolist()
        table.validate()  # the ranges: the core's rules and messages
        object.__setattr__(self, "_table", table)
        for name, value in (("notional_floor", floor), ("mmr", mmr), ("maint_amount", maint), ("max_leverage", lev)):
            object.__setattr__(self, name, None if value is None else readonly(value))

    @classmethod
    def binance_btcusdt(cls) -> MaintenanceTiers:
        """Binance USD-M BTCUSDT brackets (notional floor, mmr, cum, max leverage), 2024."""
        return cls(
            notional_floor=np.array([0, 5e4, 6e5, 3e6, 1.2e7, 7e7, 1e8, 2.3e8, 4.8e8, 6e8, 8e8, 1.2e9]),
            mmr=np.array([0.004, 0.005, 0.0065, 0.01, 0.02, 0.025, 0.05, 0.1, 0.125, 0.15, 0.25, 0.5]),
            maint_amount=np.array([0, 50, 950, 11_450, 131_450, 481_450, 2_981_450, 14_481_450,
                                   26_481_450, 41_481_450, 121_481_450, 421_481_450], dtype=np.float64),
            max_leverage=np.array([125, 100, 75, 50, 25, 20, 10, 5, 4, 3, 2, 1], dtype=np.float64),
        )

    def __len__(self) -> int:
        return int(self.notional_floor.shape[0])

    def tier_of(self, notional: Any) -> npt.NDArray[np.intp]:
        """The tier index of each notional (``ValueError`` for negative or non-finite ones)."""
        return self._table.tier_of(float_values(notional, "notional"))

    def assign(self, notional: Any) -> tuple[FloatArray, FloatArray]:
        """``(mmr, maint_amount)`` of the tier of each notional."""
        tier = self.tier_of(notional)
        return self.mmr[tier], self.maint_amount[tier]

    def requirement(self, notional: Any) -> FloatArray:
        """The maintenance requirement ``mmr[k] * notional - maint_amount[k]`` of each notional
        in its own tier ``k``."""
        values = float_values(notional, "notional")
        mmr, maint = self.assign(values)
        return mmr * values - maint

    def __repr__(self) -> str:
        return f"MaintenanceTiers({len(self)} tiers, mmr {self.mmr[0]:g}..{self.mmr[-1]:g})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and copy through the constructor (the columns come back checked and read-only)."""
        return (type(self), (self.notional_floor, self.mmr, self.maint_amount, self.max_leverage))


def _rebuild_positions(columns: dict[str, np.ndarray], prepared: bool, basis: Basis = "mark",
                       close_fee: float = 0.0, contract: Contract = "linear", contract_size: float = 1.0,
                       tiers: MaintenanceTiers | None = None) -> Positions:
    # fresh arrays of the canonical dtypes: an unpickled int8 array carries an equal but not
    # identical dtype object, which the bindings' dtype check (an identity test) refuses
    side, qty, entry, margin, mmr, maint = (np.asarray(columns[name]).astype(np.int8 if name == "side" else np.float64)
                                            for name in ("side", "qty", "entry_price", "margin", "mmr", "maint_amount"))
    positions = Positions(side, qty, entry, margin, mmr, maint, basis=basis, close_fee=close_fee, contract=contract,
                          contract_size=contract_size, copy=False)
    positions._tiers = tiers  # (the tiers are already resolved into mmr and maint_amount)
    return positions.prepare() if prepared else positions


def _in_place(value: np.ndarray) -> np.ndarray:
    """A column used without a copy (``copy=False``): the array itself is made read-only."""
    if value.flags.writeable:
        value.flags.writeable = False
    return value


class Positions:
    """Isolated-margin positions of one market, as columns.

    ``side`` is +1 (long) or -1 (short); ``qty`` in base units (> 0); ``entry_price`` > 0;
    ``margin`` >= 0 in quote; ``mmr`` in [0, 1) and ``maint_amount`` (Binance's "cum") define
    the maintenance requirement at price ``p``::

        MM = mmr * qty * p_basis - maint_amount + close_fee * qty * p

    where ``p_basis`` is ``p`` (``basis="mark"``: Binance, Hyperliquid, OKX) or the entry price
    (``basis="entry"``: Bybit's isolated USDT contracts, BitMEX), and ``close_fee`` is the
    taker rate of the closing order on venues that count it in maintenance (OKX, Gate, Bybit's
    unified account; 0 elsewhere). A position is liquidated when its equity ``margin + side *
    qty * (p - entry_price)`` is at or below ``MM``. Scalars broadcast.

    With ``tiers``, each position's ``mmr`` and ``maint_amount`` come from a tier table:
    ``tier_rule="liquidation"`` (the default at mark basis; Binance and Hyperliquid) takes the
    tier of its notional *at its liquidation price*, ``"entry"`` (the default at entry basis)
    the tier of its entry notional. A table with ``max_leverage`` caps each position's
    leverage ``qty * entry_price / margin`` at its entry tier's: ``leverage_limit="reject"``
    (default) raises ``ValueError`` naming ``leverage``, ``"clip"`` raises the margin to the
    limit, ``"ignore"`` keeps it.

    ``contract="inverse"`` makes it a coin-margined market (BitMEX XBTUSD, Binance COIN-M,
    OKX and Bybit inverse perpetuals): ``qty`` is a number of contracts of ``contract_size``
    USD each, ``entry_price`` in USD per coin, ``margin`` and ``maint_amount`` in coin; PnL is
    ``side * qty * contract_size * (1/entry - 1/p)`` coin and the requirement ``mmr * qty *
    contract_size / p - maint_amount`` coin (at mark basis), so tiers apply to the coin
    notional. The book of an inverse market is in contracts. The engine runs it as the
    reciprocal market (``1/p``), where it is exactly linear (docs/design.md, "Inverse
    contracts").

    The set owns its data: the columns are copied (33 MB for 1,000,000 positions, a few
    milliseconds), so changing the arrays passed in afterwards changes nothing here. With
    ``copy=False`` the arrays that already are contiguous float64 (int8 for ``side``) are used
    in place and made read-only (``flags.writeable = False``) for good: write to a copy, not
    through another view of the same memory, while the set is in use. Liquidation thresholds
    are sorted once (on the first cascade, or :meth:`prepare`) and reused by every later
    cascade.
    """

    __slots__ = ("_set", "_columns", "_tiers")  # (an inverse set's side, qty and entry_price: the user's columns)

    def __init__(
        self,
        side: Any,
        qty: Any,
        entry_price: Any,
        margin: Any,
        mmr: Any = None,
        maint_amount: Any = None,
        *,
        tiers: MaintenanceTiers | None = None,
        basis: Basis = "mark",
        close_fee: float = 0.0,
        tier_rule: TierRule | None = None,
        leverage_limit: LeverageLimit = "reject",
        contract: Contract = "linear",
        contract_size: float = 1.0,
        copy: bool = True,
    ) -> None:
        if not isinstance(copy, (bool, np.bool_)):
            raise TypeError(f"copy: expected a bool, got {type(copy).__name__}")
        rule, core_tier_rule = _margin_rules(basis, close_fee, tier_rule)
        inverse = choice(contract, "contract", ("linear", "inverse")) == "inverse"
        size = real_scalar(contract_size, "contract_size")
        n = common_length(side=side, qty=qty, entry_price=entry_price, margin=margin, mmr=mmr,
                          maint_amount=maint_amount)
        columns: dict[str, Any] = {
            "side": side_column(side, n),
            "qty": float_column(qty, "qty", n),
            "entry_price": float_column(entry_price, "entry_price", n),
            "margin": float_column(margin, "margin", n),
        }
        user: dict[str, Any] = {}
        if inverse:  # the reciprocal market's linear positions (the core's transform)
            user = {name: readonly(np.array(columns[name])) for name in ("side", "qty", "entry_price")}
            columns["side"], columns["qty"], columns["entry_price"] = _core.reciprocal_positions(
                columns["side"], columns["qty"], columns["entry_price"], size)
        elif size != 1.0:
            raise ValueError("contract_size: only an inverse contract has a size (contract='inverse')")
        if tiers is not None:
            if not isinstance(tiers, MaintenanceTiers):
                raise TypeError(f"tiers: expected MaintenanceTiers, got {type(tiers).__name__}")
            if mmr is not None or maint_amount is not None:
                raise ValueError("tiers: give either tiers or mmr/maint_amount, not both")
            limit = core_enum(_core.LeverageLimit, leverage_limit, "leverage_limit")
            # the tier and leverage rules are the core's (margin.hpp, assign_tiers)
            columns["mmr"], columns["maint_amount"], columns["margin"], _ = tiers._table.assign(
                columns["side"], columns["qty"], columns["entry_price"], columns["margin"], rule, core_tier_rule,
                limit)
        else:
            choice(leverage_limit, "leverage_limit", ("reject", "clip", "ignore"))
            columns["mmr"] = float_column(DEFAULT_MMR if mmr is None else mmr, "mmr", n)
            columns["maint_amount"] = float_column(0.0 if maint_amount is None else maint_amount, "maint_amount", n)
        if not copy:
            columns = {name: _in_place(value) for name, value in columns.items()}
        # with copy, the engine copies the columns into its own recycled buffers (no page faults
        # on fresh memory when sets are built in a loop); the getters are read-only views of them
        self._tiers = tiers
        self._set = _core.PositionSet(**columns, copy=bool(copy), rule=rule, inverse_size=size if inverse else 0.0)
        self._columns = {name: self._set.column(name) for name in columns} | user

    @classmethod
    def from_leverage(
        cls,
        side: Any,
        qty: Any,
        entry_price: Any,
        leverage: Any,
        mmr: Any = None,
        maint_amount: Any = None,
        *,
        tiers: MaintenanceTiers | None = None,
        basis: Basis = "mark",
        close_fee: float = 0.0,
        tier_rule: TierRule | None = None,
        leverage_limit: LeverageLimit = "reject",
        contract: Contract = "linear",
        contract_size: float = 1.0,
    ) -> Positions:
        """Positions whose margin is ``qty * entry_price / leverage`` (leverage finite, > 0;
        for an inverse contract ``qty * contract_size / entry_price / leverage`` coin); the
        other arguments as for the constructor."""
        n = common_length(side=side, qty=qty, entry_price=entry_price, leverage=leverage, mmr=mmr,
                          maint_amount=maint_amount)
        lev = float_column(leverage, "leverage", n)
        first_bad(~np.isfinite(lev) | (lev <= 0), "leverage", lev, "must be finite and > 0")
        q = float_column(qty, "qty", n)
        entry = float_column(entry_price, "entry_price", n)
        with np.errstate(all="ignore"):  # bad qty/entry are reported by the constructor
            margin = q * real_scalar(contract_size, "contract_size") / entry / lev if contract == "inverse" \
                else q * entry / lev
        usable = np.isfinite(q) & (q > 0) & np.isfinite(entry) & (entry > 0)
        first_bad(usable & ~np.isfinite(margin), "leverage", lev,
                  "too small: the margin qty * entry_price / leverage overflows")
        margin = np.where(np.isfinite(margin), margin, 0.0)  # (only where qty or entry_price is bad)
        return cls(side, q, entry, margin, mmr, maint_amount, tiers=tiers, basis=basis, close_fee=close_fee,
                   tier_rule=tier_rule, leverage_limit=leverage_limit, contract=contract,
                   contract_size=contract_size, copy=False)

    # -- columns -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._set)

    @property
    def side(self) -> npt.NDArray[np.int8]:
        return cast("npt.NDArray[np.int8]", self._columns["side"])

    @property
    def qty(self) -> FloatArray:
        return cast(FloatArray, self._columns["qty"])

    @property
    def entry_price(self) -> FloatArray:
        return cast(FloatArray, self._columns["entry_price"])

    @property
    def margin(self) -> FloatArray:
        return cast(FloatArray, self._columns["margin"])

    @property
    def mmr(self) -> FloatArray:
        return cast(FloatArray, self._columns["mmr"])

    @property
    def maint_amount(self) -> FloatArray:
        return cast(FloatArray, self._columns["maint_amount"])

    @property
    def contract(self) -> Contract:
        """``"linear"`` or ``"inverse"``."""
        return "inverse" if self._set.inverse_size else "linear"

    @property
    def contract_size(self) -> float:
        """USD per contract (inverse); 1 for a linear set."""
        return float(self._set.inverse_size) or 1.0

    @property
    def notional(self) -> FloatArray:
        """At entry: ``qty * entry_price`` (linear, quote currency); ``qty * contract_size /
        entry_price`` (inverse, coin)."""
        if self._set.inverse_size:
            return self.qty * self.contract_size / self.entry_price
        return self.qty * self.entry_price

    @property
    def leverage(self) -> FloatArray:
        """Initial leverage ``notional / margin`` (inf where the margin is 0)."""
        with np.errstate(divide="ignore"):
            return self.notional / self.margin

    @property
    def basis(self) -> Basis:
        """What the requirement's ``mmr`` term is valued at: ``"mark"`` or ``"entry"``."""
        return cast(Basis, self._set.rule.basis.name)

    @property
    def close_fee(self) -> float:
        """The closing fee rate counted in the maintenance requirement."""
        return float(self._set.rule.close_fee)

    @property
    def liquidation_price(self) -> FloatArray:
        """Price at or beyond which the position is liquidated (read-only): where equity equals
        the requirement,
        ``(qty*entry - side*(margin + maint_amount - E)) / (qty*(1 - side*R))`` with ``R = mmr +
        close_fee`` and ``E = 0`` at mark basis, ``R = close_fee`` and ``E = mmr*qty*entry`` at
        entry basis. Long at mark basis without a fee: ``(qty*entry - margin - maint_amount) /
        (qty*(1 - mmr))``. A long whose value is <= 0 can never be liquidated.
        """
        if self._set.inverse_size:  # 1/x of the reciprocal market's (inf: never reached)
            return readonly(_core.quote_prices(self._set.liquidation_price))
        return self._set.liquidation_price

    @property
    def bankruptcy_price(self) -> FloatArray:
        """Price at which equity is zero: ``entry -/+ margin/qty`` (read-only); inverse:
        ``1 / (1/entry + side * margin / (qty * contract_size))`` (inf where never reached)."""
        if self._set.inverse_size:
            return readonly(_core.quote_prices(self._set.bankruptcy_price))
        return self._set.bankruptcy_price

    def maintenance(self, price: float) -> FloatArray:
        """Each position's maintenance requirement at ``price`` (a mark): ``mmr * qty * p_basis -
        maint_amount + close_fee * qty * price`` with, for a set built with ``tiers``, the tier of
        its notional *at that price* (as a venue computes it for the margin ratio; the
        ``mmr``/``maint_amount`` columns hold the tier at the liquidation price). Quote currency;
        coin for an inverse set."""
        return self._at_price(price)[0]

    def equity(self, price: float) -> FloatArray:
        """Each position's equity at ``price``: ``margin + side * qty * (price - entry)`` (an
        inverse set: ``margin + side * qty * contract_size * (1/entry - 1/price)``, in coin)."""
        return self._at_price(price)[1]

    def margin_ratio(self, price: float) -> FloatArray:
        """Maintenance over equity at ``price`` (the venues' "margin ratio"): a position is
        liquidated at 1 or above; ``inf`` where equity is ``<= 0``."""
        maintenance, equity = self._at_price(price)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(equity > 0, maintenance / np.where(equity > 0, equity, 1.0), np.inf)

    def _at_price(self, price: float) -> tuple[FloatArray, FloatArray]:
        tiers = None if self._tiers is None else self._tiers._table
        maintenance, equity = self._set.at_price(real_scalar(price, "price"), tiers)
        return readonly(maintenance), readonly(equity)

    def prepare(self) -> Positions:
        """Sort both sides' liquidation thresholds now. Otherwise a cascade sorts the side it
        needs (longs for a down move, shorts for an up move) as far as it reaches, and later
        cascades go on from there; either way each side is sorted once per set."""
        self._set.prepare()
        return self

    @property
    def prepared(self) -> bool:
        """Both sides are sorted."""
        return bool(self._set.prepared)

    def is_sorted(self, direction: Literal["down", "up"]) -> bool:
        """Whether the side a ``direction`` move triggers (longs for ``"down"``, shorts for
        ``"up"``) is sorted yet, all of it (a cascade that stopped early sorted only what it
        reached)."""
        if direction not in ("down", "up"):
            raise ValueError(f"direction: expected 'down' or 'up', got {direction!r}")
        down = (direction == "down") != bool(self._set.inverse_size)  # (inverse: the reciprocal moves the other way)
        return bool(self._set.prepared_side(-1 if down else 1))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and copy from the columns (tiers are already resolved into ``mmr`` and
        ``maint_amount``); a prepared set comes back prepared."""
        return (_rebuild_positions, (dict(self._columns), self.prepared, self.basis, self.close_fee, self.contract,
                                     self.contract_size, self._tiers))

    def __repr__(self) -> str:
        longs = int(np.count_nonzero(self.side > 0))
        return f"Positions({len(self)} positions: {longs} long, {len(self) - longs} short)"
