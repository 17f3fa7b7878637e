"""Monte Carlo studies: population, book and shock models, parallel reproducible runs, and
their results as a table with a summary.

Every draw happens in C++ from a counter-based generator (Philox4x32-10): scenario ``i`` of a
study is a pure function of ``(seed, i)``, so results are bit-identical for any thread count
and any split of the scenario range.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Union

import numpy as np

from . import _core
from ._table import ColumnTable
from ._validation import FloatArray, first_bad, float_column, float_values, int_scalar, readonly, real_scalar
from ._validation import bounded_scalar as _finite
from ._warnings import warn
from .book import OrderBook
from .positions import DEFAULT_MMR, MaintenanceTiers, Positions

#: Leverage mix of the default population: weighted to 10-25x with a tail to 125x.
DEFAULT_LEVERAGE = (2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 75.0, 100.0, 125.0)
DEFAULT_LEVERAGE_WEIGHTS = (0.03, 0.03, 0.06, 0.22, 0.16, 0.20, 0.14, 0.08, 0.04, 0.025, 0.015)

#: (relative distance from the mid, cumulative notional in USD) per book side: about $20M
#: within 1 %, $60M within 5 %, $75M within 10 % (BTCUSDT-perpetual-like), thinning beyond.
DEFAULT_DEPTH_PROFILE: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (0.01, 20e6), (0.05, 60e6), (0.10, 75e6), (0.20, 85e6), (0.50, 100e6),
)

ProgressArg = Union[bool, Literal["auto"], Callable[[int, int], Any], None]


def _enum(kind: Any, value: Any, name: str) -> Any:
    """The core enum member named ``value`` (a ValueError naming ``name`` lists the others)."""
    options = list(kind.__members__)
    return getattr(kind, _choice(value, name, options))


def _choice(value: Any, name: str, options: Sequence[str]) -> str:
    if value not in options:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, options))}, got {value!r}")
    return str(value)


@dataclass(frozen=True, eq=False)
class PositionPopulation:
    """A random population of isolated-margin positions around the reference price (the
    book's mid).

    - ``count`` positions; each is long with probability ``long_share``.
    - leverage drawn from ``leverage`` with ``leverage_weights`` (must sum to 1).
    - entry price ``ref * exp(entry_spread * Z)`` with Z normal (``"lognormal"``) or
      Student-t with ``entry_df`` (``"student_t"``), or ``ref * (1 + entry_spread * U(-1, 1))``
      (``"uniform"``).
    - notional: ``"pareto"`` (tail index ``size_shape`` > 1: whales exist), ``"lognormal"``
      (sigma ``size_shape``) or ``"fixed"``, scaled so that the expected total is
      ``open_interest``.
    - maintenance from ``tiers`` by notional (Binance BTCUSDT by default), else ``mmr`` and
      ``maint_amount``.
    - ``exclude_underwater``: a position already past its liquidation price at the reference
      is redrawn (up to 64 times; a live market holds none).
    - ``margin_mode`` is ``"isolated"``; cross margin is reserved for the multi-market work.
    """

    count: int = 1_000_000
    long_share: float = 0.55
    leverage: Sequence[float] = DEFAULT_LEVERAGE
    leverage_weights: Sequence[float] = DEFAULT_LEVERAGE_WEIGHTS
    entry_distribution: Literal["lognormal", "student_t", "uniform"] = "lognormal"
    entry_spread: float = 0.025
    entry_df: float = 4.0
    size_distribution: Literal["pareto", "lognormal", "fixed"] = "pareto"
    size_shape: float = 1.5
    open_interest: float = 44e6
    tiers: MaintenanceTiers | None = field(default_factory=MaintenanceTiers.binance_btcusdt)
    mmr: float = DEFAULT_MMR
    maint_amount: float = 0.0
    exclude_underwater: bool = True
    margin_mode: Literal["isolated"] = "isolated"

    def __post_init__(self) -> None:
        # Python converts types and shapes; the ranges are the core's validate() (one owner)
        model = _core.PopulationModel()
        model.count = int_scalar(self.count, "count", minimum=0, maximum=2**64 - 1)
        model.long_share = real_scalar(self.long_share, "long_share")
        object.__setattr__(self, "leverage", tuple(float_values(self.leverage, "leverage").tolist()))
        object.__setattr__(self, "leverage_weights",
                           tuple(float_values(self.leverage_weights, "leverage_weights").tolist()))
        model.leverage, model.leverage_weights = list(self.leverage), list(self.leverage_weights)
        model.entry_distribution = _enum(_core.PopulationModel.EntryDistribution, self.entry_distribution,
                                         "entry_distribution")
        model.entry_spread = real_scalar(self.entry_spread, "entry_spread")
        model.entry_df = real_scalar(self.entry_df, "entry_df")
        model.size_distribution = _enum(_core.PopulationModel.SizeDistribution, self.size_distribution,
                                        "size_distribution")
        model.size_shape = real_scalar(self.size_shape, "size_shape")
        model.open_interest = real_scalar(self.open_interest, "open_interest")
        if self.tiers is not None:
            if not isinstance(self.tiers, MaintenanceTiers):
                raise TypeError(f"tiers: expected MaintenanceTiers or None, got {type(self.tiers).__name__}")
            model.tiers = self.tiers._table
        model.mmr = real_scalar(self.mmr, "mmr")
        model.maint_amount = real_scalar(self.maint_amount, "maint_amount")
        if not isinstance(self.exclude_underwater, (bool, np.bool_)):
            raise TypeError("exclude_underwater: expected a bool")
        model.exclude_underwater = bool(self.exclude_underwater)
        _choice(self.margin_mode, "margin_mode", ("isolated",))
        model.validate()
        object.__setattr__(self, "_model", model)

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild_model(self)

    def _to_core(self) -> Any:
        return self._model

    def sample(self, seed: int = 0, scenario: int = 0, book_model: BookModel | None = None) -> Positions:
        """The positions of ``scenario`` of a study with this seed (around ``book_model``'s mid,
        the default book model's when omitted)."""
        index = _index(scenario, "scenario")
        if index >= 2**63:
            raise ValueError(f"scenario: a scenario number must be < 2**63, got {index}")
        return sample_scenario(self, book_model or BookModel(), ShockModel.fixed([0.0]), seed, index).positions


@dataclass(frozen=True, eq=False)
class BookModel:
    """A synthetic book: one level every ``tick`` on each side of ``mid``, whose cumulative
    notional per side follows ``profile`` (``(distance, cumulative notional)`` points,
    interpolated linearly). Per scenario, all depth is scaled by ``1 - U(0, thinning)``
    (liquidity that vanishes in stress) and each level by a mean-one lognormal factor of
    sigma ``level_noise``."""

    mid: float = 100_000.0
    tick: float = 1.0
    profile: Sequence[tuple[float, float]] = DEFAULT_DEPTH_PROFILE
    thinning: float = 0.0
    level_noise: float = 0.0

    def __post_init__(self) -> None:
        model = _core.BookModel()
        model.mid = real_scalar(self.mid, "mid")
        model.tick = real_scalar(self.tick, "tick")
        try:
            points = np.asarray(self.profile, dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise TypeError(f"profile: expected (distance, cumulative notional) pairs ({exc})") from None
        if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 2:
            raise ValueError(f"profile: expected at least two (distance, cumulative notional) pairs, got shape {points.shape}")
        object.__setattr__(self, "profile", tuple(map(tuple, points.tolist())))
        model.profile_distance, model.profile_notional = points[:, 0].tolist(), points[:, 1].tolist()
        model.thinning = real_scalar(self.thinning, "thinning")
        model.level_noise = real_scalar(self.level_noise, "level_noise")
        model.validate()
        object.__setattr__(self, "_model", model)

    @classmethod
    def linear(cls, notional_per_pct: float, max_distance: float = 0.5, **kwargs: Any) -> BookModel:
        """Constant depth: ``notional_per_pct`` of notional per 1 % of distance."""
        depth = _finite(notional_per_pct, "notional_per_pct", low=0.0, low_open=True)
        distance = _finite(max_distance, "max_distance", low=0.0, low_open=True)
        return cls(profile=((0.0, 0.0), (distance, depth * distance / 0.01)), **kwargs)

    @classmethod
    def power(cls, notional_within_1pct: float, exponent: float, max_distance: float = 0.5,
              points: int = 200, **kwargs: Any) -> BookModel:
        """Cumulative notional ``notional_within_1pct * (d / 1 %) ** exponent`` (exponent < 1:
        depth concentrated near the mid)."""
        depth = _finite(notional_within_1pct, "notional_within_1pct", low=0.0, low_open=True)
        power = _finite(exponent, "exponent", low=0.0, low_open=True)
        d = _profile_distances(max_distance, points)
        with np.errstate(over="ignore", under="ignore"):  # an overflowing profile: BookModel names it
            cumulative = depth * (d / 0.01) ** power
        return cls(profile=tuple(zip(d, cumulative)), **kwargs)

    @classmethod
    def exponential(cls, total_notional: float, decay: float, max_distance: float = 0.5,
                    points: int = 200, **kwargs: Any) -> BookModel:
        """Cumulative notional ``total_notional * (1 - exp(-d / decay))``."""
        total = _finite(total_notional, "total_notional", low=0.0, low_open=True)
        scale = _finite(decay, "decay", low=0.0, low_open=True)
        d = _profile_distances(max_distance, points)
        with np.errstate(over="ignore", under="ignore"):
            cumulative = total * -np.expm1(-d / scale)
        return cls(profile=tuple(zip(d, cumulative)), **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild_model(self)

    def _to_core(self) -> Any:
        return self._model

    def build(self, seed: int = 0, scenario: int = 0) -> OrderBook:
        """The book of ``scenario`` (the same for every scenario without thinning or noise)."""
        return OrderBook._from_core(_core.sample_book(self._to_core(), _seed(seed), _index(scenario, "scenario")))


@dataclass(frozen=True, eq=False)
class ShockModel:
    """Relative moves of the reference price, one per scenario: a ``fixed`` list (scenario
    ``i`` takes ``values[i % len]``), ``normal`` or ``student_t`` moves of a ``scale`` (a draw
    at or below -100 % is redrawn), or an ``empirical`` array resampled with replacement."""

    kind: Literal["fixed", "normal", "student_t", "empirical"]
    values: FloatArray = field(default_factory=lambda: np.empty(0))
    scale: float = 0.0
    df: float = 3.0

    def __post_init__(self) -> None:
        model = _core.ShockModel()
        model.kind = _enum(_core.ShockModel.Kind, self.kind, "kind")
        values = float_values(self.values, "values")
        object.__setattr__(self, "values", readonly(values))
        model.values = values.tolist()
        model.scale = real_scalar(self.scale, "scale")
        model.df = real_scalar(self.df, "df")
        model.validate()
        object.__setattr__(self, "_model", model)

    @classmethod
    def fixed(cls, values: Any) -> ShockModel:
        return cls("fixed", values=values)

    @classmethod
    def normal(cls, scale: float) -> ShockModel:
        return cls("normal", scale=scale)

    @classmethod
    def student_t(cls, df: float, scale: float) -> ShockModel:
        """Student-t moves with ``df`` degrees of freedom (> 0) times ``scale``. ``df <= 1`` is
        accepted but warned about (:class:`LiqcascadeWarning`): the distribution then has no
        mean (Cauchy at 1), so study means and expected shortfalls do not converge."""
        model = cls("student_t", scale=scale, df=df)
        if model.df <= 1.0:
            warn(f"df: a Student-t with df <= 1 has no mean (df = {model.df:g}): study means and expected "
                 "shortfalls will not converge; did you mean df > 1 (3 is a common choice for daily moves)?")
        return model

    @classmethod
    def empirical(cls, values: Any) -> ShockModel:
        return cls("empirical", values=values)

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild_model(self)

    def _to_core(self) -> Any:
        return self._model


def _rebuild_model(model: Any) -> tuple[Any, ...]:
    """Pickle and copy a model through its constructor, from its public fields: whatever the
    model holds privately (compiled state) is rebuilt, not pickled."""
    return (_construct, (type(model), {f.name: getattr(model, f.name) for f in fields(model) if f.init}))


def _construct(cls: type, kwargs: dict[str, Any]) -> Any:
    return cls(**kwargs)


def _profile_distances(max_distance: Any, points: Any) -> FloatArray:
    distance = _finite(max_distance, "max_distance", low=0.0, low_open=True)
    return np.linspace(0.0, distance, int_scalar(points, "points", minimum=2, maximum=1_000_000))


def _shock_model(shocks: Any) -> ShockModel:
    return shocks if isinstance(shocks, ShockModel) else ShockModel.fixed(shocks)


def _seed(seed: Any) -> int:
    return int_scalar(seed, "seed", minimum=0, maximum=2**64 - 1)


def _index(value: Any, name: str) -> int:
    # (the engine takes a uint64; it refuses scenario numbers beyond int64, which the table holds)
    return int_scalar(value, name, minimum=0, maximum=2**64 - 1)


def _threads(threads: Any) -> int:
    if threads is None:
        return int(_core.default_threads())
    return int_scalar(threads, "threads", minimum=1, maximum=2**32 - 1)  # the engine's bound is lower


# -- results ------------------------------------------------------------------------------------

COLUMNS = ("scenario", "shock", "final_price", "final_move", "amplification",
           "liquidated_notional_long", "liquidated_notional_short", "n_liquidated", "rounds",
           "bad_debt", "book_exhausted")


#: Two-sided 95 % normal quantile: the level of every interval the summary reports.
_Z95 = 1.959963984540054
#: Rules of thumb below which a normal standard error is not meaningful and the summary says
#: "n too small": a probability needs ``min(hits, n - hits) >= 5`` (the textbook condition of the
#: normal approximation to the binomial), an expected shortfall at least 5 tail outcomes, a
#: mean at least 10 scenarios; a quantile's interval must lie within the sample.
_MIN_HITS = 5
_MIN_TAIL = 5
_MIN_MEAN = 10
_TOO_SMALL = "n too small"
_EXHAUSTED = "book exhausted"


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: its ``value``; its standard error ``stderr`` (NaN where a normal
    standard error is not meaningful); a 95 % interval ``[low, high]`` where one is computed
    (quantiles: distribution-free order statistics; probabilities: Wilson score) — asymmetric
    in general; ``note``: ``"n too small"`` (too few scenarios, or tail outcomes, for the
    standard error or for an interval inside the sample) or ``"book exhausted"`` (the value is
    set by scenarios whose book ran out: a bound, not a measurement); ``bound``: ``"upper"``
    (the true value is at most ``value``), ``"lower"`` (at least) or None."""

    value: float
    stderr: float
    low: float | None = None
    high: float | None = None
    note: str | None = None
    bound: Literal["upper", "lower"] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON (NaN becomes None)."""
        def plain(x: float | None) -> float | None:  # (an interval open on a side: None there)
            return None if x is None or not math.isfinite(x) else float(x)
        return {"value": plain(self.value), "stderr": plain(self.stderr), "low": plain(self.low),
                "high": plain(self.high), "note": self.note, "bound": self.bound}

    def __str__(self) -> str:
        text = f"{self.value:.6g}"
        if self.bound is not None:
            text = ("≤ " if self.bound == "upper" else "≥ ") + text
        if self.low is not None and self.high is not None:
            text += f" [{self.low:.6g}, {self.high:.6g}]"
        elif not math.isnan(self.stderr):
            text += f" ± {self.stderr:.2g}"
        return text + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class MonteCarloSummary:
    """What :meth:`ScenarioTable.summary` reports; ``str()`` prints it, ``to_dict()`` gives
    plain values for JSON (each estimate as ``value``, ``stderr``, ``low``, ``high``, ``note``,
    ``bound``; NaN as None)."""

    n_scenarios: int
    move_quantiles: dict[float, Estimate]
    prob_down: dict[float, Estimate]     # P(final_move <= -x)
    prob_up: dict[float, Estimate]       # P(final_move >= x)
    prob_book_exhausted: Estimate
    liquidated_notional_mean: Estimate
    liquidated_notional_es: Estimate
    bad_debt_mean: Estimate
    bad_debt_es: Estimate
    es_level: float
    n_book_exhausted: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_scenarios": self.n_scenarios,
            "n_book_exhausted": self.n_book_exhausted,
            "interval_level": 0.95,
            "move_quantiles": {str(q): e.to_dict() for q, e in self.move_quantiles.items()},
            "prob_down": {str(x): e.to_dict() for x, e in self.prob_down.items()},
            "prob_up": {str(x): e.to_dict() for x, e in self.prob_up.items()},
            "prob_book_exhausted": self.prob_book_exhausted.to_dict(),
            "liquidated_notional_mean": self.liquidated_notional_mean.to_dict(),
            "liquidated_notional_es": self.liquidated_notional_es.to_dict(),
            "bad_debt_mean": self.bad_debt_mean.to_dict(),
            "bad_debt_es": self.bad_debt_es.to_dict(),
            "es_level": self.es_level,
        }

    def __str__(self) -> str:
        lines = [f"{self.n_scenarios:,} scenarios (intervals: 95 %; ± one standard error)",
                 "final move quantiles [order-statistic interval]:"]
        lines += [f"  {q * 100:5.1f}%  {_move_text(e)}" for q, e in self.move_quantiles.items()]
        lines.append("probability that the final move reaches [Wilson interval]:")
        for x in self.prob_down:
            down = f"-{x * 100:4.1f}%  {_prob_text(self.prob_down[x])}"
            lines.append(f"  {down:<38}  +{x * 100:4.1f}%  {_prob_text(self.prob_up[x])}".rstrip())
        lines.append(f"book exhausted:   {_prob_text(self.prob_book_exhausted)}")
        level = f"ES {self.es_level * 100:g}%"
        for name, mean, es in (("liquidated notional:", self.liquidated_notional_mean, self.liquidated_notional_es),
                               ("bad debt:", self.bad_debt_mean, self.bad_debt_es)):
            lines.append(f"{name:<21}mean {_usd_text(mean)}, {level} {_usd_text(es)}")
        return "\n".join(lines)


def _suffix(e: Estimate) -> str:
    return f" ({e.note})" if e.note else ""


def _move_text(e: Estimate) -> str:
    """``-16.24% [-23.10, -12.00]``; ``≤ -50.00% (book exhausted)`` for a bound."""
    if e.bound is not None:
        return f"{'≤' if e.bound == 'upper' else '≥'}{e.value * 100:+7.2f}%" + _suffix(e)
    text = f" {e.value * 100:+7.2f}%"
    if e.low is not None and e.high is not None:
        low = f"{e.low * 100:+.2f}"
        high = f"{e.high * 100:+.2f}"
        text += f" [{low}, {high}]"
    return text + _suffix(e)


def _prob_text(e: Estimate) -> str:
    """``7.50% [4.62, 11.92]``; ``≥ 1.50% [...] (book exhausted)`` for a lower bound."""
    mark = "≥" if e.bound == "lower" else ("≤" if e.bound == "upper" else " ")
    text = f"{mark}{e.value * 100:5.2f}%"
    if e.low is not None and e.high is not None:
        text += f" [{e.low * 100:.2f}, {e.high * 100:.2f}]"
    return text + _suffix(e)


def _usd_text(e: Estimate) -> str:
    text = f"${e.value / 1e6:9.3f}M"
    if not math.isnan(e.stderr):
        text += f" ± {e.stderr / 1e6:.3f}M"
    return text + _suffix(e)


def _mean(x: np.ndarray) -> Estimate:
    """The sample mean; its standard error ``s / sqrt(n)``, reported from 10 scenarios on."""
    n = x.size
    if n < _MIN_MEAN:
        return Estimate(float(x.mean()), math.nan, note=_TOO_SMALL)
    return Estimate(float(x.mean()), float(x.std(ddof=1) / math.sqrt(n)))


def _expected_shortfall(x: np.ndarray, level: float) -> Estimate:
    """Mean of the worst (largest) ``1 - level`` of outcomes; standard error from the
    asymptotic variance of the estimator, (Var(X | X >= VaR) + level (ES - VaR)^2) / k
    (Yamai & Yoshiba 2002; Chen 2008), with k the number of tail outcomes — reported from
    k = 5 on (below, "n too small")."""
    n = x.size
    k = max(1, math.ceil(n * (1.0 - level)))
    tail = np.sort(x)[n - k:]
    es = float(tail.mean())
    if k < _MIN_TAIL:
        return Estimate(es, math.nan, note=_TOO_SMALL)
    var = float(tail[0])
    tail_var = float(tail.var(ddof=1))
    return Estimate(es, math.sqrt((tail_var + level * (es - var) ** 2) / k))


def _probability(mask: np.ndarray) -> Estimate:
    """The share of hits; the 95 % Wilson score interval (proper with 0 or n hits, where it
    gives about the rule of three's 3/n); the binomial standard error ``sqrt(p (1 - p) / n)``
    where the normal approximation holds (``min(hits, n - hits) >= 5``), else NaN and
    "n too small"."""
    n = mask.size
    hits = int(np.count_nonzero(mask))
    p = hits / n
    z2 = _Z95 * _Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if hits == 0 else max(0.0, centre - half)
    high = 1.0 if hits == n else min(1.0, centre + half)
    if min(hits, n - hits) < _MIN_HITS:
        return Estimate(p, math.nan, low, high, note=_TOO_SMALL)
    return Estimate(p, math.sqrt(p * (1 - p) / n), low, high)


def _quantile(x: np.ndarray, q: float) -> Estimate:
    """Sample quantile and its distribution-free 95 % interval: the order statistics of ranks
    ``floor(n q - h)`` and ``ceil(n q + h) + 1`` (1-based), ``h = 1.96 sqrt(n q (1 - q))``
    (asymmetric in value in general); the standard error is its
    width over 2 x 1.96. When a rank falls outside the sample the interval is not known on
    that side (``-inf`` or ``inf``: the interval reaches beyond the sample), the standard error
    is NaN and the note says "n too small"."""
    n = x.size
    s = np.sort(x)
    half = _Z95 * math.sqrt(n * q * (1 - q))
    lo_rank = math.floor(n * q - half) - 1  # 0-based: ranks floor(n q - h) and ceil(n q + h) + 1
    hi_rank = math.ceil(n * q + half)
    value = float(np.quantile(s, q))
    if lo_rank < 0 or hi_rank > n - 1:
        lo = -math.inf if lo_rank < 0 else float(s[lo_rank])
        hi = math.inf if hi_rank > n - 1 else float(s[hi_rank])
        return Estimate(value, math.nan, lo, hi, note=_TOO_SMALL)
    lo, hi = float(s[lo_rank]), float(s[hi_rank])
    return Estimate(value, (hi - lo) / (2 * _Z95), lo, hi)


def _censored(estimate: Estimate, bound: Literal["upper", "lower"]) -> Estimate:
    """The estimate marked as a bound set by exhausted books."""
    return Estimate(estimate.value, math.nan, None, None, _EXHAUSTED, bound)


class ScenarioTable(ColumnTable):
    """One row per scenario (or per shock of :func:`cascade_many`), as NumPy columns:
    ``scenario``, ``shock``, ``final_price``, ``final_move``, ``amplification``,
    ``liquidated_notional_long``, ``liquidated_notional_short``, ``n_liquidated``, ``rounds``,
    ``bad_debt``, ``book_exhausted``; ``to_pandas()``, ``to_arrow()``, ``to_parquet(path)``."""

    __slots__ = ("seed",)

    def __init__(self, columns: dict[str, np.ndarray], seed: int | None = None) -> None:
        columns = dict(columns)
        columns["book_exhausted"] = columns["book_exhausted"].view(np.bool_)
        columns["scenario"] = columns["scenario"].astype(np.int64)
        super().__init__({name: columns[name] for name in COLUMNS})
        self.seed = seed

    @property
    def liquidated_notional(self) -> FloatArray:
        return self["liquidated_notional_long"] + self["liquidated_notional_short"]

    def summary(self, thresholds: Sequence[float] = (0.05, 0.10, 0.20),
                quantiles: Sequence[float] = (0.01, 0.05, 0.5, 0.95, 0.99),
                level: float = 0.975) -> MonteCarloSummary:
        """Quantiles of the final move, probabilities that it reaches each threshold (down and
        up), the probability of book exhaustion, and the mean and expected shortfall at
        ``level`` of liquidated notional and bad debt — each with its Monte Carlo uncertainty:
        95 % intervals for quantiles (order statistics) and probabilities (Wilson), standard
        errors for means and expected shortfalls, and "n too small" where the sample does not
        support one (see :class:`Estimate`). A quantile set by scenarios whose book was exhausted
        is reported as the bound it is (``≤ -x% (book exhausted)``)."""
        if len(self) < 2:
            raise ValueError("summary: needs at least two scenarios")
        _finite(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
        move = self["final_move"]
        for q in quantiles:
            _finite(q, "quantiles", low=0.0, high=1.0)
        for x in thresholds:
            _finite(x, "thresholds", low=0.0)
        # A scenario whose book ran out ends at the book's last level: its true move is at
        # least as large (a censored value). A quantile that falls among such moves is a bound,
        # and so is a probability that such a move could cross.
        exhausted = np.asarray(self["book_exhausted"], dtype=bool)
        down = move[exhausted & (move < 0)]
        up = move[exhausted & (move > 0)]
        down_edge = float(down.max()) if down.size else -math.inf
        up_edge = float(up.min()) if up.size else math.inf

        ordered = np.sort(move)

        def quantile(q: float) -> Estimate:
            estimate = _quantile(move, q)
            h = q * (len(ordered) - 1)  # the order statistics the sample quantile interpolates
            if ordered[math.floor(h)] <= down_edge:
                return _censored(estimate, "upper")
            if ordered[math.ceil(h)] >= up_edge:
                return _censored(estimate, "lower")
            return estimate

        def probability(mask: np.ndarray, crossable: np.ndarray) -> Estimate:
            estimate = _probability(mask)
            if crossable.any():  # an exhausted move short of the threshold may truly reach it
                return Estimate(estimate.value, estimate.stderr, estimate.low, estimate.high, _EXHAUSTED, "lower")
            return estimate

        return MonteCarloSummary(
            n_scenarios=len(self),
            move_quantiles={float(q): quantile(float(q)) for q in quantiles},
            prob_down={float(x): probability(move <= -x, (down > -x)) for x in thresholds},
            prob_up={float(x): probability(move >= x, (up < x)) for x in thresholds},
            prob_book_exhausted=_probability(exhausted),
            n_book_exhausted=int(np.count_nonzero(exhausted)),
            liquidated_notional_mean=_mean(self.liquidated_notional),
            liquidated_notional_es=_expected_shortfall(self.liquidated_notional, level),
            bad_debt_mean=_mean(self["bad_debt"]),
            bad_debt_es=_expected_shortfall(self["bad_debt"], level),
            es_level=float(level),
        )



# -- running ------------------------------------------------------------------------------------

def _progress_callback(progress: ProgressArg, total: int, desc: str) -> tuple[Callable[[int], None] | None, Callable[[], None]]:
    """(callback(done), close) for the chosen progress reporting."""
    if progress is None or progress is False:
        return None, lambda: None
    if callable(progress) and not isinstance(progress, bool):
        user = progress
        return (lambda done: user(done, total)), lambda: None
    if progress == "auto" and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        return None, lambda: None
    if progress not in (True, "auto"):
        raise ValueError(f"progress: expected True, False, 'auto' or a callable, got {progress!r}")
    try:
        from tqdm import tqdm
    except ImportError:
        if progress == "auto":
            return None, lambda: None
        def plain(done: int) -> None:
            sys.stderr.write(f"\r{desc}: {done:,}/{total:,}")
            sys.stderr.flush()
        return plain, lambda: sys.stderr.write("\n")
    bar = tqdm(total=total, desc=desc, unit="scenario", delay=2.0, leave=False)

    def update(done: int) -> None:
        bar.update(done - bar.n)
    return update, bar.close


def monte_carlo(
    population: PositionPopulation,
    book_model: BookModel,
    shocks: ShockModel | Sequence[float] | np.ndarray,
    n_scenarios: int,
    seed: int = 0,
    *,
    first_scenario: int = 0,
    threads: int | None = None,
    progress: ProgressArg = "auto",
) -> ScenarioTable:
    """Run scenarios ``first_scenario .. first_scenario + n_scenarios - 1`` of a study.

    Each scenario draws its shock, its book and its positions (only the side the shock puts at
    risk) from counter-based streams keyed by ``(seed, scenario)``, then runs one static
    cascade. Rows are bit-identical for any ``threads`` (default: every core) and any split of
    the scenario range. Memory holds one sampled position set per thread. ``progress``:
    ``"auto"`` shows a bar (tqdm, if installed) when stderr is a terminal and the run lasts
    over two seconds; ``True`` always; ``False`` never; or a callable ``(done, total)``.
    Ctrl-C stops the run within a fraction of a second and raises ``KeyboardInterrupt``.
    """
    if not isinstance(population, PositionPopulation):
        raise TypeError(f"population: expected PositionPopulation, got {type(population).__name__}")
    if not isinstance(book_model, BookModel):
        raise TypeError(f"book_model: expected BookModel, got {type(book_model).__name__}")
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
    return ScenarioTable(raw, seed=seed_value)


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
    core_book, columns, shock = _core.sample_scenario(
        population._to_core(), book_model._to_core(), _shock_model(shocks)._to_core(), _seed(seed),
        _index(index, "index"))
    return Scenario(OrderBook._from_core(core_book), Positions(**columns, copy=False), float(shock))


def _warn_at_start(book: OrderBook, positions: Positions, shocks: FloatArray, ref: float | None) -> None:
    """cascade_many's warnings: shocks beyond +-100 %, positions already past their
    liquidation price at the reference price (on the sides the shocks put at risk)."""
    from .cascade import _warn_large_shocks, _warn_past_liquidation

    finite = shocks[np.isfinite(shocks)]  # (bad values are the engine's to refuse)
    _warn_large_shocks(finite, "shocks")
    if ref is None and (book.bid_price.size == 0 or book.ask_price.size == 0):
        return  # no mid: the engine says so
    _warn_past_liquidation(positions, book.mid if ref is None else ref,
                           longs=bool((finite < 0).any()), shorts=bool((finite > 0).any()))


def _is_scalar(value: Any) -> bool:
    return isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.ndim == 0)


def cascade_many(book: OrderBook, positions: Positions, shocks: Any, *, ref_price: float | None = None,
                 threads: int | None = None, progress: ProgressArg = False) -> ScenarioTable:
    """One static cascade per relative shock on one fixed position set, in one C++ call: the
    thresholds are sorted once and every shock costs only what it touches. Row ``i`` is
    ``shocks[i]`` (its ``scenario`` column is ``i``)."""
    if not isinstance(book, OrderBook):
        raise TypeError(f"book: expected liqcascade.OrderBook, got {type(book).__name__}")
    if not isinstance(positions, Positions):
        raise TypeError(f"positions: expected liqcascade.Positions, got {type(positions).__name__}")
    values = float_column(shocks, "shocks", 1) if _is_scalar(shocks) else float_column(shocks, "shocks")
    ref = None if ref_price is None else real_scalar(ref_price, "ref_price")
    _warn_at_start(book, positions, values, ref)
    callback, close = _progress_callback(progress, values.shape[0], "shocks")
    try:
        raw = _core.cascade_many(book._book, positions._set, values, ref, _threads(threads), callback)
    finally:
        close()
    return ScenarioTable(raw)
