"""Compiled code can use the engine directly: a Cython extension built against
liqcascade/cascade_core.pxd and liqcascade.get_include() agrees with the engine."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import liqcascade as lc

pytest.importorskip("Cython")
pytest.importorskip("setuptools")


@pytest.fixture(scope="module")
def use_core(tmp_path_factory):
    if shutil.which("c++") is None:
        pytest.skip("needs a C++ compiler")
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    build = tmp_path_factory.mktemp("cython")
    source = build / "use_core.pyx"
    shutil.copy(Path(__file__).parent / "cython" / "use_core.pyx", source)
    package_dir = Path(lc.__file__).resolve().parents[1]  # where liqcascade/cascade_core.pxd is found
    ext = Extension("use_core", [str(source)], include_dirs=[lc.get_include(), np.get_include()], language="c++")
    dist = Distribution({"ext_modules": cythonize([ext], include_path=[str(package_dir)], quiet=True)})
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = str(build)
    cmd.build_temp = str(build / "tmp")
    cmd.ensure_finalized()
    cmd.run()
    built = next(build.glob("use_core*.so"))
    spec = importlib.util.spec_from_file_location("use_core", built)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules.pop("use_core", None)
    return module


def test_compiled_code_gets_the_engines_liquidation_prices(use_core):
    rng = np.random.default_rng(0)
    positions = lc.Positions.from_leverage(rng.choice([1, -1], 500).astype(np.int8), rng.lognormal(0, 1, 500),
                                           100 * np.exp(rng.normal(0, 0.02, 500)), rng.choice([5.0, 20.0], 500),
                                           tiers=lc.MaintenanceTiers.binance_btcusdt())
    got = use_core.liquidation_prices(np.array(positions.side), np.array(positions.qty), np.array(positions.entry_price),
                                      np.array(positions.margin), np.array(positions.mmr), np.array(positions.maint_amount))
    np.testing.assert_array_equal(got, positions.liquidation_price)


def test_compiled_code_gets_the_engines_random_streams(use_core):
    SIDE = 4  # Purpose::side in rng.hpp
    # stream layout 2: position j's side is uniform32 number j % 4 of the side stream j // 4
    population = lc.PositionPopulation(count=64, long_share=0.5)
    sampled = population.sample(seed=11, scenario=3)
    draws = [use_core.uniforms(11, 3, j // 4, 4, SIDE)[j % 4] for j in range(64)]
    np.testing.assert_array_equal(sampled.side, np.where(np.array(draws) < 0.5, 1, -1))
