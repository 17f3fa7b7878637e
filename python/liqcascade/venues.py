"""The venues' rules for one linear perpetual, so that one market can be run under each.

A :class:`VenueRules` bundles what a venue decides about a position — its tier table, how the
maintenance requirement is valued (``basis``), whether the closing fee counts in it
(``close_fee``), which tier applies (``tier_rule``) — and how its engine liquidates
(:class:`LiquidationPolicy`). ``VenueRules.positions(...)`` builds the same positions under
those rules; ``VenueRules.population(...)`` a study's population.

=============  =====================================  =====  =========  =======================
venue          tiers (shipped snapshot)               basis  close fee  engine
=============  =====================================  =====  =========  =======================
binance        leverage brackets (BTCUSDT, ETHUSDT)   mark   0          ``LiquidationPolicy.binance``
bybit          risk limits (BTCUSDT)                  entry  0          ``LiquidationPolicy.bybit``
hyperliquid    margin tables (BTC, ETH)               mark   0          ``LiquidationPolicy.hyperliquid``
=============  =====================================  =====  =========  =======================

Sources: Binance's "How to calculate the liquidation price of USDⓈ-M futures" (mark basis, the
bracket of the notional at the liquidation price); Bybit's help centre, "Liquidation price
(USDT contract)" for isolated margin (maintenance at the entry value: 19,700 in its example);
Hyperliquid's docs, "Margin tiers" and "Liquidations" (maintenance = half the initial margin at
the tier's max leverage, valued at the mark). OKX and Gate count the closing fee in
maintenance: pass ``close_fee`` to :class:`Positions` for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .models import PositionPopulation
from .positions import Basis, LeverageLimit, MaintenanceTiers, Positions, TierRule
from .simulator import LiquidationPolicy
from .tier_tables import venue_tiers

VenueName = Literal["binance", "bybit", "hyperliquid"]

#: The venues with rules here, in the order the CLI shows them.
VENUES: tuple[VenueName, ...] = ("binance", "bybit", "hyperliquid")

#: Each venue's symbol for the BTC linear perpetual (its shipped tier table).
BTC_SYMBOL = {"binance": "BTCUSDT", "bybit": "BTCUSDT", "hyperliquid": "BTC"}


@dataclass(frozen=True)
class VenueRules:
    """How one venue margins and liquidates a linear perpetual (see the module docstring)."""

    name: str
    tiers: MaintenanceTiers
    basis: Basis = "mark"
    close_fee: float = 0.0
    tier_rule: TierRule | None = None
    policy: LiquidationPolicy = field(default_factory=LiquidationPolicy)

    def positions(self, side: Any, qty: Any, entry_price: Any, margin: Any, *,
                  leverage_limit: LeverageLimit = "clip") -> Positions:
        """These positions under the venue's rules. A position levered above what the venue's
        table allows for its notional could not be opened there: by default its margin is
        raised to the limit (``leverage_limit="clip"``); ``"reject"`` raises instead."""
        return Positions(side, qty, entry_price, margin, tiers=self.tiers, basis=self.basis,
                         close_fee=self.close_fee, tier_rule=self.tier_rule, leverage_limit=leverage_limit)

    def population(self, **overrides: Any) -> PositionPopulation:
        """A study population under the venue's rules (``PositionPopulation``'s other fields
        from ``overrides``)."""
        rules = {"tiers": self.tiers, "basis": self.basis, "close_fee": self.close_fee, "tier_rule": self.tier_rule}
        return PositionPopulation(**{**rules, **overrides})

    def with_(self, **changes: Any) -> VenueRules:
        """A copy with some fields changed (e.g. ``close_fee``)."""
        return replace(self, **changes)


def venue_rules(venue: str, symbol: str | None = None) -> VenueRules:
    """The rules of ``venue`` (``"binance"``, ``"bybit"``, ``"hyperliquid"``) for ``symbol``'s
    shipped tier table (its BTC perpetual by default)."""
    if venue not in VENUES:
        raise ValueError(f"venue: expected one of {', '.join(map(repr, VENUES))}, got {venue!r}")
    tiers = venue_tiers(venue, BTC_SYMBOL[venue] if symbol is None else symbol)
    if venue == "binance":
        return VenueRules("binance", tiers, "mark", policy=LiquidationPolicy.binance())
    if venue == "bybit":
        return VenueRules("bybit", tiers, "entry", policy=LiquidationPolicy.bybit(tiers=tiers))
    return VenueRules("hyperliquid", tiers, "mark", policy=LiquidationPolicy.hyperliquid())
