"""Turn a pytest-benchmark JSON file into the README's table of ratios.

    python -m pytest bench --benchmark-json=bench.json
    python bench/report.py bench.json

Each engine benchmark named ``test_<case>_engine[<param>]`` is paired with
``test_<case>_numpy[<param>]`` from the same run; the ratio is NumPy's median time over the
engine's (higher is better). ``_numba``, ``_python_loop`` and ``_entry_rule`` (the engine with
the previous rule: a ratio near 1 means the new rule costs nothing) are paired the same way.
Absolute times are machine-specific and not printed.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

PATTERN = re.compile(r"^test_(?P<case>.+)_(?P<impl>engine|numpy|numba|python_loop|entry_rule)(?P<param>\[.*\])?$")


def main(path: str) -> None:
    data = json.loads(Path(path).read_text())
    medians: dict[tuple[str, str, str], dict] = {}
    for bench in data["benchmarks"]:
        match = PATTERN.match(bench["name"])
        if match:
            key = (bench["group"] or "", match["case"], match["param"] or "")
            medians.setdefault(key, {})[match["impl"]] = bench
    machine = data.get("machine_info", {})
    print(f"Machine: {machine.get('cpu', {}).get('brand_raw', '?')}, "
          f"Python {machine.get('python_version', '?')}, one thread\n")
    print("| benchmark | case | engine speed-up over the baseline (median) | notes |")
    print("|---|---|---:|---|")
    for (group, case, param), impls in sorted(medians.items()):
        if "engine" not in impls:
            continue
        engine = impls["engine"]
        note = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in engine.get("extra_info", {}).items() if k != "items")
        for baseline in ("numpy", "numba", "python_loop", "entry_rule"):
            if baseline in impls:
                # per item (scenario, shock) when the two sides ran different counts
                per = lambda b: b["stats"]["median"] / b.get("extra_info", {}).get("items", 1)  # noqa: E731
                ratio = per(impls[baseline]) / per(engine)
                digits = 2 if ratio < 2 else 1
                print(f"| {group} | {case}{param} vs {baseline} | {ratio:.{digits}f}x | {note} |")
    # how the engine's own cost scales across the parameters of one case
    by_case: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for (group, case, param), impls in medians.items():
        if "engine" in impls and param:
            by_case.setdefault((group, case), []).append((param, impls["engine"]["stats"]["median"]))
    for (group, _case), rows in sorted(by_case.items()):
        largest = max(t for _, t in rows)
        cells = ", ".join(f"{p} {t / largest:.3f}" for p, t in sorted(rows, key=lambda r: r[1]))
        print(f"\n{group}: engine time relative to its slowest case: {cells}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench.json")
