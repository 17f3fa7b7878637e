"""A fuzzing harness for every public entry point of liqcascade (issue 15, "Keep it fixed").

Hypothesis strategies (``tests/fuzz/strategies.py``) write cases as Python code: valid, edge
and hostile inputs (NaN, +-inf, +-0.0, subnormals, 1e308, huge and negative integers, strings,
None, lists, tuples, strided, misaligned and read-only arrays, float32 and object arrays,
pandas Series, wrong lengths, ragged and 2-D arrays) for ``OrderBook`` (and ``from_levels``,
``from_binance_depth``, ``depth``), ``Positions`` (and ``from_leverage``, tiers),
``MaintenanceTiers``, ``cascade``, ``cascade_many``, ``PositionPopulation``, ``BookModel``
(``.linear``, ``.power``, ``.exponential``, ``build``), ``ShockModel`` (every kind),
``monte_carlo``, ``sample_scenario``, ``simulate`` (every preset and option), ``gbm_path``,
``random_flow`` and ``buffer_cache``. The harness (``tests/fuzz/harness.py``) runs each case
in a persistent worker process with a time limit (the worker is restarted after a hang or a
crash) and classifies it: a clean ``ValueError``/``TypeError`` naming a parameter of the call,
or accepted with every invariant holding; anything else is a failure, reported with its
reproducer (the case's code).

Short run (part of the test suite): ``python -m pytest tests/test_fuzz.py``.

Long run, from the repository root::

    python -m tests.fuzz --cases 100000 --seed S --timeout 10 --report fuzz_report.json

prints a summary of the failures grouped by signature (with the shortest reproducer of each)
and writes them all to the JSON report; it exits with status 1 when any case failed.
``--no-known`` leaves out the issue's own reproducers (``strategies.known_cases``), which
are run first otherwise. Runs are deterministic for a seed (and a Hypothesis version).
Findings are kept in ``tests/fuzz/FINDINGS.md``.
"""
