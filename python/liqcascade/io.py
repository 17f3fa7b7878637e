"""Real data in: order books, positions and observed liquidations in the shapes that exchanges,
CCXT and Tardis.dev produce, and tables of levels or positions from pandas, Arrow, polars,
Parquet or CSV.

Books come back as :class:`~liqcascade.OrderBook` (extend a shallow one with
:func:`liqcascade.deep_book.extend_book`), positions as :class:`~liqcascade.Positions`,
liquidations as a :class:`LiquidationTable`. pandas, pyarrow and polars are optional: CSV and
JSON read with the standard library; Parquet needs pyarrow (``pip install 'liqcascade[io]'``).
Every error names the field, column or row at fault. The exact rules are in
``docs/design.md`` ("Data in").
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Union

import numpy as np

from ._optional import optional_import
from ._table import ColumnTable
from .book import OrderBook
from .positions import Basis, LeverageLimit, MaintenanceTiers, Positions, TierRule

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "BOOK_FORMATS",
    "POSITION_FORMATS",
    "LiquidationTable",
    "book_from_ccxt",
    "book_from_table",
    "book_from_tardis_incremental",
    "book_from_tardis_snapshot",
    "detect_book_format",
    "detect_positions_format",
    "liquidations_from_binance",
    "liquidations_from_ccxt",
    "liquidations_from_tardis",
    "positions_from_table",
    "read_book",
    "read_positions",
    "read_table",
]

#: What :func:`read_book` reads (``format=``), and :func:`detect_book_format` answers.
BOOK_FORMATS = ("depth-json", "tardis-snapshot", "tardis-incremental", "levels")
#: What :func:`read_positions` reads.
POSITION_FORMATS = ("csv", "parquet")


# -- files and tables ------------------------------------------------------------------------
def _open_text(path: PathLike) -> Any:
    """A text handle; ``.gz`` files are decompressed (Tardis ships ``.csv.gz``)."""
    name = os.fspath(path)
    if name.endswith(".gz"):
        return gzip.open(name, "rt", encoding="utf-8", newline="")
    return open(name, encoding="utf-8", newline="")


def _csv_rows(path: PathLike) -> Iterator[list[str]]:
    with _open_text(path) as handle:
        yield from csv.reader(handle)


def _read_csv(path: PathLike) -> dict[str, np.ndarray]:
    """A CSV file as text columns (header row first)."""
    rows = _csv_rows(path)
    try:
        header = next(rows)
    except StopIteration:
        raise ValueError(f"{os.fspath(path)}: empty file (no header row)") from None
    body = list(rows)
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{os.fspath(path)}, line {number}: {len(row)} fields, the header has {len(header)}")
    if not body:
        return {name: np.empty(0, dtype=str) for name in header}
    data = np.array(body, dtype=str)
    return {name: data[:, k] for k, name in enumerate(header)}


def _suffix(path: PathLike) -> str:
    name = os.fspath(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return os.path.splitext(name)[1]


def read_table(source: Any) -> dict[str, np.ndarray]:
    """Named columns as NumPy arrays from a pandas or polars DataFrame, a pyarrow Table, a
    mapping of columns, or a ``.csv``/``.csv.gz`` (standard library: text columns) or
    ``.parquet`` (pyarrow) file."""
    if isinstance(source, (str, os.PathLike)):
        suffix = _suffix(source)
        if suffix == ".parquet":
            pq = optional_import("pyarrow.parquet", "reading Parquet")
            return read_table(pq.read_table(os.fspath(source)))
        if suffix in (".csv", ".txt", ""):
            return _read_csv(source)
        raise ValueError(f"{os.fspath(source)}: expected a .csv, .csv.gz or .parquet file")
    if isinstance(source, Mapping):
        return {str(name): np.asarray(column) for name, column in source.items()}
    if isinstance(source, ColumnTable):
        return source.to_dict()
    module = type(source).__module__.split(".")[0]
    if module == "pyarrow" and hasattr(source, "column_names"):
        return {name: source.column(name).to_numpy() for name in source.column_names}
    if module == "pandas" and hasattr(source, "columns"):
        return {str(name): source[name].to_numpy() for name in source.columns}
    if module == "polars" and hasattr(source, "columns"):
        return {name: source[name].to_numpy() for name in source.columns}
    raise TypeError(f"table: expected a pandas/polars DataFrame, a pyarrow Table, a mapping of columns or a "
                    f".csv/.parquet path, got {type(source).__name__}")


def _numbers(values: np.ndarray, what: str) -> np.ndarray:
    """A column as float64; text is parsed, and the first value that is not a number is named
    with its row."""
    if values.dtype.kind in "iufb":
        return values.astype(np.float64)
    out = np.empty(values.shape[0], dtype=np.float64)
    for i, value in enumerate(values.tolist()):
        try:
            out[i] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{i}]: expected a number, got {value!r}") from None
    return out


def _positive(values: np.ndarray, what: str, *, allow_zero: bool = False) -> None:
    bad = ~np.isfinite(values) | ((values < 0) if allow_zero else (values <= 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}[{i}]: must be finite and {'>= 0' if allow_zero else '> 0'}, got {values[i]!r}")


# -- order books -----------------------------------------------------------------------------
def _side_levels(levels: Any, field: str) -> tuple[np.ndarray, np.ndarray]:
    """``[[price, amount, ...], ...]`` (numbers or numeric strings) as two arrays; entries after
    the second (CCXT's order count or timestamp on some venues) are ignored."""
    if isinstance(levels, (str, bytes, Mapping)) or not isinstance(levels, Sequence):
        raise TypeError(f"{field}: expected a list of [price, amount] levels, got {type(levels).__name__}")
    price = np.empty(len(levels))
    qty = np.empty(len(levels))
    for i, level in enumerate(levels):
        if isinstance(level, (str, bytes, Mapping)) or not isinstance(level, Sequence) or len(level) < 2:
            raise ValueError(f"{field}[{i}]: expected [price, amount, ...], got {level!r}")
        try:
            price[i], qty[i] = float(level[0]), float(level[1])
        except (TypeError, ValueError):
            raise ValueError(f"{field}[{i}]: price and amount must be numbers, got {level!r}") from None
    return price, qty


def book_from_ccxt(order_book: Mapping[str, Any]) -> OrderBook:
    """From CCXT's ``fetch_order_book`` (or ``watch_order_book``) answer: ``{"bids": [[price,
    amount], ...], "asks": [...], "symbol", "timestamp", "nonce", ...}``. Amounts are in base
    units (CCXT's unified book); a third entry per level (a count or timestamp on some venues)
    is ignored. Levels of amount 0 are dropped."""
    if not isinstance(order_book, Mapping):
        raise TypeError(f"order_book: expected CCXT's order book dict, got {type(order_book).__name__}")
    sides = []
    for key in ("bids", "asks"):
        if key not in order_book:
            raise ValueError(f"{key}: missing from the order book")
        price, qty = _side_levels(order_book[key], key)
        _positive(qty, f"{key} amount", allow_zero=True)
        keep = qty > 0
        sides += [price[keep], qty[keep]]
    return OrderBook(*sides)


_BID_WORDS = {"bid", "bids", "buy", "b", "long"}
_ASK_WORDS = {"ask", "asks", "sell", "a", "s", "short"}


def _book_sides(side: np.ndarray, what: str) -> np.ndarray:
    """True for bids: ``bid``/``buy``/``b`` (any case) or +1; False for asks: ``ask``/``sell``/``a``
    or -1."""
    if side.dtype.kind in "iuf":
        bad = (side != 1) & (side != -1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{what}[{i}]: expected bid/ask (or +1/-1), got {side[i].item()!r}")
        return side == 1
    words = np.char.lower(np.char.strip(side.astype(str)))
    bid = np.isin(words, list(_BID_WORDS))
    bad = ~bid & ~np.isin(words, list(_ASK_WORDS))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}[{i}]: expected bid/ask (or buy/sell, +1/-1), got {side[i]!r}")
    return bid


def _book_from_rows(is_bid: np.ndarray, price: np.ndarray, qty: np.ndarray, where: str) -> OrderBook:
    """Bids and asks from unordered rows; a price listed twice on one side is an error."""
    _positive(price, f"{where} price")
    _positive(qty, f"{where} qty", allow_zero=True)
    keep = qty > 0
    out = []
    for mask, descending in ((is_bid & keep, True), (~is_bid & keep, False)):
        p, q = price[mask], qty[mask]
        order = np.argsort(-p if descending else p, kind="stable")
        p, q = p[order], q[order]
        dup = np.flatnonzero(p[1:] == p[:-1])
        if dup.size:
            raise ValueError(f"{where} price: {p[dup[0]]!r} appears twice on the {'bid' if descending else 'ask'} side")
        out += [p, q]
    return OrderBook(*out)


def book_from_table(table: Any, *, columns: Mapping[str, str] | None = None) -> OrderBook:
    """From a table of levels, one row per level, in any order: ``side`` (``bid``/``ask``,
    ``buy``/``sell``, ``b``/``a`` in any case, or +1/-1), ``price`` and ``qty`` (base units; also
    found as ``amount``, ``size`` or ``quantity``). ``columns`` maps these names to the table's
    (``{"qty": "volume"}``). Rows of quantity 0 are dropped; a price twice on a side is an
    error. ``table``: anything :func:`read_table` reads."""
    data = read_table(table)
    side = _column(data, "side", columns, ("side",))
    price = _column(data, "price", columns, ("price",))
    qty = _column(data, "qty", columns, ("qty", "amount", "size", "quantity"))
    if side is None or price is None or qty is None:
        missing = [name for name, col in (("side", side), ("price", price), ("qty", qty)) if col is None]
        raise ValueError(f"{missing[0]}: no such column in the table of levels (columns: {', '.join(data)}); "
                         f"name it with columns={{'{missing[0]}': ...}}")
    return _book_from_rows(_book_sides(side[1], side[0]), _numbers(price[1], price[0]), _numbers(qty[1], qty[0]),
                           "levels")


def _tardis_time(values: np.ndarray, what: str) -> np.ndarray:
    out = np.empty(values.shape[0], dtype=np.int64)
    for i, value in enumerate(values.tolist()):
        try:
            out[i] = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{i}]: expected microseconds since the epoch, got {value!r}") from None
    return out


def _time_at(at: Any) -> int:
    """A time in microseconds since the epoch (UTC): an integer, or a ``datetime`` / ISO text."""
    if isinstance(at, (int, np.integer)) and not isinstance(at, bool):
        return int(at)
    import datetime as dt

    if isinstance(at, str):
        try:
            at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"at: expected microseconds since the epoch or an ISO 8601 time, got {at!r}") from None
    if isinstance(at, dt.datetime):
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.timezone.utc)
        delta = at - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    raise TypeError(f"at: expected microseconds since the epoch (int), a datetime or ISO text, got {type(at).__name__}")


def book_from_tardis_snapshot(path: PathLike, at: Any = None, *, time_column: str = "timestamp") -> OrderBook:
    """From a Tardis.dev ``book_snapshot_25`` (or ``_5``, any depth) CSV: one row per snapshot,
    columns ``exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,
    bids[0].price,bids[0].amount,...`` (times in microseconds since the epoch, UTC).

    The book is the last row whose ``time_column`` is at or before ``at`` (microseconds, a
    ``datetime`` or ISO text; the file's last row when omitted). Empty cells (a side shallower
    than the file's depth) are no level."""
    data = _read_csv(path)
    if time_column not in data:
        raise ValueError(f"{time_column}: no such column in {os.fspath(path)} (a Tardis book_snapshot CSV)")
    times = _tardis_time(data[time_column], time_column)
    if times.size == 0:
        raise ValueError(f"{os.fspath(path)}: no snapshot rows")
    if at is None:
        row = times.size - 1
    else:
        when = _time_at(at)
        row = int(np.searchsorted(times, when, side="right")) - 1
        if row < 0:
            raise ValueError(f"at: {when} is before the file's first snapshot ({times[0]})")
    sides = []
    for side in ("bids", "asks"):
        price, qty = [], []
        k = 0
        while f"{side}[{k}].price" in data:
            if f"{side}[{k}].amount" not in data:
                raise ValueError(f"{side}[{k}].amount: no such column in {os.fspath(path)}")
            p, q = data[f"{side}[{k}].price"][row], data[f"{side}[{k}].amount"][row]
            if p != "" and q != "":
                try:
                    price.append(float(p))
                    qty.append(float(q))
                except ValueError:
                    raise ValueError(f"{side}[{k}] (row {row}): price and amount must be numbers, "
                                     f"got {p!r}, {q!r}") from None
            k += 1
        if k == 0:
            raise ValueError(f"{side}[0].price: no such column in {os.fspath(path)} (a Tardis book_snapshot CSV)")
        sides += [np.array(price), np.array(qty)]
    return OrderBook(*sides)


_TARDIS_L2 = ("timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount")


def book_from_tardis_incremental(path: PathLike, at: Any, *, time_column: str = "local_timestamp") -> OrderBook:
    """The book at time ``at`` replayed from a Tardis.dev ``incremental_book_L2`` CSV
    (``exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount``; microseconds).

    Rows are applied in file order while their ``time_column`` (``local_timestamp``, the order
    the file is sorted in, by default) is at or before ``at``: ``amount`` is the new amount at
    that price (0 removes the level; removing an absent level is ignored). Rows before the
    first ``is_snapshot=true`` row are skipped; a snapshot row after update rows starts a new
    book (the feed reconnected). ``ValueError`` if no snapshot began by ``at``."""
    when = _time_at(at)
    rows = _csv_rows(path)
    try:
        header = next(rows)
    except StopIteration:
        raise ValueError(f"{os.fspath(path)}: empty file (no header row)") from None
    index = {name: k for k, name in enumerate(header)}
    for name in (*_TARDIS_L2, time_column):
        if name not in index:
            raise ValueError(f"{name}: no such column in {os.fspath(path)} (a Tardis incremental_book_L2 CSV)")
    t_col, snap_col, side_col, price_col, amount_col = (index[time_column], index["is_snapshot"], index["side"],
                                                        index["price"], index["amount"])
    levels: dict[str, dict[float, float]] = {"bid": {}, "ask": {}}
    started = False
    previous_snapshot = False
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(f"{os.fspath(path)}, line {number}: {len(row)} fields, the header has {len(header)}")
        try:
            t = int(row[t_col])
        except ValueError:
            raise ValueError(f"{time_column} (line {number}): expected microseconds, got {row[t_col]!r}") from None
        if t > when:
            break
        snapshot = row[snap_col].strip().lower()
        if snapshot not in ("true", "false"):
            raise ValueError(f"is_snapshot (line {number}): expected true or false, got {row[snap_col]!r}")
        is_snapshot = snapshot == "true"
        if is_snapshot and not previous_snapshot:
            levels = {"bid": {}, "ask": {}}
            started = True
        previous_snapshot = is_snapshot
        if not started:
            continue
        side = row[side_col].strip().lower()
        if side not in levels:
            raise ValueError(f"side (line {number}): expected bid or ask, got {row[side_col]!r}")
        try:
            price, amount = float(row[price_col]), float(row[amount_col])
        except ValueError:
            raise ValueError(f"price/amount (line {number}): expected numbers, got {row[price_col]!r}, "
                             f"{row[amount_col]!r}") from None
        if not (math.isfinite(price) and price > 0 and math.isfinite(amount) and amount >= 0):
            raise ValueError(f"price/amount (line {number}): expected price > 0 and amount >= 0, "
                             f"got {price!r}, {amount!r}")
        if amount == 0:
            levels[side].pop(price, None)
        else:
            levels[side][price] = amount
    if not started:
        raise ValueError(f"at: no snapshot (is_snapshot=true) in {os.fspath(path)} at or before {when}")
    bids = sorted(levels["bid"].items(), reverse=True)
    asks = sorted(levels["ask"].items())
    return OrderBook(np.array([p for p, _ in bids]), np.array([q for _, q in bids]),
                     np.array([p for p, _ in asks]), np.array([q for _, q in asks]))


def detect_book_format(source: Any) -> str:
    """Which of :data:`BOOK_FORMATS` a book file (or object) is, by content: a JSON object with
    ``bids`` and ``asks`` (Binance's REST depth or CCXT's order book: ``"depth-json"``); a CSV
    whose header has ``is_snapshot`` (``"tardis-incremental"``), ``asks[0].price``
    (``"tardis-snapshot"``) or ``side`` and ``price`` (``"levels"``); Parquet or a table object:
    ``"levels"``."""
    if isinstance(source, Mapping):
        return "depth-json" if "bids" in source or "asks" in source else "levels"
    if not isinstance(source, (str, os.PathLike)):
        return "levels"
    if _suffix(source) == ".parquet":
        return "levels"
    with _open_text(source) as handle:
        head = handle.read(4096)
    stripped = head.lstrip()
    if stripped.startswith("{"):
        return "depth-json"
    header = next(csv.reader([stripped.split("\n", 1)[0]]), [])
    if "is_snapshot" in header:
        return "tardis-incremental"
    if "asks[0].price" in header or "bids[0].price" in header:
        return "tardis-snapshot"
    if "side" in header and "price" in header:
        return "levels"
    raise ValueError(f"{os.fspath(source)}: not a book format liqcascade reads (JSON depth with bids/asks, a "
                     "Tardis book_snapshot or incremental_book_L2 CSV, or a table of side, price, qty)")


def read_book(source: Any, format: str | None = None, *, at: Any = None,
              columns: Mapping[str, str] | None = None) -> OrderBook:
    """A book from a file or an object in any of :data:`BOOK_FORMATS`, detected by content
    (:func:`detect_book_format`) unless ``format`` says. ``at``: the time of a Tardis file's
    snapshot (required for ``tardis-incremental``); ``columns``: the names of a table's
    ``side``, ``price``, ``qty``."""
    kind = detect_book_format(source) if format is None else format
    if kind not in BOOK_FORMATS:
        raise ValueError(f"format: expected one of {', '.join(BOOK_FORMATS)}, got {format!r}")
    if kind == "depth-json":
        if isinstance(source, Mapping):
            return book_from_ccxt(source)
        with _open_text(source) as handle:
            try:
                obj = json.load(handle)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{os.fspath(source)}: not JSON ({exc})") from None
        return book_from_ccxt(obj)
    if kind == "tardis-snapshot":
        return book_from_tardis_snapshot(source, at)
    if kind == "tardis-incremental":
        if at is None:
            raise ValueError("at: a Tardis incremental_book_L2 file needs the time of the snapshot to replay to")
        return book_from_tardis_incremental(source, at)
    return book_from_table(source, columns=columns)


# -- positions -------------------------------------------------------------------------------
#: The names each field of a position is found under when ``columns`` does not say.
POSITION_ALIASES: dict[str, tuple[str, ...]] = {
    "side": ("side", "direction", "position_side"),
    "qty": ("qty", "size", "amount", "quantity", "contracts"),
    "notional": ("notional", "notional_value", "position_value"),
    "entry_price": ("entry_price", "entry", "entryPrice", "avg_entry_price", "open_price"),
    "margin": ("margin", "initial_margin", "isolated_margin", "collateral"),
    "leverage": ("leverage",),
    "mmr": ("mmr", "maintenance_margin_rate"),
    "maint_amount": ("maint_amount", "cum", "maintenance_amount"),
}


def _column(data: Mapping[str, np.ndarray], field: str, columns: Mapping[str, str] | None,
            aliases: Sequence[str]) -> tuple[str, np.ndarray] | None:
    """``(description, values)`` of ``field``: the column ``columns[field]`` names (which must
    exist), else the first alias present."""
    if columns and field in columns:
        name = columns[field]
        if name not in data:
            raise ValueError(f"{field}: column {name!r} (columns={{'{field}': {name!r}}}) is not in the table; "
                             f"columns: {', '.join(data)}")
        return (f"{field} (column {name!r})" if name != field else field), np.asarray(data[name])
    for name in aliases:
        if name in data:
            return (f"{field} (column {name!r})" if name != field else field), np.asarray(data[name])
    return None


_LONG_WORDS = {"long", "buy", "b", "l", "+1", "1"}
_SHORT_WORDS = {"short", "sell", "s", "-1"}


def position_sides(values: Any, what: str = "side") -> np.ndarray:
    """Sides as int8 +1/-1 from ±1 or ``long``/``short``/``buy``/``sell`` (any case and
    surrounding space); the first other value is a ``ValueError`` naming ``what`` and its row."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iuf":
        bad = (arr != 1) & (arr != -1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{what}[{i}]: expected +1/-1 or long/short/buy/sell, got {arr[i].item()!r}")
        return arr.astype(np.int8)
    if arr.dtype.kind == "b":
        raise ValueError(f"{what}: expected +1/-1 or long/short/buy/sell, got booleans")
    words = np.char.lower(np.char.strip(arr.astype(str)))
    long = np.isin(words, list(_LONG_WORDS))
    short = np.isin(words, list(_SHORT_WORDS))
    bad = ~long & ~short
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}[{i}]: expected +1/-1 or long/short/buy/sell, got {arr[i]!r}")
    return np.where(long, 1, -1).astype(np.int8)


def positions_from_table(
    table: Any,
    *,
    columns: Mapping[str, str] | None = None,
    venue: str | None = None,
    symbol: str | None = None,
    tiers: MaintenanceTiers | None = None,
    basis: Basis | None = None,
    close_fee: float | None = None,
    tier_rule: TierRule | None = None,
    leverage_limit: LeverageLimit = "reject",
) -> Positions:
    """Positions from a table, one row per position (``table``: anything :func:`read_table`
    reads).

    Fields, each found under ``columns[field]`` or else the first of its usual names
    (:data:`POSITION_ALIASES`): ``side`` (+1/-1 or ``long``/``short``/``buy``/``sell``, any case),
    ``qty`` in base units (or ``notional`` in quote, then ``qty = notional / entry_price``),
    ``entry_price``, and ``margin`` or ``leverage`` (``margin = qty * entry_price / leverage``;
    with both, ``margin`` is used); optionally ``mmr`` and ``maint_amount``.

    Maintenance: ``tiers``, or ``venue`` (``"binance"``, ``"bybit"``, ``"hyperliquid"``) with
    ``symbol`` for that venue's shipped tier table (:func:`liqcascade.tier_tables.venue_tiers`)
    and its margin basis, else the table's ``mmr``/``maint_amount`` columns, else
    :data:`~liqcascade.DEFAULT_MMR`. ``basis``, ``close_fee``, ``tier_rule`` and
    ``leverage_limit`` as for :class:`~liqcascade.Positions` (a venue's rules by default).
    Errors name the field, the table's column and the row.
    """
    data = read_table(table)
    if columns is not None and not isinstance(columns, Mapping):
        raise TypeError(f"columns: expected a mapping of field to column name, got {type(columns).__name__}")
    unknown = set(columns or ()) - set(POSITION_ALIASES)
    if unknown:
        raise ValueError(f"columns: unknown field {sorted(unknown)[0]!r}; fields are {', '.join(POSITION_ALIASES)}")
    found = {field: _column(data, field, columns, aliases) for field, aliases in POSITION_ALIASES.items()}

    def need(field: str, hint: str = "") -> tuple[str, np.ndarray]:
        column = found[field]
        if column is None:
            names = ", ".join(POSITION_ALIASES[field])
            raise ValueError(f"{field}: no column for it in the table (looked for {names}{hint}; columns: "
                             f"{', '.join(data)}); name it with columns={{'{field}': ...}}")
        return column

    side_what, side_values = need("side")
    side = position_sides(side_values, side_what)
    entry_what, entry_values = need("entry_price")
    entry = _numbers(entry_values, entry_what)
    if found["qty"] is not None:
        qty_what, qty_values = found["qty"]
        qty = _numbers(qty_values, qty_what)
    elif found["notional"] is not None:
        notional_what, notional_values = found["notional"]
        _positive(entry, entry_what)
        qty = _numbers(notional_values, notional_what) / entry
    else:
        need("qty", " or a notional column")
        raise AssertionError  # (need raised)
    if found["margin"] is not None:
        margin_what, margin_values = found["margin"]
        margin = _numbers(margin_values, margin_what)
    elif found["leverage"] is not None:
        lev_what, lev_values = found["leverage"]
        leverage = _numbers(lev_values, lev_what)
        _positive(leverage, lev_what)
        with np.errstate(all="ignore"):
            margin = qty * entry / leverage
    else:
        need("margin", " or a leverage column")
        raise AssertionError
    mmr = None if found["mmr"] is None else _numbers(found["mmr"][1], found["mmr"][0])
    maint = None if found["maint_amount"] is None else _numbers(found["maint_amount"][1], found["maint_amount"][0])

    if venue is not None:
        if tiers is not None:
            raise ValueError("venue: give either venue (its shipped tier table) or tiers, not both")
        from .venues import BTC_SYMBOL, venue_rules

        if venue not in BTC_SYMBOL:
            raise ValueError(f"venue: expected one of {', '.join(map(repr, BTC_SYMBOL))}, got {venue!r}")
        rules = venue_rules(venue, symbol)
        tiers = rules.tiers
        basis = rules.basis if basis is None else basis
        close_fee = rules.close_fee if close_fee is None else close_fee
        tier_rule = rules.tier_rule if tier_rule is None else tier_rule
    elif symbol is not None:
        raise ValueError("symbol: only meaningful with venue (whose tier table to use)")
    if tiers is not None:
        mmr = maint = None  # the table's tiers decide
    try:
        return Positions(side, qty, entry, margin, mmr, maint, tiers=tiers, basis=basis or "mark",
                         close_fee=0.0 if close_fee is None else close_fee, tier_rule=tier_rule,
                         leverage_limit=leverage_limit)
    except ValueError as exc:
        # the engine names the canonical field; add the table's column where it differs
        message = str(exc)
        for field, column in found.items():
            if column is not None and message.startswith(field) and column[0] != field:
                raise ValueError(f"{message} [{column[0]}]") from None
        raise


def detect_positions_format(path: PathLike) -> str:
    """``"parquet"`` (by the file's magic bytes ``PAR1``) or ``"csv"``."""
    with open(os.fspath(path), "rb") as handle:
        magic = handle.read(4)
    return "parquet" if magic == b"PAR1" else "csv"


def read_positions(source: Any, format: str | None = None, **options: Any) -> Positions:
    """Positions from a ``.csv``/``.csv.gz`` or ``.parquet`` file (detected by content unless
    ``format`` says) or a table object; ``options`` as for :func:`positions_from_table`."""
    if isinstance(source, (str, os.PathLike)):
        kind = detect_positions_format(source) if format is None else format
        if kind not in POSITION_FORMATS:
            raise ValueError(f"format: expected one of {', '.join(POSITION_FORMATS)}, got {format!r}")
        if kind == "parquet":
            pq = optional_import("pyarrow.parquet", "reading Parquet")
            source = pq.read_table(os.fspath(source))
        else:
            source = _read_csv(source)
    return positions_from_table(source, **options)


# -- observed liquidations -------------------------------------------------------------------
LIQUIDATION_COLUMNS = ("time", "market", "side", "price", "qty", "notional")


class LiquidationTable(ColumnTable):
    """Observed liquidations, one row per liquidation order, in the order given:

    - ``time``: int64 microseconds since the epoch, UTC;
    - ``market``: the venue's symbol (text);
    - ``side``: int8, the side of the *position* liquidated: +1 a long (closed by a sell),
      -1 a short (closed by a buy);
    - ``price``: the fill price (average where the source gives one), quote per base unit;
    - ``qty``: base units filled; ``notional``: quote value (the source's, or price × qty).

    ``liquidation_map(bucket)`` sums it by price bucket and side; ``to_pandas()`` etc. as
    every table."""

    __slots__ = ()

    def __init__(self, columns: Mapping[str, Any]) -> None:
        cols = {
            "time": np.asarray(columns["time"], dtype=np.int64),
            "market": np.asarray(columns["market"], dtype=str),
            "side": np.asarray(columns["side"], dtype=np.int8),
            "price": np.asarray(columns["price"], dtype=np.float64),
            "qty": np.asarray(columns["qty"], dtype=np.float64),
            "notional": np.asarray(columns["notional"], dtype=np.float64),
        }
        n = cols["time"].shape[0]
        for name, column in cols.items():
            if column.shape != (n,):
                raise ValueError(f"{name}: expected {n} values, got shape {column.shape}")
        _positive(cols["price"], "price")
        _positive(cols["qty"], "qty", allow_zero=True)
        bad = (cols["side"] != 1) & (cols["side"] != -1)
        if bad.any():
            raise ValueError(f"side[{int(np.flatnonzero(bad)[0])}]: must be +1 (long) or -1 (short)")
        super().__init__(cols)

    @classmethod
    def concat(cls, tables: Iterable[LiquidationTable]) -> LiquidationTable:
        parts = list(tables)
        return cls({name: np.concatenate([t[name] for t in parts]) if parts else np.empty(0)
                    for name in LIQUIDATION_COLUMNS})

    def liquidation_map(self, bucket: float, *, market: str | None = None) -> ColumnTable:
        """Liquidated notional and count by price bucket and side: one row per bucket from the
        lowest to the highest price liquidated (empty buckets included, so the map is a
        histogram), columns ``price_low``, ``price_high`` (a price ``p`` falls in
        ``[k * bucket, (k + 1) * bucket)``), ``long_notional``, ``short_notional``,
        ``long_count``, ``short_count``. ``market``: only that market's rows."""
        width = float(bucket)
        if not (math.isfinite(width) and width > 0):
            raise ValueError(f"bucket: must be finite and > 0, got {bucket!r}")
        rows = np.ones(len(self), dtype=bool) if market is None else self["market"] == market
        price, side, notional = self["price"][rows], self["side"][rows], self["notional"][rows]
        if price.size == 0:
            empty = np.empty(0)
            return ColumnTable({"price_low": empty, "price_high": empty, "long_notional": empty,
                                "short_notional": empty, "long_count": np.empty(0, np.int64),
                                "short_count": np.empty(0, np.int64)})
        k = np.floor(price / width).astype(np.int64)
        first = int(k.min())
        n = int(k.max()) - first + 1
        if n > 10_000_000:
            raise ValueError(f"bucket: {width:g} makes {n:,} buckets over the prices liquidated; choose a wider one")
        index = k - first
        longs = side > 0
        out = {
            "price_low": (np.arange(n) + first) * width,
            "price_high": (np.arange(n) + first + 1) * width,
            "long_notional": np.bincount(index[longs], weights=notional[longs], minlength=n),
            "short_notional": np.bincount(index[~longs], weights=notional[~longs], minlength=n),
            "long_count": np.bincount(index[longs], minlength=n).astype(np.int64),
            "short_count": np.bincount(index[~longs], minlength=n).astype(np.int64),
        }
        return ColumnTable(out)

    def __repr__(self) -> str:
        longs = int(np.count_nonzero(self["side"] > 0))
        return (f"LiquidationTable({len(self)} liquidations: {longs} long, {len(self) - longs} short, "
                f"${float(self['notional'].sum()):,.0f})")


def _json_records(source: Any, what: str) -> list[Any]:
    """A list of JSON objects from a list, one object, a JSON file (an array or one object) or
    a JSON-lines file."""
    if isinstance(source, (str, os.PathLike)):
        with _open_text(source) as handle:
            text = handle.read()
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            records = []
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise ValueError(f"{os.fspath(source)}, line {number}: not JSON ({exc})") from None
            return records
        return obj if isinstance(obj, list) else [obj]
    if isinstance(source, Mapping):
        return [source]
    if isinstance(source, Iterable) and not isinstance(source, (str, bytes)):
        return list(source)
    raise TypeError(f"{what}: expected a message, a list of them or a file, got {type(source).__name__}")


def _field_number(record: Mapping[str, Any], key: str, where: str, default: Any = None) -> float:
    value = record.get(key, default)
    if value is None:
        raise ValueError(f"{where}.{key}: missing")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}.{key}: expected a number, got {value!r}") from None


def liquidations_from_binance(messages: Any) -> LiquidationTable:
    """From Binance USD-M futures' ``forceOrder`` stream messages (``<symbol>@forceOrder`` or
    ``!forceOrder@arr``): ``{"e": "forceOrder", "E": ..., "o": {"s", "S", "o", "f", "q", "p",
    "ap", "X", "l", "z", "T"}}``, bare or wrapped as a combined stream's ``{"stream", "data"}``;
    a list of them, or a JSON / JSON-lines file.

    ``S`` is the liquidation order's side: ``SELL`` closes a long (side +1), ``BUY`` a short.
    Time is ``T`` (the trade time, ms); price the average fill price ``ap`` (``p``, the order's
    limit, when ``ap`` is 0 or absent); quantity the filled ``z`` (``q``, the order's, when
    absent). Other event types (``e`` other than ``forceOrder``) are skipped."""
    rows: dict[str, list[Any]] = {name: [] for name in LIQUIDATION_COLUMNS}
    for i, message in enumerate(_json_records(messages, "messages")):
        where = f"messages[{i}]"
        if isinstance(message, Mapping) and "data" in message and "e" not in message:
            message = message["data"]
        if not isinstance(message, Mapping):
            raise TypeError(f"{where}: expected a forceOrder object, got {type(message).__name__}")
        if message.get("e") != "forceOrder":
            continue
        order = message.get("o")
        if not isinstance(order, Mapping):
            raise ValueError(f"{where}.o: missing (the liquidation order)")
        where = f"{where}.o"
        side = str(order.get("S", "")).upper()
        if side not in ("SELL", "BUY"):
            raise ValueError(f"{where}.S: expected SELL or BUY, got {order.get('S')!r}")
        average = _field_number(order, "ap", where, 0.0)
        price = average if average > 0 else _field_number(order, "p", where)
        qty = _field_number(order, "z", where) if "z" in order else _field_number(order, "q", where)
        time = int(_field_number(order, "T", where, message.get("E")))
        if "s" not in order:
            raise ValueError(f"{where}.s: missing (the symbol)")
        rows["time"].append(time * 1000)
        rows["market"].append(str(order["s"]))
        rows["side"].append(1 if side == "SELL" else -1)
        rows["price"].append(price)
        rows["qty"].append(qty)
        rows["notional"].append(price * qty)
    return LiquidationTable(rows)


_CCXT_SIDES = {"long": 1, "sell": 1, "short": -1, "buy": -1}


def liquidations_from_ccxt(records: Any) -> LiquidationTable:
    """From CCXT's liquidation structures (``fetch_liquidations``, ``watch_liquidations``):
    ``{"timestamp" (ms), "symbol", "side", "price", "contracts", "contractSize", "baseValue",
    "quoteValue", ...}``; a list, or a JSON / JSON-lines file of them.

    ``side``: ``long``/``short`` is the position liquidated; ``sell``/``buy`` (what some
    exchanges report) the liquidation order's side, a sell closing a long. Quantity:
    ``baseValue``, else ``contracts * contractSize`` (1 when absent), else ``amount``; notional:
    ``quoteValue``, else price × quantity (linear contracts)."""
    rows: dict[str, list[Any]] = {name: [] for name in LIQUIDATION_COLUMNS}
    for i, record in enumerate(_json_records(records, "records")):
        where = f"records[{i}]"
        if not isinstance(record, Mapping):
            raise TypeError(f"{where}: expected a liquidation dict, got {type(record).__name__}")
        side = str(record.get("side") or "").strip().lower()
        if side not in _CCXT_SIDES:
            raise ValueError(f"{where}.side: expected long/short (or sell/buy), got {record.get('side')!r}")
        price = _field_number(record, "price", where)
        if record.get("baseValue") is not None:
            qty = _field_number(record, "baseValue", where)
        elif record.get("contracts") is not None:
            qty = _field_number(record, "contracts", where) * _field_number(record, "contractSize", where, 1.0)
        elif record.get("amount") is not None:
            qty = _field_number(record, "amount", where)
        else:
            raise ValueError(f"{where}.baseValue: missing (and no contracts or amount)")
        notional = (_field_number(record, "quoteValue", where) if record.get("quoteValue") is not None
                    else price * qty)
        if record.get("timestamp") is None:
            raise ValueError(f"{where}.timestamp: missing")
        rows["time"].append(int(_field_number(record, "timestamp", where)) * 1000)
        if record.get("symbol") is None:
            raise ValueError(f"{where}.symbol: missing")
        rows["market"].append(str(record["symbol"]))
        rows["side"].append(_CCXT_SIDES[side])
        rows["price"].append(price)
        rows["qty"].append(qty)
        rows["notional"].append(notional)
    return LiquidationTable(rows)


def liquidations_from_tardis(path: PathLike, *, contract_size: float = 1.0) -> LiquidationTable:
    """From a Tardis.dev ``liquidations`` CSV (``exchange,symbol,timestamp,local_timestamp,id,
    side,price,amount``; microseconds). ``side`` is the liquidation order's: ``sell`` closes a
    long (+1), ``buy`` a short (-1). ``amount`` is as the exchange reports it — contracts on
    inverse or contract-sized venues (BitMEX, Deribit, OKX swaps): ``contract_size`` converts
    (``qty = amount * contract_size``). Time is the exchange's ``timestamp``."""
    data = _read_csv(path)
    for name in ("symbol", "timestamp", "side", "price", "amount"):
        if name not in data:
            raise ValueError(f"{name}: no such column in {os.fspath(path)} (a Tardis liquidations CSV)")
    size = float(contract_size)
    if not (math.isfinite(size) and size > 0):
        raise ValueError(f"contract_size: must be finite and > 0, got {contract_size!r}")
    words = np.char.lower(np.char.strip(data["side"].astype(str)))
    bad = ~np.isin(words, ["buy", "sell"])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"side[{i}]: expected buy or sell, got {data['side'][i]!r}")
    price = _numbers(data["price"], "price")
    qty = _numbers(data["amount"], "amount") * size
    return LiquidationTable({"time": _tardis_time(data["timestamp"], "timestamp"), "market": data["symbol"],
                             "side": np.where(words == "sell", 1, -1), "price": price, "qty": qty,
                             "notional": price * qty})

