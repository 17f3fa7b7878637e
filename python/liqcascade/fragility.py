"""How fragile is a market: the amplification curve, the critical shock per direction, the
liquidation map (static and through time) and liquidation-at-risk (docs/design.md, "Fragility").

Every measure over many shocks of one fixed set calls :func:`cascade_many`'s aggregate path,
so a curve of a thousand shocks on a million positions costs about as much as indexing the set
once; the critical-shock search batches its shocks the same way (a grid, then refinements of
many points per call, not one cascade per bisection step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

import numpy as np

from ._table import ColumnTable
from ._validation import FloatArray, float_column, int_scalar
from ._validation import bounded_scalar as _finite
from .book import OrderBook
from .cascade import cascade_many
from .models import BookModel, PositionPopulation
from .positions import Positions
from .results import Estimate, _expected_shortfall, _mean, _probability, _quantile
from .simulator import EVENT_KINDS, SimulationResult

__all__ = ["CriticalShock", "LiquidationAtRisk", "LiquidationMap", "SimulationLiquidationMap",
           "VenueLiquidationMap", "amplification_curve", "critical_shocks", "liquidation_at_risk",
           "liquidation_map", "population_liquidation_map", "simulation_liquidation_map",
           "venue_amplification_curve", "venue_critical_shocks", "venue_liquidation_map", "venue_liquidation_maps",
           "venue_simulation_liquidation_map"]

Direction = Literal["down", "up"]
K = TypeVar("K")


# -- amplification curve ----------------------------------------------------------------------

def _curve_shocks(shocks: Any, max_shock: float, points: int) -> FloatArray:
    """An amplification curve's shocks: ``shocks`` sorted with zero left out, or ``points // 2``
    a side, ``max_shock · k / (points // 2)``."""
    if shocks is None:
        top = _finite(max_shock, "max_shock", low=0.0, high=1.0, low_open=True, high_open=True)
        half = int_scalar(points, "points", minimum=2, maximum=10_000_000) // 2
        side = top * np.arange(1, half + 1) / half
        return np.concatenate((-side[::-1], side))
    values = np.sort(float_column(shocks, "shocks"))
    return values[values != 0.0]


def amplification_curve(book: OrderBook, positions: Positions, shocks: Any = None, *, max_shock: float = 0.2,
                        points: int = 201, ref_price: float | None = None,
                        threads: int | None = None) -> ColumnTable:
    """Final move against shock, both directions, as a table: one row per shock (sorted, from
    the largest fall to the largest rise; zero left out) with ``shock``, ``direction`` (-1 down,
    +1 up), ``final_move``, ``amplification`` (final move over shock move), ``final_price``,
    ``liquidated_notional``, ``n_liquidated``, ``rounds``, ``bad_debt`` and ``book_exhausted``.

    ``shocks``: the relative moves to run (any signs); default ``points // 2`` moves a side,
    evenly spaced up to ``max_shock`` (``max_shock · k / (points // 2)``). One
    :func:`cascade_many` call (aggregate path)."""
    values = _curve_shocks(shocks, max_shock, points)
    rows = cascade_many(book, positions, values, ref_price=ref_price, threads=threads)
    return ColumnTable({
        "shock": values,
        "direction": np.where(values < 0, -1, 1).astype(np.int8),
        "final_move": rows.final_move,
        "amplification": rows.amplification,
        "final_price": rows.final_price,
        "liquidated_notional": rows.liquidated_notional,
        "n_liquidated": rows.n_liquidated,
        "rounds": rows.rounds,
        "bad_debt": rows.bad_debt,
        "book_exhausted": rows.book_exhausted,
    })


# -- critical shock ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CriticalShock:
    """The critical shock of one direction (see :func:`critical_shocks`).

    ``shock``: the signed smallest move found whose cascade reaches the criterion (None when no
    grid point up to ``max_shock`` does); ``not_reached``: the largest move known not to reach it,
    ``|shock| - |not_reached| <= tolerance``; ``cause``: ``"amplification"``, ``"exhaustion"``
    or ``"none"``; ``amplification``, ``final_move``, ``liquidated_notional`` and
    ``book_exhausted`` of the cascade at ``shock``; ``calls``: ``cascade_many`` calls made."""

    direction: Direction
    shock: float | None
    not_reached: float
    cause: Literal["amplification", "exhaustion", "none"]
    amplification: float
    final_move: float
    liquidated_notional: float
    book_exhausted: bool
    level: float
    tolerance: float
    grid_step: float
    calls: int = field(default=0, compare=False)


def _first_crossings(keys: Sequence[K], run: Callable[[list[tuple[K, FloatArray]]], list[tuple[np.ndarray, Any, int]]],
                     grid: np.ndarray, tol: float, m: int) -> tuple[dict[K, tuple[float, float] | None],
                                                                      dict[K, tuple[Any, int]], int]:
    """The bracketing search of :func:`critical_shocks`, for any criterion over any number of
    searches (``keys``: a direction, or a market and a direction). ``run(batch)`` evaluates, for
    each ``(key, magnitudes)`` of the batch (unsigned shock sizes, increasing), the criterion at
    every magnitude in one call, and returns per item ``(hits, rows, offset)``: ``rows[offset +
    i]`` is the evaluation of magnitude ``i``. Returns each key's bracket ``(l, h)`` (None when no
    grid point reaches), where ``h`` was evaluated (``best``: ``(rows, index)``) and the calls.

    1. The grid runs in chunks of 16, 64, 256, ... points (every key still searching in each
       call), stopping at the chunk where a key first crosses: that point ``h`` and the one
       before ``l`` (0 for the first point, which is then the answer, unrefined) bracket it.
    2. Each further call runs ``m`` evenly spaced interior points of every open bracket (``l >
       0`` and ``h - l > tol``): the first that reaches becomes ``h``, its predecessor ``l``."""
    calls = 0
    brackets: dict[K, tuple[float, float] | None] = {}
    best: dict[K, tuple[Any, int]] = {}
    searching: list[K] = list(keys)
    start, size = 0, 16
    # A fragile market is answered after a few points, a robust one pays for the whole grid (the
    # same points as one call would run).
    while searching and start < grid.size:
        chunk = grid[start: start + size]
        results = run([(key, chunk) for key in searching])
        calls += 1
        for key, (hits, rows, offset) in zip(list(searching), results, strict=True):
            first = np.flatnonzero(hits)
            if first.size == 0:
                continue
            k = start + int(first[0])
            # below one grid step amplification measures the book's tick, not the cascade: a first
            # point that already reaches is the answer, unrefined (bracket [0, grid_step])
            brackets[key] = (0.0, float(grid[0])) if k == 0 else (float(grid[k - 1]), float(grid[k]))
            best[key] = (rows, offset + int(first[0]))
            searching.remove(key)
        start, size = start + chunk.size, size * 4
    for key in searching:
        brackets[key] = None

    def open_(bracket: tuple[float, float] | None) -> bool:
        return bracket is not None and bracket[0] > 0.0 and bracket[1] - bracket[0] > tol

    # refine every open bracket together: one call per pass
    while any(open_(b) for b in brackets.values()):
        batch: list[tuple[K, FloatArray]] = []
        for key, bracket in brackets.items():
            if bracket is None or not open_(bracket):
                continue
            low, high = bracket
            inner = low + (high - low) * np.arange(1, m + 1) / (m + 1)
            inner = inner[(inner > low) & (inner < high)]
            if inner.size == 0:  # the bracket is as narrow as floating point allows
                brackets[key] = (high, high)
                continue
            batch.append((key, inner))
        if not batch:
            break
        results = run(batch)
        calls += 1
        for (key, inner), (hits, rows, offset) in zip(batch, results, strict=True):
            low, high = brackets[key]  # type: ignore[misc]
            first = np.flatnonzero(hits)
            if first.size:
                k = int(first[0])
                brackets[key] = (low if k == 0 else float(inner[k - 1]), float(inner[k]))
                best[key] = (rows, offset + k)
            else:
                brackets[key] = (float(inner[-1]), high)
    return brackets, best, calls


def critical_shocks(book: OrderBook, positions: Positions, level: float = 2.0, *, exhaustion: bool = True,
                    max_shock: float = 0.5, grid_step: float = 0.001, tolerance: float = 1e-6,
                    refine_points: int = 63, ref_price: float | None = None,
                    threads: int | None = None) -> dict[Direction, CriticalShock]:
    """The smallest move, each direction, whose cascade's amplification reaches ``level`` (or,
    with ``exhaustion``, whose cascade runs out of book), on the prepared set.

    Amplification is not monotone in the shock in general (a cascade that has run through a
    cluster of liquidation prices is amplified less by a larger shock, and more again at the
    next cluster), so "smallest" is defined on a grid: with ``C(s)`` the criterion
    ``amplification(s) >= level or (exhaustion and book_exhausted(s))``,

    1. the grid ``|s| = grid_step, 2 grid_step, ... <= max_shock`` is run in chunks of 16, 64,
       256, ... points, stopping at the chunk where ``C`` first holds; that point, ``h``, and the
       point before it, ``l`` (0 for the first), bracket the first crossing;
    2. the bracket is refined by ``refine_points`` evenly spaced interior shocks per call
       (a ``refine_points + 1``-ary bisection): the first interior point where ``C`` holds is the
       new ``h``, the point before it the new ``l``, until ``h - l <= tolerance``.

    The answer ``shock = h`` satisfies ``C``, ``not_reached = l`` does not, and no grid or
    refinement point below ``h`` satisfies it: the first crossing on the grid, located to within
    ``tolerance``. When the first grid point, ``grid_step``, already reaches it, that point is the
    answer and is not refined (``not_reached`` 0): below one grid step amplification reads the
    book's tick size rather than the cascade. A crossing that starts and ends between two grid
    points is not seen: a finer ``grid_step`` finds it. Both directions share each call.
    ``level`` must be > 1 (a cascade with nothing to liquidate has amplification 1)."""
    target = _finite(level, "level", low=1.0, low_open=True)
    top = _finite(max_shock, "max_shock", low=0.0, high=1.0, low_open=True, high_open=True)
    step = _finite(grid_step, "grid_step", low=0.0, high=top, low_open=True)
    tol = _finite(tolerance, "tolerance", low=0.0, low_open=True)
    m = int_scalar(refine_points, "refine_points", minimum=1, maximum=100_000)
    if not isinstance(exhaustion, (bool, np.bool_)):
        raise TypeError(f"exhaustion: expected a bool, got {type(exhaustion).__name__}")

    def reached(rows: Any) -> np.ndarray:
        amplification = np.nan_to_num(rows.amplification, nan=1.0)
        hit = amplification >= target
        return (hit | rows.book_exhausted) if exhaustion else hit

    def run(batch: list[tuple[Direction, FloatArray]]) -> list[tuple[np.ndarray, Any, int]]:
        signed = np.concatenate([-inner if d == "down" else inner for d, inner in batch])
        rows = cascade_many(book, positions, signed, ref_price=ref_price, threads=threads)
        hit, offset, out = reached(rows), 0, []
        for _, inner in batch:
            out.append((hit[offset: offset + inner.size], rows, offset))
            offset += inner.size
        return out

    grid = step * np.arange(1, int(math.floor(top / step + 1e-9)) + 1)
    keys: list[Direction] = ["down", "up"]
    brackets, best, calls = _first_crossings(keys, run, grid, tol, m)

    out: dict[Direction, CriticalShock] = {}
    directions: tuple[Direction, ...] = ("down", "up")
    for direction in directions:
        sign = -1.0 if direction == "down" else 1.0
        bracket = brackets[direction]
        if bracket is None:
            out[direction] = CriticalShock(direction, None, sign * float(grid[-1]), "none", math.nan, math.nan,
                                           math.nan, False, target, tol, step, calls)
            continue
        table, i = best[direction]
        amplification = float(table.amplification[i])
        cause: Literal["amplification", "exhaustion"] = (
            "amplification" if not math.isnan(amplification) and amplification >= target else "exhaustion")
        out[direction] = CriticalShock(
            direction, sign * bracket[1], sign * bracket[0], cause, amplification, float(table.final_move[i]),
            float(table.liquidated_notional[i]), bool(table.book_exhausted[i]), target, tol, step, calls)
    return out


def critical_shock_table(found: dict[Direction, CriticalShock]) -> ColumnTable:
    """:func:`critical_shocks`' answer as a table, one row per direction."""
    items = [found[d] for d in ("down", "up") if d in found]
    return ColumnTable({
        "direction": np.array([c.direction for c in items], dtype=object),
        "critical_shock": np.array([math.nan if c.shock is None else c.shock for c in items]),
        "not_reached": np.array([c.not_reached for c in items]),
        "cause": np.array([c.cause for c in items], dtype=object),
        "amplification": np.array([c.amplification for c in items]),
        "final_move": np.array([c.final_move for c in items]),
        "liquidated_notional": np.array([c.liquidated_notional for c in items]),
        "book_exhausted": np.array([c.book_exhausted for c in items]),
    })


# -- liquidation maps -------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class LiquidationMap:
    """Liquidation notional by price bucket and side: bucket ``k`` covers prices in
    ``[edges[k], edges[k+1])``. ``long`` and ``short``: the notional at the liquidation price
    (``qty x liquidation price``; an inverse set's contracts at their USD face value) of the
    positions whose liquidation price falls in the bucket;
    ``long_stderr``/``short_stderr``: the Monte Carlo standard error of the mean over sampled
    populations (NaN for one set); ``ref_price``: where the market stands. ``cumulative_long``:
    notional liquidated by a fall to each bucket's lower edge (summed from the reference down);
    ``cumulative_short``: by a rise to its upper edge."""

    edges: FloatArray
    long: FloatArray
    short: FloatArray
    ref_price: float
    long_stderr: FloatArray
    short_stderr: FloatArray
    samples: int = 1

    @property
    def centres(self) -> FloatArray:
        return 0.5 * (self.edges[:-1] + self.edges[1:])

    @property
    def cumulative_long(self) -> FloatArray:
        below = self.edges[1:] <= self.ref_price  # buckets wholly below the reference, from the top down
        out = np.zeros_like(self.long)
        idx = np.flatnonzero(below)[::-1]
        out[idx] = np.cumsum(self.long[idx])
        return out

    @property
    def cumulative_short(self) -> FloatArray:
        above = self.edges[:-1] >= self.ref_price
        out = np.zeros_like(self.short)
        idx = np.flatnonzero(above)
        out[idx] = np.cumsum(self.short[idx])
        return out

    def to_table(self) -> ColumnTable:
        return ColumnTable({"price_low": self.edges[:-1], "price_high": self.edges[1:], "long": self.long,
                            "short": self.short, "long_stderr": self.long_stderr,
                            "short_stderr": self.short_stderr})


def _edges(ref: float, width: float, buckets: int, edges: Any) -> FloatArray:
    if edges is not None:
        out = float_column(edges, "edges")
        if out.size < 2 or not np.all(np.diff(out) > 0):
            raise ValueError("edges: expected at least two strictly increasing prices")
        return out
    w = _finite(width, "width", low=0.0, high=1.0, low_open=True, high_open=True)
    n = int_scalar(buckets, "buckets", minimum=2, maximum=10_000_000)
    return np.linspace(ref * (1 - w), ref * (1 + w), n + 1)


def _side_notional(positions: Positions, edges: FloatArray) -> tuple[FloatArray, FloatArray]:
    price = np.asarray(positions.liquidation_price)
    # USD at the liquidation price; an inverse set's contracts are worth their face value
    value = (np.asarray(positions.qty) * positions.contract_size if positions.contract == "inverse"
             else np.asarray(positions.qty) * price)
    side = np.asarray(positions.side)
    live = price > 0  # a long whose liquidation price is <= 0 is never liquidated
    out = []
    for sign in (1, -1):
        mine = live & (side == sign)
        hist, _ = np.histogram(price[mine], bins=edges, weights=value[mine])
        out.append(hist.astype(np.float64))
    return out[0], out[1]


def liquidation_map(positions: Positions, ref_price: float, *, width: float = 0.2, buckets: int = 80,
                    edges: Any = None) -> LiquidationMap:
    """The static liquidation map (the "heatmap" traders read) of one set: the notional that a
    move to each price bucket would force into the book, by side — longs below the reference,
    shorts above (positions already past their liquidation price show on the other side).
    Buckets: ``buckets`` equal ones over ``ref_price · (1 ± width)``, or explicit ``edges``.
    Notional is valued at the liquidation price (``qty x liquidation price``); a long whose
    liquidation price is ``<= 0`` is never liquidated and is left out. Static: it ignores the
    cascade (what each liquidation's sale does to the price): :func:`critical_shocks` and
    :func:`amplification_curve` read that."""
    ref = _finite(ref_price, "ref_price", low=0.0, low_open=True)
    bins = _edges(ref, width, buckets, edges)
    long, short = _side_notional(positions, bins)
    nan = np.full(long.size, math.nan)
    return LiquidationMap(bins, long, short, ref, nan, nan.copy(), 1)


def population_liquidation_map(population: PositionPopulation, book_model: BookModel | None = None, *,
                               samples: int = 8, seed: int = 0, width: float = 0.2, buckets: int = 80,
                               edges: Any = None) -> LiquidationMap:
    """The expected liquidation map of a population: the mean over ``samples`` sampled sets
    (scenarios ``0 .. samples - 1`` of ``seed``, around ``book_model``'s mid), with the standard
    error of that mean per bucket (``sd / sqrt(samples)``; NaN for one sample, which is then
    that sample's map)."""
    model = book_model or BookModel()
    count = int_scalar(samples, "samples", minimum=1, maximum=1_000_000)
    bins = _edges(model.mid, width, buckets, edges)
    longs, shorts = [], []
    for i in range(count):
        long, short = _side_notional(population.sample(seed=seed, scenario=i, book_model=model), bins)
        longs.append(long)
        shorts.append(short)
    L, S = np.array(longs), np.array(shorts)
    if count == 1:
        err = np.full(L.shape[1], math.nan)
        return LiquidationMap(bins, L[0], S[0], model.mid, err, err.copy(), 1)
    return LiquidationMap(bins, L.mean(axis=0), S.mean(axis=0), model.mid, L.std(axis=0, ddof=1) / math.sqrt(count),
                          S.std(axis=0, ddof=1) / math.sqrt(count), count)


@dataclass(frozen=True, eq=False)
class SimulationLiquidationMap:
    """Liquidated notional through time: ``notional[t, k]`` is the value (``qty x price``) of
    the simulation's events of the chosen kinds in time bucket ``t`` (steps ``[time_edges[t],
    time_edges[t+1])``) at fill prices in ``[price_edges[k], price_edges[k+1])``; ``long`` and
    ``short`` split it by the side of the position liquidated."""

    time_edges: np.ndarray
    price_edges: FloatArray
    long: FloatArray
    short: FloatArray
    kinds: tuple[str, ...]

    @property
    def notional(self) -> FloatArray:
        return self.long + self.short


def simulation_liquidation_map(sim: SimulationResult, positions: Positions, *, time_buckets: int = 60,
                               price_buckets: int = 60, kinds: Sequence[str] = ("liquidation", "takeover"),
                               price_edges: Any = None) -> SimulationLiquidationMap:
    """Price x time x liquidated notional of a simulation: its liquidation fills (and, by
    default, the fund's takeovers, which are liquidations the book did not take) binned by step
    and price. ``positions``: the set simulated (for each event's side). Price buckets span the
    events' prices (or ``price_edges``)."""
    for kind in kinds:
        if kind not in EVENT_KINDS:
            raise ValueError(f"kinds: expected items of {EVENT_KINDS}, got {kind!r}")
    ev = sim.events
    wanted = np.isin(ev.kind, [EVENT_KINDS.index(k) for k in kinds]) & (ev.position >= 0)
    side = np.asarray(positions.side)[ev.position[wanted]]
    return _time_price_map(ev.step[wanted], ev.price[wanted], ev.qty[wanted], side, sim.timeline.price,
                           time_buckets, price_buckets, price_edges, tuple(kinds))


#: What a venue simulation's liquidation map counts by default: the engines' liquidation fills and
#: takeovers of isolated positions, and cross accounts' closes.
VENUE_MAP_KINDS = ("liquidation", "takeover", "account_close")


def venue_simulation_liquidation_map(sim: Any, positions: Any, *, time_buckets: int = 60, price_buckets: int = 60,
                                     kinds: Sequence[str] = VENUE_MAP_KINDS,
                                     price_edges: Mapping[str, Any] | None = None
                                     ) -> dict[str, SimulationLiquidationMap]:
    """:func:`simulation_liquidation_map` for a venue run (:func:`liqcascade.simulate_venue`), one
    map per market: price x time x liquidated notional of that market's fills of the chosen
    ``kinds`` (the engines' ``EVENT_KINDS`` and ``account_close``, a cross account's close; not
    collateral sales), split by the side of the position closed. ``positions``: the
    :class:`~liqcascade.venue.VenuePositions` simulated. ``price_edges``: per market name (others
    span their events' prices)."""
    allowed = (*EVENT_KINDS, "account_close")
    for kind in kinds:
        if kind not in allowed:
            raise ValueError(f"kinds: expected items of {allowed}, got {kind!r}")
    edges = dict(price_edges or {})
    for name in edges:
        if name not in sim.market_names:
            raise ValueError(f"price_edges: no market named {name!r}; the venue has {', '.join(sim.market_names)}")
    ev = sim.events
    side_all = np.asarray(positions.side)
    wanted_kind = np.isin(ev.kind_name, list(kinds)) & (ev.position >= 0) & (ev.qty > 0)
    out = {}
    for name in sim.market_names:
        wanted = wanted_kind & (ev.market == name)
        side = side_all[ev.position[wanted].astype(np.int64)]
        out[name] = _time_price_map(ev.step[wanted], ev.price[wanted], ev.qty[wanted], side,
                                    sim.market(name).timeline.price, time_buckets, price_buckets, edges.get(name),
                                    tuple(kinds))
    return out


def _time_price_map(step: Any, price: Any, qty: Any, side: Any, path: Any, time_buckets: int, price_buckets: int,
                    price_edges: Any, kinds: tuple[str, ...]) -> SimulationLiquidationMap:
    """Fills (step, price, qty, side of the position) binned by step and price; price buckets span
    the fills' prices (the run's price path when there is none), or ``price_edges``."""
    steps = len(path)
    nt = int_scalar(time_buckets, "time_buckets", minimum=1, maximum=1_000_000)
    t_edges = np.unique(np.linspace(0, steps, min(nt, steps) + 1).round().astype(np.int64))
    price = np.asarray(price, dtype=np.float64)
    if price_edges is not None:
        p_edges = float_column(price_edges, "price_edges")
    else:
        np_ = int_scalar(price_buckets, "price_buckets", minimum=1, maximum=1_000_000)
        lo, hi = (float(price.min()), float(price.max())) if price.size else (float(np.min(path)),
                                                                              float(np.max(path)))
        if hi <= lo:
            hi = lo * (1 + 1e-6) + 1e-12
        p_edges = np.linspace(lo, hi * (1 + 1e-12), np_ + 1)
    value = np.asarray(qty, dtype=np.float64) * price
    step = np.asarray(step).astype(np.float64)
    out = []
    for sign in (1, -1):
        mine = side == sign
        hist, _, _ = np.histogram2d(step[mine], price[mine], bins=(t_edges.astype(np.float64), p_edges),
                                    weights=value[mine])
        out.append(hist)
    return SimulationLiquidationMap(t_edges, p_edges, out[0], out[1], kinds)


# -- liquidation-at-risk ----------------------------------------------------------------------

@dataclass(frozen=True)
class LiquidationAtRisk:
    """Liquidation-at-risk of a study (see :func:`liquidation_at_risk`): Monte Carlo estimates
    (:class:`~liqcascade.Estimate`, with the summary's interval conventions)."""

    n_scenarios: int
    quantiles: dict[float, Estimate]       # of liquidated notional (LaR)
    expected_shortfall: Estimate           # of liquidated notional at es_level
    liquidated_mean: Estimate
    bad_debt_mean: Estimate
    bad_debt_es: Estimate
    prob_ruin: Estimate
    prob_adl: Estimate | None
    es_level: float
    insurance_fund: float
    ruin_rule: str

    def to_table(self) -> ColumnTable:
        names, items = [], []
        for q, e in self.quantiles.items():
            names.append(f"liquidated q{q:g}")
            items.append(e)
        rows = [("liquidated ES", self.expected_shortfall), ("liquidated mean", self.liquidated_mean),
                ("bad debt mean", self.bad_debt_mean), ("bad debt ES", self.bad_debt_es),
                ("P(fund ruin)", self.prob_ruin)]
        if self.prob_adl is not None:
            rows.append(("P(ADL)", self.prob_adl))
        for name, e in rows:
            names.append(name)
            items.append(e)
        nan = math.nan
        return ColumnTable({
            "measure": np.array(names, dtype=object),
            "value": np.array([e.value for e in items]),
            "stderr": np.array([e.stderr for e in items]),
            "low": np.array([nan if e.low is None else e.low for e in items]),
            "high": np.array([nan if e.high is None else e.high for e in items]),
            "note": np.array([e.note or "" for e in items], dtype=object),
        })

    def __str__(self) -> str:
        t = self.to_table()
        lines = [f"liquidation-at-risk over {self.n_scenarios:,} scenarios (fund ${self.insurance_fund:,.0f}; "
                 f"ruin: {self.ruin_rule})"]
        for i in range(len(t)):
            name, value, err = t.measure[i], t.value[i], t.stderr[i]
            if name.startswith("P("):
                text = f"{value * 100:6.2f}%"
                if not math.isnan(t.low[i]):
                    text += f" [{t.low[i] * 100:.2f}, {t.high[i] * 100:.2f}]"
            else:
                text = f"${value / 1e6:9.3f}M"
                if not math.isnan(err):
                    text += f" ± {err / 1e6:.3f}M"
            lines.append(f"  {name:<18}{text}{' (' + t.note[i] + ')' if t.note[i] else ''}")
        return "\n".join(lines)


def liquidation_at_risk(table: ColumnTable, *, insurance_fund: float = 0.0,
                        quantiles: Sequence[float] = (0.5, 0.9, 0.95, 0.99), level: float = 0.975) -> LiquidationAtRisk:
    """Quantiles (with the order-statistic 95 % interval) and expected shortfall at ``level``
    of liquidated notional; mean and expected shortfall of bad debt; the probability of
    insurance-fund ruin and of ADL — each with its Monte Carlo uncertainty, as
    :meth:`ScenarioTable.summary` reports them (:mod:`liqcascade.results`).

    ``table``: a static study's :class:`ScenarioTable` (or ``cascade_many``'s rows), or a
    through-time study's table (:func:`liqcascade.policy.run_study` on a ``TimeStudy``).
    Ruin, static: the bad debt of the scenario exceeds ``insurance_fund`` (a static cascade has
    no fees coming in and no ADL, so ``prob_adl`` is None: the ruined scenarios are those where
    a venue would have to deleverage). Through time: the fund's balance went below zero at some
    step (``fund_low < 0``); ADL: some position was deleveraged (``adl_qty > 0``)."""
    fund = _finite(insurance_fund, "insurance_fund", low=0.0)
    es_level = _finite(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    if len(table) < 2:
        raise ValueError("liquidation_at_risk: needs at least two scenarios")
    cols = set(table.columns)
    if "liquidated_notional" in cols:
        liquidated = np.asarray(table["liquidated_notional"], dtype=np.float64)
    else:
        liquidated = np.asarray(table["liquidated_notional_long"] + table["liquidated_notional_short"])
    bad = np.asarray(table["bad_debt"], dtype=np.float64)
    if "fund_low" in cols:
        ruin = np.asarray(table["fund_low"]) < 0
        rule, adl = "the fund's balance below 0 at some step", _probability(np.asarray(table["adl_qty"]) > 0)
    else:
        ruin = bad > fund
        rule, adl = "bad debt > fund", None
    return LiquidationAtRisk(
        n_scenarios=len(table),
        quantiles={float(q): _quantile(liquidated, float(q)) for q in quantiles},
        expected_shortfall=_expected_shortfall(liquidated, es_level),
        liquidated_mean=_mean(liquidated),
        bad_debt_mean=_mean(bad),
        bad_debt_es=_expected_shortfall(bad, es_level),
        prob_ruin=_probability(ruin),
        prob_adl=adl,
        es_level=es_level,
        insurance_fund=fund,
        ruin_rule=rule,
    )


# -- a venue's liquidation map (docs/design.md, "Liquidation map of a venue") ---------------------

@dataclass(frozen=True, eq=False)
class VenueLiquidationMap(LiquidationMap):
    """One market's liquidation map in a venue: :class:`LiquidationMap`'s ``long`` and ``short``
    are the sums of the isolated positions' (``isolated_long``, ``isolated_short``: at their
    liquidation prices, as :func:`liquidation_map`) and the cross accounts' (``cross_long``,
    ``cross_short``: each account's positions in the market at the account's trigger prices in
    it, :attr:`~liqcascade.venue.VenueState.trigger_prices`, the other markets at their
    reference). ``accounts``: the number of account triggers (down and up) in each bucket."""

    market: str = ""
    isolated_long: FloatArray = field(default_factory=lambda: np.zeros(0))
    isolated_short: FloatArray = field(default_factory=lambda: np.zeros(0))
    cross_long: FloatArray = field(default_factory=lambda: np.zeros(0))
    cross_short: FloatArray = field(default_factory=lambda: np.zeros(0))
    accounts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def to_table(self) -> ColumnTable:
        return ColumnTable({"price_low": self.edges[:-1], "price_high": self.edges[1:], "long": self.long,
                            "short": self.short, "isolated_long": self.isolated_long,
                            "isolated_short": self.isolated_short, "cross_long": self.cross_long,
                            "cross_short": self.cross_short, "accounts": self.accounts})


def venue_liquidation_maps(state: Any, *, width: float = 0.2, buckets: int = 80) -> dict[str, VenueLiquidationMap]:
    """Every market's :func:`venue_liquidation_map`, by name (buckets over each market's
    ``ref · (1 ± width)``)."""
    return cast(dict[str, VenueLiquidationMap], venue_liquidation_map(state, None, width=width, buckets=buckets))


def venue_liquidation_map(state: Any, market: str | None = None, *, width: float = 0.2, buckets: int = 80,
                          edges: Any = None) -> VenueLiquidationMap | dict[str, VenueLiquidationMap]:
    """The static liquidation map of a venue, market by market: in each bucket ``[edges[k],
    edges[k+1])`` and side, the notional (``qty x price``) that a move of that market alone to
    the bucket would force out — isolated positions at their liquidation prices (longs with a
    liquidation price ``<= 0`` left out), and every cross account's positions in the market at
    the account's trigger price there (the highest price below the reference at which its equity
    reaches its maintenance with every other market at its reference, and the lowest above it:
    an account is counted at both when both exist; its positions in other markets are in their
    own maps). Static: no cascade, no collateral sales. ``state``: a
    :class:`~liqcascade.venue.VenueState`. ``market``: one market's map; None: a dict of every
    market's (``edges`` then not allowed: the buckets are each market's ``ref · (1 ± width)``).
    """
    from .venue import VenueState

    if not isinstance(state, VenueState):
        raise TypeError(f"state: expected liqcascade.venue.VenueState, got {type(state).__name__}")
    names = state.venue.market_names
    if market is None:
        if edges is not None:
            raise ValueError("edges: give a market with explicit edges (each market has its own prices)")
        return {name: _venue_map(state, name, width, buckets, None) for name in names}
    if not isinstance(market, str):
        raise TypeError(f"market: expected a market name, got {type(market).__name__}")
    state.venue.market_index(market)
    return _venue_map(state, market, width, buckets, edges)


def _venue_map(state: Any, name: str, width: float, buckets: int, edges: Any) -> VenueLiquidationMap:
    m = state.venue.market_index(name)
    ref = float(state.ref_price[m])
    bins = _edges(ref, width, buckets, edges)
    p = state.positions
    market = p.market_index(state.venue)
    account = np.asarray(p.account)
    side = np.asarray(p.side)
    qty = np.asarray(p.qty)
    liq = np.asarray(state.liquidation_price)
    out = {}
    iso = (market == m) & (account < 0) & (liq > 0)
    for sign, key in ((1, "isolated_long"), (-1, "isolated_short")):
        mine = iso & (side == sign)
        out[key] = np.histogram(liq[mine], bins=bins, weights=qty[mine] * liq[mine])[0].astype(np.float64)
    # each cross position in the market, at its account's trigger prices there
    trig = state.trigger_prices
    here = trig["market"] == name
    t_account = np.asarray(trig["account"])[here]
    cross = np.flatnonzero((market == m) & (account >= 0))
    row = np.searchsorted(t_account, account[cross])  # accounts appear once per market, in order
    long_, short_ = np.zeros(len(bins) - 1), np.zeros(len(bins) - 1)
    count = np.zeros(len(bins) - 1, dtype=np.int64)
    for key in ("down", "up"):
        price = np.asarray(trig[key])[here]
        at = price[row]
        ok = np.isfinite(at)
        for sign, acc in ((1, long_), (-1, short_)):
            mine = ok & (side[cross] == sign)
            acc += np.histogram(at[mine], bins=bins, weights=qty[cross][mine] * at[mine])[0]
        count += np.histogram(price[np.isfinite(price)], bins=bins)[0]
    nan = np.full(len(bins) - 1, math.nan)
    return VenueLiquidationMap(bins, out["isolated_long"] + long_, out["isolated_short"] + short_, ref, nan,
                               nan.copy(), 1, market=name, isolated_long=out["isolated_long"],
                               isolated_short=out["isolated_short"], cross_long=long_, cross_short=short_,
                               accounts=count)


# -- a venue's critical shocks and amplification curve (docs/design.md, "Fragility of a venue") --

def _venue_state(state: Any) -> Any:
    from .venue import VenueState

    if not isinstance(state, VenueState):
        raise TypeError(f"state: expected liqcascade.venue.VenueState, got {type(state).__name__}")
    return state


def _venue_rows(state: Any, markets: Sequence[str], moves: FloatArray, threads: int | None) -> Any:
    """One venue cascade per row of ``moves`` (columns: ``markets``' relative moves, the other
    markets unmoved) on the prepared ``state``: a study over a fixed model, so the rows are
    :func:`venue_monte_carlo`'s (each a direct :func:`venue_cascade`), on every thread."""
    from .correlated import CorrelatedShockModel
    from .venue_study import venue_monte_carlo

    model = CorrelatedShockModel.fixed(moves, markets=list(markets))
    return venue_monte_carlo(state, model, moves.shape[0], threads=threads, progress=False)


def _liquidated(table: Any, name: str) -> FloatArray:
    return np.asarray(table[f"{name}.liquidated_notional_long"] + table[f"{name}.liquidated_notional_short"])


def venue_critical_shocks(state: Any, level: float | None = 2.0, *, markets: str | Sequence[str] | None = None,
                          exhaustion: bool = True, contagion: float | None = None, max_shock: float = 0.5,
                          grid_step: float = 0.001, tolerance: float = 1e-6, refine_points: int = 63,
                          threads: int | None = None) -> ColumnTable:
    """Per market and direction, the smallest move of that market alone (every other market
    unmoved) whose venue cascade reaches the criterion, found by :func:`critical_shocks`'
    bracketing (the same grid, chunks, refinement and tolerance) on the prepared ``state`` (a
    :class:`~liqcascade.venue.VenueState`; its indexes are reused by every cascade, each of which
    costs what it touches; the cascades of a pass run on ``threads``).

    The criterion at a move ``s`` of market ``m`` holds when any of these does:

    - ``level`` (> 1; None: not used): ``m``'s amplification (final move over shock move; NaN
      counts as 1) is at least ``level``;
    - ``exhaustion``: the cascade ran some market's book out (``m``'s or another's);
    - ``contagion`` (a notional >= 0; None: not used): the cascade liquidated more than
      ``contagion`` of notional (positions closed, filled value) in some *other* market.

    ``markets``: the markets to move (a name or names; default every market, spot books
    included: a collateral asset's own book can start a cascade). One row per market and
    direction (down, then up): ``market``, ``direction``, ``critical_shock`` (signed; NaN when
    no grid point up to ``max_shock`` reaches), ``not_reached`` (the largest move known not to,
    ``|critical_shock| - |not_reached| <= tolerance``; 0 when the first grid point already
    reaches), ``cause`` (``"amplification"``, ``"exhaustion"``, ``"contagion"``, the first that
    holds in that order, or ``"none"``), and the cascade at ``critical_shock``: ``amplification``
    and ``final_move`` of the market moved, ``liquidated_notional`` (all markets),
    ``accounts_liquidated``, ``contagion_market`` (the other market with the most liquidated
    notional; ``""`` when none had any) and its ``contagion_notional``, ``book_exhausted`` (any
    market), ``exhausted_markets`` (their names, comma-separated), ``bad_debt``; ``calls``: the
    batches run (all searches share each one)."""
    venue_state = _venue_state(state)
    names = venue_state.venue.market_names
    if markets is None:
        chosen = list(names)
    else:
        chosen = [markets] if isinstance(markets, str) else list(markets)
        for i, name in enumerate(chosen):
            if not isinstance(name, str):
                raise TypeError(f"markets[{i}]: expected a market name, got {type(name).__name__}")
            venue_state.venue.market_index(name)
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"markets: a market is named twice ({', '.join(map(repr, chosen))})")
    target = None if level is None else _finite(level, "level", low=1.0, low_open=True)
    threshold = None if contagion is None else _finite(contagion, "contagion", low=0.0)
    if not isinstance(exhaustion, (bool, np.bool_)):
        raise TypeError(f"exhaustion: expected a bool, got {type(exhaustion).__name__}")
    if target is None and threshold is None and not exhaustion:
        raise ValueError("level, exhaustion, contagion: give at least one criterion")
    top = _finite(max_shock, "max_shock", low=0.0, high=1.0, low_open=True, high_open=True)
    step = _finite(grid_step, "grid_step", low=0.0, high=top, low_open=True)
    tol = _finite(tolerance, "tolerance", low=0.0, low_open=True)
    m = int_scalar(refine_points, "refine_points", minimum=1, maximum=100_000)
    column = {name: j for j, name in enumerate(chosen)}

    def criteria(table: Any, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        amplification = np.nan_to_num(np.asarray(table[f"{name}.amplification"]), nan=1.0)
        by_level = amplification >= target if target is not None else np.zeros(len(table), dtype=bool)
        by_book = np.asarray(table["book_exhausted"], dtype=bool) if exhaustion else np.zeros(len(table), dtype=bool)
        by_contagion = np.zeros(len(table), dtype=bool)
        if threshold is not None:
            for other in names:
                if other != name:
                    by_contagion |= _liquidated(table, other) > threshold
        return by_level, by_book, by_contagion

    Key = tuple[str, Direction]

    def run(batch: list[tuple[Key, FloatArray]]) -> list[tuple[np.ndarray, Any, int]]:
        total = sum(inner.size for _, inner in batch)
        moves = np.zeros((total, len(chosen)))
        offset = 0
        for (name, direction), inner in batch:
            moves[offset: offset + inner.size, column[name]] = -inner if direction == "down" else inner
            offset += inner.size
        table = _venue_rows(venue_state, chosen, moves, threads)
        out, offset = [], 0
        for (name, _), inner in batch:
            by_level, by_book, by_contagion = criteria(table, name)
            hit = (by_level | by_book | by_contagion)[offset: offset + inner.size]
            out.append((hit, table, offset))
            offset += inner.size
        return out

    keys: list[Key] = [(name, direction) for name in chosen for direction in ("down", "up")]
    grid = step * np.arange(1, int(math.floor(top / step + 1e-9)) + 1)
    brackets, best, calls = _first_crossings(keys, run, grid, tol, m)

    rows: dict[str, list[Any]] = {c: [] for c in (
        "market", "direction", "critical_shock", "not_reached", "cause", "amplification", "final_move",
        "liquidated_notional", "accounts_liquidated", "contagion_market", "contagion_notional", "book_exhausted",
        "exhausted_markets", "bad_debt")}
    for name, direction in keys:
        sign = -1.0 if direction == "down" else 1.0
        bracket = brackets[(name, direction)]
        rows["market"].append(name)
        rows["direction"].append(direction)
        if bracket is None:
            values: list[Any] = [math.nan, sign * float(grid[-1]), "none", math.nan, math.nan, math.nan, 0, "",
                                 math.nan, False, "", math.nan]
        else:
            table, i = best[(name, direction)]
            by_level, by_book, by_contagion = criteria(table, name)
            cause = ("amplification" if by_level[i] else "exhaustion" if by_book[i] else "contagion")
            others = [(float(_liquidated(table, o)[i]), o) for o in names if o != name]
            most = max(others, default=(0.0, ""), key=lambda x: x[0])
            exhausted = [o for o in names if bool(table[f"{o}.book_exhausted"][i])]
            values = [sign * bracket[1], sign * bracket[0], cause, float(table[f"{name}.amplification"][i]),
                      float(table[f"{name}.final_move"][i]), float(table["liquidated_notional"][i]),
                      int(table["accounts_liquidated"][i]), most[1] if most[0] > 0.0 else "", most[0],
                      bool(table["book_exhausted"][i]), ",".join(exhausted), float(table["bad_debt"][i])]
        for c, v in zip(list(rows)[2:], values, strict=True):
            rows[c].append(v)
    out = {c: np.array(v, dtype=object) for c, v in rows.items()
           if c in ("market", "direction", "cause", "contagion_market", "exhausted_markets")}
    for c in ("critical_shock", "not_reached", "amplification", "final_move", "liquidated_notional",
              "contagion_notional", "bad_debt"):
        out[c] = np.array(rows[c], dtype=np.float64)
    out["accounts_liquidated"] = np.array(rows["accounts_liquidated"], dtype=np.int64)
    out["book_exhausted"] = np.array(rows["book_exhausted"], dtype=bool)
    out["calls"] = np.full(len(keys), calls, dtype=np.int64)
    order = ("market", "direction", "critical_shock", "not_reached", "cause", "amplification", "final_move",
             "liquidated_notional", "accounts_liquidated", "contagion_market", "contagion_notional",
             "book_exhausted", "exhausted_markets", "bad_debt", "calls")
    return ColumnTable({c: out[c] for c in order})


def venue_amplification_curve(state: Any, market: str, shocks: Any = None, *, max_shock: float = 0.2,
                              points: int = 201, threads: int | None = None) -> ColumnTable:
    """Every market's final move against a move of ``market`` alone (the others unmoved), one
    venue cascade per shock on the prepared ``state``: the shocks as :func:`amplification_curve`
    (``points // 2`` a side up to ``max_shock``, or ``shocks``; zero left out). One row per shock:
    ``market`` (the one moved), ``shock``, ``direction`` (-1, +1), ``final_move`` and
    ``amplification`` of the market moved; per market ``"{m}.final_move"``,
    ``"{m}.liquidated_notional"``, ``"{m}.sold_notional"`` and ``"{m}.book_exhausted"``; venue-wide
    ``liquidated_notional``, ``sold_notional``, ``accounts_liquidated``, ``n_liquidated``,
    ``rounds``, ``bad_debt``, ``token_bad_debt``, ``book_exhausted`` (any market) and
    ``contagion_share`` (the share of liquidated notional outside ``market``; NaN without
    liquidation). Each row is :func:`venue_cascade`'s with ``shocks={market: shock}``."""
    venue_state = _venue_state(state)
    if not isinstance(market, str):
        raise TypeError(f"market: expected a market name, got {type(market).__name__}")
    venue_state.venue.market_index(market)
    values = _curve_shocks(shocks, max_shock, points)
    table = _venue_rows(venue_state, [market], values[:, None], threads)
    names = venue_state.venue.market_names
    out: dict[str, np.ndarray] = {
        "market": np.full(values.size, market, dtype=object),
        "shock": values,
        "direction": np.where(values < 0, -1, 1).astype(np.int8),
        "final_move": np.asarray(table[f"{market}.final_move"]),
        "amplification": np.asarray(table[f"{market}.amplification"]),
    }
    for name in names:
        out[f"{name}.final_move"] = np.asarray(table[f"{name}.final_move"])
        out[f"{name}.liquidated_notional"] = _liquidated(table, name)
        out[f"{name}.sold_notional"] = np.asarray(table[f"{name}.sold_notional"])
        out[f"{name}.book_exhausted"] = np.asarray(table[f"{name}.book_exhausted"], dtype=bool)
    for c in ("liquidated_notional", "sold_notional", "accounts_liquidated", "n_liquidated", "rounds", "bad_debt",
              "token_bad_debt", "book_exhausted", "contagion_share"):
        out[c] = np.asarray(table[c])
    return ColumnTable(out)
