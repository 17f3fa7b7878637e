"""Correlated shocks across markets, for studies over a venue (docs/design.md, "Correlated
shocks"): one relative move per shocked market per scenario. The dataclass checks types and
shapes, then holds the engine's typed model and calls its ``validate()`` (the range rules, the
correlation matrix's Cholesky check among them, are the core's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from . import _core
from ._validation import FloatArray, core_enum, int_scalar, readonly, real_scalar
from ._warnings import warn
from .models import _index, _rebuild_model, _seed

__all__ = ["CorrelatedShockModel"]


def _matrix(value: Any, name: str) -> FloatArray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected a 2-D array of numbers ({exc})") from None
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False)
class CorrelatedShockModel:
    """Relative moves of several markets at once, one vector per scenario.

    - ``normal``: ``move_m = scale_m · Y_m`` with ``Y ~ N(0, correlation)`` (``Y = L Z``,
      ``L`` the correlation's Cholesky factor, ``Z`` independent standard normals).
    - ``student_t``: ``move_m = scale_m · Y_m · sqrt(df / W)``, ``W ~ χ²(df)`` one draw per
      scenario shared by every market (a multivariate Student-t: joint crashes are more
      likely than under a normal of the same correlation); each move is ``scale_m`` times a
      standard Student-t, as :meth:`ShockModel.student_t`.
    - ``historical``: a row of ``moves`` (past joint moves, one column per market), resampled
      uniformly with replacement.
    - ``fixed``: scenario ``i`` takes row ``i % rows`` of ``moves`` (no draw).

    ``correlation`` must be symmetric with a unit diagonal (within 1e-9) and positive
    semi-definite (``ValueError`` naming ``correlation[row]`` where the Cholesky factorisation
    fails); ``scale`` finite and ``>= 0`` per market (0: that market is not moved). A normal or
    Student-t vector with a move ``<= -1`` is redrawn whole (up to 64 times, then such moves
    are -0.99). ``markets`` names the venue market of each column; ``None``: the venue's
    markets in order (then the model must have one column per market).
    """

    kind: Literal["normal", "student_t", "historical", "fixed"]
    correlation: Any = None
    scale: Any = None
    df: float = 3.0
    moves: Any = None
    markets: Sequence[str] | None = None
    _model: Any = field(init=False, repr=False, compare=False)  # the engine's CorrelatedShockModel

    def __post_init__(self) -> None:
        model = _core.CorrelatedShockModel()
        model.kind = core_enum(_core.CorrelatedShockModel.Kind, self.kind, "kind")
        if self.kind in ("normal", "student_t"):
            if self.correlation is None or self.scale is None:
                raise TypeError(f"{self.kind}: correlation and scale are required")
            correlation = _matrix(self.correlation, "correlation")
            if correlation.shape[0] != correlation.shape[1]:
                raise ValueError(f"correlation: expected a square matrix, got shape {correlation.shape}")
            k = correlation.shape[0]
            scale = np.array(self.scale, dtype=np.float64)
            if scale.ndim == 0:
                scale = np.full(k, float(scale))
            if scale.shape != (k,):
                raise ValueError(f"scale: expected one scale per market ({k}), got shape {scale.shape}")
            object.__setattr__(self, "correlation", readonly(correlation))
            object.__setattr__(self, "scale", readonly(scale))
            model.correlation, model.scale = correlation.ravel().tolist(), scale.tolist()
            model.df = real_scalar(self.df, "df")
        else:
            if self.moves is None:
                raise TypeError(f"{self.kind}: moves are required (rows of joint moves, one column per market)")
            if self.correlation is not None or self.scale is not None:
                raise TypeError(f"{self.kind}: takes moves, not correlation or scale")
            moves = _matrix(self.moves, "moves")
            k = moves.shape[1]
            object.__setattr__(self, "moves", readonly(moves))
            model.moves = moves.ravel().tolist()
        model.dimension = k
        if self.markets is not None:
            if isinstance(self.markets, str) or not all(isinstance(m, str) for m in self.markets):
                raise TypeError("markets: expected a sequence of market names")
            names = tuple(self.markets)
            if len(names) != k:
                raise ValueError(f"markets: the model moves {k} markets, got {len(names)} names")
            if len(set(names)) != len(names):
                raise ValueError(f"markets: a market is named twice ({', '.join(map(repr, names))})")
            object.__setattr__(self, "markets", names)
        model.validate()
        object.__setattr__(self, "_model", model)

    @classmethod
    def normal(cls, correlation: Any, scale: Any, *, markets: Sequence[str] | None = None) -> CorrelatedShockModel:
        """Multivariate normal moves: ``scale`` (one per market, or one for all) times a
        standard normal vector of this ``correlation``."""
        return cls("normal", correlation=correlation, scale=scale, markets=markets)

    @classmethod
    def student_t(cls, df: float, correlation: Any, scale: Any, *,
                  markets: Sequence[str] | None = None) -> CorrelatedShockModel:
        """Multivariate Student-t moves with ``df`` degrees of freedom (one chi-square draw per
        scenario, shared by every market). ``df <= 1`` is accepted but warned about (no mean)."""
        model = cls("student_t", correlation=correlation, scale=scale, df=df, markets=markets)
        if model.df <= 1.0:
            warn(f"df: a Student-t with df <= 1 has no mean (df = {model.df:g}): study means and expected "
                 "shortfalls will not converge; did you mean df > 1 (3 is a common choice for daily moves)?")
        return model

    @classmethod
    def historical(cls, moves: Any, *, markets: Sequence[str] | None = None) -> CorrelatedShockModel:
        """Past joint moves (rows: dates, columns: markets), resampled with replacement."""
        return cls("historical", moves=moves, markets=markets)

    @classmethod
    def fixed(cls, moves: Any, *, markets: Sequence[str] | None = None) -> CorrelatedShockModel:
        """Scenario ``i`` takes row ``i % rows`` of ``moves``."""
        return cls("fixed", moves=moves, markets=markets)

    @property
    def dimension(self) -> int:
        """How many markets the model moves."""
        return int(self._model.dimension)

    def cholesky(self) -> FloatArray:
        """The lower-triangular factor ``L`` of the correlation (``L @ L.T == correlation``)."""
        return readonly(self._model.cholesky())

    def sample(self, seed: int = 0, n_scenarios: int = 1, first_scenario: int = 0) -> FloatArray:
        """Scenarios ``first_scenario ..`` 's moves, as a ``(n_scenarios, dimension)`` array:
        exactly the moves a venue study with this seed draws."""
        count = int_scalar(n_scenarios, "n_scenarios", minimum=0)
        first = _index(first_scenario, "first_scenario")
        return readonly(_core.sample_correlated_shocks(self._model, _seed(seed), first, count))

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild_model(self)

    def _to_core(self) -> Any:
        return self._model
