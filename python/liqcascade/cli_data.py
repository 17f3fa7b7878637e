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


def add_options(run: argparse.ArgumentParser) -> None:
    from .io import BOOK_FORMATS, POSITION_FORMATS

    data = run.add_argument_group("your own data (both files together; see README 'Your own data')")
    data.add_argument("--book", metavar="FILE", default=None,
                      help="order book: Binance/CCXT depth JSON, Tardis book_snapshot or incremental_book_L2 CSV, "
                           "or a table of side,price,qty (.csv/.parquet); detected by content")
    data.add_argument("--book-format", choices=BOOK_FORMATS, default=None, help="the book file's format")
    data.add_argument("--at", default=None, metavar="TIME",
                      help="Tardis files: the snapshot's time, microseconds since the epoch or ISO 8601 "
                           "(required for incremental_book_L2; default for book_snapshot: its last row)")
    data.add_argument("--tail", choices=("power", "linear", "none"), default="power",
                      help="extend the book beyond its last level: a fitted power-law tail (default), the "
                           "snapshot's average density, or none")
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
    book = io.read_book(args.book, book_format, at=args.at)
    options: dict[str, Any] = {}
    if args.venue_tiers:
        venue, _, symbol = args.venue_tiers.partition(":")
        options = {"venue": venue, "symbol": symbol or None, "leverage_limit": "clip"}
    positions = io.read_positions(args.positions_file, args.positions_format, **options)
    deep = None if args.tail == "none" else extend_book(book, to=args.tail_to, tail=args.tail)
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
    info = {
        "book": {"file": args.book, "format": book_format, "mid": book.mid, "bid_levels": len(book.bid_price),
                 "ask_levels": len(book.ask_price)},
        "tail": None if deep is None else {"shape": deep.tail, "to": deep.to, "real_depth": list(deep.real_depth),
                                          "bid_exponent": deep.bid_exponent, "ask_exponent": deep.ask_exponent},
        "positions": {"file": args.positions_file, "count": len(positions), "long": longs,
                      "open_interest": float(positions.notional.sum())},
        "scenarios": args.scenarios, "seed": args.seed, "in_tail": in_tail, "seconds": elapsed,
        "dask": args.dask,
    }
    if args.json:
        return json.dumps({**info, "summary": summary.to_dict() if summary else None}, indent=2)
    lines = [f"liqcascade {__version__} - study of your own book and positions",
             f"  book: {args.book} ({book_format}), mid {book.mid:,.6g}, {len(book.bid_price):,} bids and "
             f"{len(book.ask_price):,} asks"]
    if deep is not None:
        bid_depth, ask_depth = deep.real_depth
        exponent = "" if deep.bid_exponent is None else f" (exponent {deep.bid_exponent:.2f} / {deep.ask_exponent:.2f})"
        lines.append(f"        real to -{bid_depth:.2%} / +{ask_depth:.2%}; extended to ±{deep.to:.0%} by a "
                     f"{deep.tail} tail{exponent}")
    lines += [f"  positions: {args.positions_file}, {len(positions):,} ({longs:,} long, {len(positions) - longs:,} "
              f"short), open interest ${positions.notional.sum() / 1e6:,.2f}M",
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
