"""Input conversion shared by the public API: NumPy columns in, clear errors out.

Range checks (finite, > 0, sorted, ...) live in the C++ core, which names the field and the
first offending index; this module only turns Python inputs into arrays of the right dtype and
shape, and rejects what cannot be converted (``TypeError``) or has the wrong shape
(``ValueError``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def choice(value: Any, name: str, options: Sequence[str]) -> str:
    """``value`` if it is one of ``options``, else a ValueError naming ``name`` that lists them."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def core_enum(kind: Any, value: Any, name: str) -> Any:
    """The core enum member named ``value`` (a ValueError naming ``name`` lists the others)."""
    return getattr(kind, choice(value, name, list(kind.__members__)))


def real_scalar(value: Any, field: str) -> float:
    """A real number as float (bools and non-numbers are a ``TypeError`` naming ``field``; an
    integer too large for a float is a ``ValueError``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{field}: expected a real number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{field}: must be finite, got {value!r}") from None


def bounded_scalar(value: Any, name: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False) -> float:
    """A finite real in the given bounds, or ValueError naming ``name`` and the rule."""
    x = real_scalar(value, name)
    ok = math.isfinite(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
        if lo and hi:
            rule = f" and in {lo}, {hi}"
        elif lo:
            rule = f" and > {low:g}" if low_open else f" and >= {low:g}"
        elif hi:
            rule = f" and < {high:g}" if high_open else f" and <= {high:g}"
        else:
            rule = ""
        raise ValueError(f"{name}: must be finite{rule}, got {x!r}")
    return x


#: The largest integer the engine's signed 64-bit parameters take.
INT64_MAX = 2**63 - 1


def int_scalar(value: Any, field: str, *, minimum: int | None = None, maximum: int = INT64_MAX) -> int:
    """An integer (``TypeError`` for floats and bools), optionally at least ``minimum``, and at
    most ``maximum`` (by default what a signed 64-bit integer holds: the type the engine takes)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{field}: expected an integer, got {type(value).__name__}")
    result = int(value)
    if minimum is not None and result < minimum:
        raise ValueError(f"{field}: must be >= {minimum}, got {result}")
    if result > maximum:
        raise ValueError(f"{field}: must be <= {maximum}, got {result}")
    return result


def _numeric(value: Any, field: str) -> np.ndarray:
    if isinstance(value, Mapping) or isinstance(value, (str, bytes)):
        raise TypeError(f"{field}: expected a number or a 1-D array of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested lists and the like
        raise ValueError(f"{field}: cannot be read as a 1-D array ({exc})") from None
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        if arr.dtype.kind == "O":
            try:
                return np.asarray(value, dtype=np.float64)
            except OverflowError:  # an integer beyond a double
                raise ValueError(f"{field}: a value is too large for a float64") from None
            except (TypeError, ValueError):
                pass
        raise TypeError(f"{field}: expected numbers, got an array of dtype {arr.dtype}")
    return arr


def float_values(value: Any, field: str) -> FloatArray:
    """A scalar or a 1-D array of numbers as a 1-D float64 array (a scalar becomes one value)."""
    arr = _numeric(value, field)
    return float_column(arr, field, 1) if arr.ndim == 0 else float_column(arr, field)


def float_column(value: Any, field: str, length: int | None = None) -> FloatArray:
    """A 1-D float64 array (no copy when ``value`` already is one, contiguous).

    A scalar (or 0-d array) is broadcast to ``length`` when one is given.
    """
    arr = _numeric(value, field)
    if arr.ndim == 0:
        if length is None:
            raise ValueError(f"{field}: expected a 1-D array, got a scalar")
        return np.full(length, arr, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{field}: expected a 1-D array, got {arr.ndim} dimensions")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{field}: length {arr.shape[0]} does not match the other columns' {length}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def side_column(value: Any, length: int) -> npt.NDArray[np.int8]:
    """``side`` as int8 (+1 long, -1 short); any other value is a ``ValueError`` with its index."""
    arr = _numeric(value, "side")
    if arr.ndim == 0:
        arr = np.full(length, arr)
    elif arr.ndim != 1:
        raise ValueError(f"side: expected a 1-D array, got {arr.ndim} dimensions")
    elif arr.shape[0] != length:
        raise ValueError(f"side: length {arr.shape[0]} does not match the other columns' {length}")
    if arr.dtype == np.int8:
        out = np.ascontiguousarray(arr)
    else:
        first_bad((arr != 1) & (arr != -1), "side", arr, "must be +1 or -1")
        out = arr.astype(np.int8)
    return out  # the core re-checks int8 values


def common_length(**columns: Any) -> int:
    """The length shared by the array-like arguments (scalars broadcast); 1-D only."""
    length: int | None = None
    first = ""
    for field, value in columns.items():
        if value is None:
            continue
        arr = _numeric(value, field)
        if arr.ndim == 0:
            continue
        if arr.ndim != 1:
            raise ValueError(f"{field}: expected a 1-D array, got {arr.ndim} dimensions")
        if length is None:
            length, first = arr.shape[0], field
        elif arr.shape[0] != length:
            raise ValueError(f"{field}: length {arr.shape[0]} does not match {first} length {length}")
    return 1 if length is None else length


def first_bad(mask: np.ndarray, name: str, values: np.ndarray, rule: str) -> None:
    """Raise ``ValueError("name[i]: rule, got v")`` for the first ``i`` where ``mask`` is set."""
    bad = np.flatnonzero(mask)
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}]: {rule}, got {values[bad[0]].item()!r}")


def readonly(arr: np.ndarray) -> np.ndarray:
    """A read-only view of ``arr`` (the caller's array itself stays as it was)."""
    view = arr.view()
    view.flags.writeable = False
    return view
