"""Every input and result object pickles, deep-copies and crosses a process pool (issue 16).

The checks are behavioural (same arrays, same results), not on private fields, so they keep
holding when an object's private state changes (a model holding compiled state, say).
"""

from __future__ import annotations

import copy
import dataclasses
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import liqcascade as lc

SMALL = lc.PositionPopulation(count=2_000)
BOOK_MODEL = lc.BookModel(thinning=0.2, level_noise=0.1)
SHOCKS = lc.ShockModel.student_t(df=3, scale=0.02)


def roundtrips(obj):
    """The object through pickle (every protocol from 2) and copy.deepcopy / copy.copy."""
    out = [pickle.loads(pickle.dumps(obj, protocol=p)) for p in range(2, pickle.HIGHEST_PROTOCOL + 1)]
    return [*out, copy.deepcopy(obj), copy.copy(obj)]


def assert_tables_equal(a, b):
    assert type(a) is type(b) and a.columns == b.columns and len(a) == len(b)
    for name in a.columns:
        np.testing.assert_array_equal(a[name], b[name])
        assert a[name].dtype == b[name].dtype, name


def assert_positions_equal(a, b):
    for name in ("side", "qty", "entry_price", "margin", "mmr", "maint_amount", "liquidation_price",
                 "bankruptcy_price"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def assert_books_equal(a, b):
    for name in ("bid_price", "bid_qty", "ask_price", "ask_qty"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def assert_cascades_equal(a, b):
    assert a.to_dict() == b.to_dict()
    np.testing.assert_array_equal(a.liquidated_index, b.liquidated_index)
    np.testing.assert_array_equal(a.fill_price, b.fill_price)
    np.testing.assert_array_equal(a.trace.start_price, b.trace.start_price)


def assert_simulations_equal(a, b):
    assert_tables_equal(a.timeline, b.timeline)
    assert_tables_equal(a.events, b.events)
    np.testing.assert_array_equal(a.final_qty, b.final_qty)
    np.testing.assert_array_equal(a.liquidated, b.liquidated)
    assert (a.exogenous_filled, a.insurance_fund_start) == (b.exogenous_filled, b.insurance_fund_start)


@pytest.fixture(scope="module")
def book():
    return BOOK_MODEL.build(seed=1)


@pytest.fixture(scope="module")
def positions(book):
    return SMALL.sample(seed=1, book_model=BOOK_MODEL)


@pytest.fixture(scope="module")
def simulation(book, positions):
    return lc.simulate(book, positions, "binance", steps=50, flow=-5.0 * (np.arange(50) < 10), insurance_fund=1e4)


def test_column_tables_pickle_and_copy(book, positions, simulation):
    study = lc.monte_carlo(SMALL, BOOK_MODEL, SHOCKS, 6, seed=3, progress=False)
    many = lc.cascade_many(book, positions, [-0.05, 0.0, 0.03])
    for table in (study, many, simulation.timeline, simulation.events):
        for back in roundtrips(table):
            assert_tables_equal(table, back)
    assert [t.seed for t in roundtrips(study)] == [3] * len(roundtrips(study))
    assert all(t.seed is None for t in roundtrips(many))


def test_a_half_built_table_answers_attribute_error_not_recursion():
    table = lc.ScenarioTable.__new__(lc.ScenarioTable)
    with pytest.raises(AttributeError):
        table.final_price  # noqa: B018
    assert not hasattr(table, "__setstate__x")


def test_inputs_pickle_and_copy(book, positions):
    prepared = SMALL.sample(seed=2).prepare()
    for back in roundtrips(book):
        assert_books_equal(book, back)
        assert_cascades_equal(lc.cascade(book, positions, -0.03), lc.cascade(back, positions, -0.03))
    for original in (positions, prepared):
        for back in roundtrips(original):
            assert_positions_equal(original, back)
            assert back.prepared == original.prepared
            assert not back.qty.flags.writeable
            assert_cascades_equal(lc.cascade(book, original, -0.03), lc.cascade(book, back, -0.03))
    tiers = lc.MaintenanceTiers.binance_btcusdt()
    for back in roundtrips(tiers):
        for name in ("notional_floor", "mmr", "maint_amount", "max_leverage"):
            np.testing.assert_array_equal(getattr(back, name), getattr(tiers, name))
        assert not back.mmr.flags.writeable


def test_models_pickle_and_copy_and_sample_the_same():
    models = (SMALL, BOOK_MODEL, SHOCKS, lc.ShockModel.fixed([-0.1, 0.05]), lc.ShockModel.normal(0.01),
              lc.ShockModel.empirical(np.linspace(-0.1, 0.1, 7)), lc.BookModel.linear(1e6))
    reference = lc.monte_carlo(SMALL, BOOK_MODEL, SHOCKS, 4, seed=5, progress=False)
    for model in models:
        for back in roundtrips(model):
            assert type(back) is type(model) and repr(back) == repr(model)
    for population, book_model, shocks in zip(roundtrips(SMALL), roundtrips(BOOK_MODEL), roundtrips(SHOCKS)):
        assert_tables_equal(reference, lc.monte_carlo(population, book_model, shocks, 4, seed=5, progress=False))


def test_policies_and_breakers_pickle_and_copy():
    for obj in (lc.LiquidationPolicy.binance(max_orders_per_step=10), lc.LiquidationPolicy.bybit(),
                lc.LiquidationPolicy.hyperliquid(), lc.CircuitBreaker(0.05, 60, 120)):
        for back in roundtrips(obj):
            assert repr(back) == repr(obj)
            tiers = getattr(obj, "tiers", None)
            if tiers is None:
                assert back == obj
            else:  # (a tier table compares by identity: compare its columns)
                names = [f.name for f in dataclasses.fields(obj) if f.name != "tiers" and f.init]  # (private: rebuilt)
                assert [getattr(back, n) for n in names] == [getattr(obj, n) for n in names]
                np.testing.assert_array_equal(back.tiers.mmr, tiers.mmr)


def test_results_pickle_and_copy(book, positions, simulation):
    result = lc.cascade(book, positions, -0.05)
    result.liquidated  # noqa: B018 - a cached property is in the state too
    for back in roundtrips(result):
        assert_cascades_equal(result, back)
        np.testing.assert_array_equal(result.liquidated, back.liquidated)
    for back in roundtrips(result.trace):
        np.testing.assert_array_equal(back.count, result.trace.count)
    for back in roundtrips(simulation):
        assert_simulations_equal(simulation, back)
    summary = lc.monte_carlo(SMALL, BOOK_MODEL, SHOCKS, 20, seed=1, progress=False).summary()
    for back in roundtrips(summary):
        assert back.to_dict() == summary.to_dict() and str(back) == str(summary)
    scenario = lc.sample_scenario(SMALL, BOOK_MODEL, SHOCKS, seed=4, index=2)
    for back in roundtrips(scenario):
        assert back.shock == scenario.shock
        assert_books_equal(back.book, scenario.book)
        assert_positions_equal(back.positions, scenario.positions)


# -- through a process pool (module-level functions: the workers import this module) -----------

def _study_in_worker(first: int, count: int) -> lc.ScenarioTable:
    return lc.monte_carlo(SMALL, BOOK_MODEL, SHOCKS, count, seed=11, first_scenario=first, threads=1, progress=False)


def _simulate_in_worker(book: lc.OrderBook, positions: lc.Positions) -> tuple[lc.SimulationResult, lc.CascadeResult]:
    sim = lc.simulate(book, positions, "binance", steps=50, flow=-5.0 * (np.arange(50) < 10), insurance_fund=1e4)
    return sim, lc.cascade(book, positions, -0.04)


def test_objects_cross_a_process_pool(book, positions, simulation):
    # spawn: a fresh interpreter that must unpickle everything it is sent (no fork inheritance)
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        halves = list(pool.map(_study_in_worker, [0, 3], [3, 3]))
        sim, result = pool.submit(_simulate_in_worker, book, positions).result()
    whole = _study_in_worker(0, 6)
    for name in whole.columns:  # the split study, concatenated, is the whole one
        np.testing.assert_array_equal(np.concatenate([h[name] for h in halves]), whole[name])
    assert halves[1].seed == 11
    assert_simulations_equal(simulation, sim)
    assert_cascades_equal(lc.cascade(book, positions, -0.04), result)
