"""Column tables: NumPy columns with optional pandas / Arrow / Parquet export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class ColumnTable:
    """Named NumPy columns of equal length; ``table.name`` or ``table["name"]`` gives one."""

    __slots__ = ("_columns",)

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self._columns = dict(columns)

    def __len__(self) -> int:
        first = next(iter(self._columns.values()), None)
        return 0 if first is None else int(first.shape[0])

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

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
        """A pandas DataFrame (pandas is optional: ``pip install pandas``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas needs pandas: pip install pandas") from None
        return pd.DataFrame(self._columns)

    def to_arrow(self) -> Any:
        """A pyarrow Table (pyarrow is optional: ``pip install pyarrow``)."""
        try:
            import pyarrow as pa
        except ImportError:
            raise ImportError("to_arrow/to_parquet need pyarrow: pip install pyarrow") from None
        return pa.table(self._columns)

    def to_parquet(self, path: str | Path) -> None:
        table = self.to_arrow()  # raises the helpful ImportError first
        import pyarrow.parquet as pq

        pq.write_table(table, str(path))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} rows: {', '.join(self.columns)})"
