"""A Monte Carlo study over a venue — the default venue of ``liqcascade venue`` with 200,000
cross accounts (2-3 positions each over 3 perpetuals) and 200,000 isolated positions, a
multivariate Student-t(4) move of the three perpetuals per scenario — against a NumPy pipeline
of the same scenarios in the same run.

The NumPy pipeline takes each scenario's moves (the engine's draws, so that the answers can be
compared) and runs ``bench_venue.NumpyVenue.cascade_moves``: rounds that re-read every isolated
position and every account (vectorised), cross each market's orders and walk the imbalance
through the cumulative depth. It runs one scenario after another on one thread (NumPy's own
threads, if any, inside each operation), as a NumPy loop over scenarios would. Answers are
checked against each other: the same rounds, accounts and positions liquidated, final prices
within one level.

Run: python -m pytest bench/bench_venue_study.py --benchmark-only
"""

from __future__ import annotations

import numpy as np
import pytest
from bench_venue import NumpyVenue

from liqcascade.correlated import CorrelatedShockModel
from liqcascade.venue import VenueState
from liqcascade.venue_scenario import default_venue
from liqcascade.venue_study import venue_monte_carlo

N_ACCOUNTS = 200_000
N_ISOLATED = 200_000
N_SCENARIOS = 64
N_NUMPY = 8  # the NumPy pipeline's scenarios (per-scenario cost compared)
MODEL = CorrelatedShockModel.student_t(4.0, [[1.0, 0.8, 0.7], [0.8, 1.0, 0.75], [0.7, 0.75, 1.0]],
                                       [0.03, 0.04, 0.05], markets=["BTCUSDT", "ETHUSDT", "SOLUSDT"])


@pytest.fixture(scope="module")
def venue_study():
    venue, positions, accounts = default_venue(N_ACCOUNTS, N_ISOLATED, seed=0)
    state = VenueState(venue, positions, accounts)
    return state, NumpyVenue(state)


def numpy_pipeline(baseline: NumpyVenue, state: VenueState, n: int) -> list[dict]:
    moves = np.zeros((n, len(state.venue.markets)))
    moves[:, :3] = MODEL.sample(seed=0, n_scenarios=n)
    return [baseline.cascade_moves(row) for row in moves]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.benchmark(group="venue study, 200k accounts + 200k isolated, per scenario")
def test_venue_study_engine(benchmark, venue_study, threads):
    state, baseline = venue_study
    table = benchmark.pedantic(venue_monte_carlo, args=(state, MODEL, N_SCENARIOS), rounds=3, iterations=1,
                               kwargs={"threads": threads, "progress": False})
    ticks = np.array([1.0, 0.05, 0.005, 0.5, 0.0001])
    for row, expected in enumerate(numpy_pipeline(baseline, state, N_NUMPY)):
        assert table["rounds"][row] == expected["rounds"]
        assert table["accounts_liquidated"][row] == expected["accounts"]
        assert table["n_liquidated"][row] == expected["positions"]
        final = table.per_market("final_price")[row]
        assert np.all(np.abs(final - expected["final_price"]) <= ticks * 1.001)
    benchmark.extra_info["scenarios"] = N_SCENARIOS
    benchmark.extra_info["mean_accounts_liquidated"] = float(table["accounts_liquidated"].mean())


@pytest.mark.benchmark(group="venue study, 200k accounts + 200k isolated, per scenario")
def test_venue_study_numpy(benchmark, venue_study):
    state, baseline = venue_study
    benchmark.pedantic(numpy_pipeline, args=(baseline, state, N_NUMPY), rounds=1, iterations=1)
    benchmark.extra_info["scenarios"] = N_NUMPY
