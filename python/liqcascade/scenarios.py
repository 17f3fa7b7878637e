"""The embedded default scenario: a BTC-like perpetual with a calibrated book and a large,
realistic population of leveraged positions, built by the same C++ samplers as a Monte Carlo
study (scenario 0 of the study with the given seed).

The book's cumulative notional per side follows ``DEFAULT_DEPTH_PROFILE`` (about $20M within
1 % of the mid, $60M within 5 %, $75M within 10 %, thinning beyond), the order of magnitude of
BTCUSDT perpetual depth on the largest venues. The population (``PositionPopulation()``'s
defaults) is calibrated so that the regime change of a real crash shows: shocks of 1-3 % are
absorbed with little amplification, while a -5 % shock cascades to the -12 to -17 % range seen
on 10 October 2025.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._sources import OCTOBER_10_2025_SOURCES
from .book import OrderBook
from .cascade import cascade
from .models import DEFAULT_DEPTH_PROFILE, BookModel, PositionPopulation, ShockModel
from .positions import Positions
from .simulator import CircuitBreaker, LiquidationPolicy, SimulationResult, gbm_path, simulate

DEFAULT_MID = 100_000.0

DEFAULT_SHOCKS: tuple[float, ...] = (-0.10, -0.07, -0.05, -0.03, -0.02, -0.01,
                                     0.01, 0.02, 0.03, 0.05, 0.07, 0.10)

#: The default Monte Carlo study of `liqcascade run`: one-day moves with fat tails (Student-t,
#: 3 degrees of freedom, scale 2 %), depth that thins by up to 30 % in a scenario and varies
#: +-25 % per level.
DEFAULT_STUDY_SHOCKS = ShockModel.student_t(df=3.0, scale=0.02)
DEFAULT_STUDY_BOOK = BookModel(mid=DEFAULT_MID, profile=DEFAULT_DEPTH_PROFILE, thinning=0.3, level_noise=0.25)

__all__ = ["DEFAULT_DEPTH_PROFILE", "DEFAULT_MID", "DEFAULT_SHOCKS", "DEFAULT_STUDY_BOOK",
           "DEFAULT_STUDY_SHOCKS", "OCTOBER_10_2025_SOURCES", "PRESETS", "MarketPreset", "calibrated_book",
           "default_market", "default_positions", "default_simulation", "october_10_2025",
           "october_10_2025_venue"]


def calibrated_book(mid: float = DEFAULT_MID, tick: float = 1.0) -> OrderBook:
    """The default book: one level per ``tick`` on each side of ``mid`` out to 50 %, its
    cumulative notional following ``DEFAULT_DEPTH_PROFILE``."""
    return BookModel(mid=mid, tick=tick).build()


def default_positions(n: int = 1_000_000, seed: int = 0, mid: float = DEFAULT_MID) -> Positions:
    """``n`` positions of the default population around ``mid`` (``$44M`` of expected open
    interest, whatever ``n``)."""
    return PositionPopulation(count=n).sample(seed=seed, book_model=BookModel(mid=mid))


def default_simulation(positions: int = 1_000_000, seed: int = 0, steps: int = 1800, *, sell_rate: float = 20.0,
                       sell_seconds: int = 60, policy: str = "binance", throughput: int = 0,
                       fund: float = 1e6) -> SimulationResult:
    """The default scenario through time (``liqcascade simulate``): ``positions`` of the
    default population on the calibrated book, ``sell_rate`` BTC/s sold for ``sell_seconds``
    steps of 1 s, a GBM fundamental (0.03 %/sqrt(s)), the book refilling with a 2-minute time
    constant, an EMA mark (3 s half-life), breakers 5 %/60 s -> 120 s and 10 %/300 s -> 600 s,
    a fund of ``fund``, and ``policy``'s engine with ``throughput`` orders per step (0: no
    limit)."""
    flow = np.zeros(steps)
    flow[:sell_seconds] = -sell_rate
    engine = getattr(LiquidationPolicy, policy)(max_orders_per_step=throughput)
    return simulate(calibrated_book(), default_positions(n=positions, seed=seed), engine, steps, 1.0, flow=flow,
                    resilience=1 / 120, mark="ema", mark_halflife=3.0, insurance_fund=fund,
                    breakers=[CircuitBreaker(0.05, 60, 120), CircuitBreaker(0.10, 300, 600)],
                    path=gbm_path(steps, 1.0, DEFAULT_MID, 0.0003, seed=seed))


# -- 10 October 2025 --------------------------------------------------------------------------

#: The leverage mix of the October preset: most open interest at low leverage (CME-like and
#: basis positions are in BTC's open interest), a tail to 125x. A calibration, not a source.
OCTOBER_LEVERAGE = (2.0, 3.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 125.0)
OCTOBER_LEVERAGE_WEIGHTS = (0.30, 0.25, 0.20, 0.10, 0.07, 0.03, 0.03, 0.015, 0.005)


@dataclass(frozen=True, eq=False)
class MarketPreset:
    """A named market to study: its population and book model, the exogenous trigger (a
    relative move), the sources of its inputs and the figures it should reproduce
    (``targets``: name -> (reported low, reported high), in the units of
    :meth:`reproduced`)."""

    name: str
    description: str
    population: PositionPopulation
    book_model: BookModel
    trigger: float
    study_shocks: ShockModel
    sources: dict[str, str] = field(default_factory=dict)
    targets: dict[str, tuple[float, float]] = field(default_factory=dict)
    steps: int = 3600
    resilience: float = 1 / 300

    def book(self) -> OrderBook:
        return self.book_model.build()

    def positions(self, seed: int = 0) -> Positions:
        return self.population.sample(seed=seed, book_model=self.book_model)

    def reproduced(self, seed: int = 0) -> dict[str, float]:
        """What the preset gives for each target: the trigger's cascade on scenario 0 of
        ``seed`` (``final_move`` from the reference; ``liquidated_notional`` in $)."""
        result = cascade(self.book(), self.positions(seed), self.trigger)
        return {"final_move": result.final_move, "liquidated_notional": result.liquidated_notional}

    def study(self, n_scenarios: int = 100, seed: int = 0) -> Any:
        """A static study (:class:`liqcascade.policy.Study`) of the preset."""
        from .policy import Study

        return Study(self.population, self.book_model, self.study_shocks, n_scenarios, seed)

    def time_study(self, n_scenarios: int = 4, seed: int = 0, steps: int | None = None) -> Any:
        """A study through time (:class:`liqcascade.policy.TimeStudy`): the trigger at step 0,
        then an hour (by default) of 1 s steps, the book refilling with a 5-minute time
        constant, Binance's engine (2,000 orders a step), a $1B fund (in scale with $31.5B of
        open interest)."""
        from .policy import TimeStudy

        return TimeStudy(self.population, self.book_model, n_scenarios, seed, steps=steps or self.steps,
                         sigma=0.0003, sell_rate=0.0, sell_steps=0, shock=self.trigger, flow_rate=2.0,
                         flow_size=0.5, resilience=self.resilience,
                         engine=LiquidationPolicy.binance(max_orders_per_step=2000), insurance_fund=1e9)


def october_10_2025(count: int = 200_000) -> MarketPreset:
    """BTC on 10 October 2025, as one market (all venues' BTC perpetuals pooled): what made a
    -5 % tariff headline a -14 % night.

    Inputs (sources in ``OCTOBER_10_2025_SOURCES``): mid $122,000 (the day's high, $122,574);
    open interest $31.5B (~270,000 BTC); the trigger a -5 % move (the headline's fall before
    the cascade, to ~$117,000); 60 % long (83.9 % of the liquidations were longs). Calibrated,
    not sourced: the leverage mix (``OCTOBER_LEVERAGE``: 75 % of open interest at 2-5x, a
    tail to 125x) and the depth, a linear book of $0.4B per 1 % a side (the liquidity that was
    left that night; a normal day's is deeper). ``count`` positions share the open interest
    (fragility does not depend on the count). What it reproduces and how close:
    :meth:`MarketPreset.reproduced` against ``targets`` (docs/design.md). One market: the
    collateral channel (USDe, wBETH priced on Binance's own books) and altcoins need the
    many-markets engine and are not in it."""
    mid = 122_000.0
    book_model = BookModel.linear(0.4e9, max_distance=0.5, mid=mid, tick=10.0)
    population = PositionPopulation(count=count, long_share=0.6, leverage=OCTOBER_LEVERAGE,
                                    leverage_weights=OCTOBER_LEVERAGE_WEIGHTS, open_interest=31.5e9)
    return MarketPreset(
        name="oct-10-2025",
        description="BTC, 10 October 2025 (one market, all venues pooled): $31.5B open interest, "
                    "$0.4B of depth per 1 %, a -5 % tariff-headline trigger",
        population=population,
        book_model=book_model,
        trigger=-0.05,
        study_shocks=ShockModel.student_t(df=3.0, scale=0.02),
        sources=dict(OCTOBER_10_2025_SOURCES),
        targets={"final_move": (-0.173, -0.12), "liquidated_notional": (4e9, 6e9)},
    )


def october_10_2025_venue(accounts: int = 20_000, isolated: int = 20_000, seed: int = 0) -> Any:
    """10 October 2025 on one venue, with the collateral channel (USDe and wBETH priced on their
    own thin books): a :class:`liqcascade.venue_preset.VenuePreset`; see
    :func:`liqcascade.venue_preset.october_10_2025_venue` for its inputs and sources."""
    from .venue_preset import october_10_2025_venue as build

    return build(accounts, isolated, seed)


def default_market(count: int = 100_000) -> MarketPreset:
    """The default scenario as a :class:`MarketPreset` (the report's default market)."""
    book_model = BookModel(mid=DEFAULT_MID, profile=DEFAULT_DEPTH_PROFILE)
    return MarketPreset(
        name="default",
        description="the default BTC-like perpetual: mid 100,000, $20M / $60M / $75M within 1 / 5 / 10 %, "
                    "$44M open interest",
        population=PositionPopulation(count=count),
        book_model=book_model,
        trigger=-0.05,
        study_shocks=DEFAULT_STUDY_SHOCKS,
        steps=1800,
        resilience=1 / 120,
    )


PRESETS = {"default": default_market, "oct-10-2025": october_10_2025}
