"""``liqcascade``: the command-line main job.

``liqcascade run`` builds the embedded default scenario (a calibrated BTC-like book and
1,000,000 leveraged positions) and prints what each shock does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from . import __version__
from .cascade import cascade
from .scenarios import DEFAULT_MID, DEFAULT_SHOCKS, calibrated_book, default_positions


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
    if not shocks:
        raise argparse.ArgumentTypeError("shocks: give at least one shock")
    return shocks


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liqcascade", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"liqcascade {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the default scenario over a list of shocks")
    run.add_argument("--shocks", type=_shock_list, default=list(DEFAULT_SHOCKS),
                     help="comma-separated relative moves, e.g. --shocks=-0.05,0.01 or --shocks=-5%%,1%% "
                          "(default: +-1, 2, 3, 5, 7, 10 %%)")
    run.add_argument("--positions", type=_positive_int, default=1_000_000,
                     help="number of positions (default 1,000,000; open interest stays the same)")
    run.add_argument("--seed", type=int, default=0, help="seed of the position population (default 0)")
    run.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def run(shocks: Sequence[float], n_positions: int, seed: int, as_json: bool) -> str:
    start = time.perf_counter()
    book = calibrated_book()
    positions = default_positions(n=n_positions, seed=seed)
    built = time.perf_counter()
    positions.prepare()
    rows = [cascade(book, positions, shock).to_dict() for shock in shocks]
    elapsed = time.perf_counter() - built
    depth = book.depth([0.01, 0.05, 0.10])
    scenario = {
        "mid": DEFAULT_MID,
        "positions": n_positions,
        "seed": seed,
        "open_interest": float(positions.notional.sum()),
        "bid_notional_within": {"1%": float(depth.bid_notional[0]), "5%": float(depth.bid_notional[1]),
                                "10%": float(depth.bid_notional[2])},
        "build_seconds": built - start,
        "cascade_seconds": elapsed,
    }
    if as_json:
        return json.dumps({"scenario": scenario, "results": rows}, indent=2)
    lines = [
        f"liqcascade {__version__} - default scenario: BTC-like perpetual at mid {DEFAULT_MID:,.0f}",
        f"  book: ${depth.bid_notional[0] / 1e6:.0f}M / ${depth.bid_notional[1] / 1e6:.0f}M / "
        f"${depth.bid_notional[2] / 1e6:.0f}M of bids within 1 / 5 / 10 % (asks alike)",
        f"  positions: {n_positions:,} (seed {seed}), open interest ${scenario['open_interest'] / 1e6:,.1f}M, "
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        print(run(args.shocks, args.positions, args.seed, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
