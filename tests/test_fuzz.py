"""The fuzzing harness's short run (tests/fuzz): the issue's reproducers and a fixed-seed set
of generated cases over every public entry point, each in a worker process with a time limit.
Any outcome other than a clean ValueError/TypeError naming a parameter, or an accepted call
whose every invariant holds, fails with its reproducer. The long run:
``python -m tests.fuzz --cases 100000 --seed S --timeout 10 --report fuzz_report.json``."""

from __future__ import annotations

from fuzz.harness import format_failures, run_cases
from fuzz.run import generate_cases
from fuzz.strategies import known_cases

SEED = 15
CASES = 1500
TIMEOUT = 5.0  # seconds per case: a hang is classified as such, never waited out


def test_fuzz_short_run():
    cases = known_cases() + generate_cases(CASES, SEED)
    report = run_cases(cases, timeout=TIMEOUT)
    assert report["cases"] == len(cases)
    assert report["n_failures"] == 0, format_failures(report)
