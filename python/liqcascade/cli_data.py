"""``liqcascade run`` on the user's own data (``--book``, ``--positions-file``) and on a Dask
cluster (``--dask``): the options and the job, kept apart from ``cli.py``.

With ``--book`` and ``--positions-file`` the study is :mod:`liqcascade.user_study`'s: the
user's book (extended by a calibrated tail unless ``--tail none``) and positions held fixed,
one cascade per draw of the default study's shock model (Student-t, 3 degrees of freedom,
scale 2 %). ``--positions`` (the default population's size) is not used then. With
``--dask ADDRESS`` alone, the default Monte Carlo study runs on that cluster
(:func:`liqcascade.distributed.monte_carlo`); with the files too, the user's study does
(:func:`liqcascade.distributed.cascade_many`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable
from typing import Any

from . import __version__
from ._table import ColumnTable


def _distance(text: str) -> float:
    try:
        value = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise argparse.ArgumentTypeError(f"must be in (0, 1) (or a percentage), got {text}")
    return value


def _chunk(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _usd(text: str) -> float:
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text}")
    return value


_usd.__name__ = "number"


def add_options(run: argparse.ArgumentParser) -> None:
    from .io import BOOK_FORMATS, POSITION_FORMATS

    data = run.add_argument_group("your own data (both files together; see README 'Your own data')")
    data.add_argument("--book", metavar="FILE", default=None,
                      help="order book: Binance/CCXT depth JSON, Tardis book_snapshot or incremental_book_L2 CSV, "
                           "or a table of side,price,qty (.csv/.parquet); detected by content")
    data.add_argument("--book-format", choices=BOOK_FORMATS, default=None, help="the book file's format")
    data.add_argument("--at", default=None, metavar="TIME",
                      help="Tardis files: the snapshot's time, microseconds since the epoch or ISO 8601 "
                           "(required for incremental_book_L2; default for book_snapshot: its last row); "
                           "a JSON depth or a table of levels has no time")
    data.add_argument("--book-contract", choices=("linear", "inverse"), default=None,
                      help="the book file's amounts: base units (linear, the default) or contracts of "
                           "--contract-size USD (inverse: BitMEX XBTUSD 1, Deribit BTC-PERPETUAL amounts in USD 1, "
                           "Binance COIN-M 100 for BTC); a Tardis or CCXT file of a known inverse market must say. "
                           "An inverse book is converted to base units for linear positions")
    data.add_argument("--positions-contract", choices=("linear", "inverse"), default="linear",
                      help="the positions file: linear (qty in base units, margin in quote; default) or inverse "
                           "(qty in contracts of --contract-size USD, margin in coin; needs --book-contract inverse)")
    data.add_argument("--contract-size", type=_usd, default=None, metavar="USD",
                      help="USD per contract of an inverse book or positions file (default: the known market's)")
    data.add_argument("--tail", choices=("calibrated", "power", "linear", "none"), default="calibrated",
                      help="extend the book beyond its last level: the calibrated default market's density, never "
                           "denser than the snapshot's (default), a fitted power-law tail (optimistic on deep "
                           "snapshots), the snapshot's average density, or none")
    data.add_argument("--tail-to", type=_distance, default=0.2, metavar="DIST",
                      help="how far from the mid the extended book reaches (default 0.2 = 20%%)")
    data.add_argument("--positions-file", metavar="FILE", default=None,
                      help="positions table (.csv/.parquet): side, qty (or notional), entry_price, margin or "
                           "leverage (--positions, the default population's size, is then not used)")
    data.add_argument("--positions-format", choices=POSITION_FORMATS, default=None,
                      help="the positions file's format (default: detected)")
    data.add_argument("--venue-tiers", default=None, metavar="VENUE[:SYMBOL]",
                      help="maintenance from a venue's shipped tier table, e.g. binance:BTCUSDT, bybit, "
                           "hyperliquid:BTC")
    cluster = run.add_argument_group("a Dask cluster")
    cluster.add_argument("--dask", default=None, metavar="ADDRESS",
                         help="run on the dask.distributed scheduler at ADDRESS (e.g. tcp://10.0.0.1:8786)")
    cluster.add_argument("--chunk", type=_chunk, default=None,
                         help="scenarios per task (default: 100 for the default study, 1000 for your own data)")
    cluster.add_argument("--resume-dir", default=None, metavar="DIR",
                         help="default study on --dask: write each chunk to this Parquet directory and skip "
                              "chunks already there")


def _client(address: str) -> Any:
    from ._optional import optional_import

    distributed = optional_import("distributed", "--dask")
    try:
        return distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"--dask: no scheduler reachable at {address!r} ({exc})") from None


def run_user_data(args: argparse.Namespace, write: Callable[[ColumnTable, str], None]) -> str:
    from .scenarios import DEFAULT_STUDY_SHOCKS

    if bool(args.book) != bool(args.positions_file):
        raise ValueError("--book and --positions-file go together (your book and your positions)")
    if args.resume_dir and not args.dask:
        raise ValueError("--resume-dir: only with --dask")
    if not args.book:
        return _run_default_on_dask(args, write)
    from . import io
    from .deep_book import extend_book
    from .user_study import user_study

    for option, path in (("--book", args.book), ("--positions-file", args.positions_file)):
        if not os.path.isfile(path):
            raise ValueError(f"{option}: {path!r} is not a file")
    start = time.perf_counter()
    book_format = args.book_format or io.detect_book_format(args.book)
    if args.at is not None and book_format not in io.TIMED_BOOK_FORMATS:
        raise ValueError(f"--at: a {book_format} book is one snapshot with no time to choose (--at picks a Tardis "
                         "file's snapshot)")
    units = _units(args, io.book_market(args.book, book_format))
    book = io.read_book(args.book, book_format, at=args.at, **units["book"])
    options: dict[str, Any] = dict(units["positions"])
    if args.venue_tiers:
        venue, _, symbol = args.venue_tiers.partition(":")
        options.update(venue=venue, symbol=symbol or None, leverage_limit="clip")
    positions = io.read_positions(args.positions_file, args.positions_format, **options)
    if len(positions) == 0:
        raise ValueError(f"--positions-file: {args.positions_file!r} holds no positions (no rows under its header)")
    deep = None if args.tail == "none" else extend_book(book, to=args.tail_to, tail=args.tail,
                                                        contract_size=units["tail_contract_size"])
    client = _client(args.dask) if args.dask else None
    try:
        study = user_study(deep or book, positions, DEFAULT_STUDY_SHOCKS, args.scenarios, args.seed,
                           threads=args.threads, client=client, chunk=args.chunk or 1000)
    finally:
        if client is not None:
            client.close()
    elapsed = time.perf_counter() - start
    if args.out:
        write(study.table, args.out)
    table = study.table
    summary = table.summary() if len(table) > 1 else None
    in_tail = int(study.in_tail.sum())
    longs = int((positions.side > 0).sum())
    inverse = positions.contract == "inverse"
    usd_interest = float(positions.qty.sum() * positions.contract_size) if inverse else float(positions.notional.sum())
    info = {
        "book": {"file": args.book, "format": book_format, "mid": book.mid, "bid_levels": len(book.bid_price),
                 "ask_levels": len(book.ask_price), "contract": units["book_contract"],
                 "contract_size": units["size"], "quantities": units["book_quantities"]},
        "tail": None if deep is None else {"shape": deep.tail, "to": deep.to, "real_depth": list(deep.real_depth),
                                          "bid_exponent": deep.bid_exponent, "ask_exponent": deep.ask_exponent},
        "positions": {"file": args.positions_file, "count": len(positions), "long": longs,
                      "contract": positions.contract, "contract_size": positions.contract_size,
                      "open_interest": usd_interest},
        "notional_unit": table.notional_unit,
        "scenarios": args.scenarios, "seed": args.seed, "in_tail": in_tail, "seconds": elapsed,
        "dask": args.dask,
    }
    if args.json:
        return json.dumps({**info, "summary": summary.to_dict() if summary else None}, indent=2)
    lines = [f"liqcascade {__version__} - study of your own book and positions",
             f"  book: {args.book} ({book_format}), mid {book.mid:,.6g}, {len(book.bid_price):,} bids and "
             f"{len(book.ask_price):,} asks, in {units['book_quantities']}"]
    if deep is not None:
        bid_depth, ask_depth = deep.real_depth
        exponent = "" if deep.bid_exponent is None else f" (exponent {deep.bid_exponent:.2f} / {deep.ask_exponent:.2f})"
        lines.append(f"        real to -{bid_depth:.2%} / +{ask_depth:.2%}; extended to ±{deep.to:.0%} by a "
                     f"{deep.tail} tail{exponent}")
    interest = (f"open interest ${usd_interest / 1e6:,.2f}M" if not inverse else
                f"inverse, contracts of {positions.contract_size:g} USD: open interest ${usd_interest / 1e6:,.2f}M "
                f"({float(positions.notional.sum()):,.4f} coin); notional and bad debt below in coin")
    lines += [f"  positions: {args.positions_file}, {len(positions):,} ({longs:,} long, {len(positions) - longs:,} "
              f"short), {interest}",
              f"  shocks: Student-t, {DEFAULT_STUDY_SHOCKS.df:g} degrees of freedom, scale "
              f"{DEFAULT_STUDY_SHOCKS.scale:.0%}; one cascade of the fixed set per draw",
              "",
              str(summary) if summary else "(one scenario: no summary)",
              ""]
    if deep is not None:
        lines.append(f"final price in the modelled tail: {in_tail:,} of {len(table):,} scenarios "
                     f"({in_tail / max(len(table), 1):.1%}): their size depends on the tail model")
    lines.append(f"{args.scenarios:,} scenarios in {elapsed:.1f} s (seed {args.seed})"
                 + (f" on {args.dask}" if args.dask else "") + (f"; table written to {args.out}" if args.out else ""))
    return "\n".join(lines)


def _units(args: argparse.Namespace, known: tuple[str, float | None] | None) -> dict[str, Any]:
    """What the book's and the positions' quantities are, from ``--book-contract``,
    ``--positions-contract`` and ``--contract-size`` (and the book file's market, when it is a
    known inverse one): the options of ``read_book`` and ``read_positions``."""
    book_contract = args.book_contract
    if book_contract is None:
        if known is not None:
            name, usd = known
            size_text = f" --contract-size {usd:g}" if usd else " --contract-size <USD per contract>"
            raise ValueError(f"--book: {args.book!r} is {name}, an inverse market whose amounts are contracts"
                             + (f" of {usd:g} USD" if usd else "") + ", not base units; say so with --book-contract "
                             f"inverse{size_text} (converted to base units for linear positions, or kept in "
                             "contracts with --positions-contract inverse)")
        book_contract = "linear"
    inverse_positions = args.positions_contract == "inverse"
    if inverse_positions and book_contract != "inverse":
        raise ValueError("--positions-contract: inverse positions need a book in contracts (--book-contract inverse)")
    size = args.contract_size
    if book_contract != "inverse":
        if size is not None:
            raise ValueError("--contract-size: only with --book-contract inverse (the book's amounts are contracts)")
        size = 1.0
    elif size is None:
        if known is None or not known[1]:
            raise ValueError("--contract-size: needed with --book-contract inverse (USD per contract)")
        size = known[1]
    quantities = ("base units" if book_contract == "linear" else
                  f"contracts of {size:g} USD" if inverse_positions else
                  f"base units (contracts of {size:g} USD converted at each level's price)")
    return {
        "book": {"contract": book_contract, "contract_size": size,
                 "to_base": book_contract == "inverse" and not inverse_positions},
        "positions": ({"contract": "inverse", "contract_size": size} if inverse_positions else {}),
        "tail_contract_size": size if inverse_positions else None,
        "book_contract": book_contract, "size": size, "book_quantities": quantities,
    }


def _run_default_on_dask(args: argparse.Namespace, write: Callable[[ColumnTable, str], None]) -> str:
    from . import distributed as ld
    from .models import PositionPopulation
    from .scenarios import DEFAULT_STUDY_BOOK, DEFAULT_STUDY_SHOCKS

    start = time.perf_counter()
    population = PositionPopulation(count=args.positions)
    client = _client(args.dask)
    try:
        table = ld.monte_carlo(client, population, DEFAULT_STUDY_BOOK, DEFAULT_STUDY_SHOCKS, args.scenarios,
                               seed=args.seed, chunk=args.chunk or 100, out=args.resume_dir,
                               progress=not args.no_progress and "auto")
        workers = len(client.scheduler_info().get("workers", {}))
    finally:
        client.close()
    elapsed = time.perf_counter() - start
    if args.out:
        write(table, args.out)
    summary = table.summary() if len(table) > 1 else None
    if args.json:
        return json.dumps({"scenarios": args.scenarios, "positions": args.positions, "seed": args.seed,
                           "dask": args.dask, "workers": workers, "seconds": elapsed,
                           "summary": summary.to_dict() if summary else None}, indent=2)
    return "\n".join([
        f"liqcascade {__version__} - Monte Carlo study of the default scenario on {args.dask} ({workers} workers)",
        f"  {args.positions:,} positions per scenario; chunks of {args.chunk or 100} scenarios",
        "",
        str(summary) if summary else "(one scenario: no summary)",
        "",
        f"{args.scenarios:,} scenarios in {elapsed:.1f} s (seed {args.seed})"
        + (f"; table written to {args.out}" if args.out else ""),
    ])
