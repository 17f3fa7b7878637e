"""liqcascade: liquidation cascades in leveraged markets.

A C++ engine (``liqcascade._core``) for the order book and the sorted liquidation thresholds,
behind a thin NumPy API.
"""

from __future__ import annotations

from .book import BookDepth, OrderBook
from .cascade import CascadeResult, CascadeTrace, cascade
from .montecarlo import (
    BookModel,
    Estimate,
    MonteCarloSummary,
    PositionPopulation,
    Scenario,
    ScenarioTable,
    ShockModel,
    cascade_many,
    monte_carlo,
    sample_scenario,
)
from .positions import DEFAULT_MMR, MaintenanceTiers, Positions
from .simulator import CircuitBreaker, LiquidationPolicy, SimulationResult, gbm_path, random_flow, simulate

__version__ = "0.1.0"


def get_include() -> str:
    """The directory of the engine's C++ headers, for compiled code that uses them (C++ or
    Cython through ``liqcascade/cascade_core.pxd``)."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    for candidate in (here / "include", here.parents[1] / "src" / "cascade_core" / "include"):
        if (candidate / "cascade_core" / "positions.hpp").is_file():
            return str(candidate)
    raise FileNotFoundError("the cascade_core headers are not installed with this liqcascade")

__all__ = [
    "DEFAULT_MMR",
    "BookDepth",
    "BookModel",
    "Estimate",
    "MonteCarloSummary",
    "PositionPopulation",
    "Scenario",
    "ScenarioTable",
    "ShockModel",
    "CircuitBreaker",
    "LiquidationPolicy",
    "SimulationResult",
    "gbm_path",
    "random_flow",
    "simulate",
    "cascade_many",
    "monte_carlo",
    "sample_scenario",
    "CascadeResult",
    "CascadeTrace",
    "MaintenanceTiers",
    "OrderBook",
    "Positions",
    "cascade",
    "__version__",
    "get_include",
]
