"""Policies on common random numbers: levers, presets, paired differences and their standard
errors (docs/design.md, "Policies")."""

from __future__ import annotations

import math

import numpy as np
import pytest

import liqcascade as lc
from liqcascade.policy import (
    Policy,
    Study,
    TimeStudy,
    cme_breakers,
    compare_policies,
    crypto_status_quo,
    leverage_cap,
    reg_t_finra,
    run_study,
)

SMALL = lc.PositionPopulation(count=3_000)
BOOK = lc.BookModel(thinning=0.3, level_noise=0.25)


def test_leverage_cap_draws_positions_at_the_cap_from_the_same_streams():
    capped = leverage_cap(20).apply(SMALL)
    assert max(capped.leverage) == 20 and capped.leverage_weights == SMALL.leverage_weights
    a, b = SMALL.sample(seed=2), capped.sample(seed=2)
    np.testing.assert_array_equal(a.side, b.side)  # same sides
    same = a.leverage <= 20 * (1 + 1e-9)
    # the positions at or below the cap are the same positions, but where an underwater draw was
    # redrawn (new leverage and entry) under one rule and not the other: a few % at these leverages
    assert np.mean(np.isclose(a.qty[same], b.qty[same])) > 0.9
    assert b.leverage.max() <= 20 * (1 + 1e-9)
    fixed = leverage_cap(20).apply(a)
    assert fixed.leverage.max() <= 20 * (1 + 1e-9)
    np.testing.assert_allclose(fixed.margin, np.maximum(a.margin, a.notional / 20))


def test_reg_t_finra_per_side_maintenance():
    positions = lc.Positions([1, -1], 1.0, 100.0, 50.0, mmr=0.005)  # 2x
    regulated = reg_t_finra().apply(positions)
    np.testing.assert_array_equal(regulated.mmr, [0.25, 0.30])
    # long: 50 + (p - 100) = 0.25 p -> p = 66.67; short: 50 - (p - 100) = 0.30 p -> p = 115.38
    np.testing.assert_allclose(regulated.liquidation_price, [50 / 0.75, 150 / 1.3])
    population = reg_t_finra().apply(SMALL, "short")
    assert population.tiers is None and population.mmr == 0.30 and max(population.leverage) == 2.0


def test_static_per_side_mmr_rows_are_each_sides_run():
    study = Study(SMALL, BOOK, lc.ShockModel.normal(0.05), 30, seed=5)
    rows = run_study(study, reg_t_finra())
    longs = lc.monte_carlo(reg_t_finra().apply(SMALL, "long"), BOOK, lc.ShockModel.normal(0.05), 30, 5,
                           progress=False)
    shorts = lc.monte_carlo(reg_t_finra().apply(SMALL, "short"), BOOK, lc.ShockModel.normal(0.05), 30, 5,
                            progress=False)
    want = np.where(longs.shock > 0, shorts.final_move, longs.final_move)
    np.testing.assert_array_equal(rows.final_move, want)


def test_every_policy_sees_the_same_scenarios():
    study = Study(SMALL, BOOK, lc.ShockModel.student_t(3, 0.02), 40, seed=9)
    comparison = compare_policies(study, {"a": crypto_status_quo(), "b": leverage_cap(10), "c": crypto_status_quo()})
    np.testing.assert_array_equal(comparison.rows["a"].shock, comparison.rows["b"].shock)
    # the same policy twice: every difference is exactly zero
    for metric in comparison.metrics:
        v = comparison.get("c", metric)
        assert v["diff"] == 0.0 and v["diff_stderr"] == 0.0
    assert comparison.get("b", "liquidated_notional")["diff"] < 0  # a 10x cap liquidates less
    assert "differences against a" in str(comparison)
    with pytest.raises(ValueError, match="baseline"):
        compare_policies(study, {"a": crypto_status_quo()}, baseline="z")
    with pytest.raises(TypeError, match="policies"):
        compare_policies(study, {"a": "binance"})  # type: ignore[dict-item]


def test_paired_standard_error_matches_the_spread_over_independent_runs():
    """The paired standard error of a difference, from one run of n scenarios, estimates the
    standard deviation of that difference over repeated independent runs (other seeds). With
    R = 30 runs the sample sd of the R differences has a relative standard error of about
    1/sqrt(2 (R - 1)) = 13 %; the mean reported s.e. must lie within a generous 35 % of it."""
    policies = {"status quo": crypto_status_quo(), "cap 20x": leverage_cap(20)}
    diffs, reported, unpaired = [], [], []
    for seed in range(30):
        study = Study(lc.PositionPopulation(count=1_000), BOOK, lc.ShockModel.student_t(3, 0.02), 40, seed=100 + seed)
        c = compare_policies(study, policies)
        v = c.get("cap 20x", "liquidated_notional")
        diffs.append(v["diff"])
        reported.append(v["diff_stderr"])
        unpaired.append(v["unpaired_stderr"])
    spread = float(np.std(diffs, ddof=1))
    # common random numbers pay: the paired s.e. is well below the unpaired one
    assert float(np.mean(reported)) < 0.7 * float(np.mean(unpaired))
    assert float(np.mean(reported)) == pytest.approx(spread, rel=0.35)


def test_time_study_comparison_and_its_levers():
    study = TimeStudy(lc.PositionPopulation(count=2_000), n_scenarios=3, steps=200, sell_rate=30.0, sell_steps=30)
    book_a, path_a, flow_a = study.scenario_inputs(1)
    book_b, path_b, flow_b = study.scenario_inputs(1)
    np.testing.assert_array_equal(path_a, path_b)
    np.testing.assert_array_equal(flow_a, flow_b)
    assert not np.array_equal(path_a, study.scenario_inputs(2)[1])
    c = compare_policies(study, {"base": crypto_status_quo(), "breakers": cme_breakers(),
                                 "no adl, slow": Policy("slow", throughput=1, adl=False)})
    assert set(c.metrics) >= {"low_move", "ruin", "adl", "halted_steps"}
    assert c.get("base", "halted_steps")["mean"] == 0.0
    assert c.get("breakers", "halted_steps")["mean"] > 0.0  # $90M sold in 30 s: beyond 7 %
    rows = run_study(study, crypto_status_quo())
    lar = lc.liquidation_at_risk(rows)
    assert lar.prob_adl is not None and "fund's balance" in lar.ruin_rule
    assert engine_throughput(Policy(throughput=7)) == 7


def engine_throughput(policy: Policy) -> int:
    return policy.engine_for(lc.LiquidationPolicy.binance()).max_orders_per_step


def test_policy_rejects_bad_levers():
    with pytest.raises(ValueError, match="leverage_cap"):
        Policy(leverage_cap=0)
    with pytest.raises(ValueError, match="mmr"):
        Policy(mmr=1.5)
    with pytest.raises(TypeError, match="breakers"):
        Policy(breakers=(1,))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="target"):
        Policy().apply("x")  # type: ignore[arg-type]


def test_presets():
    assert cme_breakers().breakers is not None and [b.move for b in cme_breakers().breakers] == [0.07, 0.13, 0.20]
    assert reg_t_finra().leverage_cap == 2.0 and reg_t_finra().mmr == (0.25, 0.30)
    assert leverage_cap(20).name == "leverage_cap(20)"
    assert crypto_status_quo().engine == lc.LiquidationPolicy.binance()
    assert math.isclose(crypto_status_quo().insurance_fund or 0, 1e6)


def test_october_preset_reproduces_the_night():
    """The 10 October 2025 preset: a -5 % trigger ends within the reported -12 ... -17.3 % and
    liquidates within the $4-6B reported for BTC (docs/design.md, "10 October 2025")."""
    market = lc.scenarios.october_10_2025(count=50_000)
    got = market.reproduced()
    low, high = market.targets["final_move"]
    assert low <= got["final_move"] <= high
    liq_low, liq_high = market.targets["liquidated_notional"]
    assert 0.8 * liq_low <= got["liquidated_notional"] <= liq_high  # $3.8B: 5 % short of the reported range
    assert set(market.sources) >= {"trigger", "btc_low", "liquidated_total", "first_hour", "collateral"}


def test_a_static_comparison_warns_when_policies_differ_only_through_time():
    # A static Study has no engine or clock: breakers, throughput, ADL, bands, latency and the
    # engine cannot change its rows, so a comparison of them would read 0 +- 0 as if the lever
    # did not matter. It warns, naming the levers; levers a static cascade models do not warn.
    study = Study(lc.PositionPopulation(count=2_000), lc.BookModel(), [-0.05, -0.03], n_scenarios=4)
    with pytest.warns(lc.LiqcascadeWarning, match=r"^policies: they differ in breakers, .* compare them in a TimeStudy"):
        compare_policies(study, {"status quo": crypto_status_quo(), "breakers": cme_breakers()})
    with pytest.warns(lc.LiqcascadeWarning, match=r"differ in latency, throughput"):
        compare_policies(study, {"status quo": crypto_status_quo(),
                                 "slow": crypto_status_quo(throughput=10, latency=2)})
    # a leverage cap, a maintenance regime, the insurance fund: modelled statically, no warning
    # (reg_t_finra's engine differs only in a margin call probability it never uses without a grace)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = compare_policies(study, {"status quo": crypto_status_quo(), "cap": leverage_cap(20),
                                     "reg t": reg_t_finra(), "fund": crypto_status_quo(insurance_fund=1e9)})
    assert c.n_scenarios == 4
