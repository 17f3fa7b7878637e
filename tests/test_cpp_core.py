"""The C++ core builds and passes its own tests without Python (skipped without cmake/g++)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("c++") is None,
                    reason="needs cmake and a C++ compiler")
def test_core_builds_and_passes_without_python(tmp_path: Path) -> None:
    build = tmp_path / "build"
    options = ["-DCASCADE_CORE_BUILD_TESTS=ON", "-DCASCADE_CORE_WERROR=ON", "-DCMAKE_BUILD_TYPE=Release"]
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), *options], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "--parallel", "2"], check=True, capture_output=True)
    # The program runs named cases: "ok  <name>" or "FAIL <name>: <file>:<line>: CHECK(...)" each,
    # then "N cases, M failed"; its exit code is 0 only when none failed.
    done = subprocess.run([str(build / "cascade_core_tests")], capture_output=True, text=True, timeout=600)
    lines = done.stdout.splitlines()
    failures = "\n".join(line for line in lines if line.startswith("FAIL")) or done.stdout[-2000:]
    assert done.returncode == 0, f"exit code {done.returncode}\n{failures}\n{done.stderr[-2000:]}"
    assert lines and lines[-1].endswith(", 0 failed"), f"{failures}\n{done.stderr[-2000:]}"
