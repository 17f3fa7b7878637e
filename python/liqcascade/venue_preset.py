"""10 October 2025 as a venue (``lc.scenarios.october_10_2025_venue()``): the collateral
channel of that night — cross accounts long BTC and ETH perpetuals, margined partly in USDe and
wBETH that the venue priced on its own thin spot books — so that the preset can be compared
against itself with the collateral priced on an index (:func:`liqcascade.policy.with_collateral`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._sources import OCTOBER_10_2025_SOURCES
from .correlated import CorrelatedShockModel
from .models import BookModel
from .tier_tables import venue_tiers
from .venue import Accounts, Asset, Market, Venue, VenueCascadeResult, VenuePositions, VenueState, venue_cascade

__all__ = ["OCTOBER_10_2025_VENUE_SOURCES", "VenuePreset", "october_10_2025_venue"]

#: Inputs of the venue preset beyond ``OCTOBER_10_2025_SOURCES`` (_sources.py).
OCTOBER_10_2025_VENUE_SOURCES: dict[str, str] = {
    "wbeth": "wBETH as low as $430 on Binance around 21:40 UTC, an 88 % discount to ETH/USDT, then above $3,800 "
             "(CoinDesk, 'Binance to Compensate Users Affected by Crash in wBETH, BNSOL, and Ethena's USDe', "
             "12 October 2025)",
    "usde": "USDe as low as $0.65 on Binance's own book between 21:36 and 22:16 UTC, isolated to Binance (CoinDesk, "
            "ibid.; Binance's compensation announcement, $283M paid, as summarised by coinheadlines.com)",
    "index_lever": "Binance valued these assets on their own spot books (CoinDesk, ibid., citing YQ Jia) and from "
                   "14 October 2025 08:00 UTC prices wBETH and BNSOL 100 % on their conversion rate, not the "
                   "market (Binance Square post 30886289453337)",
}


@dataclass(frozen=True, eq=False)
class VenuePreset:
    """A named venue to study: its venue, positions and cross accounts, the trigger (relative
    moves per market), a correlated shock model for studies, and its inputs' sources."""

    name: str
    description: str
    venue: Venue
    positions: VenuePositions
    accounts: Accounts
    trigger: dict[str, float]
    study_shocks: CorrelatedShockModel
    sources: dict[str, str] = field(default_factory=dict)
    #: per collateral asset, the market its index follows (the lever Binance pulled: wBETH on ETH)
    index_markets: dict[str, str] = field(default_factory=dict)

    #: agents trading in its cascades (:mod:`liqcascade.agents`; None: none)
    stops: Any = None
    tokens: Any = None
    funds: Any = None

    def state(self, venue: Venue | None = None) -> VenueState:
        """The preset's :class:`VenueState` with its agents (over ``venue`` instead of the
        preset's, e.g. a :func:`~liqcascade.policy.with_collateral` variant with the same markets)."""
        return VenueState(self.venue if venue is None else venue, self.positions, self.accounts, stops=self.stops,
                          tokens=self.tokens, funds=self.funds)

    def cascade(self, venue: Venue | None = None, shocks: Mapping[str, float] | None = None) -> VenueCascadeResult:
        """The trigger's venue cascade (or ``shocks``'), over ``venue`` when given."""
        return venue_cascade(self.state(venue), shocks=dict(self.trigger if shocks is None else shocks))

    def index_priced(self, follow: bool = True) -> Venue:
        """The preset's venue with every collateral asset priced on an index: the lever pulled
        after the night. ``follow=True``: an asset of ``index_markets`` on an index that follows
        its market (wBETH: ETHUSDT times its conversion rate, the ratio of their references),
        still sold into its own book when an account is liquidated (Binance's fix); the others
        (USDe) on a fixed index at their reference, never sold. ``follow=False``: every asset on
        a fixed index, never sold (:func:`~liqcascade.policy.with_collateral`)."""
        from .policy import with_collateral

        return with_collateral(self.venue, pricing="index", index=self.index_markets if follow else None)


#: name, mid, tick, depth per 1 % a side ($), max distance of the book
OCT_VENUE_MARKETS: tuple[tuple[str, float, float, float, float], ...] = (
    ("BTCUSDT", 117_000.0, 1.0, 30e6, 0.5),
    ("ETHUSDT", 4_100.0, 0.01, 15e6, 0.5),
    ("WBETHUSDT", 4_400.0, 0.1, 100e3, 0.9),
    ("USDEUSDT", 1.0, 0.0001, 60e3, 0.35),
)


def october_10_2025_venue(accounts: int = 20_000, isolated: int = 20_000, seed: int = 0) -> VenuePreset:
    """10 October 2025 on one venue (Binance-like), with the collateral channel: BTC and ETH
    perpetuals, thin USDe and wBETH spot books that price the collateral, cross accounts long
    the perpetuals on that collateral; the trigger BTC -5 %, ETH -8 %.

    Inputs and sources (``OCTOBER_10_2025_SOURCES``, _sources.py, and
    ``OCTOBER_10_2025_VENUE_SOURCES``): BTC at $117,000 when the cascade began
    (``btc_before``); the trigger BTC -5 % (``trigger``), ETH -8 % (calibrated: altcoins fell
    further than BTC, ``liquidated_btc``); USDe's own book cut to ~$2M of depth (``liquidity``:
    $89M -> $2M), here $60k per 1 % a side to 35 % away ($2.1M), so that it runs out at 0.65
    (``usde``); wBETH's own book thin enough to print ~$430 against an ETH above $3,800
    (``wbeth``), here $100k per 1 % to 90 % away; collateral priced on those books (``collateral``), haircut 5 %
    each. Calibrated, not sourced: ETH $4,100 and wBETH $4,400 (its staking accrual, ~1.07 ETH)
    before the cascade; BTC and ETH perpetual depth $30M and $15M per 1 % (one venue's share of
    the night's thin books, scaled so that BTC's fall is the reported one); open interest
    $500M BTC / $300M ETH, 3/4 of it in ``accounts``
    cross accounts (long: 83.9 % of the liquidations were longs, ``first_hour``; 3-10x on
    their collateral, held 30 % USDT, 35 % USDe, 35 % wBETH on average), the rest
    ``isolated`` positions (60 % long, 5-50x); Binance's tier tables. Nothing is past its
    trigger at the reference. A pure function of ``seed``.

    What it reproduces (seed 0, the trigger): BTC ends -16 % (reported -14.5 % to -17.3 %,
    ``btc_low``), ETH -22 % (ETH's fall that night was of that order; not sourced here), wBETH's
    book runs out at $440 (printed ~$430) and USDe's at $0.65 (printed ~$0.65): the prints are
    where the thin books ran out. ``preset.cascade()`` against
    ``preset.cascade(preset.index_priced())`` shows the lever (``index_lever``): with wBETH
    valued on ETH times its conversion rate (4,400 / 4,100 ETH a wBETH; still sold into its own
    book when an account is liquidated) and USDe on a fixed index at 1 (never sold), the same
    trigger liquidates about 3,400 accounts instead of 17,700, with $1.6M of bad debt instead of
    $11M, and BTC ends -6.5 %; with both on fixed indexes (``index_priced(follow=False)``) 2,700
    accounts, $1.4M, -6.2 % — the index that follows ETH values wBETH lower as ETH falls.
    """

    markets = []
    for name, mid, tick, depth, distance in OCT_VENUE_MARKETS:
        book = BookModel.linear(depth, max_distance=distance, mid=mid, tick=tick).build()
        tiers = venue_tiers("binance", name) if name in ("BTCUSDT", "ETHUSDT") else None
        markets.append(Market(name, book, tiers=tiers))
    venue = Venue(markets, [Asset("wBETH", priced_by="WBETHUSDT", haircut=0.05),
                            Asset("USDe", priced_by="USDEUSDT", haircut=0.05)])
    rng = np.random.default_rng([seed, 10, 2025])
    mids = np.array([OCT_VENUE_MARKETS[0][1], OCT_VENUE_MARKETS[1][1]])
    oi = np.array([500e6, 300e6])
    # cross accounts: one or two positions (BTC, ETH, or both)
    both = rng.random(accounts) < 0.4
    first = rng.integers(0, 2, accounts)
    k = np.where(both, 2, 1)
    owner = np.repeat(np.arange(accounts), k)
    slot = np.arange(owner.size) - np.repeat(np.cumsum(k) - k, k)
    market_c = (np.repeat(first, k) + slot) % 2
    side_c = np.ones(owner.size, dtype=np.int8)  # long: 83.9 % of the night's liquidations were
    market_i = rng.choice(2, isolated, p=oi / oi.sum())
    side_i = np.where(rng.random(isolated) < 0.6, 1, -1).astype(np.int8)
    m_all = np.concatenate([market_c, market_i])
    cross = np.arange(m_all.size) < owner.size
    notional = rng.lognormal(0.0, 1.0, m_all.size)
    for j in range(2):
        for part, share in ((cross, 0.75), (~cross, 0.25)):
            sel = part & (m_all == j)
            if sel.any():
                notional[sel] *= oi[j] * share / notional[sel].sum()
    entry = mids[m_all] * np.exp(rng.normal(0.0, 0.02, m_all.size))
    qty = notional / entry
    lev_i = rng.choice([5.0, 10.0, 20.0, 25.0, 50.0], isolated, p=[0.25, 0.3, 0.25, 0.15, 0.05])
    margin = np.concatenate([np.zeros(owner.size), notional[owner.size:] / lev_i])
    account = np.concatenate([owner, np.full(isolated, -1)]).astype(np.int64)
    side = np.concatenate([side_c, side_i])
    acct_notional = np.bincount(owner, weights=notional[: owner.size], minlength=accounts)
    lev_a = rng.choice([3.0, 5.0, 8.0, 10.0], accounts, p=[0.25, 0.35, 0.25, 0.15])
    equity = acct_notional / lev_a
    split = rng.dirichlet([3.0, 3.5, 3.5], accounts)
    collateral = {"USDT": equity * split[:, 0], "USDe": equity * split[:, 1] / OCT_VENUE_MARKETS[3][1],
                  "wBETH": equity * split[:, 2] / OCT_VENUE_MARKETS[2][1]}
    market_idx = m_all.astype(np.int64)
    positions = VenuePositions(side, qty, entry, market=market_idx, margin=margin, account=account)
    state = VenueState(venue, positions, Accounts(collateral))
    liq = state.liquidation_price
    ref = state.ref_price[market_idx]
    under = (~cross) & (((side > 0) & (liq >= ref * 0.999)) | ((side < 0) & (liq <= ref * 1.001)))
    if under.any():
        margin = margin.copy()
        margin[under] = notional[under] / 2.0
        positions = VenuePositions(side, qty, entry, market=market_idx, margin=margin, account=account)
    short = state.equity_before <= state.maintenance_before * 1.2
    if short.any():
        usdt = collateral["USDT"].copy()
        usdt[short] += state.maintenance_before[short] * 1.5 - state.equity_before[short]
        collateral["USDT"] = usdt
    correlation = [[1.0, 0.85], [0.85, 1.0]]
    return VenuePreset(
        name="oct-10-2025-venue",
        description="10 October 2025 on one venue: BTC and ETH perpetuals, USDe and wBETH collateral priced on "
                    "their own thin spot books; BTC -5 %, ETH -8 %",
        venue=venue,
        positions=positions,
        accounts=Accounts(collateral),
        trigger={"BTCUSDT": -0.05, "ETHUSDT": -0.08},
        study_shocks=CorrelatedShockModel.student_t(3.0, correlation, [0.03, 0.045], markets=["BTCUSDT", "ETHUSDT"]),
        sources={**OCTOBER_10_2025_SOURCES, **OCTOBER_10_2025_VENUE_SOURCES},
        index_markets={"wBETH": "ETHUSDT"},
    )
