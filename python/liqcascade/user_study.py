"""The study of ``liqcascade run --book FILE --positions-file FILE``: the user's own book and
positions held fixed, under the shock model's draws.

With a fixed book and a fixed position set, the only randomness left is the shock: scenario
``i`` is the shock model's draw ``i`` for the seed (the same draws as scenario ``i`` of a
Monte Carlo study with that seed and shock model), and each scenario is one static cascade of
the set on the book (:func:`liqcascade.cascade_many`: the thresholds are sorted once). A
shallow snapshot is first extended by a calibrated tail (:mod:`liqcascade.deep_book`) so that
moves of several percent meet modelled depth rather than an exhausted book, and the study
counts the scenarios whose final price lies in that tail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .book import OrderBook
from .cascade import cascade_many
from .deep_book import DeepBook
from .models import BookModel, PositionPopulation, ShockModel
from .montecarlo import monte_carlo
from .positions import Positions
from .results import ScenarioTable

__all__ = ["UserStudy", "shock_draws", "user_study"]


def shock_draws(shocks: ShockModel, n: int, seed: int = 0, first: int = 0) -> np.ndarray:
    """Draws ``first .. first + n - 1`` of a shock model for ``seed``: the ``shock`` of those
    scenarios in any study with that seed (the engine draws a scenario's shock from its own
    stream, whatever the population and book)."""
    tiny = BookModel(mid=100.0, tick=1.0, profile=((0.0, 0.0), (0.5, 1e3)))
    table = monte_carlo(PositionPopulation(count=1, tiers=None), tiny, shocks, n, seed, first_scenario=first,
                        threads=1, progress=False)
    return np.array(table.shock)


@dataclass(frozen=True)
class UserStudy:
    """The table (one row per shock draw) and what it ran on."""

    table: ScenarioTable
    book: OrderBook
    deep: DeepBook | None
    positions: Positions

    @property
    def in_tail(self) -> np.ndarray:
        """Per scenario: the final price lies in the modelled tail (all False without one)."""
        if self.deep is None:
            return np.zeros(len(self.table), dtype=bool)
        return np.asarray(self.deep.tail_reached(self.table))


def user_study(book: OrderBook | DeepBook, positions: Positions, shocks: ShockModel, n_scenarios: int,
               seed: int = 0, *, threads: int | None = None, client: Any = None, chunk: int = 1000) -> UserStudy:
    """``n_scenarios`` draws of ``shocks`` cascaded on the fixed ``book`` (an extended
    :class:`DeepBook` counts its tail) and ``positions``; on ``client``'s Dask cluster when
    given (:func:`liqcascade.distributed.cascade_many`), in this process otherwise. The
    ``scenario`` column is the draw's index, ``shock`` its value."""
    deep = book if isinstance(book, DeepBook) else None
    order_book = book.book if isinstance(book, DeepBook) else book
    draws = shock_draws(shocks, n_scenarios, seed)
    positions.prepare()
    if client is None:
        table = cascade_many(order_book, positions, draws, threads=threads)
    else:
        from .distributed import cascade_many as distributed_cascade_many

        table = distributed_cascade_many(client, order_book, positions, draws, chunk=chunk)
    return UserStudy(ScenarioTable(table.to_dict(), seed=seed, notional_unit=table.notional_unit), order_book, deep,
                     positions)
