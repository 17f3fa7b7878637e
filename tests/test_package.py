"""The package's namespace: every public submodule is an attribute of ``liqcascade`` (imported
on first use), and ``import liqcascade`` imports none of the optional dependencies."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import liqcascade as lc

SUBMODULES = ("analysis", "datasets", "deep_book", "distributed", "fragility", "io", "models", "plot", "policy",
              "report", "scenarios", "tier_tables", "user_study", "venue", "venue_scenario", "venues")


@pytest.mark.parametrize("name", SUBMODULES)
def test_submodules_are_attributes(name):
    module = getattr(lc, name)
    assert module is importlib.import_module(f"liqcascade.{name}")
    assert name in dir(lc) and name in lc.__all__


def test_the_reviewers_calls():
    assert lc.venues.venue_rules("bybit").basis == "entry"
    assert callable(lc.io.read_book) and callable(lc.deep_book.extend_book)
    assert callable(lc.distributed.monte_carlo) and callable(lc.venue.venue_cascade)
    with pytest.raises(AttributeError, match="module 'liqcascade' has no attribute 'nope'"):
        lc.nope  # noqa: B018


def test_import_is_light():
    code = ("import sys, liqcascade as lc; lc.io; lc.deep_book; lc.distributed; lc.venues; lc.plot; lc.report; "
            "heavy = ('pandas', 'pyarrow', 'polars', 'dask', 'distributed', 'matplotlib'); "
            "print(','.join(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", out.stdout
