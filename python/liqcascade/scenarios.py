"""The embedded default scenario: a BTC-like perpetual with a calibrated book and a large,
realistic population of leveraged positions.

The book's cumulative notional per side follows a piecewise-linear profile through
``DEFAULT_DEPTH_PROFILE`` (about $20M within 1 % of the mid, $60M within 5 %, $75M within
10 %, thinning beyond), which is the order of magnitude of BTCUSDT perpetual depth on the
largest venues. The population is calibrated so that the regime change of a real crash shows:
shocks of 1-3 % are absorbed with little amplification, while a -5 % shock cascades to the
-12 to -17 % range seen on 10 October 2025.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .book import OrderBook
from .positions import MaintenanceTiers, Positions

DEFAULT_MID = 100_000.0

#: (relative distance from the mid, cumulative notional in USD) per book side.
DEFAULT_DEPTH_PROFILE: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (0.01, 20e6),
    (0.05, 60e6),
    (0.10, 75e6),
    (0.20, 85e6),
    (0.50, 100e6),
)

#: Leverage mix of the default population: weighted to 10-25x with a tail to 125x.
DEFAULT_LEVERAGE_MIX: tuple[tuple[float, float], ...] = (
    (2.0, 0.03), (3.0, 0.03), (5.0, 0.06), (10.0, 0.22), (15.0, 0.16), (20.0, 0.20),
    (25.0, 0.14), (50.0, 0.08), (75.0, 0.04), (100.0, 0.025), (125.0, 0.015),
)

DEFAULT_SHOCKS: tuple[float, ...] = (-0.10, -0.07, -0.05, -0.03, -0.02, -0.01,
                                     0.01, 0.02, 0.03, 0.05, 0.07, 0.10)


def calibrated_book(
    mid: float = DEFAULT_MID,
    tick: float = 1.0,
    profile: tuple[tuple[float, float], ...] = DEFAULT_DEPTH_PROFILE,
) -> OrderBook:
    """A symmetric book with one level every ``tick`` on each side of ``mid``, out to the
    profile's last distance, whose cumulative notional follows ``profile`` (interpolated
    linearly between its points)."""
    distance = np.array([d for d, _ in profile], dtype=np.float64)
    cumulative = np.array([c for _, c in profile], dtype=np.float64)
    if distance[0] != 0.0 or np.any(np.diff(distance) <= 0) or np.any(np.diff(cumulative) < 0):
        raise ValueError("profile: distances must start at 0 and increase, cumulative notional must not decrease")
    if not (np.isfinite(mid) and mid > 0 and np.isfinite(tick) and 0 < tick < mid):
        raise ValueError(f"tick: must be in (0, mid), got tick={tick}, mid={mid}")
    n_levels = int(np.floor(distance[-1] * mid / tick))
    if n_levels < 1:
        raise ValueError("tick: the profile is narrower than one tick")
    if distance[-1] >= 1.0:
        n_levels = min(n_levels, int(np.ceil(mid / tick)) - 1)  # bids stay above 0
    k = np.arange(1, n_levels + 1, dtype=np.float64)
    cum_at_level = np.interp(k * tick / mid, distance, cumulative)
    notional = np.diff(np.concatenate(([0.0], cum_at_level)))
    bid_price, ask_price = mid - k * tick, mid + k * tick
    keep_bid = notional > 0
    return OrderBook(bid_price[keep_bid], notional[keep_bid] / bid_price[keep_bid],
                     ask_price[keep_bid], notional[keep_bid] / ask_price[keep_bid])


@dataclass(frozen=True)
class DefaultPopulation:
    """Parameters of the default position population (see :func:`default_positions`)."""

    long_share: float = 0.55
    leverage_mix: tuple[tuple[float, float], ...] = DEFAULT_LEVERAGE_MIX
    entry_spread: float = 0.025          # std of log(entry / mid)
    open_interest: float = 42e6          # total notional of the population, USD
    pareto_alpha: float = 1.5            # tail index of the (Pareto) notional distribution


def default_positions(
    n: int = 1_000_000,
    seed: int = 0,
    mid: float = DEFAULT_MID,
    population: DefaultPopulation = DefaultPopulation(),
) -> Positions:
    """``n`` isolated-margin positions around ``mid``: sides by ``long_share``, leverage from
    the discrete mix, entries log-normally spread around the mid, Pareto-tailed notionals
    scaled to the population's total open interest (so the market's fragility does not depend
    on ``n``), Binance BTCUSDT maintenance tiers. Positions that would already be past their
    liquidation price at ``mid`` are redrawn (a live market holds none)."""
    if n < 1:
        raise ValueError(f"n: must be >= 1, got {n}")
    rng = np.random.Generator(np.random.Philox(seed))
    tiers = MaintenanceTiers.binance_btcusdt()
    leverages = np.array([lev for lev, _ in population.leverage_mix])
    weights = np.array([w for _, w in population.leverage_mix])
    side = np.where(rng.random(n) < population.long_share, 1, -1).astype(np.int8)
    leverage = rng.choice(leverages, size=n, p=weights / weights.sum())
    notional = 1.0 + rng.pareto(population.pareto_alpha, n)
    notional *= population.open_interest / notional.sum()  # exact open interest, any n
    entry = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        entry[todo] = mid * np.exp(rng.normal(0.0, population.entry_spread, todo.size))
        qty = notional[todo] / entry[todo]
        mmr, maint = tiers.assign(notional[todo])
        margin = notional[todo] / leverage[todo]
        s = side[todo].astype(np.float64)
        liq = (qty * entry[todo] - s * (margin + maint)) / (qty * (1.0 - s * mmr))  # as the engine
        safe = np.where(s > 0, liq < mid, liq > mid)
        todo = todo[~safe]
    qty = notional / entry
    return Positions.from_leverage(side, qty, entry, leverage, tiers=tiers)
