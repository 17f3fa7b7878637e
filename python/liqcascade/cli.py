"""``liqcascade``: the command-line main jobs.

``liqcascade run``     a Monte Carlo study on the default scenario, printing its summary.
``liqcascade shocks``  the default scenario under a list of fixed shocks, as a table
                       (``--venue``: under each venue's margin rules, side by side).
``liqcascade simulate`` the default scenario through time, through an exchange's engine.
``liqcascade report``  one self-contained HTML page: shocks, critical shocks, a study, a
                       timeline and a policy comparison (``--scenario oct-10-2025``; a venue's
                       report with ``--scenario venue`` or ``oct-10-2025-venue``).
``liqcascade venue``   one static cascade over the default venue (``--scenario oct-10-2025``:
                       10 October 2025 on one venue, its collateral priced three ways).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import __version__
from ._table import ColumnTable
from ._warnings import LiqcascadeWarning
from .cascade import cascade
from .models import PositionPopulation
from .montecarlo import monte_carlo
from .scenarios import (
    DEFAULT_MID,
    DEFAULT_SHOCKS,
    DEFAULT_STUDY_BOOK,
    DEFAULT_STUDY_SHOCKS,
    calibrated_book,
    default_positions,
)


def _shock_list(text: str) -> list[float]:
    """``-0.05,0.01`` or percentages ``-5%,1%``."""
    shocks = []
    for item in text.split(","):
        item = item.strip()
        try:
            value = float(item[:-1]) / 100.0 if item.endswith("%") else float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(f"shocks: {item!r} is not a number") from None
        if not -1.0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"shocks: {item!r} must be > -100 %")
        shocks.append(value)
    return shocks


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (``liqcascade run: error: ...``), exit status 2."""

    def error(self, message: str) -> Any:  # (argparse's prints the whole usage first)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _UsageError(Exception):
    """An option that parses but does not fit the others (or the file system)."""


def _venue_list(text: str) -> list[str]:
    """``binance,bybit`` or ``all``."""
    from .venues import VENUES

    names = list(VENUES) if text.strip() == "all" else [item.strip() for item in text.split(",") if item.strip()]
    for name in names:
        if name not in VENUES:
            raise argparse.ArgumentTypeError(f"venue: expected {', '.join(VENUES)} or all, got {name!r}")
    if not names:
        raise argparse.ArgumentTypeError("venue: name at least one venue")
    return list(dict.fromkeys(names))


def _int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum:,}, got {value}")
        return value
    parse.__name__ = "integer"  # argparse names the type in its messages
    return parse


_positive_int = _int_at_least(1)


def _non_negative_float(text: str) -> float:
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be finite and >= 0, got {text}")
    return value


_non_negative_float.__name__ = "number"

#: What ``--out`` writes, by extension.
_OUT_FORMATS = (".parquet", ".csv")


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**64), got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="liqcascade", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"liqcascade {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="Monte Carlo study on the default scenario (summary)")
    run.add_argument("--scenarios", type=_positive_int, default=200, help="number of scenarios (default 200)")
    run.add_argument("--positions", type=_positive_int, default=1_000_000,
                     help="positions per scenario (default 1,000,000; open interest stays the same)")
    run.add_argument("--threads", type=_int_at_least(1, 1024), default=None,
                     help="worker threads, 1 to 1024 (default: every core)")
    run.add_argument("--seed", type=_seed, default=0, help="seed of the study (default 0)")
    run.add_argument("--out", default=None, help="write the per-scenario table to this .parquet (pyarrow) or .csv file")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--scenario", choices=("default", "oct-10-2025"), default="default",
                     help="the market studied: the default scenario, or the 10 October 2025 preset "
                          "(lc.scenarios.october_10_2025: its population, book model and shock model)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_user_data_options(run)

    shocks = commands.add_parser("shocks", help="the default scenario under fixed shocks (table)")
    shocks.add_argument("--shocks", type=_shock_list, default=list(DEFAULT_SHOCKS),
                        help="comma-separated relative moves, e.g. --shocks=-0.05,0.01 or --shocks=-5%%,1%% "
                             "(default: +-1, 2, 3, 5, 7, 10 %%)")
    shocks.add_argument("--positions", type=_positive_int, default=1_000_000,
                        help="number of positions (default 1,000,000; open interest stays the same)")
    shocks.add_argument("--seed", type=_seed, default=0, help="seed of the position population (default 0)")
    shocks.add_argument("--json", action="store_true", help="print JSON instead of a table")
    shocks.add_argument("--market", choices=("linear", "inverse"), default="linear",
                        help="inverse: the default market also as a coin-margined contract (100 USD per "
                             "contract), side by side with the linear one")
    shocks.add_argument("--venue", type=_venue_list, default=None, metavar="VENUES",
                        help="the same positions under each venue's margin rules side by side: a comma-separated "
                             "list of binance, bybit, hyperliquid, or all")

    sim = commands.add_parser("simulate", help="the default scenario through time (key moments)")
    sim.add_argument("--policy", choices=("binance", "bybit", "hyperliquid"), default="binance",
                     help="the liquidation engine's venue preset (default binance)")
    sim.add_argument("--positions", type=_positive_int, default=1_000_000,
                     help="number of positions (default 1,000,000)")
    sim.add_argument("--seed", type=_seed, default=0, help="seed of the population and the price path (default 0)")
    sim.add_argument("--steps", type=_positive_int, default=1800, help="seconds simulated (default 1800)")
    sim.add_argument("--sell-rate", type=_non_negative_float, default=20.0,
                     help="exogenous selling, BTC per second, >= 0 (default 20)")
    sim.add_argument("--sell-seconds", type=_positive_int, default=60,
                     help="for how long, at most --steps (default 60 s)")
    sim.add_argument("--fund", type=_non_negative_float, default=1e6,
                     help="insurance fund at the start, USD, >= 0 (default 1,000,000)")
    sim.add_argument("--throughput", type=_int_at_least(0), default=2000,
                     help="liquidation orders per second, 0 for unlimited (default 2000)")
    sim.add_argument("--out", default=None, help="write the timeline to this .parquet (pyarrow) or .csv file")
    sim.add_argument("--json", action="store_true", help="print the key moments as JSON")

    report = commands.add_parser("report", help="one self-contained HTML page: shocks, critical shocks, study, "
                                                "timeline, policies (needs matplotlib)")
    report.add_argument("--out", required=True, help="the HTML file to write")
    report.add_argument("--scenario", choices=("default", "oct-10-2025", "venue", "oct-10-2025-venue"),
                        default="default",
                        help="the market: the default scenario or the 10 October 2025 preset; or a venue of many "
                             "markets: the default venue or 10 October 2025 on one venue (default: default)")
    report.add_argument("--positions", type=_positive_int, default=50_000,
                        help="positions (default 50,000; open interest stays the same); a venue: cross accounts "
                             "and as many isolated positions")
    report.add_argument("--scenarios", type=_int_at_least(2), default=100,
                        help="scenarios of the static study (default 100)")
    report.add_argument("--time-scenarios", type=_int_at_least(2), default=4,
                        help="scenarios of the study through time and its policy comparison (default 4)")
    report.add_argument("--steps", type=_positive_int, default=900, help="steps (seconds) simulated (default 900)")
    report.add_argument("--seed", type=_seed, default=0, help="seed (default 0)")
    ven = commands.add_parser("venue", help="the default three-market venue: a shock in one market, contagion "
                                            "into the others (per-market table)")
    ven.add_argument("--scenario", choices=("default", "oct-10-2025"), default="default",
                     help="the default venue, or 10 October 2025 on one venue (lc.scenarios.october_10_2025_venue: "
                          "its trigger, and its collateral priced three ways)")
    ven.add_argument("--market", default=None, help="the market shocked (default BTCUSDT; the preset: its trigger)")
    ven.add_argument("--shock", type=float, default=None,
                     help="its relative move (default -0.08; the preset: its trigger)")
    ven.add_argument("--accounts", type=_int_at_least(0), default=200_000, help="cross accounts (default 200,000)")
    ven.add_argument("--isolated", type=_int_at_least(0), default=200_000,
                     help="isolated positions (default 200,000)")
    ven.add_argument("--seed", type=_seed, default=0, help="seed of the population (default 0)")
    ven.add_argument("--funds", type=_int_at_least(0), default=400,
                     help="leverage-targeting funds (default 400; with tokens and stops: --no-agents for none)")
    ven.add_argument("--no-agents", action="store_true", help="no tokens, funds or stops: liquidations only")
    ven.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _add_user_data_options(run: argparse.ArgumentParser) -> None:
    """``run``'s options for the user's own data and for a Dask cluster (cli_data.py)."""
    from .cli_data import add_options

    add_options(run)


def run_report(args: argparse.Namespace) -> str:
    """``liqcascade report``: the HTML page, written to ``--out``; prints where and how long."""
    from .report import ReportOptions, build_report, market_preset

    started = time.perf_counter()
    options = ReportOptions(positions=args.positions, scenarios=args.scenarios, time_scenarios=args.time_scenarios,
                            steps=args.steps, seed=args.seed)
    try:
        if args.scenario in ("venue", "oct-10-2025-venue"):
            from .venue_report import build_venue_report, venue_preset

            page = build_venue_report(venue_preset(args.scenario, args.positions, args.seed), options)
        else:
            page = build_report(market_preset(args.scenario, args.positions), options)
    except ImportError as exc:
        raise _UsageError(str(exc)) from None
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(page)
    return f"wrote {args.out} ({len(page) / 1e3:,.0f} kB) in {time.perf_counter() - started:.1f} s"


def run_venue_cascade(args: argparse.Namespace) -> str:
    """``liqcascade venue``: one static cascade over the default venue (venue_scenario.py)."""
    from .venue import venue_cascade
    from .venue_scenario import default_venue

    preset = None
    if args.scenario == "oct-10-2025":
        from .venue_preset import october_10_2025_venue

        preset = october_10_2025_venue(args.accounts, args.isolated, args.seed)
        venue, positions, accounts = preset.venue, preset.positions, preset.accounts
    else:
        venue, positions, accounts = default_venue(args.accounts, args.isolated, args.seed)
    if args.market is None and args.shock is None and preset is not None:
        shocks = dict(preset.trigger)
    else:
        shocks = {args.market or "BTCUSDT": -0.08 if args.shock is None else args.shock}
    for name in shocks:
        if name not in venue.market_names:
            raise _UsageError(f"--market: no market named {name!r} (markets: {', '.join(venue.market_names)})")
    stops = tokens = funds = None
    if not args.no_agents and preset is None:
        from .venue_scenario import default_agents

        stops, tokens, funds = default_agents(venue, args.funds, args.seed)
    result = venue_cascade(venue, positions, accounts, shocks=shocks, stops=stops, tokens=tokens, funds=funds)
    m = result.markets
    channels = result.channels()
    names = ("liquidations", "collateral_sales", "stops", "token_rebalancing", "fund_deleveraging")
    if args.json:
        rows = [result.market(name) for name in venue.market_names]
        carried = {str(channels["market"][i]): {k: float(channels[k][i]) for k in (*names, "total")}
                   for i in range(len(channels))}
        return json.dumps({"rounds": result.rounds, "accounts_liquidated": len(result.accounts),
                           "bad_debt": result.bad_debt, "token_bad_debt": result.token_bad_debt, "markets": rows,
                           "channels": carried}, default=float)
    shocked = ", ".join(f"{name} {move:+.1%}" for name, move in shocks.items())
    lines = [f"{shocked}: {result.rounds} rounds, {len(result.accounts):,} of "
             f"{len(accounts):,} accounts liquidated, bad debt ${result.bad_debt:,.0f}",
             f"{'market':<10} {'ref':>10} {'final':>10} {'move':>8} {'liquidated':>10} {'notional $':>14} "
             f"{'collateral sold $':>17} {'crossed':>10} {'exhausted':>9}"]
    for i, name in enumerate(venue.market_names):
        lines.append(f"{name:<10} {m['ref_price'][i]:>10.6g} {m['final_price'][i]:>10.6g} {m['final_move'][i]:>+8.2%} "
                     f"{m['n_liquidated'][i]:>10,} {m['liquidated_notional'][i]:>14,.0f} "
                     f"{m['sold_notional'][i]:>17,.0f} {m['crossed_qty'][i]:>10.4g} "
                     f"{'yes' if m['book_exhausted'][i] else 'no':>9}")
    if funds is not None:
        lines += ["", f"what each channel carried (filled notional, $): {len(result.token_rebalances):,} token "
                      f"rebalances, {len(set(result.fund_sales['fund'].tolist())):,} of {len(funds):,} funds "
                      f"deleveraged, {len(result.stops):,} stops fired; tokens' bad debt "
                      f"${result.token_bad_debt:,.0f}",
                  f"{'market':<10} {'liquidations':>13} {'collateral':>11} {'stops':>11} {'tokens':>11} "
                  f"{'funds':>11} {'total':>13}"]
        for i, name in enumerate(venue.market_names):
            lines.append(f"{name:<10} " + " ".join(
                f"{channels[k][i]:>{w},.0f}" for k, w in zip((*names, "total"), (13, 11, 11, 11, 11, 13), strict=True)))
    if preset is not None:
        lines += ["", "the same shock with the collateral priced three ways (docs/design.md, 'Fragility and policy'):",
                  f"{'collateral':<22} {'accounts':>9} {'bad debt $':>12} " + " ".join(
                      f"{name:>10}" for name in venue.market_names)]
        for label, variant in (("own books (the night)", preset.venue), ("fixed index", preset.index_priced(False)),
                               ("index follows ETH", preset.index_priced())):
            r = venue_cascade(preset.state(variant), shocks=shocks)
            lines.append(f"{label:<22} {len(r.accounts):>9,} {r.bad_debt:>12,.0f} " + " ".join(
                f"{move:>+10.1%}" for move in r.markets["final_move"]))
    return "\n".join(lines)


def _check_out(path: str | None) -> None:
    """Refuse, before the run, an ``--out`` that cannot be written: an unknown extension, a
    missing or read-only directory, a directory in the file's place, Parquet without pyarrow."""
    if path is None:
        return
    extension = os.path.splitext(path)[1].lower()
    if extension not in _OUT_FORMATS:
        raise _UsageError(f"--out: {path!r}: the file name must end in {' or '.join(_OUT_FORMATS)}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise _UsageError(f"--out: {path!r}: directory {directory!r} does not exist")
    if os.path.isdir(path):
        raise _UsageError(f"--out: {path!r} is a directory")
    if not os.access(directory, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise _UsageError(f"--out: {path!r} is not writable")
    if extension == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise _UsageError("--out: writing .parquet needs pyarrow (pip install pyarrow), or use .csv") from None


def _write(table: ColumnTable, path: str) -> None:
    """A table to ``.csv`` or ``.parquet`` (pyarrow). CSV keeps each column's type: integers as
    integers, booleans as ``True``/``False``, floats as their shortest round-trip repr."""
    if os.path.splitext(path)[1].lower() == ".parquet":
        table.to_parquet(path)
        return
    import csv

    columns = [table[name].tolist() for name in table.columns]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(table.columns)
        writer.writerows(zip(*columns, strict=True))


def _progress(no_progress: bool) -> Any:
    """``liqcascade run``'s progress: tqdm's bar when it is installed (``"auto"``), else a plain
    ``scenarios: done/total (seconds)`` line on stderr, updated in place (at most five times a
    second) and left complete at the end — both only when stderr is a terminal."""
    if no_progress or not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        pass
    else:
        return "auto"
    state = {"shown": 0.0, "start": time.perf_counter(), "width": 0}

    def plain(done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - state["shown"] < 0.2:
            return
        state["shown"] = now
        line = f"scenarios: {done:,}/{total:,} ({now - state['start']:.1f} s)"
        sys.stderr.write("\r" + line.ljust(int(state["width"])) + ("\n" if done >= total else ""))
        state["width"] = max(state["width"], len(line))
        sys.stderr.flush()
    return plain


def run_preset_study(args: argparse.Namespace) -> str:
    """``liqcascade run --scenario NAME``: the study of a named market preset (scenarios.py)."""
    from .scenarios import october_10_2025

    preset = october_10_2025(count=args.positions)
    start = time.perf_counter()
    table = monte_carlo(preset.population, preset.book_model, preset.study_shocks, args.scenarios, seed=args.seed,
                        threads=args.threads, progress=_progress(args.no_progress))
    elapsed = time.perf_counter() - start
    reproduced = preset.reproduced(args.seed)
    low, high = preset.targets["final_move"]
    header = [
        f"liqcascade {__version__} - Monte Carlo study of {preset.description}",
        f"  {args.positions:,} positions per scenario; shocks: Student-t, {preset.study_shocks.df:g} degrees of "
        f"freedom, scale {preset.study_shocks.scale:.0%}",
        f"  the night's trigger ({preset.trigger:+.0%}) ends at {reproduced['final_move']:+.1%} with "
        f"${reproduced['liquidated_notional'] / 1e9:,.2f}B liquidated (reported: {high:+.0%} to {low:+.1%}, "
        f"~$5B of BTC)",
    ]
    return _study_output(args, table, elapsed, header,
                         {"scenario": preset.name, "reproduced": reproduced, "targets": preset.targets})


def _study_output(args: argparse.Namespace, table: Any, elapsed: float, header: list[str],
                  extra: dict[str, Any]) -> str:
    """A study's table written to ``--out``, and its summary as text (``header`` first) or as
    JSON (with ``extra``)."""
    if args.out:
        _write(table, args.out)
    summary = table.summary() if len(table) > 1 else None
    if args.json:
        return json.dumps({"scenarios": args.scenarios, "positions": args.positions, "seed": args.seed, **extra,
                           "seconds": elapsed, "summary": summary.to_dict() if summary else None}, indent=2)
    lines = [
        *header,
        "",
        str(summary) if summary else "(one scenario: no summary)",
        "",
        f"{args.scenarios:,} scenarios in {elapsed:.1f} s (seed {args.seed})"
        + (f"; table written to {args.out}" if args.out else ""),
    ]
    return "\n".join(lines)


def run_study(args: argparse.Namespace) -> str:
    if args.book or args.positions_file or args.dask or args.resume_dir:  # your own data, a cluster (cli_data.py)
        from .cli_data import run_user_data

        return run_user_data(args, _write)
    if args.scenario != "default":
        return run_preset_study(args)
    start = time.perf_counter()
    population = PositionPopulation(count=args.positions)
    table = monte_carlo(population, DEFAULT_STUDY_BOOK, DEFAULT_STUDY_SHOCKS,
                        args.scenarios, seed=args.seed, threads=args.threads,
                        progress=_progress(args.no_progress))
    elapsed = time.perf_counter() - start
    header = [
        f"liqcascade {__version__} - Monte Carlo study of the default scenario",
        f"  BTC-like perpetual at mid {DEFAULT_MID:,.0f}; book $20M / $60M / $75M within 1 / 5 / 10 %, "
        f"thinning up to {DEFAULT_STUDY_BOOK.thinning:.0%}, level noise {DEFAULT_STUDY_BOOK.level_noise:.0%}",
        f"  {args.positions:,} positions per scenario, ${population.open_interest / 1e6:,.0f}M expected open interest, "
        "Binance BTCUSDT tiers",
        f"  shocks: Student-t, {DEFAULT_STUDY_SHOCKS.df:g} degrees of freedom, scale {DEFAULT_STUDY_SHOCKS.scale:.0%}",
    ]
    return _study_output(args, table, elapsed, header, {})


def run_shocks(args: argparse.Namespace) -> str:
    if args.venue:
        return run_venue_shocks(args)
    if args.market == "inverse":
        return run_inverse_shocks(args)
    start = time.perf_counter()
    book = calibrated_book()
    positions = default_positions(n=args.positions, seed=args.seed)
    built = time.perf_counter()
    positions.prepare()
    rows = [cascade(book, positions, shock).to_dict() for shock in args.shocks]
    elapsed = time.perf_counter() - built
    depth = book.depth([0.01, 0.05, 0.10])
    scenario = {
        "mid": DEFAULT_MID,
        "positions": args.positions,
        "seed": args.seed,
        "open_interest": float(positions.notional.sum()),
        "bid_notional_within": {"1%": float(depth.bid_notional[0]), "5%": float(depth.bid_notional[1]),
                                "10%": float(depth.bid_notional[2])},
        "build_seconds": built - start,
        "cascade_seconds": elapsed,
    }
    if args.json:
        return json.dumps({"scenario": scenario, "results": rows}, indent=2)
    lines = [
        f"liqcascade {__version__} - default scenario: BTC-like perpetual at mid {DEFAULT_MID:,.0f}",
        f"  book: ${depth.bid_notional[0] / 1e6:.0f}M / ${depth.bid_notional[1] / 1e6:.0f}M / "
        f"${depth.bid_notional[2] / 1e6:.0f}M of bids within 1 / 5 / 10 % (asks alike)",
        f"  positions: {args.positions:,} (seed {args.seed}), open interest ${scenario['open_interest'] / 1e6:,.1f}M, "
        f"Binance BTCUSDT tiers",
        "",
        f"{'shock':>7} {'final move':>10} {'final price':>12} {'amplif.':>8} {'liquidated':>11} "
        f"{'count':>9} {'rounds':>6} {'bad debt':>10} {'book':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r['shock_move'] * 100:+6.1f}% {r['final_move'] * 100:+9.2f}% {r['final_price']:12,.1f} "
            f"{r['amplification']:7.2f}x ${r['liquidated_notional'] / 1e6:9.2f}M {r['n_liquidated']:9,d} "
            f"{r['rounds']:6d} ${r['bad_debt']:9,.0f} {'EXHAUSTED' if r['book_exhausted'] else 'ok':>9}")
    lines.append("")
    lines.append(f"{len(rows)} cascades in {elapsed * 1e3:.1f} ms after building the scenario in "
                 f"{built - start:.2f} s (sort included in the first cascade's time).")
    return "\n".join(lines)


def run_inverse_shocks(args: argparse.Namespace) -> str:
    """The default market, and the same market as a coin-margined (inverse) contract of 100 USD:
    the book's levels in contracts (qty * price / 100), each position the same USD size, entry,
    leverage and maintenance rate with its margin and maintenance amount in coin (/ entry)."""
    from .book import OrderBook
    from .positions import Positions

    size = 100.0
    start = time.perf_counter()
    book = calibrated_book()
    linear = default_positions(n=args.positions, seed=args.seed)
    contracts_book = OrderBook(book.bid_price, book.bid_qty * book.bid_price / size,
                               book.ask_price, book.ask_qty * book.ask_price / size)
    columns = (linear.side, linear.qty * linear.entry_price / size, linear.entry_price,
               linear.margin / linear.entry_price, linear.mmr, linear.maint_amount / linear.entry_price)
    inverse = Positions(*columns, contract="inverse", contract_size=size)
    # a position already past its liquidation price as an inverse contract could not be open in
    # that market (an inverse long is liquidated earlier): left out, and counted
    mid = book.mid
    live = np.where(inverse.side > 0, inverse.liquidation_price < mid, inverse.liquidation_price > mid)
    dropped = int(np.count_nonzero(~live))
    if dropped:
        inverse = Positions(*(np.ascontiguousarray(c[live]) for c in columns), contract="inverse", contract_size=size)
    rows = []
    for shock in args.shocks:
        a, b = cascade(book, linear, shock), cascade(contracts_book, inverse, shock)
        rows.append({"shock": shock, "linear": a.to_dict(), "inverse": b.to_dict(),
                     # in USD, to compare: the inverse fills' face value, its coin bad debt at the final price
                     "inverse_liquidated_usd": b.liquidated_qty * size,
                     "inverse_bad_debt_usd": b.bad_debt * b.final_price})
    elapsed = time.perf_counter() - start
    if args.json:
        return json.dumps({"scenario": {"mid": DEFAULT_MID, "positions": args.positions, "seed": args.seed,
                                        "contract_size": size, "inverse_left_out": dropped, "seconds": elapsed},
                           "results": rows}, indent=2)
    lines = [
        f"liqcascade {__version__} - the default market, linear (USDT-margined) and inverse (coin-margined, "
        f"{size:.0f} USD per contract)",
        f"  {args.positions:,} positions (seed {args.seed}): the same USD size, entry, leverage and maintenance "
        "rate; the inverse ones' margin in BTC",
        f"  ({dropped:,} of them would already be past their liquidation price as inverse contracts: left out there)",
        "",
        f"{'':>7} {'final move':^21} {'liquidated ($M)':^21} {'bad debt ($k)':^21}",
        f"{'shock':>7} " + " ".join(f"{'linear':>10} {'inverse':>10}" for _ in range(3)),
    ]
    for r in rows:
        a, b = r["linear"], r["inverse"]
        lines.append(f"{r['shock'] * 100:+6.1f}% {a['final_move'] * 100:+9.2f}% {b['final_move'] * 100:+9.2f}% "
                     f"{a['liquidated_notional'] / 1e6:10.2f} {r['inverse_liquidated_usd'] / 1e6:10.2f} "
                     f"{a['bad_debt'] / 1e3:10,.1f} {r['inverse_bad_debt_usd'] / 1e3:10,.1f}")
    lines += ["", "Inverse longs lose collateral value as the price falls: a fall liquidates them earlier "
              "(shorts later),",
              f"so the same down shock cascades further. {2 * len(rows)} cascades in {elapsed:.2f} s."]
    return "\n".join(lines)


def _above_max_leverage(positions: Any, tiers: Any) -> int:
    """How many positions are levered above their entry tier's max_leverage."""
    if tiers.max_leverage is None:
        return 0
    cap = tiers.max_leverage[tiers.tier_of(positions.notional)]
    return int((positions.leverage > cap * (1 + 1e-9)).sum())


def run_venue_shocks(args: argparse.Namespace) -> str:
    """The default population drawn under each venue's margin rules — the same draws (side,
    size, leverage, entry) from the same seed, each position margined as the venue does, one
    the venue would not accept (above its max leverage) drawn at its limit, one already past
    its liquidation price there redrawn as in every study — each cascaded on the default book
    under every shock."""
    from .models import BookModel
    from .venues import BTC_SYMBOL, venue_rules

    start = time.perf_counter()
    book = calibrated_book()
    # the draws before any venue's leverage limit: how many each venue draws at its limit
    base = PositionPopulation(count=args.positions, leverage_limit="ignore").sample(
        seed=args.seed, book_model=BookModel(mid=DEFAULT_MID))
    results: dict[str, Any] = {}
    for name in args.venue:
        rules = venue_rules(name)
        positions = rules.population(count=args.positions).sample(seed=args.seed, book_model=BookModel(mid=DEFAULT_MID))
        positions.prepare()
        results[name] = {
            "symbol": BTC_SYMBOL[name],
            "tiers": len(rules.tiers),
            "basis": rules.basis,
            "tier_rule": "entry" if rules.basis == "entry" else "liquidation",
            "close_fee": rules.close_fee,
            "open_interest": float(positions.notional.sum()),
            "above_max_leverage": _above_max_leverage(base, rules.tiers),
            "results": [cascade(book, positions, shock).to_dict() for shock in args.shocks],
        }
    elapsed = time.perf_counter() - start
    if args.json:
        return json.dumps({"scenario": {"mid": DEFAULT_MID, "positions": args.positions, "seed": args.seed,
                                        "open_interest": float(base.notional.sum()), "seconds": elapsed},
                           "venues": results}, indent=2)
    names = list(results)
    width = 11
    lines = [
        f"liqcascade {__version__} - the default scenario under each venue's margin rules (mid {DEFAULT_MID:,.0f})",
        f"  {args.positions:,} positions drawn from the same seed ({args.seed}), margined as each venue does:",
    ]
    for name, r in results.items():
        at = "entry value" if r["basis"] == "entry" else "mark"
        tier = "entry notional" if r["tier_rule"] == "entry" else "liquidation price"
        lines.append(f"    {name:<12} {r['symbol']} table ({r['tiers']} tiers), maintenance at the {at}, tier at the "
                     f"{tier}; {r['above_max_leverage']:,} drawn at its max leverage")
    lines.append("")
    heads = ("final move", "liquidated ($M)", "bad debt ($k)")
    block = len(names) * (width + 1) - 1
    lines.append(f"{'':>7} " + " ".join(f"{h:^{block}}" for h in heads).rstrip())
    lines.append(f"{'shock':>7} " + " ".join(" ".join(f"{n[:width]:>{width}}" for n in names) for _ in heads))
    for i, shock in enumerate(args.shocks):
        rows = [results[n]["results"][i] for n in names]
        moves = " ".join(f"{r['final_move'] * 100:+{width - 1}.2f}%" for r in rows)
        liquidated = " ".join(f"{r['liquidated_notional'] / 1e6:{width}.2f}" for r in rows)
        bad = " ".join(f"{r['bad_debt'] / 1e3:{width},.1f}" for r in rows)
        lines.append(f"{shock * 100:+6.1f}% {moves} {liquidated} {bad}")
    lines.append("")
    lines.append(f"{len(names) * len(args.shocks)} cascades in {elapsed:.2f} s, building each venue's set included.")
    return "\n".join(lines)


def run_simulation(args: argparse.Namespace) -> str:
    from .analysis import key_moments
    from .scenarios import default_simulation

    start = time.perf_counter()
    sim = default_simulation(args.positions, args.seed, args.steps, sell_rate=args.sell_rate,
                             sell_seconds=args.sell_seconds, policy=args.policy, throughput=args.throughput,
                             fund=args.fund)
    elapsed = time.perf_counter() - start
    if args.out:
        _write(sim.timeline, args.out)
    moments = {"policy": args.policy, "positions": args.positions, "seconds": args.steps, "seed": args.seed,
               **key_moments(sim), "run_seconds": elapsed}
    if args.json:
        return json.dumps(moments, indent=2)
    m = moments
    lines = [f"liqcascade {__version__} - the default scenario through time ({args.policy} engine)",
             f"  {args.positions:,} positions; {args.sell_rate:g} BTC/s sold for {args.sell_seconds} s; "
             f"book refill half-life {120 * math.log(2):.0f} s; EMA mark (3 s); breakers 5 %/60 s -> 120 s, "
             f"10 %/300 s -> 600 s; fund ${args.fund:,.0f}", ""]
    if m["first_liquidation"]:
        first = m["first_liquidation"]
        lines.append(f"first liquidation   t = {first['t']:>5} s   price {first['price']:>10,.1f}")
    else:
        lines.append("first liquidation   none")
    peak_minute = m["peak_minute"]
    lines.append(f"peak minute         {peak_minute['minute']:>5}       "
                 f"${peak_minute['liquidated_notional'] / 1e6:,.2f}M liquidated in "
                 f"{peak_minute['liquidations']:,} fills")
    lines.append(f"low                 t = {m['low']['t']:>5} s   price {m['low']['price']:>10,.1f}")
    if m["halts"]:
        lines.append("halts               " + ", ".join(f"{h['from']}-{h['to']} s" for h in m["halts"]))
    else:
        lines.append("halts               none")
    lines.append("ADL                 " + ("none" if m["adl"] is None else
                                           f"from t = {m['adl']['first_t']} s, {m['adl']['qty']:,.3f} BTC"))
    f = m["final"]
    lines += [f"takeovers           {m['takeovers']:,}",
              f"final               price {f['price']:,.1f}, mark {f['mark']:,.1f}; "
              f"{f['liquidated_positions']:,} positions liquidated, ${f['liquidated_notional'] / 1e6:,.2f}M; "
              f"fund ${f['insurance_fund']:,.0f} "
              f"(low ${f['fund_low']:,.0f}), inventory {f['fund_inventory']:,.3f} BTC",
              "",
              f"{args.steps:,} steps in {elapsed:.2f} s" + (f"; timeline written to {args.out}" if args.out else "")]
    return "\n".join(lines)


def _check(args: argparse.Namespace) -> None:
    """What the option types alone cannot check, before anything runs."""
    if args.command == "simulate" and args.sell_seconds > args.steps:
        raise _UsageError(f"--sell-seconds: {args.sell_seconds} is beyond --steps {args.steps}")
    if args.command == "shocks" and args.venue and args.market == "inverse":
        raise _UsageError("--market inverse: not with --venue (the venues' rule sets are for their linear contracts); "
                          "run them apart")
    if args.command == "report":
        directory = os.path.dirname(os.path.abspath(args.out))
        if not args.out.lower().endswith((".html", ".htm")):
            raise _UsageError(f"--out: {args.out!r}: the file name must end in .html")
        if not os.path.isdir(directory):
            raise _UsageError(f"--out: {args.out!r}: directory {directory!r} does not exist")
        return
    _check_out(getattr(args, "out", None))


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """The library's warnings as one line: ``liqcascade: warning: ...``."""
    sys.stderr.write(f"liqcascade: warning: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    prog = f"liqcascade {args.command}"
    jobs = {"run": run_study, "shocks": run_shocks, "simulate": run_simulation, "report": run_report,
            "venue": run_venue_cascade}
    try:
        _check(args)
        with warnings.catch_warnings():
            original = warnings.showwarning

            def show(message: Any, category: type[Warning], *rest: Any, **kw: Any) -> None:
                if issubclass(category, LiqcascadeWarning):
                    _show_warning(message, category, *rest, **kw)
                else:
                    original(message, category, *rest, **kw)
            warnings.showwarning = show
            warnings.filterwarnings("always", category=LiqcascadeWarning)  # a program: print them
            output = jobs[args.command](args)
    except _UsageError as exc:
        parser.exit(2, f"{prog}: error: {exc}\n")
    except ValueError as exc:  # the engine refuses a combination of options, naming the parameter
        parser.exit(2, f"{prog}: error: {exc}\n")
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    try:
        print(output)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader left (``liqcascade shocks | head -2``): no traceback, and none at exit either
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a tool killed by the signal reports
    return 0


if __name__ == "__main__":
    sys.exit(main())
