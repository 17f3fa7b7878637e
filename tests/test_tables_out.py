"""Every table out: pandas, Arrow (numeric columns zero-copy), polars, Parquet and CSV with the
types kept; and the user study's shock draws are the Monte Carlo study's."""

from __future__ import annotations

import csv
import sys

import numpy as np
import pytest

import liqcascade as lc
from liqcascade.scenarios import DEFAULT_STUDY_BOOK, DEFAULT_STUDY_SHOCKS
from liqcascade.user_study import shock_draws


@pytest.fixture(scope="module")
def table():
    return lc.monte_carlo(lc.PositionPopulation(count=2_000), DEFAULT_STUDY_BOOK, DEFAULT_STUDY_SHOCKS, 12, seed=2,
                          progress=False)


def test_arrow_is_zero_copy_for_numbers(table):
    pytest.importorskip("pyarrow")
    arrow = table.to_arrow(metadata={"k": "v"})
    assert arrow.column("final_price").chunk(0).buffers()[1].address == table.final_price.ctypes.data
    assert arrow.column("n_liquidated").chunk(0).buffers()[1].address == table.n_liquidated.ctypes.data
    assert str(arrow.schema.field("book_exhausted").type) == "bool" and arrow.schema.metadata == {b"k": b"v"}


def test_polars_and_parquet(table, tmp_path):
    pl = pytest.importorskip("polars")
    frame = table.to_polars()
    assert frame.schema["n_liquidated"] == pl.Int64 and frame.schema["book_exhausted"] == pl.Boolean
    np.testing.assert_array_equal(frame["final_price"].to_numpy(), table.final_price)
    table.to_parquet(tmp_path / "t.parquet")
    back = pl.read_parquet(tmp_path / "t.parquet")
    assert back["bad_debt"].to_numpy().tobytes() == table.bad_debt.tobytes()


def test_csv_keeps_integers_booleans_and_exact_floats(table, tmp_path):
    path = tmp_path / "t.csv"
    table.to_csv(path)
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["n_liquidated"]) for r in rows] == table.n_liquidated.tolist()
    assert {r["book_exhausted"] for r in rows} <= {"True", "False"}
    assert np.array([float(r["final_move"]) for r in rows]).tobytes() == table.final_move.tobytes()


def test_polars_missing_names_the_extra(table, monkeypatch):
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(ImportError, match=r"liqcascade\[polars\]"):
        table.to_polars()


def test_shock_draws_are_the_studys(table):
    assert shock_draws(DEFAULT_STUDY_SHOCKS, 12, 2).tobytes() == table.shock.tobytes()
    assert shock_draws(DEFAULT_STUDY_SHOCKS, 4, 2, first=8).tobytes() == table.shock[8:].tobytes()
