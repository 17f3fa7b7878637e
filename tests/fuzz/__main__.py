"""``python -m tests.fuzz --cases N --seed S --timeout T --report PATH``: see the package docstring."""

from __future__ import annotations

import argparse
import json
import sys

from .harness import Worker, format_failures, run_cases
from .run import generate_cases
from .strategies import known_cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=1000, help="number of generated cases (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    parser.add_argument("--timeout", type=float, default=10.0, help="time limit per case, seconds (default 10)")
    parser.add_argument("--report", default=None, help="write the JSON report here")
    parser.add_argument("--no-known", action="store_true", help="skip the issue's reproducers")
    parser.add_argument("--chunk", type=int, default=500, help="cases generated at a time (default 500)")
    args = parser.parse_args(argv)

    worker = Worker(args.timeout)
    total: dict | None = None
    try:
        batches = [] if args.no_known else [known_cases()]
        done = 0
        chunk_index = 0
        while done < args.cases or batches:
            if batches:
                batch = batches.pop()
            else:
                size = min(args.chunk, args.cases - done)
                batch = generate_cases(size, args.seed * 1_000_003 + chunk_index)
                chunk_index += 1
                done += size
            report = run_cases(batch, timeout=args.timeout, worker=worker)
            total = report if total is None else _merge(total, report)
            print(f"{total['cases']} cases, {total['n_failures']} failing: {total['outcomes']}", file=sys.stderr)
    finally:
        worker.stop()
    assert total is not None
    print(format_failures(total))
    if args.report:
        with open(args.report, "w", encoding="utf-8") as handle:
            json.dump({"seed": args.seed, "timeout": args.timeout, **total}, handle, indent=1)
    return 1 if total["n_failures"] else 0


def _merge(a: dict, b: dict) -> dict:
    outcomes = dict(a["outcomes"])
    for k, v in b["outcomes"].items():
        outcomes[k] = outcomes.get(k, 0) + v
    by_entry = dict(a.get("by_entry", {}))
    for k, v in b.get("by_entry", {}).items():
        by_entry[k] = by_entry.get(k, 0) + v
    groups = {g["signature"]: g for g in a["failures"]}
    for g in b["failures"]:
        if g["signature"] in groups:
            mine = groups[g["signature"]]
            mine["count"] += g["count"]
            mine["examples"] = sorted(mine["examples"] + g["examples"], key=lambda ex: len(ex["reproducer"]))[:3]
        else:
            groups[g["signature"]] = g
    failures = sorted(groups.values(), key=lambda g: (-g["count"], g["signature"]))
    return {"cases": a["cases"] + b["cases"], "seconds": round(a["seconds"] + b["seconds"], 1),
            "outcomes": outcomes, "by_entry": by_entry, "failures": failures, "n_failures": sum(g["count"] for g in failures)}


if __name__ == "__main__":
    sys.exit(main())
