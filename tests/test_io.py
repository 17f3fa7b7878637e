"""Loaders of real data (liqcascade.io) and deep books from shallow snapshots
(liqcascade.deep_book): each format on a real sample where one ships (tests/data/io/README.md)
or on a file generated here from the documented format, and each bad-input path naming the
field."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import liqcascade as lc
from liqcascade import io
from liqcascade.deep_book import DeepBook, extend_book

DATA = Path(__file__).parent / "data" / "io"
INCREMENTAL_HEAD = DATA / "tardis_deribit_incremental_book_L2_BTC-PERPETUAL_2020-04-01_head.csv"
SNAPSHOT_5 = DATA / "tardis_binance-futures_book_snapshot_5_BTCUSDT_2020-09-01_head.csv"
FORCE_ORDER = DATA / "binance_forceorder_docs_example.json"

L2_HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"


def _write_incremental(path: Path) -> Path:
    """An incremental_book_L2 file as Tardis documents it: an update before the first snapshot
    (skipped), a snapshot, updates (a change, a new level, a deletion, a deletion of an absent
    level), then a reconnect: a new snapshot that replaces the book."""
    rows = [
        (900, "false", "bid", 99.0, 5.0),          # before any snapshot: skipped
        (1000, "true", "bid", 100.0, 1.0), (1000, "true", "bid", 99.5, 2.0),
        (1000, "true", "ask", 100.5, 1.5), (1000, "true", "ask", 101.0, 3.0),
        (2000, "false", "bid", 100.0, 4.0),        # amount is the new amount, not a delta
        (2000, "false", "ask", 100.75, 0.5),       # a new level
        (3000, "false", "ask", 101.0, 0.0),        # deleted
        (3000, "false", "bid", 98.0, 0.0),         # deleting an absent level: ignored
        (4000, "true", "bid", 200.0, 1.0),         # reconnect: a fresh book
        (4000, "true", "ask", 201.0, 1.0),
    ]
    text = L2_HEADER + "".join(f"binance-futures,BTCUSDT,{t},{t + 7},{s},{side},{p},{a}\n"
                               for t, s, side, p, a in rows)
    path.write_text(text)
    return path


# -- books -----------------------------------------------------------------------------------
def test_tardis_incremental_replays_to_each_time(tmp_path):
    path = _write_incremental(tmp_path / "l2.csv")
    book = io.book_from_tardis_incremental(path, at=1007)  # local_timestamp = timestamp + 7
    assert book.bid_price.tolist() == [100.0, 99.5] and book.bid_qty.tolist() == [1.0, 2.0]
    book = io.book_from_tardis_incremental(path, at=2007)
    assert book.bid_qty.tolist() == [4.0, 2.0] and book.ask_price.tolist() == [100.5, 100.75, 101.0]
    book = io.book_from_tardis_incremental(path, at=3999)
    assert book.ask_price.tolist() == [100.5, 100.75] and book.bid_price.tolist() == [100.0, 99.5]
    book = io.book_from_tardis_incremental(path, at=10**9)
    assert book.bid_price.tolist() == [200.0] and book.ask_price.tolist() == [201.0]
    # the exchange's timestamp instead of the arrival time, and a datetime
    assert io.book_from_tardis_incremental(path, at=2000, time_column="timestamp").bid_qty[0] == 4.0
    assert io.read_book(path, at="1970-01-01T00:00:00.002007Z").bid_qty[0] == 4.0


def test_tardis_incremental_real_sample():
    # Deribit BTC-PERPETUAL: an inverse market whose amounts are USD
    book = io.read_book(INCREMENTAL_HEAD, at=1585699200355684, contract="inverse", contract_size=1)
    assert len(book.bid_price) == 0 and len(book.ask_price) == 15
    assert book.ask_price[0] == 6421.5 and book.ask_qty[0] == 18640
    with pytest.raises(ValueError, match="at: no snapshot"):
        io.read_book(INCREMENTAL_HEAD, at=1585699200355683)
    with pytest.raises(ValueError, match="at: a Tardis incremental_book_L2 file needs"):
        io.read_book(INCREMENTAL_HEAD)


@pytest.mark.parametrize(("row", "message"), [
    ("x,y,1000,1000,maybe,bid,100,1\n", "is_snapshot"),
    ("x,y,1000,1000,true,middle,100,1\n", "side"),
    ("x,y,1000,1000,true,bid,abc,1\n", "price/amount"),
    ("x,y,1000,1000,true,bid,100,-1\n", "price/amount"),
    ("x,y,soon,soon,true,bid,100,1\n", "local_timestamp"),
    ("x,y,1000,1000,true,bid\n", "line 2"),
])
def test_tardis_incremental_bad_rows(tmp_path, row, message):
    path = tmp_path / "bad.csv"
    path.write_text(L2_HEADER + row)
    with pytest.raises(ValueError, match=message):
        io.book_from_tardis_incremental(path, at=2000)


def test_tardis_incremental_missing_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("exchange,symbol,timestamp,local_timestamp,side,price,amount\n")
    with pytest.raises(ValueError, match="is_snapshot: no such column"):
        io.book_from_tardis_incremental(path, at=0)


def test_tardis_snapshot_real_sample():
    last = io.read_book(SNAPSHOT_5)  # detected by its header; the last row by default
    assert io.detect_book_format(SNAPSHOT_5) == "tardis-snapshot"
    assert last.bid_price.tolist() == [11657.07, 11656.97, 11655.78, 11655.77, 11655.7]
    assert last.ask_qty[0] == 1.393
    first = io.book_from_tardis_snapshot(SNAPSHOT_5, at=1598918403700000)
    assert first.ask_qty[0] == 1.714 and first.bid_qty[0] == 10.896
    with pytest.raises(ValueError, match="at: 1 is before"):
        io.book_from_tardis_snapshot(SNAPSHOT_5, at=1)
    with pytest.raises(ValueError, match="no_such: no such column"):
        io.book_from_tardis_snapshot(SNAPSHOT_5, time_column="no_such")


def test_tardis_snapshot_short_side_and_bad_cell(tmp_path):
    path = tmp_path / "s.csv"
    head = "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount," \
           "asks[1].price,asks[1].amount,bids[1].price,bids[1].amount\n"
    path.write_text(head + "x,y,1,2,101,1,100,1,,,99,2\n")
    book = io.read_book(path)
    assert book.ask_price.tolist() == [101.0] and book.bid_price.tolist() == [100.0, 99.0]
    path.write_text(head + "x,y,1,2,101,1,100,lots,,,99,2\n")
    with pytest.raises(ValueError, match=r"bids\[0\] \(row 0\)"):
        io.read_book(path)


def test_ccxt_and_binance_depth():
    ccxt = {"symbol": "BTC/USDT:USDT", "timestamp": 1, "nonce": 7,
            "bids": [[100.0, 1.0, 3], [99.0, 0.0, 1], [98.0, 2.0, 1]], "asks": [[101.0, 1.5, 2]]}
    book = io.book_from_ccxt(ccxt)
    assert book.bid_price.tolist() == [100.0, 98.0]  # amount 0 dropped, third entry ignored
    assert io.read_book(ccxt).ask_qty.tolist() == [1.5]
    with pytest.raises(ValueError, match="asks: missing"):
        io.book_from_ccxt({"bids": []})
    with pytest.raises(ValueError, match=r"bids\[1\]: expected \[price, amount"):
        io.book_from_ccxt({"bids": [[1, 1], [2]], "asks": []})
    with pytest.raises(ValueError, match=r"bids amount\[0\]"):
        io.book_from_ccxt({"bids": [[1, -1]], "asks": []})
    with pytest.raises(TypeError, match="order_book"):
        io.book_from_ccxt([[1, 1]])  # type: ignore[arg-type]


def test_binance_depth_file_is_detected(tmp_path):
    path = tmp_path / "depth.json"
    path.write_text(json.dumps({"lastUpdateId": 1, "bids": [["100.5", "2"]], "asks": [["101", "1"]]}))
    assert io.detect_book_format(path) == "depth-json"
    assert io.read_book(path).bid_price.tolist() == [100.5]
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        io.read_book(path)


def test_table_of_levels_from_every_library(tmp_path):
    rows = {"side": ["bid", "ASK", "buy", "sell", "b"], "price": [100.0, 101.0, 99.0, 102.0, 98.0],
            "qty": [1.0, 2.0, 3.0, 4.0, 0.0]}
    expected = ([100.0, 99.0], [101.0, 102.0])
    sources = [rows]
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    sources += [pd.DataFrame(rows), pa.table(rows)]
    csv_path = tmp_path / "levels.csv"
    pd.DataFrame(rows).to_csv(csv_path, index=False)
    parquet_path = tmp_path / "levels.parquet"
    pd.DataFrame(rows).to_parquet(parquet_path)
    sources += [csv_path, parquet_path]
    try:
        import polars as pl
    except ImportError:
        pass
    else:
        sources.append(pl.DataFrame(rows))
    for source in sources:
        book = io.read_book(source)
        assert (book.bid_price.tolist(), book.ask_price.tolist()) == expected, type(source)
    numeric = io.book_from_table({"s": [1, -1], "p": [1.0, 2.0], "volume": [1.0, 1.0]},
                                 columns={"side": "s", "price": "p", "qty": "volume"})
    assert numeric.ask_price.tolist() == [2.0]


@pytest.mark.parametrize(("table", "message"), [
    ({"side": ["bid"], "price": [1.0]}, "qty: no such column"),
    ({"side": ["up"], "price": [1.0], "qty": [1.0]}, r"side\[0\]: expected bid/ask"),
    ({"side": [2], "price": [1.0], "qty": [1.0]}, r"side\[0\]"),
    ({"side": ["bid", "bid"], "price": [1.0, 1.0], "qty": [1.0, 1.0]}, "appears twice on the bid side"),
    ({"side": ["bid"], "price": ["one"], "qty": [1.0]}, r"price\[0\]: expected a number"),
    ({"side": ["bid"], "price": [-1.0], "qty": [1.0]}, r"levels price\[0\]"),
    ({"side": ["bid"], "price": [1.0], "qty": [-1.0]}, r"levels qty\[0\]"),
])
def test_table_of_levels_bad_input(table, message):
    with pytest.raises(ValueError, match=message):
        io.book_from_table(table)


def test_book_format_errors(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a book format"):
        io.read_book(path)
    with pytest.raises(ValueError, match="format: expected one of"):
        io.read_book(path, format="excel")
    with pytest.raises(TypeError, match="table: expected"):
        io.book_from_table(42)


# -- positions -------------------------------------------------------------------------------
POSITIONS = {
    "side": ["long", "Short", " BUY", "sell", "long"],
    "size": [1.0, 2.0, 0.5, 1.5, 0.1],
    "entry_price": [100_000.0, 101_000.0, 99_000.0, 100_500.0, 98_000.0],
    "leverage": [10.0, 20.0, 5.0, 50.0, 2.0],
}


def test_positions_from_each_source(tmp_path):
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    frame = pd.DataFrame(POSITIONS)
    frame.to_csv(tmp_path / "p.csv", index=False)
    frame.to_parquet(tmp_path / "p.parquet")
    expected = lc.Positions.from_leverage([1, -1, 1, -1, 1], POSITIONS["size"], POSITIONS["entry_price"],
                                          POSITIONS["leverage"])
    sources = [POSITIONS, frame, pa.table(POSITIONS), tmp_path / "p.csv", tmp_path / "p.parquet"]
    for source in sources:
        positions = io.read_positions(source) if isinstance(source, Path) else io.positions_from_table(source)
        np.testing.assert_array_equal(positions.side, expected.side)
        np.testing.assert_array_equal(positions.margin, expected.margin)
        np.testing.assert_array_equal(positions.liquidation_price, expected.liquidation_price)
    assert io.detect_positions_format(tmp_path / "p.parquet") == "parquet"
    assert io.detect_positions_format(tmp_path / "p.csv") == "csv"


def test_positions_margin_notional_mapping_and_venue_tiers():
    table = {"dir": [1, -1], "usd": [100_000.0, 50_000.0], "px": [100_000.0, 100_000.0], "collateral": [5000.0, 1000.0]}
    positions = io.positions_from_table(table, columns={"side": "dir", "notional": "usd", "entry_price": "px",
                                                        "margin": "collateral"}, venue="binance", symbol="BTCUSDT")
    tiers = lc.tier_tables.venue_tiers("binance", "BTCUSDT")
    expected = lc.Positions([1, -1], [1.0, 0.5], 100_000.0, [5000.0, 1000.0], tiers=tiers)
    np.testing.assert_array_equal(positions.liquidation_price, expected.liquidation_price)
    bybit = io.positions_from_table(table, columns={"side": "dir", "notional": "usd", "entry_price": "px",
                                                    "margin": "collateral"}, venue="bybit")
    assert bybit.basis == "entry"
    with_mmr = io.positions_from_table({**POSITIONS, "mmr": [0.01] * 5})
    assert with_mmr.mmr.tolist() == [0.01] * 5


@pytest.mark.parametrize(("change", "options", "message"), [
    ({"side": ["long", "flat", "long", "long", "long"]}, {}, r"side\[1\]: expected \+1/-1 or long/short"),
    ({"side": [1, 0, 1, 1, 1]}, {}, r"side\[1\]"),
    ({"size": [1, "x", 1, 1, 1]}, {}, r"qty \(column 'size'\)\[1\]: expected a number"),
    ({"leverage": [10, 0, 1, 1, 1]}, {}, r"leverage\[1\]: must be finite and > 0"),
    ({"entry_price": [1, -5, 1, 1, 1]}, {}, r"entry_price\[1\]"),
    ({"size": [1, -2, 1, 1, 1]}, {}, r"qty\[1\].*\[qty \(column 'size'\)\]"),
    ({}, {"columns": {"qty": "missing"}}, "qty: column 'missing'"),
    ({}, {"columns": {"colour": "side"}}, "columns: unknown field 'colour'"),
    ({}, {"venue": "kraken"}, "venue: expected one of"),
    ({}, {"symbol": "BTCUSDT"}, "symbol: only meaningful with venue"),
    ({}, {"venue": "binance", "tiers": lc.MaintenanceTiers.binance_btcusdt()}, "venue: give either"),
])
def test_positions_bad_input(change, options, message):
    with pytest.raises(ValueError, match=message):
        io.positions_from_table({**POSITIONS, **change}, **options)


def test_positions_missing_fields():
    with pytest.raises(ValueError, match="entry_price: no column"):
        io.positions_from_table({"side": [1], "qty": [1.0], "margin": [1.0]})
    with pytest.raises(ValueError, match="margin: no column .* or a leverage column"):
        io.positions_from_table({"side": [1], "qty": [1.0], "entry_price": [1.0]})
    with pytest.raises(ValueError, match="qty: no column .* or a notional column"):
        io.positions_from_table({"side": [1], "entry_price": [1.0], "margin": [1.0]})
    with pytest.raises(ValueError, match="format: expected one of"):
        io.read_positions(FORCE_ORDER, format="json")


def test_optional_dependencies_named(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    path = tmp_path / "p.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(ImportError, match=r"pip install 'liqcascade\[io\]'"):
        io.read_positions(path)
    # CSV needs nothing optional
    (tmp_path / "p.csv").write_text("side,qty,entry_price,margin\nlong,1,100,10\n")
    assert len(io.read_positions(tmp_path / "p.csv")) == 1


# -- observed liquidations -------------------------------------------------------------------
def test_binance_force_order_docs_example():
    table = io.liquidations_from_binance(FORCE_ORDER)
    assert len(table) == 1
    assert table.time.tolist() == [1568014460893000] and table.market.tolist() == ["BTCUSDT"]
    assert table.side.tolist() == [1]  # SELL: a long was liquidated
    assert table.price.tolist() == [9910.0] and table.qty.tolist() == [0.014]
    assert table.notional[0] == pytest.approx(138.74)


def test_binance_force_order_stream_shapes(tmp_path):
    message = json.loads(FORCE_ORDER.read_text())
    buy = json.loads(json.dumps(message))
    buy["o"].update({"S": "BUY", "ap": "0", "p": "10000", "z": "0.5"})
    wrapped = {"stream": "btcusdt@forceOrder", "data": buy}
    lines = tmp_path / "stream.jsonl"
    lines.write_text("\n".join(json.dumps(m) for m in (message, wrapped, {"e": "aggTrade"})) + "\n")
    table = io.liquidations_from_binance(lines)
    assert table.side.tolist() == [1, -1] and table.price.tolist() == [9910.0, 10000.0]
    assert table.qty.tolist() == [0.014, 0.5]
    assert io.liquidations_from_binance([message, wrapped]).market.tolist() == ["BTCUSDT"] * 2


@pytest.mark.parametrize(("change", "message"), [
    ({"S": "HOLD"}, r"messages\[0\].o.S: expected SELL or BUY"),
    ({"ap": "x"}, r"messages\[0\].o.ap: expected a number"),
    ({"T": None, "E": None}, r"messages\[0\].o.T: missing"),
    ({"p": "-1", "ap": "0"}, r"price\[0\]"),
])
def test_binance_force_order_bad_input(change, message):
    base = json.loads(FORCE_ORDER.read_text())
    base["o"].update(change)
    if change.get("E", 1) is None:
        base.pop("E")
    with pytest.raises(ValueError, match=message):
        io.liquidations_from_binance(base)
    with pytest.raises(ValueError, match=r"messages\[0\].o: missing"):
        io.liquidations_from_binance({"e": "forceOrder"})


CCXT_LIQUIDATIONS = [
    {"info": {}, "symbol": "BTC/USDT:USDT", "contracts": 2, "contractSize": 0.001, "price": 21000.0,
     "baseValue": 0.002, "quoteValue": 42.0, "timestamp": 1663833600000, "datetime": "2022-09-22T08:00:00.000Z",
     "side": "long"},
    {"info": {}, "symbol": "BTC/USDT:USDT", "contracts": 3, "contractSize": 0.01, "price": 21500.0,
     "baseValue": None, "quoteValue": None, "timestamp": 1663833601000, "side": "buy"},
]


def test_ccxt_liquidations():
    table = io.liquidations_from_ccxt(CCXT_LIQUIDATIONS)
    assert table.side.tolist() == [1, -1]
    assert table.qty.tolist() == pytest.approx([0.002, 0.03])
    assert table.notional.tolist() == pytest.approx([42.0, 645.0])
    assert table.time.tolist() == [1663833600000000, 1663833601000000]


@pytest.mark.parametrize(("change", "message"), [
    ({"side": None}, r"records\[0\].side: expected long/short"),
    ({"price": "abc"}, r"records\[0\].price: expected a number"),
    ({"baseValue": None, "contracts": None}, r"records\[0\].baseValue: missing"),
    ({"timestamp": None}, r"records\[0\].timestamp: missing"),
    ({"symbol": None}, r"records\[0\].symbol: missing"),
])
def test_ccxt_liquidations_bad_input(change, message):
    with pytest.raises(ValueError, match=message):
        io.liquidations_from_ccxt([{**CCXT_LIQUIDATIONS[0], **change}])


def _write_tardis_liquidations(path: Path) -> Path:
    path.write_text(
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
        "binance-futures,BTCUSDT,1598918410000000,1598918410100000,,sell,11600.5,0.5\n"
        "binance-futures,BTCUSDT,1598918420000000,1598918420100000,,buy,11720.0,1.25\n"
        "binance-futures,BTCUSDT,1598918430000000,1598918430100000,,SELL,11590.0,2\n")
    return path


def test_tardis_liquidations_and_map(tmp_path):
    table = io.liquidations_from_tardis(_write_tardis_liquidations(tmp_path / "liq.csv"))
    assert table.side.tolist() == [1, -1, 1]
    assert table.time[0] == 1598918410000000
    liq_map = table.liquidation_map(50.0)
    assert liq_map.price_low.tolist() == [11550.0, 11600.0, 11650.0, 11700.0]
    assert liq_map.long_notional.tolist() == [11590.0 * 2, 11600.5 * 0.5, 0.0, 0.0]
    assert liq_map.short_count.tolist() == [0, 0, 0, 1]
    assert liq_map.long_notional.sum() + liq_map.short_notional.sum() == pytest.approx(table.notional.sum())
    assert len(table.liquidation_map(50.0, market="ETHUSDT")) == 0
    inverse = io.liquidations_from_tardis(tmp_path / "liq.csv", contract_size=0.001)
    assert inverse.qty[0] == pytest.approx(0.0005)
    both = io.LiquidationTable.concat([table, io.liquidations_from_binance(FORCE_ORDER)])
    assert len(both) == 4 and "4 liquidations" in repr(both)
    pytest.importorskip("pyarrow")
    assert both.to_arrow().column("market").to_pylist()[-1] == "BTCUSDT"


def test_tardis_liquidations_bad_input(tmp_path):
    path = tmp_path / "liq.csv"
    path.write_text("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\nx,y,1,1,,up,1,1\n")
    with pytest.raises(ValueError, match=r"side\[0\]: expected buy or sell"):
        io.liquidations_from_tardis(path)
    path.write_text("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\nx,y,soon,1,,buy,1,1\n")
    with pytest.raises(ValueError, match=r"timestamp\[0\]: expected microseconds"):
        io.liquidations_from_tardis(path)
    path.write_text("exchange,symbol,timestamp,id,side,price\n")
    with pytest.raises(ValueError, match="amount: no such column"):
        io.liquidations_from_tardis(path)
    with pytest.raises(ValueError, match="contract_size"):
        io.liquidations_from_tardis(_write_tardis_liquidations(path), contract_size=0)
    with pytest.raises(ValueError, match="bucket"):
        io.liquidations_from_tardis(path).liquidation_map(0)


# -- deep books ------------------------------------------------------------------------------
def test_extend_book_keeps_the_real_levels_and_marks_the_boundary():
    real = lc.datasets.binance_btcusdt_depth()
    deep = extend_book(real, to=0.10, tail="power")
    assert isinstance(deep, DeepBook)
    n = len(real.bid_price)
    np.testing.assert_array_equal(deep.book.bid_price[:n], real.bid_price)
    np.testing.assert_array_equal(deep.book.ask_qty[: len(real.ask_qty)], real.ask_qty)
    assert deep.real_bid_until == real.bid_price[-1] and deep.real_ask_until == real.ask_price[-1]
    assert deep.book.bid_price[-1] >= real.mid * 0.9 - 1 and deep.book.bid_price[-1] < real.mid * 0.901
    assert deep.real_depth[0] == pytest.approx(1 - real.bid_price[-1] / real.mid)
    # the tail continues the snapshot's cumulative notional: no jump at the edge
    edge = deep.book.depth(deep.real_depth[0]).bid_notional
    assert edge == pytest.approx(real.depth(1.0).bid_notional)
    assert 0.1 <= deep.bid_exponent <= 1.0
    assert deep.in_tail(real.bid_price[-1]) is False and deep.in_tail(real.bid_price[-1] - 1) is True


def test_power_tail_follows_a_power_law_book():
    # a synthetic book whose cumulative notional is exactly N(d) = A d^0.6: the fit finds 0.6
    mid, d = 1000.0, np.linspace(0.0005, 0.01, 200)
    cumulative = 5e6 * d ** 0.6
    notional = np.diff(np.concatenate(([0.0], cumulative)))
    bid_price, ask_price = mid * (1 - d), mid * (1 + d)
    book = lc.OrderBook(bid_price, notional / bid_price, ask_price, notional / ask_price)
    deep = extend_book(book, to=0.2, tail="power")
    assert deep.bid_exponent == pytest.approx(0.6, abs=0.01)
    assert deep.book.depth(0.1).bid_notional == pytest.approx(5e6 * 0.1 ** 0.6, rel=0.01)


def test_linear_and_given_tails():
    real = lc.datasets.binance_btcusdt_depth()
    linear = extend_book(real, to=0.05, tail="linear")
    edge_d = linear.real_depth[0]
    density = real.depth(1.0).bid_notional / edge_d
    assert linear.book.depth(0.05).bid_notional == pytest.approx(density * 0.05, rel=0.01)
    model = lc.BookModel.linear(1e6)  # $1M per 1 % beyond the edge
    given = extend_book(real, to=0.05, tail=model)
    added = given.book.depth(0.05).bid_notional - real.depth(1.0).bid_notional
    assert added == pytest.approx(1e6 * (0.05 - edge_d) / 0.01, rel=0.01)
    assert given.bid_exponent is None and given.tail == "profile"


def test_cascades_that_reach_the_tail_say_so():
    real = lc.datasets.binance_btcusdt_depth()
    deep = extend_book(real, to=0.2)
    positions = lc.PositionPopulation(count=20_000).sample(book_model=lc.BookModel(mid=real.mid))
    assert lc.cascade(real, positions, -0.05).book_exhausted  # the snapshot alone: exhausted
    with pytest.warns(lc.LiqcascadeWarning, match="modelled tail of the book's bids"):
        result = deep.cascade(positions, -0.05)
    assert not result.book_exhausted and deep.tail_reached(result)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = deep.cascade(positions, -0.0005)
    assert not deep.tail_reached(small)
    table = lc.cascade_many(deep.book, positions, [-0.0005, -0.05, 0.05])
    assert deep.tail_reached(table).tolist() == [False, True, True]
    with pytest.raises(TypeError, match="result"):
        deep.tail_reached(3)


def test_extend_book_bad_input_and_pickle():
    import pickle

    real = lc.datasets.binance_btcusdt_depth()
    with pytest.raises(ValueError, match="to"):
        extend_book(real, to=0)
    with pytest.raises(ValueError, match="tail"):
        extend_book(real, tail="cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tick"):
        extend_book(real, tick=-1)
    with pytest.raises(ValueError, match="max_levels"):
        extend_book(real, max_levels=0)
    with pytest.raises(ValueError, match="asks are empty"):
        extend_book(lc.OrderBook([100.0], [1.0], [], []))
    with pytest.raises(TypeError, match="book"):
        extend_book("book")  # type: ignore[arg-type]
    deep = extend_book(real, to=0.02)
    back = pickle.loads(pickle.dumps(deep))
    np.testing.assert_array_equal(back.book.bid_qty, deep.book.bid_qty)
    assert back.real_bid_until == deep.real_bid_until
    assert "calibrated tail" in repr(deep)
    # a side already deep enough is kept as it is
    assert len(extend_book(real, to=0.001).book.bid_price) == len(real.bid_price)


# -- contracts: inverse markets' units (issue: new-user review) ------------------------------
TARDIS_LIQ_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"


def test_tardis_liquidations_of_inverse_markets(tmp_path):
    path = tmp_path / "liq.csv"
    path.write_text(TARDIS_LIQ_HEADER
                    + "bitmex,XBTUSD,1000,1001,,sell,60000,10000\n"           # 10,000 contracts of 1 USD
                    + "deribit,BTC-PERPETUAL,2000,2001,,buy,50000,25000\n"    # amounts in USD
                    + "binance-delivery,BTCUSD_PERP,3000,3001,,sell,40000,3\n"  # contracts of 100 USD
                    + "binance-delivery,ETHUSD_PERP,4000,4001,,sell,2000,5\n")  # contracts of 10 USD
    with pytest.raises(ValueError, match=r"contract: bitmex XBTUSD \(row 0\) is an inverse market .* 1 USD"):
        io.liquidations_from_tardis(path)
    table = io.liquidations_from_tardis(path, contract="inverse")
    assert table.qty.tolist() == pytest.approx([10_000 / 60_000, 0.5, 300 / 40_000, 50 / 2000])
    assert table.notional.tolist() == pytest.approx([10_000.0, 25_000.0, 300.0, 50.0])
    assert table.price.tolist() == [60_000.0, 50_000.0, 40_000.0, 2000.0]
    sized = io.liquidations_from_tardis(path, contract="inverse", contract_size=10.0)
    assert sized.notional[0] == pytest.approx(100_000.0) and sized.qty[0] == pytest.approx(100_000 / 60_000)
    # said linear: the amounts are read as base units (the user's call)
    assert io.liquidations_from_tardis(path, contract="linear").qty[0] == 10_000.0
    with pytest.raises(ValueError, match="contract: expected 'linear' or 'inverse'"):
        io.liquidations_from_tardis(path, contract="coin")  # type: ignore[arg-type]
    # a market not known to be inverse needs its size
    path.write_text(TARDIS_LIQ_HEADER + "kraken-futures,PI_XBTUSD,1,1,,sell,60000,10\n")
    with pytest.raises(ValueError, match="contract_size: needed for the inverse market"):
        io.liquidations_from_tardis(path, contract="inverse")
    assert io.liquidations_from_tardis(path, contract="inverse", contract_size=1).notional[0] == 10.0
    assert io.inverse_market("deribit", "BTC-PERPETUAL") == 1.0 and io.inverse_market("deribit", "BTC-25DEC20") == 1.0
    assert io.inverse_market("okex-swap", "ETH-USD-SWAP") == 10.0
    assert io.inverse_market("okex-swap", "BTC-USDT-SWAP") is None
    assert io.inverse_market("bybit", "BTCUSD") == 1.0 and io.inverse_market("bybit", "BTCUSDT") is None
    assert io.inverse_market("binance-futures", "BTCUSDT") is None


def test_binance_force_order_coin_m():
    message = json.loads(FORCE_ORDER.read_text())
    message["o"].update({"s": "BTCUSD_PERP", "q": "10", "z": "10", "ap": "50000"})
    with pytest.raises(ValueError, match=r"contract: BTCUSD_PERP \(messages\[0\].o.s\) is an inverse market"):
        io.liquidations_from_binance(message)
    table = io.liquidations_from_binance(message, contract="inverse")  # Binance's 100 USD for BTC
    assert table.qty[0] == pytest.approx(1000 / 50_000) and table.notional[0] == 1000.0
    eth = json.loads(json.dumps(message))
    eth["o"].update({"s": "ETHUSD_240927", "ap": "2500"})
    both = io.liquidations_from_binance([message, eth], contract="inverse")
    assert both.notional.tolist() == [1000.0, 100.0]
    mapped = io.liquidations_from_binance([message, eth], contract="inverse",
                                          contract_size={"BTCUSD_PERP": 100.0, "ETHUSD_240927": 20.0})
    assert mapped.notional.tolist() == [1000.0, 200.0]
    with pytest.raises(ValueError, match="contract_size: no size for 'ETHUSD_240927'"):
        io.liquidations_from_binance(eth, contract="inverse", contract_size={"BTCUSD_PERP": 100.0})
    # USD-M (linear) as before
    assert io.liquidations_from_binance(FORCE_ORDER).qty.tolist() == [0.014]


def test_ccxt_liquidations_of_inverse_markets():
    record = {"symbol": "BTC/USD:BTC", "contracts": 100, "contractSize": 100, "price": 50_000.0,
              "timestamp": 1663833600000, "side": "long"}
    table = io.liquidations_from_ccxt([record])
    assert table.qty[0] == pytest.approx(0.2) and table.notional[0] == 10_000.0
    # CCXT's own values win where given
    table = io.liquidations_from_ccxt([{**record, "baseValue": 0.25, "quoteValue": 12_000.0}])
    assert table.qty[0] == 0.25 and table.notional[0] == 12_000.0
    assert io.liquidations_from_ccxt([record], contract="linear").qty[0] == 10_000.0
    linear_symbol = {**record, "symbol": "BTC/USDT:USDT", "contractSize": 0.001}
    assert io.liquidations_from_ccxt([linear_symbol]).qty[0] == pytest.approx(0.1)
    assert io.liquidations_from_ccxt([linear_symbol], contract="inverse").qty[0] == pytest.approx(0.1 / 50_000)


def test_books_say_what_their_amounts_are(tmp_path):
    at = 1585699200355684
    with pytest.warns(lc.LiqcascadeWarning, match="deribit BTC-PERPETUAL is an inverse market: its amounts are "
                                                   "contracts of 1 USD"):
        kept = io.read_book(INCREMENTAL_HEAD, at=at)
    assert io.book_market(INCREMENTAL_HEAD) == ("deribit BTC-PERPETUAL", 1.0)
    contracts = io.read_book(INCREMENTAL_HEAD, at=at, contract="inverse", contract_size=1)
    np.testing.assert_array_equal(contracts.ask_qty, kept.ask_qty)
    base = io.book_from_tardis_incremental(INCREMENTAL_HEAD, at, contract="inverse", contract_size=1, to_base=True)
    np.testing.assert_allclose(base.ask_qty, contracts.ask_qty / contracts.ask_price, rtol=1e-15)
    assert base.ask_qty[0] == pytest.approx(18_640 / 6421.5)  # USD 18,640 at 6,421.5: 2.9 BTC, not 18,640
    with pytest.raises(ValueError, match="contract: say what the book's amounts are"):
        io.read_book(INCREMENTAL_HEAD, at=at, to_base=True)
    # a linear market: no warning; linear contracts of a size in base units
    assert io.book_market(SNAPSHOT_5) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        snapshot = io.read_book(SNAPSHOT_5)
    sized = io.read_book(SNAPSHOT_5, contract="linear", contract_size=0.001)
    np.testing.assert_allclose(sized.bid_qty, snapshot.bid_qty * 0.001)
    # CCXT's symbol of an inverse market
    ccxt = {"symbol": "BTC/USD:BTC", "bids": [[100.0, 50.0]], "asks": [[101.0, 20.0]]}
    with pytest.warns(lc.LiqcascadeWarning, match="CCXT BTC/USD:BTC is an inverse market"):
        io.book_from_ccxt(ccxt)
    assert io.book_from_ccxt(ccxt, contract="inverse", contract_size=10, to_base=True).bid_qty[0] == 5.0
    assert io.book_market(ccxt) == ("CCXT BTC/USD:BTC", None)
    with pytest.raises(ValueError, match="contract_size: must be finite and > 0"):
        io.book_from_ccxt(ccxt, contract="inverse", contract_size=0)


def test_at_only_for_files_with_times(tmp_path):
    path = tmp_path / "depth.json"
    path.write_text(json.dumps({"bids": [["100", "1"]], "asks": [["101", "1"]]}))
    with pytest.raises(ValueError, match="at: a depth-json book is one snapshot"):
        io.read_book(path, at=1)
    with pytest.raises(ValueError, match="at: a levels book is one snapshot"):
        io.read_book({"side": ["bid"], "price": [1.0], "qty": [1.0]}, at=1)


INVERSE_POSITIONS = {"side": ["long", "short"], "contracts": [10_000.0, 500.0], "entry_price": [60_000.0, 61_000.0],
                     "leverage": [25.0, 10.0]}


def test_positions_of_an_inverse_market(tmp_path):
    positions = io.positions_from_table(INVERSE_POSITIONS, contract="inverse", contract_size=1.0, columns={})
    expected = lc.Positions.from_leverage([1, -1], [10_000.0, 500.0], [60_000.0, 61_000.0], [25.0, 10.0],
                                          contract="inverse", contract_size=1.0)
    assert positions.contract == "inverse" and positions.contract_size == 1.0
    np.testing.assert_array_equal(positions.margin, expected.margin)  # coin: 10,000 / 60,000 / 25
    np.testing.assert_array_equal(positions.liquidation_price, expected.liquidation_price)
    path = tmp_path / "inverse.csv"
    path.write_text("side,notional,entry_price,margin\nlong,10000,60000,0.01\n")
    from_file = io.read_positions(path, contract="inverse", contract_size=100.0)  # $10,000 = 100 contracts
    assert from_file.qty.tolist() == [100.0] and from_file.margin.tolist() == [0.01]
    with pytest.raises(ValueError, match="venue: the shipped tier tables are of the venues' linear"):
        io.positions_from_table(INVERSE_POSITIONS, contract="inverse", venue="binance")
    with pytest.raises(ValueError, match="contract: expected 'linear' or 'inverse'"):
        io.positions_from_table(INVERSE_POSITIONS, contract="quanto")  # type: ignore[arg-type]


def test_positions_from_signed_sizes():
    # Binance positionRisk: positionAmt signed, no side column; a closed position (0) in row 1
    risk = {"symbol": ["BTCUSDT"] * 4, "positionAmt": ["0.5", "0.000", "-1.25", "2"],
            "entryPrice": ["60000", "0.0", "61000", "59000"], "leverage": ["20", "20", "10", "5"]}
    dropped = r"'positionAmt'\): 1 row of size 0 \(no position\) was dropped \(row 1\)"
    with pytest.warns(lc.LiqcascadeWarning, match=dropped):
        positions = io.positions_from_table(risk)
    expected = lc.Positions.from_leverage([1, -1, 1], [0.5, 1.25, 2.0], [60_000.0, 61_000.0, 59_000.0],
                                          [20.0, 10.0, 5.0])
    np.testing.assert_array_equal(positions.side, expected.side)
    np.testing.assert_array_equal(positions.qty, expected.qty)
    np.testing.assert_array_equal(positions.margin, expected.margin)
    # an error after dropping still names the table's row (row 3, not the third position's index 2)
    bad = {**risk, "entryPrice": ["60000", "0.0", "61000", "-5"]}
    with pytest.warns(lc.LiqcascadeWarning), pytest.raises(ValueError, match=r"^entry_price[^\[]*\[3\]"):
        io.positions_from_table(bad)
    # Hyperliquid's szi; a size column with negative sizes when there is no side column
    szi = io.positions_from_table({"szi": [-0.1, 0.2], "entryPx": [100.0, 101.0], "margin": [1.0, 2.0]})
    assert szi.side.tolist() == [-1, 1] and szi.qty.tolist() == [0.1, 0.2]
    sized = io.positions_from_table({"size": [-3.0, 1.0], "entry_price": [100.0, 100.0], "leverage": [5.0, 5.0]})
    assert sized.side.tolist() == [-1, 1] and sized.qty.tolist() == [3.0, 1.0]
    # unsigned sizes and no side: not silently all long
    with pytest.raises(ValueError, match="side: no column for it .* or a signed size: signed_qty, positionAmt, szi"):
        io.positions_from_table({"size": [3.0, 1.0], "entry_price": [100.0, 100.0], "leverage": [5.0, 5.0]})
    with pytest.raises(ValueError, match=r"positionAmt'\)\[1\]: must be finite, got nan"):
        io.positions_from_table({**risk, "positionAmt": ["1", "nan", "1", "1"]})


def test_csv_headers_from_spreadsheets(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffside, qty , entry_price,leverage\r\nlong,1,100,10\r\nshort,2,101,5\r\n".encode())
    positions = io.read_positions(path)
    assert positions.side.tolist() == [1, -1] and positions.qty.tolist() == [1.0, 2.0]
    levels = tmp_path / "levels.csv"
    levels.write_bytes("\ufeffside, price, qty\nbid,99,1\nask,101,2\n".encode())
    assert io.detect_book_format(levels) == "levels" and io.read_book(levels).best_ask == 101.0


def test_errors_echo_little_and_plainly(tmp_path):
    depth = tmp_path / "depth.json"
    depth.write_text(json.dumps({"bids": [[str(60_000 - i), "1.5"] for i in range(1500)], "asks": []}))
    with pytest.raises(ValueError, match="a JSON file, not a table of positions") as info:
        io.read_positions(depth)
    assert len(str(info.value)) < 300
    # a file that parses as CSV but is no table: the columns are listed briefly
    junk = tmp_path / "junk.csv"
    junk.write_text(",".join("x" * 500 + str(i) for i in range(40)) + "\n")
    with pytest.raises(ValueError, match=r"side: no column .*\.\.\. \(40 columns\)") as info:
        io.read_positions(junk)
    assert len(str(info.value)) < 1000
    # numbers as numbers, not np.float64(...)
    with pytest.raises(ValueError, match=r"leverage\[1\]: must be finite and > 0, got 0.0$"):
        io.positions_from_table({**POSITIONS, "leverage": np.array([10.0, 0.0, 1.0, 1.0, 1.0])})
    with pytest.raises(ValueError, match=r"side\[1\]: expected .*, got 'flat'$"):
        io.positions_from_table({**POSITIONS, "side": np.array(["long", "flat", "long", "long", "long"])})


def test_calibrated_tail_is_of_the_order_of_the_calibrated_market():
    from liqcascade.models import DEFAULT_DEPTH_PROFILE

    real = lc.datasets.binance_btcusdt_depth()
    deep = extend_book(real, to=0.2)  # the default tail
    assert deep.tail == "calibrated" and deep.bid_exponent is None
    calibrated = dict(DEFAULT_DEPTH_PROFILE)
    edge = real.depth(1.0)
    for d in (0.05, 0.10):
        depth = deep.book.depth(d)
        # the real near book plus at most the calibrated market's depth beyond the edge
        assert depth.bid_notional <= edge.bid_notional + calibrated[d] * 1.001
        assert depth.ask_notional <= edge.ask_notional + calibrated[d] * 1.001
        assert calibrated[d] <= depth.bid_notional <= 2 * calibrated[d]  # of its order, not 27x
    power = extend_book(real, to=0.2, tail="power")
    assert power.book.depth(0.05).bid_notional > 5 * calibrated[0.05]  # the optimistic option, still there
    # the tail's density never exceeds the snapshot's average near its edge: a thin market
    mid, d = 100.0, np.linspace(0.001, 0.01, 10)
    thin = lc.OrderBook(mid * (1 - d), np.full(10, 10.0), mid * (1 + d), np.full(10, 10.0))  # ~$1,000 a level
    deep_thin = extend_book(thin, to=0.1)
    real_notional = thin.depth(1.0).bid_notional
    density = real_notional / (1 - thin.bid_price[-1] / thin.mid)
    added = deep_thin.book.depth(0.05).bid_notional - real_notional
    assert 0 < added <= density * (0.05 - 0.01) * 1.01
    # a book in contracts of an inverse market: the tail in contracts (notional = qty * contract_size)
    contracts = lc.datasets.binance_coinm_btcusd_depth()
    deep_coin = extend_book(contracts, to=0.05, contract_size=100.0)
    tail_usd = deep_coin.book.bid_qty[len(contracts.bid_qty):].sum() * 100.0
    usd_edge = contracts.bid_qty.sum() * 100.0
    d_edge = 1 - contracts.bid_price[-1] / contracts.mid
    distance, cumulative = np.array(DEFAULT_DEPTH_PROFILE).T
    expected = min(1.0, usd_edge / d_edge / 2e9) * (np.interp(0.05, distance, cumulative)
                                                    - np.interp(d_edge, distance, cumulative))
    assert tail_usd == pytest.approx(expected, rel=0.02)
    with pytest.raises(ValueError, match="contract_size"):
        extend_book(contracts, contract_size=0)


def test_deep_book_cascade_takes_cascades_arguments():
    real = lc.datasets.binance_btcusdt_depth()
    deep = extend_book(real, to=0.2)
    positions = lc.Positions.from_leverage([1, 1], [0.5, 1.0], real.mid, [100.0, 50.0])
    result = deep.cascade(positions, sell_qty=50.0)
    assert result == result and result.final_price == lc.cascade(deep.book, positions, sell_qty=50.0).final_price
    assert deep.cascade(positions, -0.001, ref_price=real.mid).ref_price == real.mid
    with pytest.raises(ValueError, match="give exactly one of shock, sell_qty, buy_qty"):
        deep.cascade(positions)
