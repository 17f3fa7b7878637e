"""liqcascade: liquidation cascades in leveraged markets.

A C++ engine (``liqcascade._core``) for the order book and the sorted liquidation thresholds,
behind a thin NumPy API.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version
from typing import Any

from . import datasets, fragility, models, policy, scenarios, tier_tables
from ._warnings import LiqcascadeWarning
from .book import BookDepth, OrderBook
from .cascade import CascadeResult, CascadeTrace, cascade, cascade_many
from .correlated import CorrelatedShockModel
from .fragility import amplification_curve, critical_shocks, liquidation_at_risk, liquidation_map
from .models import BookModel, PositionPopulation, ShockModel
from .montecarlo import Scenario, monte_carlo, sample_scenario
from .policy import Policy, Study, TimeStudy, compare_policies
from .positions import DEFAULT_MMR, MaintenanceTiers, Positions
from .results import Estimate, MonteCarloSummary, ScenarioTable
from .simulator import CircuitBreaker, LiquidationPolicy, SimulationResult, gbm_path, random_flow, simulate
from .venue_population import VenuePopulation
from .venue_simulator import VenueSimulationResult, correlated_gbm_paths, simulate_venue
from .venue_study import sample_venue_scenario, venue_monte_carlo

try:  # pyproject.toml is the one place the version is written
    __version__ = _distribution_version("liqcascade")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
    __version__ = "0+unknown"


def buffer_cache(limit: int | None = None) -> dict[str, int]:
    """The engine's cache of freed working buffers (blocks of 256 KiB and more).

    Fresh memory costs a page fault per 4 KiB on first touch — on virtual machines about as
    much as the sort that fills it — so the engine keeps freed blocks and hands them out
    again: loops that build position sets or run cascades reuse already-mapped pages. The
    cache holds at most ``limit`` bytes (256 MiB by default; 0 turns it off). Returns
    ``{"limit": ..., "cached": ...}`` (bytes) after applying a new ``limit`` if given.
    """
    from . import _core

    if limit is not None:
        from ._validation import int_scalar

        limit = int_scalar(limit, "limit", minimum=0)
    return dict(_core.buffer_cache(limit))


def release_buffers() -> int:
    """Return every cached buffer to the operating system; the number of bytes freed."""
    from . import _core

    return int(_core.release_buffers())


#: Submodules imported on first use (``lc.io``, ``lc.venues``, ...), so that ``import liqcascade``
#: stays light; none of them imports an optional dependency (pandas, pyarrow, dask, matplotlib)
#: before a function that needs it is called.
_LAZY_SUBMODULES = ("analysis", "deep_book", "distributed", "io", "plot", "report", "user_study", "venue",
                    "venue_scenario", "venues")


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)  # (also binds it in this module)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


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
    "LiqcascadeWarning",
    "MonteCarloSummary",
    "PositionPopulation",
    "Scenario",
    "ScenarioTable",
    "ShockModel",
    "CorrelatedShockModel",
    "sample_venue_scenario",
    "VenuePopulation",
    "venue_monte_carlo",
    "VenueSimulationResult",
    "correlated_gbm_paths",
    "simulate_venue",
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
    "datasets",
    "tier_tables",
    "__version__",
    "buffer_cache",
    "get_include",
    "release_buffers",
    "fragility",
    "policy",
    "scenarios",
    "amplification_curve",
    "critical_shocks",
    "liquidation_at_risk",
    "liquidation_map",
    "Policy",
    "Study",
    "TimeStudy",
    "compare_policies",
    "models",
    *_LAZY_SUBMODULES,
]
