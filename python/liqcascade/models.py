"""The models of a Monte Carlo study: the population of positions, the synthetic book and the
shocks. Each dataclass checks types and shapes, then holds the engine's typed model (a bound
C++ struct) and calls its ``validate()``: the range rules and their messages are the core's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np

from . import _core
from ._validation import FloatArray, choice, core_enum, float_values, int_scalar, readonly, real_scalar
from ._validation import bounded_scalar as _finite
from ._warnings import warn
from .book import OrderBook
from .positions import DEFAULT_MMR, Basis, Contract, MaintenanceTiers, Positions, TierRule, _margin_rules

#: Leverage mix of the default population: weighted to 10-25x with a tail to 125x.
DEFAULT_LEVERAGE = (2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 75.0, 100.0, 125.0)
DEFAULT_LEVERAGE_WEIGHTS = (0.03, 0.03, 0.06, 0.22, 0.16, 0.20, 0.14, 0.08, 0.04, 0.025, 0.015)

#: (relative distance from the mid, cumulative notional in USD) per book side: about $20M
#: within 1 %, $60M within 5 %, $75M within 10 % (BTCUSDT-perpetual-like), thinning beyond.
DEFAULT_DEPTH_PROFILE: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (0.01, 20e6), (0.05, 60e6), (0.10, 75e6), (0.20, 85e6), (0.50, 100e6),
)


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
    - maintenance from ``tiers`` (Binance BTCUSDT by default), else ``mmr`` and
      ``maint_amount``, valued as ``basis`` and ``close_fee`` say (see :class:`Positions`); a
      position takes the tier of its notional at its liquidation price (``tier_rule``, as
      :class:`Positions`), and one drawn above its entry tier's ``max_leverage`` is drawn at
      it (``leverage_limit="clip"``, the default) or kept (``"ignore"``).
    - ``contract="inverse"``: the same draws as coin-margined contracts of ``contract_size``
      USD — each position ``notional / contract_size`` contracts at its entry, with
      ``notional / entry / leverage`` coin of margin; tiers on the coin notional; the book
      model's quantities are then contracts (:class:`Positions`, "inverse").
    - ``exclude_underwater``: a position already past its liquidation price at the reference
      is redrawn (up to 64 times; a live market holds none).
    - ``margin_mode`` is ``"isolated"``: cross margin spans markets, and a population of cross
      accounts is a :class:`liqcascade.VenuePopulation` over a venue.
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
    basis: Basis = "mark"
    close_fee: float = 0.0
    tier_rule: TierRule | None = None
    leverage_limit: Literal["clip", "ignore"] = "clip"
    contract: Contract = "linear"
    contract_size: float = 1.0
    _model: Any = field(init=False, repr=False, compare=False)  # the engine's PopulationModel

    def __post_init__(self) -> None:
        # Python converts types and shapes; the ranges are the core's validate() (one owner)
        model = _core.PopulationModel()
        model.count = int_scalar(self.count, "count", minimum=0, maximum=2**64 - 1)
        model.long_share = real_scalar(self.long_share, "long_share")
        object.__setattr__(self, "leverage", tuple(float_values(self.leverage, "leverage").tolist()))
        object.__setattr__(self, "leverage_weights",
                           tuple(float_values(self.leverage_weights, "leverage_weights").tolist()))
        model.leverage, model.leverage_weights = list(self.leverage), list(self.leverage_weights)
        model.entry_distribution = core_enum(_core.PopulationModel.EntryDistribution, self.entry_distribution,
                                         "entry_distribution")
        model.entry_spread = real_scalar(self.entry_spread, "entry_spread")
        model.entry_df = real_scalar(self.entry_df, "entry_df")
        model.size_distribution = core_enum(_core.PopulationModel.SizeDistribution, self.size_distribution,
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
        if self.margin_mode == "cross":
            raise ValueError("margin_mode: a population of one market is isolated; cross-margin accounts span "
                             "markets: sample them with liqcascade.VenuePopulation over a venue "
                             "(venue_monte_carlo(venue, shocks, n, population=...))")
        choice(self.margin_mode, "margin_mode", ("isolated",))
        model.margin_rule, model.tier_rule = _margin_rules(self.basis, self.close_fee, self.tier_rule)
        model.leverage_limit = core_enum(_core.LeverageLimit, self.leverage_limit, "leverage_limit")
        size = real_scalar(self.contract_size, "contract_size")
        if choice(self.contract, "contract", ("linear", "inverse")) == "inverse":
            model.inverse_size = size
        elif size != 1.0:
            raise ValueError("contract_size: only an inverse contract has a size (contract='inverse')")
        model.validate()
        object.__setattr__(self, "_model", model)

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild_model(self)

    def _to_core(self) -> Any:
        return self._model

    def sample(self, seed: int = 0, scenario: int = 0, book_model: BookModel | None = None) -> Positions:
        """The positions of ``scenario`` of a study with this seed (around ``book_model``'s mid,
        the default book model's when omitted)."""
        return _sample(self, book_model or BookModel(), ShockModel.fixed([0.0]), seed, scenario, "scenario")[1]


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
    _model: Any = field(init=False, repr=False, compare=False)  # the engine's BookModel

    def __post_init__(self) -> None:
        model = _core.BookModel()
        model.mid = real_scalar(self.mid, "mid")
        model.tick = real_scalar(self.tick, "tick")
        try:
            points = np.asarray(self.profile, dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise TypeError(f"profile: expected (distance, cumulative notional) pairs ({exc})") from None
        if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 2:
            raise ValueError("profile: expected at least two (distance, cumulative notional) pairs, "
                             f"got shape {points.shape}")
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
        return cls(profile=tuple(zip(d, cumulative, strict=True)), **kwargs)

    @classmethod
    def exponential(cls, total_notional: float, decay: float, max_distance: float = 0.5,
                    points: int = 200, **kwargs: Any) -> BookModel:
        """Cumulative notional ``total_notional * (1 - exp(-d / decay))``."""
        total = _finite(total_notional, "total_notional", low=0.0, low_open=True)
        scale = _finite(decay, "decay", low=0.0, low_open=True)
        d = _profile_distances(max_distance, points)
        with np.errstate(over="ignore", under="ignore"):
            cumulative = total * -np.expm1(-d / scale)
        return cls(profile=tuple(zip(d, cumulative, strict=True)), **kwargs)

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
    _model: Any = field(init=False, repr=False, compare=False)  # the engine's ShockModel

    def __post_init__(self) -> None:
        model = _core.ShockModel()
        model.kind = core_enum(_core.ShockModel.Kind, self.kind, "kind")
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


def _sample(population: PositionPopulation, book_model: BookModel, shocks: ShockModel, seed: Any, index: Any,
            index_field: str = "index") -> tuple[OrderBook, Positions, float]:
    """A scenario's book, positions (both sides) and shock, as the engine composes them."""
    core_book, columns, shock = _core.sample_scenario(population._to_core(), book_model._to_core(), shocks._to_core(),
                                                      _seed(seed), _index(index, index_field), index_field)
    positions = Positions(columns["side"], columns["qty"], columns["entry_price"], columns["margin"], columns["mmr"],
                          columns["maint_amount"], basis=population.basis, close_fee=population.close_fee,
                          contract=population.contract, contract_size=population.contract_size, copy=False)
    return OrderBook._from_core(core_book), positions, float(shock)
