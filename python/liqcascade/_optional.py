"""Optional dependencies behind one helper: imported when a feature needs them, and a missing
one named together with the extra that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

#: The extra of ``pyproject.toml`` that installs each optional module.
EXTRAS = {
    "pandas": "io",
    "pyarrow": "io",
    "pyarrow.csv": "io",
    "pyarrow.parquet": "io",
    "pyarrow.dataset": "io",
    "polars": "polars",
    "dask": "dask",
    "distributed": "dask",
}


def optional_import(module: str, feature: str) -> ModuleType:
    """``import module``, or ``ImportError`` saying which ``feature`` needs it and how to install
    it (``pip install 'liqcascade[extra]'``)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = EXTRAS.get(module, EXTRAS.get(top, top))
        raise ImportError(f"{feature} needs {top}: pip install 'liqcascade[{extra}]' (or pip install {top})"
                          f" [{exc}]") from None
