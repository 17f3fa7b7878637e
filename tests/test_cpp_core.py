"""The C++ core builds and passes its own test without Python (skipped without cmake/g++)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("c++") is None,
                    reason="needs cmake and a C++ compiler")
def test_core_builds_and_passes_without_python(tmp_path):
    build = tmp_path / "build"
    options = ["-DCASCADE_CORE_BUILD_TESTS=ON", "-DCASCADE_CORE_WERROR=ON", "-DCMAKE_BUILD_TYPE=Release"]
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), *options], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "--parallel", "2"], check=True, capture_output=True)
    done = subprocess.run([str(build / "cascade_core_tests")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "13 passed, 0 failed" in done.stdout
