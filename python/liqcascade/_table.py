"""Column tables: NumPy columns with optional pandas / Arrow / polars / Parquet export and CSV."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._optional import optional_import


def _schema_metadata(metadata: Mapping[Any, Any] | None) -> dict[Any, Any] | None:
    """Schema metadata as Arrow takes it: ``str``/``bytes`` keys and values; numbers and
    booleans as their ``str()``; anything else a ``TypeError`` naming the key."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata: expected a mapping of str to str, got {type(metadata).__name__}")

    def text(value: Any, what: str) -> str | bytes:
        if isinstance(value, (str, bytes)):
            return value
        if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
            return str(value.item() if isinstance(value, np.generic) else value)
        raise TypeError(f"{what}: expected str, bytes or a number, got {type(value).__name__}")

    return {text(key, f"metadata key {key!r}"): text(value, f"metadata[{key!r}]") for key, value in metadata.items()}


class ColumnTable:
    """Named NumPy columns of equal length; ``table.name`` or ``table["name"]`` gives one."""

    __slots__ = ("_columns",)

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self._columns = dict(columns)

    def __len__(self) -> int:
        first = next(iter(self._columns.values()), None)
        return 0 if first is None else int(first.shape[0])

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._columns[name]
        except KeyError:
            # a column derived from others (a property of the table, e.g. a study's
            # liquidated_notional = long + short) answers by name too
            if isinstance(getattr(type(self), name, None), property):
                return getattr(self, name)
            raise KeyError(f"{name!r}: not a column of this table (columns: {', '.join(self._columns)})") from None

    def __getattr__(self, name: str) -> np.ndarray:
        # Only called when normal lookup fails. A half-built instance (``cls.__new__`` in pickle
        # or copy, before ``__setstate__``) has no ``_columns`` yet: answer AttributeError
        # instead of looking it up through this method again (endless recursion).
        if name.startswith("__") or name == "_columns":
            raise AttributeError(name)
        try:
            columns = object.__getattribute__(self, "_columns")
        except AttributeError:
            raise AttributeError(name) from None
        try:
            return columns[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no column or attribute {name!r}") from None

    def _slot_names(self) -> list[str]:
        return [name for cls in type(self).__mro__ for name in getattr(cls, "__slots__", ())]

    def __getstate__(self) -> dict[str, Any]:
        """Pickle and copy support: every slot (the columns and a subclass's extra fields)."""
        state: dict[str, Any] = {}
        for name in self._slot_names():
            try:
                state[name] = object.__getattribute__(self, name)
            except AttributeError:  # a slot never set
                pass
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self._columns)

    def to_dict(self) -> dict[str, np.ndarray]:
        return dict(self._columns)

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one column per column, dtypes kept (pandas is optional:
        ``pip install 'liqcascade[io]'``)."""
        pd = optional_import("pandas", "to_pandas")
        return pd.DataFrame(self._columns)

    def to_arrow(self, metadata: Mapping[str, Any] | None = None) -> Any:
        """A pyarrow Table (pyarrow is optional: ``pip install 'liqcascade[io]'``).

        Numeric columns are zero-copy: each Arrow buffer is the NumPy array's memory, kept
        alive by the table. Booleans are copied (Arrow packs them one bit each) and so are
        text columns. ``metadata`` goes into the schema: keys and values ``str`` or ``bytes``;
        numbers and booleans are written as their ``str()`` (Arrow stores text), anything else
        is a ``TypeError`` naming the key.
        """
        pa = optional_import("pyarrow", "to_arrow/to_parquet")
        meta = _schema_metadata(metadata)
        arrays = [pa.array(np.ascontiguousarray(column)) for column in self._columns.values()]
        return pa.Table.from_arrays(arrays, names=list(self._columns), metadata=meta)

    def to_polars(self) -> Any:
        """A polars DataFrame (polars is optional: ``pip install 'liqcascade[polars]'``), through
        Arrow where pyarrow is installed (numeric columns then share memory), else from NumPy."""
        pl = optional_import("polars", "to_polars")
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return pl.DataFrame({name: column for name, column in self._columns.items()})
        frame = pl.from_arrow(self.to_arrow())
        return frame

    def to_parquet(self, path: str | Path, metadata: Mapping[str, Any] | None = None) -> None:
        """Write the table as one Parquet file (pyarrow); column types kept exactly (float64
        bit for bit, int64, bool)."""
        table = self.to_arrow(metadata)  # raises the helpful ImportError first
        import pyarrow.parquet as pq

        pq.write_table(table, str(path))

    def to_csv(self, path: str | Path) -> None:
        """Write the table as CSV with a header row. Each column keeps its type: integers as
        integers, booleans as ``True``/``False``, floats as their shortest round-trip repr (read
        back with ``float()`` they are the same bits), text as text. No optional dependency."""
        import csv

        columns = [self._columns[name].tolist() for name in self.columns]
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(self.columns)
            writer.writerows(zip(*columns, strict=True))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} rows: {', '.join(self.columns)})"
