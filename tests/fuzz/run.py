"""Draw a deterministic list of cases from the Hypothesis strategies."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, seed, settings

from .strategies import Case, cases


def generate_cases(n: int, seed_value: int) -> list[Case]:
    """``n`` cases drawn with a fixed seed (the same list every time, for a Hypothesis version)."""
    drawn: list[Case] = []

    @settings(max_examples=n, database=None, phases=[Phase.generate], deadline=None, derandomize=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                              HealthCheck.data_too_large, HealthCheck.large_base_example])
    @seed(seed_value)
    @given(cases())
    def collect(case: Case) -> None:
        drawn.append(case)

    if n > 0:
        collect()
    return drawn[:n]
