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
    assert str(arrow.schema.field("book_exhausted").type) == "bool"
    assert arrow.schema.metadata == {b"k": b"v", b"liqcascade.notional_unit": b"USD"}


def test_metadata_values_are_written_as_text(table, tmp_path):
    pa = pytest.importorskip("pyarrow")
    from liqcascade._table import ColumnTable

    columns = ColumnTable({"x": np.arange(3)})
    assert columns.to_arrow(metadata={"a": 1, "b": 2.5, "c": True, "d": b"raw"}).schema.metadata == {
        b"a": b"1", b"b": b"2.5", b"c": b"True", b"d": b"raw"}
    with pytest.raises(TypeError, match=r"metadata\['a'\]: expected str, bytes or a number, got list"):
        columns.to_arrow(metadata={"a": [1]})
    with pytest.raises(TypeError, match="metadata: expected a mapping"):
        columns.to_arrow(metadata=[("a", "b")])  # type: ignore[arg-type]
    table.to_parquet(tmp_path / "t.parquet", metadata={"run": 7})
    assert pa.parquet.read_schema(tmp_path / "t.parquet").metadata[b"run"] == b"7"


def test_inverse_tables_carry_their_unit(tmp_path):
    book = lc.datasets.binance_coinm_btcusd_depth()
    rng = np.random.default_rng(0)
    entry = book.mid * (1 - rng.uniform(0, 0.005, 500))
    longs = lc.Positions.from_leverage(1, rng.integers(1, 300, 500).astype(float), entry,
                                       rng.choice([25.0, 50.0, 100.0], 500), mmr=0.005, contract="inverse",
                                       contract_size=100.0)
    shocks = np.linspace(-0.008, -0.002, 30)
    for detail in (False, True):
        rows = lc.cascade_many(book, longs, shocks, detail=detail)
        assert rows.notional_unit == "coin"
        text = str(rows.summary())
        assert "coin" in text and "$" not in text
        assert rows.summary().to_dict()["notional_unit"] == "coin"
    one = lc.cascade(book, longs, -0.005)
    assert one.notional_unit == "coin" and one.to_dict()["notional_unit"] == "coin"
    linear = lc.cascade_many(lc.BookModel().build(), lc.PositionPopulation(count=100).sample(), [-0.01, 0.01])
    assert linear.notional_unit == "USD" and "$" in str(linear.summary())
    pytest.importorskip("pyarrow")
    assert rows.to_arrow().schema.metadata[b"liqcascade.notional_unit"] == b"coin"
    rows.to_parquet(tmp_path / "coin.parquet")
    import pyarrow.parquet as pq

    assert pq.read_schema(tmp_path / "coin.parquet").metadata[b"liqcascade.notional_unit"] == b"coin"
    pytest.importorskip("pandas")
    assert rows.to_pandas().attrs["notional_unit"] == "coin"
    import pickle

    assert pickle.loads(pickle.dumps(rows)).notional_unit == "coin"
    with pytest.raises(ValueError, match="notional_unit: expected 'USD' or 'coin'"):
        lc.ScenarioTable(rows.to_dict(), notional_unit="BTC")  # type: ignore[arg-type]


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


def test_derived_columns_answer_by_name_and_a_missing_one_lists_the_columns(table):
    # a study's liquidated_notional is long + short: by attribute and by name alike
    np.testing.assert_array_equal(table["liquidated_notional"], table.liquidated_notional_long
                                  + table.liquidated_notional_short)
    with pytest.raises(KeyError, match=r"'notional': not a column of this table \(columns: scenario, shock"):
        table["notional"]
