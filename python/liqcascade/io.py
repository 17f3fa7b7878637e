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
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Union

import numpy as np

from ._optional import optional_import
from ._table import ColumnTable
from ._warnings import warn
from .book import OrderBook
from .positions import Basis, Contract, LeverageLimit, MaintenanceTiers, Positions, TierRule

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "BOOK_FORMATS",
    "INVERSE_MARKETS",
    "POSITION_FORMATS",
    "TIMED_BOOK_FORMATS",
    "LiquidationTable",
    "book_from_ccxt",
    "book_market",
    "book_from_table",
    "book_from_tardis_incremental",
    "book_from_tardis_snapshot",
    "detect_book_format",
    "detect_positions_format",
    "inverse_market",
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
    """A text handle; ``.gz`` files are decompressed (Tardis ships ``.csv.gz``). A UTF-8 byte
    order mark (Excel writes one) is dropped."""
    name = os.fspath(path)
    if name.endswith(".gz"):
        return gzip.open(name, "rt", encoding="utf-8-sig", newline="")
    return open(name, encoding="utf-8-sig", newline="")


def _echo(value: Any, limit: int = 60) -> str:
    """A value as an error message shows it: NumPy scalars as plain Python numbers and text
    (``0.0``, not ``np.float64(0.0)``), cut to ``limit`` characters."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _names(data: Mapping[str, Any], limit: int = 12) -> str:
    """A table's column names for an error message, each shown with :func:`_echo` and at most
    ``limit`` of them (a file that is not a table must not put itself in the message)."""
    names = [_echo(name, 40) if len(name) > 40 or not name.isprintable() else name for name in data]
    more = f", ... ({len(names)} columns)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _csv_rows(path: PathLike) -> Iterator[list[str]]:
    with _open_text(path) as handle:
        yield from csv.reader(handle)


def _read_csv(path: PathLike) -> dict[str, np.ndarray]:
    """A CSV file as text columns (header row first)."""
    rows = _csv_rows(path)
    try:
        header = [name.strip() for name in next(rows)]
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
            raise ValueError(f"{what}[{i}]: expected a number, got {_echo(value)}") from None
    return out


def _positive(values: np.ndarray, what: str, *, allow_zero: bool = False) -> None:
    bad = ~np.isfinite(values) | ((values < 0) if allow_zero else (values <= 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}[{i}]: must be finite and {'>= 0' if allow_zero else '> 0'}, got {_echo(values[i])}")


# -- contracts -------------------------------------------------------------------------------
#: Markets known to be inverse (coin-margined, USD face value), by Tardis.dev exchange id: a
#: pattern of the symbol and the USD face value of one unit of the ``amount`` the venue (and
#: Tardis) reports — a number, or ``(BTC's, the other coins')``. BitMEX XBTUSD and its XBT
#: futures count contracts of 1 USD; Deribit's BTC/ETH perpetuals and futures report amounts in
#: USD (contracts of 10 USD, counted in USD); Binance COIN-M (``binance-delivery``) and OKX
#: inverse swaps and futures count contracts of 100 USD (BTC) or 10 USD (other coins); Bybit's
#: inverse perpetuals and futures count contracts of 1 USD.
INVERSE_MARKETS: dict[str, tuple[tuple[str, float | tuple[float, float]], ...]] = {
    "bitmex": ((r"XBTUSD|XBT[FGHJKMNQUVXZ]\d\d", 1.0),),
    "deribit": ((r"(BTC|ETH)-(PERPETUAL|\d{1,2}[A-Z]{3}\d\d)", 1.0),),
    "binance-delivery": ((r"[A-Z0-9]+USD_(PERP|\d{6})", (100.0, 10.0)),),
    "okex-swap": ((r"[A-Z0-9]+-USD-SWAP", (100.0, 10.0)),),
    "okex-futures": ((r"[A-Z0-9]+-USD-\d{6}", (100.0, 10.0)),),
    "bybit": ((r"[A-Z0-9]+USD([FGHJKMNQUVXZ]\d\d)?", 1.0),),
}


def inverse_market(exchange: str | None, symbol: str) -> float | None:
    """The USD face value of one unit of ``amount`` when ``symbol`` on ``exchange`` (a
    Tardis.dev exchange id; ``None``: any of them) is a known inverse market
    (:data:`INVERSE_MARKETS`), else None. (CCXT marks its own: a symbol ``BASE/QUOTE:SETTLE``
    settled in its base coin is inverse, of CCXT's ``contractSize``.)"""
    name = str(symbol).strip().upper()
    venues = INVERSE_MARKETS if exchange is None else {exchange: INVERSE_MARKETS.get(str(exchange).strip().lower(), ())}
    for rules in venues.values():
        for pattern, size in rules:
            if re.fullmatch(pattern, name):
                if isinstance(size, tuple):
                    return size[0] if name.startswith(("BTC", "XBT")) else size[1]
                return size
    return None


def _contract(contract: Any) -> Contract | None:
    if contract is None or contract in ("linear", "inverse"):
        return contract
    raise ValueError(f"contract: expected 'linear' or 'inverse', got {_echo(contract)}")


def _contract_size(value: Any, what: str = "contract_size") -> float:
    try:
        size = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what}: expected a number, got {_echo(value)}") from None
    if not (math.isfinite(size) and size > 0):
        raise ValueError(f"{what}: must be finite and > 0, got {_echo(value)}")
    return size


def _ccxt_inverse(symbol: Any) -> bool:
    """CCXT's unified symbol ``BASE/QUOTE:SETTLE`` of an inverse contract: settled in its base."""
    text = str(symbol or "")
    base, _, rest = text.partition("/")
    settle = rest.partition(":")[2].partition("-")[0]
    return bool(base) and settle == base


def _book_units(book: OrderBook, contract: Any, contract_size: Any, to_base: Any,
                known: tuple[str, float | None] | None) -> OrderBook:
    """A loaded book in the units asked for (see :func:`read_book`). ``known``: the file's
    market, when it is a known inverse one, and the USD value of its amounts (None: unknown)."""
    kind = _contract(contract)
    size = _contract_size(contract_size)
    if not isinstance(to_base, (bool, np.bool_)):
        raise TypeError(f"to_base: expected a bool, got {type(to_base).__name__}")
    if kind is None:
        if to_base or size != 1.0:
            raise ValueError("contract: say what the book's amounts are (contract='linear': base units, or "
                             "'inverse': contracts of contract_size USD) to convert them")
        if known is not None:
            market, usd = known
            said = f"contract_size={usd:g}" if usd else "contract_size=<USD per contract>"
            warn(f"book: {market} is an inverse market: its amounts are contracts"
                 + (f" of {usd:g} USD" if usd else "") + f", not base units, and the book keeps them (what "
                 f"Positions(..., contract='inverse', {said}) needs); pass contract='inverse', {said} to say so, "
                 "and to_base=True for base units (a linear study)")
        return book
    if kind == "linear":
        if size == 1.0:
            return book
        return OrderBook(book.bid_price, book.bid_qty * size, book.ask_price, book.ask_qty * size)
    if not to_base:
        return book  # contracts of `size` USD: the inverse engine's book
    return OrderBook(book.bid_price, book.bid_qty * size / book.bid_price,
                     book.ask_price, book.ask_qty * size / book.ask_price)


def _tardis_known(exchange: Any, symbol: Any) -> tuple[str, float | None] | None:
    usd = inverse_market(str(exchange), str(symbol))
    return None if usd is None else (f"{exchange} {symbol}", usd)



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
            raise ValueError(f"{field}[{i}]: expected [price, amount, ...], got {_echo(level)}")
        try:
            price[i], qty[i] = float(level[0]), float(level[1])
        except (TypeError, ValueError):
            raise ValueError(f"{field}[{i}]: price and amount must be numbers, got {_echo(level)}") from None
    return price, qty


def book_from_ccxt(order_book: Mapping[str, Any], *, contract: Contract | None = None, contract_size: float = 1.0,
                   to_base: bool = False) -> OrderBook:
    """From CCXT's ``fetch_order_book`` (or ``watch_order_book``) answer: ``{"bids": [[price,
    amount], ...], "asks": [...], "symbol", "timestamp", "nonce", ...}``, or Binance's REST
    depth. Amounts are kept as given (base units for spot and linear markets; contracts where
    the venue counts them); a third entry per level (a count or timestamp on some venues) is
    ignored. Levels of amount 0 are dropped. ``contract``, ``contract_size`` and ``to_base``
    say what the amounts are and what to return, as for :func:`read_book`. A ``symbol`` of an
    inverse market (``BTC/USD:BTC``: settled in its base coin) without ``contract`` is warned
    about."""
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
    symbol = order_book.get("symbol")
    known = (f"CCXT {symbol}", None) if _ccxt_inverse(symbol) else None
    return _book_units(OrderBook(*sides), contract, contract_size, to_base, known)


_BID_WORDS = {"bid", "bids", "buy", "b", "long"}
_ASK_WORDS = {"ask", "asks", "sell", "a", "s", "short"}


def _book_sides(side: np.ndarray, what: str) -> np.ndarray:
    """True for bids: ``bid``/``buy``/``b`` (any case) or +1; False for asks: ``ask``/``sell``/``a``
    or -1."""
    if side.dtype.kind in "iuf":
        bad = (side != 1) & (side != -1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{what}[{i}]: expected bid/ask (or +1/-1), got {_echo(side[i])}")
        return side == 1
    words = np.char.lower(np.char.strip(side.astype(str)))
    bid = np.isin(words, list(_BID_WORDS))
    bad = ~bid & ~np.isin(words, list(_ASK_WORDS))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}[{i}]: expected bid/ask (or buy/sell, +1/-1), got {_echo(side[i])}")
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
            side = "bid" if descending else "ask"
            raise ValueError(f"{where} price: {_echo(p[dup[0]])} appears twice on the {side} side")
        out += [p, q]
    return OrderBook(*out)


def book_from_table(table: Any, *, columns: Mapping[str, str] | None = None, contract: Contract | None = None,
                    contract_size: float = 1.0, to_base: bool = False) -> OrderBook:
    """From a table of levels, one row per level, in any order: ``side`` (``bid``/``ask``,
    ``buy``/``sell``, ``b``/``a`` in any case, or +1/-1), ``price`` and ``qty`` (base units; also
    found as ``amount``, ``size`` or ``quantity``). ``columns`` maps these names to the table's
    (``{"qty": "volume"}``). Rows of quantity 0 are dropped; a price twice on a side is an
    error. ``table``: anything :func:`read_table` reads. ``contract``, ``contract_size`` and
    ``to_base`` say what the amounts are and what to return, as for :func:`read_book`."""
    data = read_table(table)
    side = _column(data, "side", columns, ("side",))
    price = _column(data, "price", columns, ("price",))
    qty = _column(data, "qty", columns, ("qty", "amount", "size", "quantity"))
    if side is None or price is None or qty is None:
        missing = [name for name, col in (("side", side), ("price", price), ("qty", qty)) if col is None]
        raise ValueError(f"{missing[0]}: no such column in the table of levels (columns: {_names(data)}); "
                         f"name it with columns={{'{missing[0]}': ...}}")
    book = _book_from_rows(_book_sides(side[1], side[0]), _numbers(price[1], price[0]), _numbers(qty[1], qty[0]),
                           "levels")
    return _book_units(book, contract, contract_size, to_base, None)


def _tardis_time(values: np.ndarray, what: str) -> np.ndarray:
    out = np.empty(values.shape[0], dtype=np.int64)
    for i, value in enumerate(values.tolist()):
        try:
            out[i] = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{i}]: expected microseconds since the epoch, got {_echo(value)}") from None
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
            raise ValueError(f"at: expected microseconds since the epoch or an ISO 8601 time, "
                             f"got {_echo(at)}") from None
    if isinstance(at, dt.datetime):
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.timezone.utc)
        delta = at - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    raise TypeError(f"at: expected microseconds since the epoch (int), a datetime or ISO text, got {type(at).__name__}")


def book_from_tardis_snapshot(path: PathLike, at: Any = None, *, time_column: str = "timestamp",
                              contract: Contract | None = None, contract_size: float = 1.0,
                              to_base: bool = False) -> OrderBook:
    """From a Tardis.dev ``book_snapshot_25`` (or ``_5``, any depth) CSV: one row per snapshot,
    columns ``exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,
    bids[0].price,bids[0].amount,...`` (times in microseconds since the epoch, UTC).

    The book is the last row whose ``time_column`` is at or before ``at`` (microseconds, a
    ``datetime`` or ISO text; the file's last row when omitted). Empty cells (a side shallower
    than the file's depth) are no level. ``contract``, ``contract_size`` and ``to_base``
    say what the amounts are and what to return, as for :func:`read_book`. A known inverse
    market (:func:`inverse_market` of the file's ``exchange`` and ``symbol``) without
    ``contract`` is warned about."""
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
                                     f"got {_echo(p)}, {_echo(q)}") from None
            k += 1
        if k == 0:
            raise ValueError(f"{side}[0].price: no such column in {os.fspath(path)} (a Tardis book_snapshot CSV)")
        sides += [np.array(price), np.array(qty)]
    known = _tardis_known(data["exchange"][row], data["symbol"][row]) if "exchange" in data and "symbol" in data \
        else None
    return _book_units(OrderBook(*sides), contract, contract_size, to_base, known)


_TARDIS_L2 = ("timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount")


def book_from_tardis_incremental(path: PathLike, at: Any, *, time_column: str = "local_timestamp",
                                 contract: Contract | None = None, contract_size: float = 1.0,
                                 to_base: bool = False) -> OrderBook:
    """The book at time ``at`` replayed from a Tardis.dev ``incremental_book_L2`` CSV
    (``exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount``; microseconds).

    Rows are applied in file order while their ``time_column`` (``local_timestamp``, the order
    the file is sorted in, by default) is at or before ``at``: ``amount`` is the new amount at
    that price (0 removes the level; removing an absent level is ignored). Rows before the
    first ``is_snapshot=true`` row are skipped; a snapshot row after update rows starts a new
    book (the feed reconnected). ``ValueError`` if no snapshot began by ``at``. ``contract``,
    ``contract_size`` and ``to_base`` say what the amounts are and what to return, as for
    :func:`read_book`. A known inverse market (:func:`inverse_market` of the file's
    ``exchange`` and ``symbol``: Deribit's ``BTC-PERPETUAL`` counts USD) without ``contract``
    is warned about."""
    when = _time_at(at)
    rows = _csv_rows(path)
    try:
        header = [name.strip() for name in next(rows)]
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
    known = None
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(f"{os.fspath(path)}, line {number}: {len(row)} fields, the header has {len(header)}")
        if number == 2 and "exchange" in index and "symbol" in index:
            known = _tardis_known(row[index["exchange"]], row[index["symbol"]])
        try:
            t = int(row[t_col])
        except ValueError:
            raise ValueError(f"{time_column} (line {number}): expected microseconds, got {_echo(row[t_col])}") from None
        if t > when:
            break
        snapshot = row[snap_col].strip().lower()
        if snapshot not in ("true", "false"):
            raise ValueError(f"is_snapshot (line {number}): expected true or false, got {_echo(row[snap_col])}")
        is_snapshot = snapshot == "true"
        if is_snapshot and not previous_snapshot:
            levels = {"bid": {}, "ask": {}}
            started = True
        previous_snapshot = is_snapshot
        if not started:
            continue
        side = row[side_col].strip().lower()
        if side not in levels:
            raise ValueError(f"side (line {number}): expected bid or ask, got {_echo(row[side_col])}")
        try:
            price, amount = float(row[price_col]), float(row[amount_col])
        except ValueError:
            raise ValueError(f"price/amount (line {number}): expected numbers, got {_echo(row[price_col])}, "
                             f"{_echo(row[amount_col])}") from None
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
    book = OrderBook(np.array([p for p, _ in bids]), np.array([q for _, q in bids]),
                     np.array([p for p, _ in asks]), np.array([q for _, q in asks]))
    return _book_units(book, contract, contract_size, to_base, known)


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
    header = [name.strip() for name in next(csv.reader([stripped.split("\n", 1)[0]]), [])]
    if "is_snapshot" in header:
        return "tardis-incremental"
    if "asks[0].price" in header or "bids[0].price" in header:
        return "tardis-snapshot"
    if "side" in header and "price" in header:
        return "levels"
    raise ValueError(f"{os.fspath(source)}: not a book format liqcascade reads (JSON depth with bids/asks, a "
                     "Tardis book_snapshot or incremental_book_L2 CSV, or a table of side, price, qty)")


#: The book formats that carry a time (``at`` picks one); the others are one snapshot.
TIMED_BOOK_FORMATS = ("tardis-snapshot", "tardis-incremental")


def book_market(source: Any, format: str | None = None) -> tuple[str, float | None] | None:
    """The known inverse market a book file (or object) is of, if any: ``(name, usd)`` with
    ``usd`` the USD value of one unit of its amounts (None where the file does not say), from a
    Tardis CSV's ``exchange`` and ``symbol`` (:func:`inverse_market`) or a CCXT order book's
    ``symbol`` (``BTC/USD:BTC``); None for a linear market or a file that names none. Reads
    only the file's first rows."""
    kind = detect_book_format(source) if format is None else format
    if kind == "depth-json":
        if isinstance(source, Mapping):
            obj: Any = source
        else:
            with _open_text(source) as handle:
                try:
                    obj = json.load(handle)
                except json.JSONDecodeError:
                    return None
        symbol = obj.get("symbol") if isinstance(obj, Mapping) else None
        return (f"CCXT {symbol}", None) if _ccxt_inverse(symbol) else None
    if kind in TIMED_BOOK_FORMATS and isinstance(source, (str, os.PathLike)):
        rows = _csv_rows(source)
        header = [name.strip() for name in next(rows, [])]
        first = next(rows, None)
        if first is None or "exchange" not in header or "symbol" not in header or len(first) != len(header):
            return None
        return _tardis_known(first[header.index("exchange")], first[header.index("symbol")])
    return None


def read_book(source: Any, format: str | None = None, *, at: Any = None,
              columns: Mapping[str, str] | None = None, contract: Contract | None = None,
              contract_size: float = 1.0, to_base: bool = False) -> OrderBook:
    """A book from a file or an object in any of :data:`BOOK_FORMATS`, detected by content
    (:func:`detect_book_format`) unless ``format`` says. ``at``: the time of a Tardis file's
    snapshot (required for ``tardis-incremental``; a format without times,
    ``depth-json`` or ``levels``, refuses it); ``columns``: the names of a table's ``side``,
    ``price``, ``qty``.

    Units. By default the amounts are kept as the file gives them: base units on spot and
    linear markets, **contracts** on inverse ones (BitMEX XBTUSD: 1 USD each; Deribit
    BTC-PERPETUAL and ETH-PERPETUAL: amounts in USD; Binance COIN-M and OKX inverse: 100 USD
    for BTC, 10 for other coins) — what the inverse engine takes
    (``Positions(..., contract="inverse", contract_size=...)``); a file of a known inverse
    market (:func:`book_market`) read without ``contract`` is warned about. Say what the
    amounts are with ``contract``: ``"linear"`` (contracts of ``contract_size`` base units;
    1: base units already) returns base units; ``"inverse"`` (contracts of ``contract_size``
    USD) returns them as they are, or with ``to_base=True`` converted to base units at each
    level's price (``amount * contract_size / price``) for a linear study."""
    kind = detect_book_format(source) if format is None else format
    if kind not in BOOK_FORMATS:
        raise ValueError(f"format: expected one of {', '.join(BOOK_FORMATS)}, got {_echo(format)}")
    if at is not None and kind not in TIMED_BOOK_FORMATS:
        raise ValueError(f"at: a {kind} book is one snapshot with no time to choose; only Tardis files "
                         f"({', '.join(TIMED_BOOK_FORMATS)}) take at")
    units: dict[str, Any] = {"contract": contract, "contract_size": contract_size, "to_base": to_base}
    if kind == "depth-json":
        if isinstance(source, Mapping):
            return book_from_ccxt(source, **units)
        with _open_text(source) as handle:
            try:
                obj = json.load(handle)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{os.fspath(source)}: not JSON ({exc})") from None
        if not isinstance(obj, Mapping):
            raise ValueError(f"{os.fspath(source)}: expected a JSON object with bids and asks, got a "
                             f"{type(obj).__name__}")
        return book_from_ccxt(obj, **units)
    if kind == "tardis-snapshot":
        return book_from_tardis_snapshot(source, at, **units)
    if kind == "tardis-incremental":
        if at is None:
            raise ValueError("at: a Tardis incremental_book_L2 file needs the time of the snapshot to replay to")
        return book_from_tardis_incremental(source, at, **units)
    return book_from_table(source, columns=columns, **units)


# -- positions -------------------------------------------------------------------------------
#: The names each field of a position is found under when ``columns`` does not say.
POSITION_ALIASES: dict[str, tuple[str, ...]] = {
    "side": ("side", "direction", "position_side"),
    "qty": ("qty", "size", "amount", "quantity", "contracts"),
    # a size whose sign is the side (Binance positionRisk's positionAmt, Hyperliquid's szi)
    "signed_qty": ("signed_qty", "positionAmt", "szi", "signed_size", "position_amt"),
    "notional": ("notional", "notional_value", "position_value"),
    "entry_price": ("entry_price", "entry", "entryPrice", "entryPx", "avg_entry_price", "open_price"),
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
                             f"columns: {_names(data)}")
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
            raise ValueError(f"{what}[{i}]: expected +1/-1 or long/short/buy/sell, got {_echo(arr[i])}")
        return arr.astype(np.int8)
    if arr.dtype.kind == "b":
        raise ValueError(f"{what}: expected +1/-1 or long/short/buy/sell, got booleans")
    words = np.char.lower(np.char.strip(arr.astype(str)))
    long = np.isin(words, list(_LONG_WORDS))
    short = np.isin(words, list(_SHORT_WORDS))
    bad = ~long & ~short
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}[{i}]: expected +1/-1 or long/short/buy/sell, got {_echo(arr[i])}")
    return np.where(long, 1, -1).astype(np.int8)


def _signed_sizes(found: Mapping[str, tuple[str, np.ndarray] | None]) -> tuple[str, np.ndarray] | None:
    """The column whose sign is the side, when there is no side column: a ``signed_qty`` column
    (``positionAmt``, ``szi``, ...), else a ``qty`` column (``size``, ...) holding a negative
    size (one whose sizes are all positive would make every position long without saying so)."""
    if found["signed_qty"] is not None:
        what, values = found["signed_qty"]
        return what, _numbers(values, what)
    if found["qty"] is not None:
        what, values = found["qty"]
        sizes = _numbers(values, what)
        if (sizes < 0).any():
            return what, sizes
    return None


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
    contract: Contract = "linear",
    contract_size: float = 1.0,
) -> Positions:
    """Positions from a table, one row per position (``table``: anything :func:`read_table`
    reads).

    Fields, each found under ``columns[field]`` or else the first of its usual names
    (:data:`POSITION_ALIASES`): ``side`` (+1/-1 or ``long``/``short``/``buy``/``sell``, any case),
    ``qty`` (or ``notional``: ``qty = notional / entry_price``, for an inverse contract
    ``notional / contract_size``), ``entry_price``, and ``margin`` or ``leverage``
    (``margin = qty * entry_price / leverage``, for an inverse contract ``qty * contract_size /
    entry_price / leverage`` coin; with both, ``margin`` is used); optionally ``mmr`` and
    ``maint_amount``.

    Without a side column, a signed size gives both: ``signed_qty`` (``positionAmt`` of
    Binance's ``positionRisk``, Hyperliquid's ``szi``, ...), or a ``qty`` column that holds
    negative sizes — side the sign, qty the size. A row of size 0 is no position: it is
    dropped, with a :class:`~liqcascade.LiqcascadeWarning` saying how many and which (errors
    then still name the table's rows).

    ``contract="inverse"`` with ``contract_size`` (USD per contract) reads a coin-margined
    market: ``qty`` in contracts, ``margin`` and ``maint_amount`` in coin (see
    :class:`~liqcascade.Positions`). Maintenance: ``tiers``, or ``venue`` (``"binance"``,
    ``"bybit"``, ``"hyperliquid"``; linear contracts) with ``symbol`` for that venue's shipped
    tier table (:func:`liqcascade.tier_tables.venue_tiers`) and its margin basis, else the
    table's ``mmr``/``maint_amount`` columns, else :data:`~liqcascade.DEFAULT_MMR`. ``basis``,
    ``close_fee``, ``tier_rule`` and ``leverage_limit`` as for :class:`~liqcascade.Positions`
    (a venue's rules by default). Errors name the field, the table's column and the row.
    """
    data = read_table(table)
    if columns is not None and not isinstance(columns, Mapping):
        raise TypeError(f"columns: expected a mapping of field to column name, got {type(columns).__name__}")
    unknown = set(columns or ()) - set(POSITION_ALIASES)
    if unknown:
        raise ValueError(f"columns: unknown field {sorted(unknown)[0]!r}; fields are {', '.join(POSITION_ALIASES)}")
    kind = _contract(contract)
    inverse = kind == "inverse"
    size = _contract_size(contract_size)
    found = {field: _column(data, field, columns, aliases) for field, aliases in POSITION_ALIASES.items()}

    def need(field: str, hint: str = "") -> tuple[str, np.ndarray]:
        column = found[field]
        if column is None:
            names = ", ".join(POSITION_ALIASES[field])
            raise ValueError(f"{field}: no column for it in the table (looked for {names}{hint}; columns: "
                             f"{_names(data)}); name it with columns={{'{field}': ...}}")
        return column

    rows: np.ndarray | None = None  # the table's row of each position, when rows were dropped
    if found["side"] is None:
        signed = _signed_sizes(found)
        if signed is None:
            need("side", ", or a signed size: " + ", ".join(POSITION_ALIASES["signed_qty"]))
            raise AssertionError  # (need raised)
        signed_what, sizes = signed
        bad = ~np.isfinite(sizes)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{signed_what}[{i}]: must be finite, got {_echo(sizes[i])}")
        zero = sizes == 0
        if zero.any():
            first = [int(i) for i in np.flatnonzero(zero)[:5]]
            many = int(zero.sum()) > 1
            warn(f"{signed_what}: {int(zero.sum()):,} {'rows' if many else 'row'} of size 0 (no position) "
                 f"{'were' if many else 'was'} dropped ({'rows' if many else 'row'} "
                 f"{', '.join(map(str, first))}{', ...' if zero.sum() > len(first) else ''})")
            rows = np.flatnonzero(~zero)
            data = {name: np.asarray(column)[rows] for name, column in data.items()}
            found = {field: None if col is None else (col[0], col[1][rows]) for field, col in found.items()}
            sizes = sizes[rows]
        side = np.where(sizes > 0, 1, -1).astype(np.int8)
        qty: np.ndarray | None = np.abs(sizes)
    else:
        side_what, side_values = found["side"]
        side = position_sides(side_values, side_what)
        qty = None
    try:
        return _positions(found, side, qty, need, venue=venue, symbol=symbol, tiers=tiers, basis=basis,
                          close_fee=close_fee, tier_rule=tier_rule, leverage_limit=leverage_limit, inverse=inverse,
                          size=size)
    except ValueError as exc:
        if rows is None:
            raise
        # name the table's row, not the position's index among the rows kept
        message = re.sub(r"\[(\d+)\]", lambda m: f"[{rows[int(m.group(1))]}]" if int(m.group(1)) < rows.size
                         else m.group(0), str(exc), count=1)
        raise ValueError(message) from None


def _positions(found: Mapping[str, tuple[str, np.ndarray] | None], side: np.ndarray, qty: np.ndarray | None,
               need: Any, *, venue: str | None, symbol: str | None, tiers: MaintenanceTiers | None,
               basis: Basis | None, close_fee: float | None, tier_rule: TierRule | None,
               leverage_limit: LeverageLimit, inverse: bool, size: float) -> Positions:
    """:func:`positions_from_table` once the sides (and signed sizes) are known."""
    entry_what, entry_values = need("entry_price")
    entry = _numbers(entry_values, entry_what)
    if qty is not None:
        pass
    elif found["qty"] is not None:
        qty_what, qty_values = found["qty"]
        qty = _numbers(qty_values, qty_what)
    elif found["notional"] is not None:
        notional_what, notional_values = found["notional"]
        if inverse:  # USD face value, in contracts of `size` USD
            qty = _numbers(notional_values, notional_what) / size
        else:
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
            margin = qty * size / entry / leverage if inverse else qty * entry / leverage
    else:
        need("margin", " or a leverage column")
        raise AssertionError
    mmr = None if found["mmr"] is None else _numbers(found["mmr"][1], found["mmr"][0])
    maint = None if found["maint_amount"] is None else _numbers(found["maint_amount"][1], found["maint_amount"][0])

    if venue is not None:
        if tiers is not None:
            raise ValueError("venue: give either venue (its shipped tier table) or tiers, not both")
        if inverse:
            raise ValueError("venue: the shipped tier tables are of the venues' linear (USDT) contracts; for an "
                             "inverse set give tiers= (on coin notional) or mmr/maint_amount columns")
        from .venues import BTC_SYMBOL, venue_rules

        if venue not in BTC_SYMBOL:
            raise ValueError(f"venue: expected one of {', '.join(map(repr, BTC_SYMBOL))}, got {_echo(venue)}")
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
                         leverage_limit=leverage_limit, contract="inverse" if inverse else "linear",
                         contract_size=size if inverse else 1.0)
    except ValueError as exc:
        # the engine names the canonical field; add the table's column where it differs
        message = str(exc)
        for field, column in found.items():
            if column is not None and message.startswith(field) and column[0] != field:
                raise ValueError(f"{message} [{column[0]}]") from None
        raise


def detect_positions_format(path: PathLike) -> str:
    """``"parquet"`` (by the file's magic bytes ``PAR1``) or ``"csv"``; a JSON file (its
    first character ``{`` or ``[``) is a ``ValueError``: positions are a table."""
    with open(os.fspath(path), "rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        return "parquet"
    with _open_text(path) as text:
        head = text.read(256).lstrip()
    if head.startswith(("{", "[")):
        raise ValueError(f"{os.fspath(path)}: a JSON file, not a table of positions (.csv or .parquet: one row per "
                         "position)")
    return "csv"


def read_positions(source: Any, format: str | None = None, **options: Any) -> Positions:
    """Positions from a ``.csv``/``.csv.gz`` or ``.parquet`` file (detected by content unless
    ``format`` says) or a table object; ``options`` as for :func:`positions_from_table`."""
    if isinstance(source, (str, os.PathLike)):
        kind = detect_positions_format(source) if format is None else format
        if kind not in POSITION_FORMATS:
            raise ValueError(f"format: expected one of {', '.join(POSITION_FORMATS)}, got {_echo(format)}")
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
        raise ValueError(f"{where}.{key}: expected a number, got {_echo(value)}") from None


def _liquidation_units(contract: Contract | None, contract_size: Any, known: float | None, market: str,
                       where: str, hint: str) -> tuple[bool, float]:
    """``(inverse, size)`` of one market's amounts. ``known``: the USD value of an amount when
    the market is a known inverse one (None otherwise); ``contract_size``: a number, a mapping
    of market to number, or None (1 for a linear market, ``known`` for an inverse one)."""
    if contract is None:
        if known is not None:
            raise ValueError(f"contract: {market} ({where}) is an inverse market whose amounts {hint} count contracts "
                             f"of {known:g} USD, not base units; pass contract='inverse' (contract_size={known:g}), "
                             "or contract='linear' if they are base units")
        contract = "linear"
    if isinstance(contract_size, Mapping):
        if market not in contract_size:
            raise ValueError(f"contract_size: no size for {market!r} ({where}) in the mapping")
        contract_size = contract_size[market]
    if contract_size is None:
        if contract == "inverse" and known is None:
            raise ValueError(f"contract_size: needed for the inverse market {market} ({where}): USD per contract")
        contract_size = known if contract == "inverse" else 1.0
    return contract == "inverse", _contract_size(contract_size)


def _binance_coinm(symbol: str) -> float | None:
    """Binance COIN-M's contract size (USD) for one of its symbols (``BTCUSD_PERP``,
    ``ETHUSD_240927``), None for a USD-M symbol."""
    return inverse_market("binance-delivery", symbol)


def liquidations_from_binance(messages: Any, *, contract: Contract | None = None,
                              contract_size: float | Mapping[str, float] | None = None) -> LiquidationTable:
    """From Binance USD-M futures' ``forceOrder`` stream messages (``<symbol>@forceOrder`` or
    ``!forceOrder@arr``): ``{"e": "forceOrder", "E": ..., "o": {"s", "S", "o", "f", "q", "p",
    "ap", "X", "l", "z", "T"}}``, bare or wrapped as a combined stream's ``{"stream", "data"}``;
    a list of them, or a JSON / JSON-lines file.

    ``S`` is the liquidation order's side: ``SELL`` closes a long (side +1), ``BUY`` a short.
    Time is ``T`` (the trade time, ms); price the average fill price ``ap`` (``p``, the order's
    limit, when ``ap`` is 0 or absent); quantity the filled ``z`` (``q``, the order's, when
    absent). Other event types (``e`` other than ``forceOrder``) are skipped.

    Units: on USD-M (linear) symbols ``q`` is base units. On COIN-M (``dapi``, inverse:
    ``BTCUSD_PERP``, ``ETHUSD_240927``) it counts contracts of 100 USD (BTC) or 10 USD (other
    coins): ``contract="inverse"`` then gives ``qty = q * contract_size / price`` (coin) and
    ``notional = q * contract_size`` (USD); ``contract_size`` a number, a mapping of symbol to
    number, or by default Binance's sizes. A COIN-M symbol read without ``contract`` is a
    ``ValueError`` (its ``q`` is not base units); ``contract="linear"`` reads ``q`` as base
    units (times ``contract_size``, 1 by default)."""
    kind = _contract(contract)
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
            raise ValueError(f"{where}.S: expected SELL or BUY, got {_echo(order.get('S'))}")
        average = _field_number(order, "ap", where, 0.0)
        price = average if average > 0 else _field_number(order, "p", where)
        qty = _field_number(order, "z", where) if "z" in order else _field_number(order, "q", where)
        time = int(_field_number(order, "T", where, message.get("E")))
        if "s" not in order:
            raise ValueError(f"{where}.s: missing (the symbol)")
        market = str(order["s"])
        inverse, size = _liquidation_units(kind, contract_size, _binance_coinm(market), market, f"{where}.s",
                                           "(q)")
        rows["time"].append(time * 1000)
        rows["market"].append(market)
        rows["side"].append(1 if side == "SELL" else -1)
        rows["price"].append(price)
        rows["qty"].append(qty * size / price if inverse else qty * size)
        rows["notional"].append(qty * size if inverse else price * qty * size)
    return LiquidationTable(rows)


_CCXT_SIDES = {"long": 1, "sell": 1, "short": -1, "buy": -1}


def liquidations_from_ccxt(records: Any, *, contract: Contract | None = None) -> LiquidationTable:
    """From CCXT's liquidation structures (``fetch_liquidations``, ``watch_liquidations``):
    ``{"timestamp" (ms), "symbol", "side", "price", "contracts", "contractSize", "baseValue",
    "quoteValue", ...}``; a list, or a JSON / JSON-lines file of them.

    ``side``: ``long``/``short`` is the position liquidated; ``sell``/``buy`` (what some
    exchanges report) the liquidation order's side, a sell closing a long. Quantity:
    ``baseValue``, else ``contracts * contractSize`` (1 when absent), else ``amount``; notional:
    ``quoteValue``, else price × quantity.

    Inverse markets (CCXT's ``BASE/QUOTE:SETTLE`` settled in its base coin, ``BTC/USD:BTC``;
    or every record with ``contract="inverse"``): ``contracts * contractSize`` is USD, so
    quantity is ``contracts * contractSize / price`` (coin) and notional ``contracts *
    contractSize`` (USD), where ``baseValue``/``quoteValue`` are absent. ``contract="linear"``
    reads every record as linear whatever its symbol."""
    kind = _contract(contract)
    rows: dict[str, list[Any]] = {name: [] for name in LIQUIDATION_COLUMNS}
    for i, record in enumerate(_json_records(records, "records")):
        where = f"records[{i}]"
        if not isinstance(record, Mapping):
            raise TypeError(f"{where}: expected a liquidation dict, got {type(record).__name__}")
        side = str(record.get("side") or "").strip().lower()
        if side not in _CCXT_SIDES:
            raise ValueError(f"{where}.side: expected long/short (or sell/buy), got {_echo(record.get('side'))}")
        price = _field_number(record, "price", where)
        inverse = kind == "inverse" or (kind is None and _ccxt_inverse(record.get("symbol")))
        face = None  # an inverse record's USD value
        if inverse and record.get("contracts") is not None:
            face = _field_number(record, "contracts", where) * _field_number(record, "contractSize", where, 1.0)
        if record.get("baseValue") is not None:
            qty = _field_number(record, "baseValue", where)
        elif face is not None:
            qty = face / price
        elif record.get("contracts") is not None:
            qty = _field_number(record, "contracts", where) * _field_number(record, "contractSize", where, 1.0)
        elif record.get("amount") is not None:
            qty = _field_number(record, "amount", where)
        else:
            raise ValueError(f"{where}.baseValue: missing (and no contracts or amount)")
        if record.get("quoteValue") is not None:
            notional = _field_number(record, "quoteValue", where)
        else:
            notional = face if face is not None else price * qty
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


def liquidations_from_tardis(path: PathLike, *, contract: Contract | None = None,
                             contract_size: float | None = None) -> LiquidationTable:
    """From a Tardis.dev ``liquidations`` CSV (``exchange,symbol,timestamp,local_timestamp,id,
    side,price,amount``; microseconds). ``side`` is the liquidation order's: ``sell`` closes a
    long (+1), ``buy`` a short (-1). Time is the exchange's ``timestamp``.

    ``amount`` is as the exchange reports it. Linear markets (``contract="linear"``): base
    units, or contracts of ``contract_size`` base units (``qty = amount * contract_size``,
    ``notional = price * qty``). Inverse markets (``contract="inverse"``): contracts of
    ``contract_size`` USD — ``qty = amount * contract_size / price`` (coin), ``notional =
    amount * contract_size`` (USD). The inverse markets Tardis carries (:data:`INVERSE_MARKETS`):
    BitMEX ``XBTUSD`` (contracts of 1 USD), Deribit ``BTC-PERPETUAL``/``ETH-PERPETUAL`` and their
    futures (amounts in USD: 1), Binance COIN-M (``binance-delivery``: 100 USD for BTC, 10 for
    other coins), OKX ``-USD-SWAP``/``-USD-<date>`` (the same), Bybit ``BTCUSD`` etc. (1 USD);
    ``contract_size`` defaults to those sizes (1 for a linear market). A file of one of them
    read without ``contract`` is a ``ValueError``: its amounts are not base units."""
    data = _read_csv(path)
    for name in ("symbol", "timestamp", "side", "price", "amount"):
        if name not in data:
            raise ValueError(f"{name}: no such column in {os.fspath(path)} (a Tardis liquidations CSV)")
    kind = _contract(contract)
    if contract_size is not None:
        _contract_size(contract_size)
    words = np.char.lower(np.char.strip(data["side"].astype(str)))
    bad = ~np.isin(words, ["buy", "sell"])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"side[{i}]: expected buy or sell, got {_echo(data['side'][i])}")
    price = _numbers(data["price"], "price")
    _positive(price, "price")
    amount = _numbers(data["amount"], "amount")
    exchange = data["exchange"] if "exchange" in data else np.full(len(amount), "", dtype=str)
    markets = np.char.add(np.char.add(exchange.astype(str), " "), data["symbol"].astype(str))
    face = np.empty_like(amount)  # USD per amount (inverse) or base units per amount (linear), by market
    inverse = np.zeros(amount.shape, dtype=bool)
    for market in dict.fromkeys(markets.tolist()):  # (in file order: the first error is the first row's)
        rows = markets == market
        first = int(np.flatnonzero(rows)[0])
        known = inverse_market(str(exchange[first]), str(data["symbol"][first])) if "exchange" in data else None
        is_inverse, size = _liquidation_units(kind, contract_size, known, str(market).strip(), f"row {first}",
                                              "(amount)")
        face[rows], inverse[rows] = size, is_inverse
    qty = np.where(inverse, amount * face / price, amount * face)
    notional = np.where(inverse, amount * face, price * qty)
    return LiquidationTable({"time": _tardis_time(data["timestamp"], "timestamp"), "market": data["symbol"],
                             "side": np.where(words == "sell", 1, -1), "price": price, "qty": qty,
                             "notional": notional})
