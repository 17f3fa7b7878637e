from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BINANCE_DEPTH = SHARED_DATA / "binance_usdm_btcusdt_depth_20240808.json"


@pytest.fixture
def binance_depth_path() -> Path:
    if not BINANCE_DEPTH.is_file():
        pytest.skip(f"real depth snapshot not present at {BINANCE_DEPTH}")
    return BINANCE_DEPTH
