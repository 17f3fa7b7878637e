"""A study's results: one row per scenario as columns (``ScenarioTable``) and its summary
with Monte Carlo uncertainty (``MonteCarloSummary``, ``Estimate``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._table import ColumnTable
from ._validation import FloatArray
from ._validation import bounded_scalar as _finite

#: What ``liquidated_notional`` and ``bad_debt`` are counted in: quote currency (USD, USDT) on a
#: linear market, the settlement coin on an inverse (coin-margined) one.
NotionalUnit = Literal["USD", "coin"]
NOTIONAL_UNITS: tuple[NotionalUnit, ...] = ("USD", "coin")

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
    notional_unit: NotionalUnit = "USD"

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
            "notional_unit": self.notional_unit,
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
            lines.append(f"{name:<21}mean {_amount_text(mean, self.notional_unit)}, {level} "
                         f"{_amount_text(es, self.notional_unit)}")
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


def _amount_text(e: Estimate, unit: NotionalUnit) -> str:
    """``$    4.240M ± 0.399M`` in USD; ``  95.6812 coin ± 1.2345`` in coin (an inverse market)."""
    if unit == "coin":
        text = f"{e.value:10,.4f} coin"
        if not math.isnan(e.stderr):
            text += f" ± {e.stderr:,.4f}"
        return text + _suffix(e)
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
    ``bad_debt``, ``book_exhausted``; ``to_pandas()``, ``to_arrow()``, ``to_parquet(path)``.

    ``notional_unit`` says what the liquidated notional and bad debt columns count: ``"USD"``
    (quote currency: a linear market) or ``"coin"`` (an inverse market's settlement coin,
    e.g. ``cascade_many`` on an inverse set). The summary prints it, Arrow and Parquet carry
    it in the schema metadata (``liqcascade.notional_unit``), pandas in ``DataFrame.attrs``."""

    __slots__ = ("seed", "notional_unit")

    def __init__(self, columns: dict[str, np.ndarray], seed: int | None = None,
                 notional_unit: NotionalUnit = "USD") -> None:
        if notional_unit not in NOTIONAL_UNITS:
            raise ValueError(f"notional_unit: expected 'USD' or 'coin', got {notional_unit!r}")
        columns = dict(columns)
        columns["book_exhausted"] = columns["book_exhausted"].view(np.bool_)
        columns["scenario"] = columns["scenario"].astype(np.int64)
        super().__init__({name: columns[name] for name in COLUMNS})
        self.seed = seed
        self.notional_unit: NotionalUnit = notional_unit

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__({"notional_unit": "USD", **state})  # (pickled before the unit was kept)

    def to_arrow(self, metadata: Mapping[str, Any] | None = None) -> Any:
        """As :meth:`ColumnTable.to_arrow`, with ``liqcascade.notional_unit`` in the schema
        metadata (``metadata`` adds to it)."""
        return super().to_arrow({"liqcascade.notional_unit": self.notional_unit, **(metadata or {})})

    def to_pandas(self) -> Any:
        """As :meth:`ColumnTable.to_pandas`; ``frame.attrs["notional_unit"]`` holds the unit."""
        frame = super().to_pandas()
        frame.attrs["notional_unit"] = self.notional_unit
        return frame

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
            notional_unit=self.notional_unit,
        )
