"""Monte Carlo over a venue (docs/design.md, "Studies over a venue"): a fixed venue — markets,
positions and cross accounts, indexed once in a :class:`VenueState` the engine's worker threads
share read-only — correlated moves per scenario (:class:`CorrelatedShockModel`), one static
venue cascade each, one row per scenario (:class:`VenueScenarioTable`). Rows are bit-identical
for any thread count and any split of the scenario range; each equals a direct
:func:`venue_cascade` on :func:`sample_venue_scenario`'s shocks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from . import _core
from ._running import ProgressArg, _progress_callback, _threads
from ._table import ColumnTable
from ._validation import bounded_scalar as _finite
from ._validation import int_scalar
from .correlated import CorrelatedShockModel
from .models import _index, _seed
from .results import (
    Estimate,
    MonteCarloSummary,
    ScenarioTable,
    _amount_text,
    _expected_shortfall,
    _mean,
    _prob_text,
    _probability,
)
from .venue import Venue, VenueState
from .venue_population import VenuePopulation, VenuePopulationSample

__all__ = ["VenueScenario", "VenueScenarioTable", "VenueStudySummary", "sample_venue_scenario",
           "venue_monte_carlo"]

#: Venue-wide columns, one value per scenario.
VENUE_COLUMNS = ("scenario", "rounds", "n_liquidated", "accounts_liquidated", "liquidated_notional", "sold_notional",
                 "bad_debt", "account_bad_debt", "token_bad_debt", "book_exhausted", "origin_market", "contagion_share",
                 "unshocked_share")
#: Venue-wide columns computed here from the engine's (the rest are the engine's).
DERIVED_COLUMNS = ("origin_market", "contagion_share", "unshocked_share")
#: Per-market columns, named ``"{market}.{column}"`` in the table.
MARKET_COLUMNS = ("shock", "shock_price", "final_price", "final_move", "amplification", "liquidated_notional_long",
                  "liquidated_notional_short", "n_liquidated", "sold_notional", "bad_debt", "book_exhausted",
                  "token_notional", "fund_notional", "token_bad_debt")


def _shocked_markets(venue: Venue, shocks: CorrelatedShockModel) -> list[int]:
    """The venue market index of each of the model's columns."""
    if shocks.markets is None:
        if shocks.dimension != len(venue.markets):
            raise ValueError(f"markets: the shock model moves {shocks.dimension} markets and names none, but the "
                             f"venue has {len(venue.markets)}; name the markets it moves "
                             f"(CorrelatedShockModel(..., markets=[...]))")
        return list(range(shocks.dimension))
    return [venue.market_index(name) for name in shocks.markets]


def _check(state: Any, shocks: Any) -> None:
    if not isinstance(state, VenueState):
        raise TypeError(f"state: expected liqcascade.venue.VenueState, got {type(state).__name__}")
    if not isinstance(shocks, CorrelatedShockModel):
        raise TypeError(f"shocks: expected CorrelatedShockModel, got {type(shocks).__name__}")


def venue_monte_carlo(
    state: VenueState | Venue,
    shocks: CorrelatedShockModel,
    n_scenarios: int,
    seed: int = 0,
    *,
    population: VenuePopulation | None = None,
    first_scenario: int = 0,
    threads: int | None = None,
    progress: ProgressArg = "auto",
) -> VenueScenarioTable:
    """Scenarios ``first_scenario .. first_scenario + n_scenarios - 1`` of a study over a venue.

    Each scenario draws one move per shocked market from ``shocks`` (a pure function of
    ``(seed, scenario)``) and runs one static :func:`venue_cascade` over ``state`` (its
    positions, accounts and agents fixed, shared by every thread). With a ``population``
    (:class:`~liqcascade.venue_population.VenuePopulation`) give a :class:`Venue` instead: each
    scenario samples its traders, accounts, tokens and funds from it (the venue's books and
    rules fixed) and cascades them with its tokens and funds. Rows are bit-identical for any
    ``threads`` (default: every core) and any split of the range. ``progress`` as
    :func:`monte_carlo`; Ctrl-C stops the run and raises ``KeyboardInterrupt``.
    """
    if population is not None:
        return _population_study(state, population, shocks, n_scenarios, seed, first_scenario, threads, progress)
    _check(state, shocks)
    state = cast(VenueState, state)
    markets = _shocked_markets(state.venue, shocks)
    count = int_scalar(n_scenarios, "n_scenarios", minimum=0)
    first = _index(first_scenario, "first_scenario")
    seed_value = _seed(seed)
    callback, close = _progress_callback(progress, count, "scenarios")
    try:
        raw = _core.run_venue_study(state._state, shocks._to_core(), markets, seed_value, first, count,
                                    _threads(threads), callback, state._agents)
    finally:
        close()
    return VenueScenarioTable._from_raw(raw, state.venue.market_names, seed_value)


def _population_study(venue: Any, population: Any, shocks: Any, n_scenarios: int, seed: int, first_scenario: int,
                      threads: int | None, progress: ProgressArg) -> VenueScenarioTable:
    if not isinstance(population, VenuePopulation):
        raise TypeError(f"population: expected liqcascade.venue_population.VenuePopulation, got "
                        f"{type(population).__name__}")
    if isinstance(venue, VenueState):
        raise TypeError("state: a study with a population samples its positions and accounts; give the Venue "
                        "(VenueState.venue), not a VenueState")
    if not isinstance(venue, Venue):
        raise TypeError(f"venue: expected liqcascade.venue.Venue, got {type(venue).__name__}")
    if not isinstance(shocks, CorrelatedShockModel):
        raise TypeError(f"shocks: expected CorrelatedShockModel, got {type(shocks).__name__}")
    model = population._to_core(venue)
    markets = _shocked_markets(venue, shocks)
    count = int_scalar(n_scenarios, "n_scenarios", minimum=0)
    first = _index(first_scenario, "first_scenario")
    seed_value = _seed(seed)
    callback, close = _progress_callback(progress, count, "scenarios")
    try:
        raw = _core.run_venue_population_study(venue._venue, model, shocks._to_core(), markets, seed_value, first,
                                               count, _threads(threads), callback)
    finally:
        close()
    return VenueScenarioTable._from_raw(raw, venue.market_names, seed_value)


@dataclass(frozen=True)
class VenueScenario:
    """One scenario of a venue study: ``shocks``, every market's relative move by name (0 for a
    market the model does not move) — ``venue_cascade(state, shocks=s.shocks)`` reproduces its
    row. In a study with a population, ``population`` is the scenario's sample
    (:class:`~liqcascade.venue_population.VenuePopulationSample`): ``venue_cascade(
    s.population.state(), shocks=s.shocks)`` reproduces its row."""

    index: int
    shocks: dict[str, float]
    population: VenuePopulationSample | None = None


def sample_venue_scenario(venue: Venue | VenueState, shocks: CorrelatedShockModel, seed: int,
                          index: int, *, population: VenuePopulation | None = None) -> VenueScenario:
    """Scenario ``index``'s moves of a study over ``venue`` (a :class:`Venue` or its state), and
    with a ``population`` its sampled traders, accounts, tokens and funds."""
    if not isinstance(shocks, CorrelatedShockModel):
        raise TypeError(f"shocks: expected CorrelatedShockModel, got {type(shocks).__name__}")
    if population is not None and not isinstance(population, VenuePopulation):
        raise TypeError(f"population: expected liqcascade.venue_population.VenuePopulation, got "
                        f"{type(population).__name__}")
    if isinstance(venue, VenueState):
        if population is not None:
            raise TypeError("venue: a study with a population samples its positions and accounts; give the Venue "
                            "(VenueState.venue), not a VenueState")
        venue = venue.venue
    if not isinstance(venue, Venue):
        raise TypeError(f"venue: expected liqcascade.venue.Venue or VenueState, got {type(venue).__name__}")
    scenario = _index(index, "index")
    moves = np.zeros(len(venue.markets))
    moves[_shocked_markets(venue, shocks)] = shocks.sample(seed, 1, scenario)[0]
    sample = None if population is None else population.sample(venue, seed, scenario)
    return VenueScenario(scenario, dict(zip(venue.market_names, moves.tolist(), strict=True)), sample)


class VenueScenarioTable(ColumnTable):
    """One row per scenario of a venue study, as NumPy columns.

    Venue-wide: ``scenario``, ``rounds``, ``n_liquidated`` (positions closed), ``accounts_liquidated``,
    ``liquidated_notional`` and ``sold_notional`` (collateral sales) summed over markets,
    ``bad_debt`` (isolated positions' and accounts'), ``account_bad_debt``, ``token_bad_debt``
    (what wiped-out leveraged tokens owe their issuers, kept apart from ``bad_debt`` as
    :attr:`VenueCascadeResult.token_bad_debt`), ``book_exhausted``
    (in any market), ``origin_market`` (the index of the market with the largest ``|shock|``,
    the first on a tie; -1 when nothing was shocked), ``contagion_share`` (the share of
    liquidated notional in the other markets; NaN without liquidation) and ``unshocked_share``
    (the share of liquidated notional in markets whose shock was 0: contagion alone; NaN without
    liquidation).

    Per market, ``"{market}.{column}"``: ``shock`` (the relative move drawn), ``shock_price``,
    ``final_price``, ``final_move``, ``amplification``, ``liquidated_notional_long`` /
    ``_short`` (split in proportion to the fills when both sides were closed), ``n_liquidated``,
    ``sold_notional``, ``bad_debt`` (the market's isolated positions'; an account's bad debt
    belongs to no one market), ``book_exhausted``, ``token_notional`` and ``fund_notional`` (what
    the leveraged tokens' rebalancing and the funds' deleveraging filled there; 0 without agents),
    ``token_bad_debt`` (the market's tokens' issuers' shortfall).
    :meth:`market` gives one market's columns as a :class:`ScenarioTable`, :meth:`per_market` one
    column of every market as an array.
    """

    __slots__ = ("seed", "markets")

    def __init__(self, columns: dict[str, np.ndarray], markets: Sequence[str], seed: int | None = None) -> None:
        super().__init__(columns)
        self.markets: tuple[str, ...] = tuple(markets)
        self.seed = seed

    @classmethod
    def _from_raw(cls, raw: dict[str, Any], markets: Sequence[str], seed: int) -> VenueScenarioTable:
        columns: dict[str, np.ndarray] = {name: raw[name] for name in VENUE_COLUMNS if name not in DERIVED_COLUMNS}
        columns["scenario"] = columns["scenario"].astype(np.int64)
        columns["book_exhausted"] = columns["book_exhausted"].view(np.bool_)
        per = raw["markets"]
        shock = per["shock"]
        liquidated = per["liquidated_notional_long"] + per["liquidated_notional_short"]
        n = columns["scenario"].shape[0]
        moved = np.abs(shock)
        origin = np.argmax(moved, axis=0).astype(np.int64) if len(markets) else np.zeros(n, dtype=np.int64)
        if len(markets):
            origin[moved.max(axis=0) == 0.0] = -1
        columns["origin_market"] = origin
        total = columns["liquidated_notional"]
        at_origin = np.zeros(n)
        if len(markets):
            at_origin = np.where(origin >= 0, liquidated[np.maximum(origin, 0), np.arange(n)], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns["contagion_share"] = np.where(total > 0.0, (total - at_origin) / total, np.nan)
            unshocked = (liquidated * (shock == 0.0)).sum(axis=0) if len(markets) else np.zeros(n)
            columns["unshocked_share"] = np.where(total > 0.0, unshocked / total, np.nan)
        for m, name in enumerate(markets):
            for column in MARKET_COLUMNS:
                values = per[column][m]
                columns[f"{name}.{column}"] = values.view(np.bool_) if column == "book_exhausted" else values
        return cls(columns, markets, seed)

    def per_market(self, column: str) -> np.ndarray:
        """One per-market column of every market: an array of shape ``(rows, markets)``."""
        if column not in MARKET_COLUMNS:
            raise ValueError(f"column: expected one of {', '.join(MARKET_COLUMNS)}, got {column!r}")
        if not self.markets:
            return np.empty((len(self), 0))
        return np.column_stack([self[f"{m}.{column}"] for m in self.markets])

    def market(self, name: str) -> ScenarioTable:
        """One market's columns as a :class:`ScenarioTable` (``rounds`` is the venue's, ``bad_debt``
        the market's isolated positions'): its ``summary()`` follows the study's conventions."""
        if name not in self.markets:
            raise ValueError(f"no market named {name!r} (markets: {', '.join(map(repr, self.markets))})")
        columns = {c: self[f"{name}.{c}"] for c in MARKET_COLUMNS}
        columns["scenario"] = self["scenario"]
        columns["rounds"] = self["rounds"]
        return ScenarioTable(columns, seed=self.seed)

    def contagion(self, liquidation_threshold: float = 0.0,
                  shock_threshold: float = 0.0) -> dict[str, dict[str, Estimate]]:
        """``contagion()[source][target]``: among scenarios whose largest move was in ``source``
        (and at least ``shock_threshold`` in size), the probability that ``target``'s liquidated
        notional exceeds ``liquidation_threshold``, with its Wilson interval (``"n too small"``
        below 5 hits or misses; a NaN value where ``source`` was never the origin). With
        correlated moves the other markets move too: to see contagion alone, move one market at
        a time (a scale of 0 for the others, or ``CorrelatedShockModel.fixed`` rows)."""
        liquidation = _finite(liquidation_threshold, "liquidation_threshold", low=0.0)
        size = _finite(shock_threshold, "shock_threshold", low=0.0)
        origin = self["origin_market"]
        shock = self.per_market("shock")
        notional = self.per_market("liquidated_notional_long") + self.per_market("liquidated_notional_short")
        out: dict[str, dict[str, Estimate]] = {}
        for i, source in enumerate(self.markets):
            rows = (origin == i) & (np.abs(shock[:, i]) >= size)
            out[source] = {}
            for j, target in enumerate(self.markets):
                if not rows.any():
                    out[source][target] = Estimate(math.nan, math.nan, note="no scenario")
                else:
                    out[source][target] = _probability(notional[rows, j] > liquidation)
        return out

    def summary(self, thresholds: Sequence[float] = (0.05, 0.10, 0.20),
                quantiles: Sequence[float] = (0.01, 0.05, 0.5, 0.95, 0.99), level: float = 0.975,
                contagion_threshold: float = 0.0) -> VenueStudySummary:
        """Per market, :meth:`ScenarioTable.summary` of its columns (quantiles of its final
        move, probabilities of reaching each threshold, book exhaustion, liquidated notional and
        its isolated bad debt); venue-wide, the mean and expected shortfall at ``level`` of
        liquidated notional and bad debt, the mean count of accounts liquidated, the probability
        that some book ran out; contagion: the mean share of liquidated notional outside the
        largest-move market (over scenarios with liquidation) and the pooled share, and
        :meth:`contagion` at ``contagion_threshold``."""
        if len(self) < 2:
            raise ValueError("summary: needs at least two scenarios")
        _finite(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
        share = self["contagion_share"]
        liquidated = ~np.isnan(share)
        total = self["liquidated_notional"]
        at_origin = total[liquidated] * (1.0 - share[liquidated])
        pooled = float((total[liquidated].sum() - at_origin.sum()) / total[liquidated].sum()) if liquidated.any() \
            else math.nan
        return VenueStudySummary(
            n_scenarios=len(self),
            markets={m: self.market(m).summary(thresholds, quantiles, level) for m in self.markets},
            liquidated_notional_mean=_mean(total),
            liquidated_notional_es=_expected_shortfall(total, level),
            bad_debt_mean=_mean(self["bad_debt"]),
            bad_debt_es=_expected_shortfall(self["bad_debt"], level),
            accounts_liquidated_mean=_mean(self["accounts_liquidated"].astype(np.float64)),
            prob_book_exhausted=_probability(np.asarray(self["book_exhausted"], dtype=bool)),
            contagion_share_mean=_mean(share[liquidated]) if liquidated.any() else Estimate(math.nan, math.nan,
                                                                                           note="no liquidation"),
            contagion_share_pooled=pooled,
            unshocked_share_pooled=float(np.nansum(self["unshocked_share"][liquidated] * total[liquidated])
                                         / total[liquidated].sum()) if liquidated.any() else math.nan,
            n_with_liquidation=int(np.count_nonzero(liquidated)),
            contagion=self.contagion(contagion_threshold),
            contagion_threshold=float(contagion_threshold),
            es_level=float(level),
        )

    def __repr__(self) -> str:
        return f"VenueScenarioTable({len(self)} rows, markets: {', '.join(self.markets)})"


def _share_text(estimate: Estimate) -> str:
    """A share's estimate in percent, its standard error in the same unit."""
    text = f"{estimate.value:.2%}"
    if not math.isnan(estimate.stderr):
        text += f" ± {estimate.stderr:.2%}"
    return text + (f" ({estimate.note})" if estimate.note else "")


@dataclass(frozen=True)
class VenueStudySummary:
    """What :meth:`VenueScenarioTable.summary` reports; ``str()`` prints it, ``to_dict()`` gives
    plain values for JSON."""

    n_scenarios: int
    markets: dict[str, MonteCarloSummary]
    liquidated_notional_mean: Estimate
    liquidated_notional_es: Estimate
    bad_debt_mean: Estimate
    bad_debt_es: Estimate
    accounts_liquidated_mean: Estimate
    prob_book_exhausted: Estimate
    contagion_share_mean: Estimate
    contagion_share_pooled: float
    unshocked_share_pooled: float
    n_with_liquidation: int
    contagion: dict[str, dict[str, Estimate]]
    contagion_threshold: float
    es_level: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_scenarios": self.n_scenarios,
            "markets": {m: s.to_dict() for m, s in self.markets.items()},
            "liquidated_notional_mean": self.liquidated_notional_mean.to_dict(),
            "liquidated_notional_es": self.liquidated_notional_es.to_dict(),
            "bad_debt_mean": self.bad_debt_mean.to_dict(),
            "bad_debt_es": self.bad_debt_es.to_dict(),
            "accounts_liquidated_mean": self.accounts_liquidated_mean.to_dict(),
            "prob_book_exhausted": self.prob_book_exhausted.to_dict(),
            "contagion_share_mean": self.contagion_share_mean.to_dict(),
            "contagion_share_pooled": None if math.isnan(self.contagion_share_pooled) else self.contagion_share_pooled,
            "unshocked_share_pooled": None if math.isnan(self.unshocked_share_pooled) else self.unshocked_share_pooled,
            "n_with_liquidation": self.n_with_liquidation,
            "contagion": {s: {t: e.to_dict() for t, e in row.items()} for s, row in self.contagion.items()},
            "contagion_threshold": self.contagion_threshold,
            "es_level": self.es_level,
        }

    def __str__(self) -> str:
        level = f"ES {self.es_level * 100:g}%"
        lines = [f"{self.n_scenarios:,} scenarios over {len(self.markets)} markets (intervals: 95 %)",
                 f"venue liquidated notional: mean {_amount_text(self.liquidated_notional_mean, 'USD')}, "
                 f"{level} {_amount_text(self.liquidated_notional_es, 'USD')}",
                 f"venue bad debt:            mean {_amount_text(self.bad_debt_mean, 'USD')}, "
                 f"{level} {_amount_text(self.bad_debt_es, 'USD')}",
                 f"accounts liquidated:       mean {self.accounts_liquidated_mean}",
                 f"some book exhausted:       {_prob_text(self.prob_book_exhausted)}",
                 f"liquidation outside the largest-move market: mean share {_share_text(self.contagion_share_mean)} "
                 f"over {self.n_with_liquidation:,} scenarios with liquidation; pooled "
                 + ("n/a" if math.isnan(self.contagion_share_pooled) else f"{self.contagion_share_pooled:.2%}"),
                 "liquidation in markets not shocked (pooled): "
                 + ("n/a" if math.isnan(self.unshocked_share_pooled) else f"{self.unshocked_share_pooled:.2%}"),
                 f"P(liquidated notional > {self.contagion_threshold:,.0f} in column | largest move in row):"]
        names = list(self.markets)
        width = max([len(n) for n in names] + [8])
        lines.append(" " * (width + 2) + "".join(f"{n[:12]:>14}" for n in names))
        for source in names:
            cells = "".join(f"{'-' if math.isnan(e.value) else f'{e.value:.1%}':>14}"
                            for e in self.contagion[source].values())
            lines.append(f"  {source:<{width}}{cells}")
        for name, s in self.markets.items():
            lines.append(f"-- {name} --")
            lines.extend("  " + line for line in str(s).splitlines())
        return "\n".join(lines)
