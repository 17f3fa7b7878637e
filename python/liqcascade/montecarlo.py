"""Monte Carlo studies: scenarios drawn from the models (``models.py``) and run on the engine's
thread pool, reproducibly, into a ``ScenarioTable`` (``results.py``).

Every draw happens in C++ from a counter-based generator (Philox4x32-10): scenario ``i`` of a
study is a pure function of ``(seed, i)``, so results are bit-identical for any thread count
and any split of the scenario range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from . import _core
from ._running import ProgressArg, _progress_callback, _threads
from ._validation import int_scalar
from .book import OrderBook
from .correlated import CorrelatedShockModel
from .models import BookModel, PositionPopulation, ShockModel, _index, _sample, _seed, _shock_model
from .positions import Positions
from .results import NotionalUnit, ScenarioTable
from .venue import VenueState
from .venue_study import VenueScenarioTable, venue_monte_carlo


@overload
def monte_carlo(population: PositionPopulation, book_model: BookModel,
                shocks: ShockModel | Sequence[float] | np.ndarray, n_scenarios: int, seed: int = 0, *,
                first_scenario: int = 0, threads: int | None = None, progress: ProgressArg = "auto") -> ScenarioTable:
    ...


@overload
def monte_carlo(population: VenueState, book_model: None, shocks: CorrelatedShockModel, n_scenarios: int,
                seed: int = 0, *, first_scenario: int = 0, threads: int | None = None,
                progress: ProgressArg = "auto") -> VenueScenarioTable:
    ...


def monte_carlo(
    population: PositionPopulation | VenueState,
    book_model: BookModel | None,
    shocks: ShockModel | CorrelatedShockModel | Sequence[float] | np.ndarray,
    n_scenarios: int,
    seed: int = 0,
    *,
    first_scenario: int = 0,
    threads: int | None = None,
    progress: ProgressArg = "auto",
) -> ScenarioTable | VenueScenarioTable:
    """Run scenarios ``first_scenario .. first_scenario + n_scenarios - 1`` of a study.

    Each scenario draws its shock, its book and its positions (only the side the shock puts at
    risk) from counter-based streams keyed by ``(seed, scenario)``, then runs one static
    cascade. Rows are bit-identical for any ``threads`` (default: every core) and any split of
    the scenario range. Memory holds one sampled position set per thread. ``progress``:
    ``"auto"`` shows a bar (tqdm, if installed) when stderr is a terminal and the run lasts
    over two seconds; ``True`` always; ``False`` never; or a callable ``(done, total)``.
    Ctrl-C stops the run within a fraction of a second and raises ``KeyboardInterrupt``.

    Over a venue: ``monte_carlo(state, None, shocks, n_scenarios, seed)`` with a
    :class:`~liqcascade.venue.VenueState` (its positions and accounts fixed, its books its own:
    ``book_model`` is None) and a :class:`CorrelatedShockModel` is
    :func:`~liqcascade.venue_study.venue_monte_carlo`: one venue cascade per scenario, a
    :class:`~liqcascade.venue_study.VenueScenarioTable`.
    """
    if isinstance(population, VenueState):
        if book_model is not None:
            raise TypeError("book_model: a study over a venue uses the venue's own books; pass None")
        if not isinstance(shocks, CorrelatedShockModel):
            raise TypeError(f"shocks: a study over a venue takes a CorrelatedShockModel, got {type(shocks).__name__}")
        return venue_monte_carlo(population, shocks, n_scenarios, seed, first_scenario=first_scenario,
                                 threads=threads, progress=progress)
    if not isinstance(population, PositionPopulation):
        raise TypeError(f"population: expected PositionPopulation, got {type(population).__name__}")
    if not isinstance(book_model, BookModel):
        raise TypeError(f"book_model: expected BookModel, got {type(book_model).__name__}")
    if isinstance(shocks, CorrelatedShockModel):
        raise TypeError("shocks: a CorrelatedShockModel moves a venue's markets; give a VenueState as population")
    model = _shock_model(shocks)
    count = int_scalar(n_scenarios, "n_scenarios", minimum=0)
    first = _index(first_scenario, "first_scenario")
    seed_value = _seed(seed)
    callback, close = _progress_callback(progress, count, "scenarios")
    try:
        raw = _core.run_monte_carlo(population._to_core(), book_model._to_core(), model._to_core(),
                                    seed_value, first, count, _threads(threads), callback)
    finally:
        close()
    unit: NotionalUnit = "coin" if population.contract == "inverse" else "USD"  # (an inverse market's amounts)
    return ScenarioTable(raw, seed=seed_value, notional_unit=unit)


@dataclass(frozen=True, eq=False)
class Scenario:
    """The sampled inputs of one scenario: a direct ``cascade(book, positions, shock)``
    reproduces its row."""

    book: OrderBook
    positions: Positions
    shock: float


def sample_scenario(population: PositionPopulation, book_model: BookModel,
                    shocks: ShockModel | Sequence[float] | np.ndarray, seed: int, index: int) -> Scenario:
    """Scenario ``index``'s book, positions (both sides) and shock."""
    if not isinstance(population, PositionPopulation):
        raise TypeError(f"population: expected PositionPopulation, got {type(population).__name__}")
    if not isinstance(book_model, BookModel):
        raise TypeError(f"book_model: expected BookModel, got {type(book_model).__name__}")
    return Scenario(*_sample(population, book_model, _shock_model(shocks), seed, index))
