"""The embedded default venue (``liqcascade venue``): three perpetuals (BTC, ETH, SOL) and two
spot books for collateral (wBETH/USDT, USDe/USDT), with cross-margin accounts and isolated
positions calibrated to the default market's depth (``DEFAULT_DEPTH_PROFILE``: about $20M
within 1 % of the BTC mid).

Depth per market is the default profile scaled: BTC 1, ETH 0.5, SOL 0.2; the spot books are
thin (wBETH 1/40, USDe 1/20 of BTC's), as the venues' own collateral books were on 10 October
2025. Open interest follows the depth: $44M x the market's scale, 2/3 of it in cross accounts.
Each account holds 2-3 positions in distinct perpetuals (60 % of accounts lean long: 90 % of
their positions are), levered 3-20x on its
collateral, which is held 60 % in USDT, 25 % in wBETH (haircut 5 %) and 15 % in USDe (haircut
2 %) on average. Positions or accounts past their trigger at the reference are drawn again
with more margin. Everything is a pure function of ``seed``.

Agents (:func:`default_agents`, docs/design.md "Agents"), on each perpetual, scaled by its depth
and sized against the venue's open interest ($44M on BTC, $75M over the three perpetuals):
- leveraged tokens: 3x long and 3x short (inverse) products from three issuers rebalancing at
  5 %, 10 % and 15 % moves; NAV $150k long and $50k short per issuer on BTC (x the market's
  scale; $0.6M on BTC in all, 1.4 % of its open interest: leveraged tokens' assets are a small
  fraction of the perpetuals' open interest), rebalanced last at the reference price;
- leverage-targeting funds: ``funds`` (default 400) each holding 2 or 3 of the perpetuals
  (Dirichlet weights), $6M of gross assets in all (8 % of the perpetuals' open interest),
  target leverage 2, 3 or 5 (gross assets / equity), a buffer 1.15-1.5x the target, drawn at
  0.9-1.0x the target;
- stops: sell stops clustered under the three round numbers below the reference (BTC every
  $5,000, ETH $100, SOL $10) and buy stops over the three above, $0.25M a cluster x the scale
  (about 1 % of the depth within 1 % of the mid).

Calibration (issue 20): with the agents five times larger (tokens 7 % and funds 40 % of the
open interest) a -7 % BTC shock crossed a tipping point — the agents' orders carried the price
past -10 %, where the default book thins out, and the cascade ran the BTC book out (-50 %)
from -7 % on. At these sizes the default shocks tell the default market's story (seed 0,
20,000 accounts and 20,000 isolated positions; without agents in brackets): -3 % is absorbed
(-3.1 % [-3.1 %]), -5 % ends at -6.5 % [-6.4 %], -8 % at -19.4 % [-16.1 %] with stops, tokens and funds
filling $2.0M of BTC's $15.4M, and -10 % at -43 % [-35 %] (the book beyond -10 % holds
$25M to -50 %: the one-market default also ends near -37 % there).
"""

from __future__ import annotations

import numpy as np

from .agents import Funds, LeveragedTokens, StopOrders, round_number_levels, stop_clusters
from .correlated import CorrelatedShockModel
from .models import DEFAULT_DEPTH_PROFILE, BookModel
from .tier_tables import venue_tiers
from .venue import Accounts, Asset, Market, Venue, VenuePositions, VenueState
from .venue_preset import VenuePreset

__all__ = ["VENUE_MARKETS", "default_agents", "default_venue", "default_venue_preset"]

#: name, mid, tick, depth scale (of DEFAULT_DEPTH_PROFILE), perpetual
VENUE_MARKETS: tuple[tuple[str, float, float, float, bool], ...] = (
    ("BTCUSDT", 100_000.0, 1.0, 1.0, True),
    ("ETHUSDT", 2_500.0, 0.05, 0.5, True),
    ("SOLUSDT", 150.0, 0.005, 0.2, True),
    ("WBETHUSDT", 2_500.0, 0.5, 1 / 40, False),
    ("USDEUSDT", 1.0, 0.0001, 1 / 20, False),
)

OPEN_INTEREST = 44e6


def _venue() -> Venue:
    markets = []
    for name, mid, tick, scale, _perp in VENUE_MARKETS:
        profile = tuple((d, n * scale) for d, n in DEFAULT_DEPTH_PROFILE)
        book = BookModel(mid=mid, tick=tick, profile=profile).build()
        tiers = {"BTCUSDT": venue_tiers("binance", "BTCUSDT"), "ETHUSDT": venue_tiers("binance", "ETHUSDT")}.get(name)
        markets.append(Market(name, book, tiers=tiers))
    assets = [Asset("wBETH", priced_by="WBETHUSDT", haircut=0.05), Asset("USDe", priced_by="USDEUSDT", haircut=0.02)]
    return Venue(markets, assets)


def default_venue(accounts: int = 200_000, isolated: int = 200_000, seed: int = 0,
                  venue: Venue | None = None) -> tuple[Venue, VenuePositions, Accounts]:
    """The default venue with ``accounts`` cross accounts and ``isolated`` isolated positions."""
    venue = _venue() if venue is None else venue
    rng = np.random.default_rng(seed)
    perps = [(i, mid, scale) for i, (_, mid, _, scale, perp) in enumerate(VENUE_MARKETS) if perp]
    mids = np.array([mid for _, mid, _ in perps])
    scales = np.array([scale for _, _, scale in perps])
    # cross accounts: 2 or 3 positions in distinct perpetuals
    k = rng.integers(2, 4, accounts)
    owner = np.repeat(np.arange(accounts), k)
    slot = np.arange(owner.size) - np.repeat(np.cumsum(k) - k, k)
    first = rng.integers(0, 3, accounts)
    market = (np.repeat(first, k) + slot) % 3
    # accounts lean one way across markets (60 % lean long): a fall in one market hits their others too
    p_long = np.where(rng.random(accounts) < 0.6, 0.9, 0.1)
    side_c = np.where(rng.random(owner.size) < p_long[owner], 1, -1).astype(np.int8)
    # isolated positions
    market_i = rng.choice(3, isolated, p=scales / scales.sum())
    side_i = np.where(rng.random(isolated) < 0.55, 1, -1).astype(np.int8)
    m_all = np.concatenate([market, market_i])
    n = m_all.size
    weights = scales[m_all]
    size = rng.lognormal(0.0, 1.0, n)
    notional = size * weights
    cross = np.arange(n) < owner.size
    # open interest per market: 44M x scale, 2/3 cross
    for j in range(3):
        for part, share in ((cross, 2 / 3), (~cross, 1 / 3)):
            sel = part & (m_all == j)
            if sel.any():
                notional[sel] *= OPEN_INTEREST * scales[j] * share / notional[sel].sum()
    entry = mids[m_all] * np.exp(rng.normal(0.0, 0.02, n))
    qty = notional / entry
    lev_i = rng.choice([3.0, 5.0, 10.0, 20.0, 25.0, 50.0], isolated, p=[0.1, 0.2, 0.3, 0.2, 0.15, 0.05])
    margin = np.concatenate([np.zeros(owner.size), notional[owner.size:] / lev_i])
    account = np.concatenate([owner, np.full(isolated, -1)]).astype(np.int64)
    side = np.concatenate([side_c, side_i])
    acct_notional = np.bincount(owner, weights=notional[: owner.size], minlength=accounts)
    lev_a = rng.choice([3.0, 5.0, 10.0, 15.0, 20.0], accounts, p=[0.15, 0.3, 0.3, 0.15, 0.1])
    equity = acct_notional / lev_a
    split = rng.dirichlet([6.0, 2.5, 1.5], accounts)
    collateral = {"USDT": equity * split[:, 0], "wBETH": equity * split[:, 1] / VENUE_MARKETS[3][1],
                  "USDe": equity * split[:, 2] / VENUE_MARKETS[4][1]}
    market_idx = np.array([perps[j][0] for j in range(3)])[m_all]
    positions = VenuePositions(side, qty, entry, market=market_idx.astype(np.int64), margin=margin, account=account)
    accts = Accounts(collateral)
    # nothing past its trigger at the reference: more margin for those that are
    state = VenueState(venue, positions, accts)
    liq = state.liquidation_price
    ref = state.ref_price[market_idx]
    under = (~cross) & (((side > 0) & (liq >= ref * 0.999)) | ((side < 0) & (liq <= ref * 1.001)))
    if under.any():
        margin = margin.copy()
        margin[under] = notional[under] / 2.0
        positions = VenuePositions(side, qty, entry, market=market_idx.astype(np.int64), margin=margin,
                                   account=account)
    short = state.equity_before <= state.maintenance_before * 1.2
    if short.any():
        usdt = collateral["USDT"].copy()
        usdt[short] += state.maintenance_before[short] * 1.5 - state.equity_before[short]
        collateral["USDT"] = usdt
        accts = Accounts(collateral)
    return venue, positions, accts


#: per perpetual: the step of its round numbers (where stops cluster)
ROUND_NUMBER_STEP = {"BTCUSDT": 5_000.0, "ETHUSDT": 100.0, "SOLUSDT": 10.0}
TOKEN_THRESHOLDS = (0.05, 0.10, 0.15)
TOKEN_NAV = (0.15e6, 0.05e6)  # per issuer on BTC: 3x long, 3x short (1.4 % of BTC's open interest in all)
FUND_ASSETS = 6e6               # the funds' gross assets (8 % of the perpetuals' open interest)
STOP_CLUSTER = 0.25e6           # per cluster on BTC (x the market's scale)


def default_agents(venue: Venue, funds: int = 400, seed: int = 0, *,
                   token_nav: tuple[float, float] = TOKEN_NAV, fund_assets: float = FUND_ASSETS,
                   stop_cluster: float = STOP_CLUSTER) -> tuple[StopOrders, LeveragedTokens, Funds]:
    """The default venue's agents (see the module's docstring): stops, tokens, funds. Their
    sizes on BTC (``token_nav``: per issuer, long and short; ``fund_assets``: all funds'
    gross assets; ``stop_cluster``) default to the calibrated ones."""
    rng = np.random.default_rng([seed, 1])
    perps = [(name, mid, scale) for name, mid, _, scale, perp in VENUE_MARKETS if perp]
    # tokens: 3x long and 3x short from each issuer, on each perpetual
    t_market, t_lev, t_nav, t_theta = [], [], [], []
    for name, _, scale in perps:
        for theta in TOKEN_THRESHOLDS:
            for leverage, nav in zip((3.0, -3.0), token_nav, strict=True):
                t_market.append(name)
                t_lev.append(leverage)
                t_nav.append(nav * scale)
                t_theta.append(theta)
    tokens = LeveragedTokens(np.array(t_market), np.array(t_lev), np.array(t_nav), np.array(t_theta))
    # stops around round numbers
    parts = []
    for k, (name, mid, scale) in enumerate(perps):
        step = ROUND_NUMBER_STEP[name]
        below = round_number_levels(mid, step, 3, below=True)
        above = round_number_levels(mid, step, 3, below=False)
        parts.append(stop_clusters(name, below, stop_cluster * scale / below, side=-1, seed=seed * 16 + 2 * k))
        parts.append(stop_clusters(name, above, stop_cluster * scale / above, side=1, seed=seed * 16 + 2 * k + 1))
    stops = StopOrders.concat(parts)
    # funds: 2 or 3 perpetuals each, Dirichlet weights, lognormal sizes
    n = funds
    mids = np.array([mid for _, mid, _ in perps])
    scales = np.array([scale for _, _, scale in perps])
    weights = rng.dirichlet(scales * 4.0, n)
    two = rng.random(n) < 0.5
    drop = rng.integers(0, 3, n)
    weights[two, drop[two]] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    size = rng.lognormal(0.0, 1.0, n)
    assets = fund_assets * size / size.sum()
    target = rng.choice([2.0, 3.0, 5.0], n, p=[0.3, 0.4, 0.3])
    buffer = rng.uniform(1.15, 1.5, n)
    drawn_at = target * rng.uniform(0.9, 1.0, n)
    holdings = {name: assets * weights[:, j] / mids[j] for j, (name, _, _) in enumerate(perps)}
    fund_set = Funds(holdings, equity=assets / drawn_at, target_leverage=target, max_leverage=target * buffer)
    return stops, tokens, fund_set


def default_venue_preset(accounts: int = 20_000, isolated: int = 20_000, seed: int = 0,
                         agents: bool = True) -> VenuePreset:
    """The default venue as a :class:`~liqcascade.venue_preset.VenuePreset` (``liqcascade
    report --scenario venue``): its accounts and isolated positions, its agents (``agents``),
    the trigger of ``liqcascade venue`` (BTC -8 %), Student-t shocks for studies (4 degrees of
    freedom, scales 3 / 4 / 5 %, correlations 0.7-0.8 between the perpetuals) and wBETH's index
    on ETHUSDT (its conversion rate: both at 2,500)."""
    venue, positions, accts = default_venue(accounts, isolated, seed)
    stops = tokens = funds = None
    if agents:
        stops, tokens, funds = default_agents(venue, seed=seed)
    correlation = [[1.0, 0.8, 0.7], [0.8, 1.0, 0.75], [0.7, 0.75, 1.0]]
    return VenuePreset(
        name="default-venue",
        description="the default venue: BTC, ETH and SOL perpetuals, wBETH and USDe collateral on their own thin "
                    "spot books" + (", leveraged tokens, funds and stops" if agents else "") + "; BTC -8 %",
        venue=venue, positions=positions, accounts=accts, trigger={"BTCUSDT": -0.08},
        study_shocks=CorrelatedShockModel.student_t(4.0, correlation, [0.03, 0.04, 0.05],
                                                    markets=["BTCUSDT", "ETHUSDT", "SOLUSDT"]),
        sources={"calibration": "venue_scenario.py's docstring: depth scaled from the default market's, open "
                                "interest $44M x each market's depth scale, agents sized against it (issue 20)"},
        index_markets={"wBETH": "ETHUSDT"}, stops=stops, tokens=tokens, funds=funds)
