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

import numpy as np

from .book import OrderBook
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
           "DEFAULT_STUDY_SHOCKS", "calibrated_book", "default_positions", "default_simulation"]


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
