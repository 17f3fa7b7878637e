"""Regression tests for the hardening audit (a hang, trades at prices <= 0, undefined
behaviour, impossible numbers, the caller's arrays, error types, long calls): each reproducer
of the audit, as it was reported, and what it must do now."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import liqcascade as lc

BTC_TIERS = lc.MaintenanceTiers.binance_btcusdt()

# Random markets include positions already past their liquidation price at the reference (the
# engine must handle them); the library warns about them, which is not under test here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:positions. .* already past their liquidation price:liqcascade.LiqcascadeWarning")


def answers_ctrl_c(setup: str, loop: str, wait: float) -> None:
    """In a fresh interpreter: run `setup`, then `loop` over and over; SIGINT after `wait`
    seconds must end it with KeyboardInterrupt (the time limit is a hang guard, not a timing)."""
    script = "\n".join(["import sys, numpy as np, liqcascade as lc", setup,
                        "sys.stdout.write('ready\\n'); sys.stdout.flush()",
                        "try:", "    while True:", *("        " + line for line in loop.splitlines()),
                        "except KeyboardInterrupt:", "    print('interrupted')"])
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(wait)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert "interrupted" in out, err


# -- 1. the hang ----------------------------------------------------------------------------------

def test_bybit_partial_close_that_rounds_onto_its_tier_floor_ends():
    # After a reduction to keep = floor / mark, keep * mark rounded to just above the floor:
    # the tier lookup returned the same tier, the next reduction was exactly 0, forever.
    m = 96211.60209131344
    book = lc.OrderBook([m, m - 10], [1000, 1000], [103000], [1])
    positions = lc.Positions(1, 1.0, 100_000.0, 3800.0, tiers=BTC_TIERS)
    sim = lc.simulate(book, positions, lc.LiquidationPolicy.bybit(), 1, shock=-0.03407631803279687)
    events = sim.events
    assert np.all(events.qty > 0) and np.all(events.price > 0)
    # reduced to the lower tier's limit (50,000 of notional at the mark), then closed in the first tier
    assert events.qty.sum() + sim.final_qty[0] == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("seed", range(32))
def test_random_bybit_markets_end(seed):
    # 12 of 32 random valid Bybit markets hung in the audit; each now ends, with its accounting.
    rng = np.random.default_rng(seed)
    mid = 100_000.0 * rng.uniform(0.9, 1.1)
    bid = mid - np.arange(1, 200) * rng.uniform(5, 50)
    book = lc.OrderBook(bid, rng.uniform(0.1, 5, bid.size), mid + np.arange(1, 200) * 10.0, np.ones(199))
    n = 50
    positions = lc.Positions.from_leverage(rng.choice([-1, 1], n), rng.uniform(0.1, 40, n),
                                           mid * rng.uniform(0.95, 1.05, n), rng.uniform(2, 20, n),
                                           tiers=BTC_TIERS)
    sim = lc.simulate(book, positions, "bybit", 20, shock=float(rng.uniform(-0.08, 0.08)),
                      resilience=0.05, insurance_fund=1e4)
    assert np.all(sim.final_qty >= 0) and np.all(sim.final_qty <= positions.qty)
    assert np.all(np.isfinite(sim.events.price)) and np.all(sim.events.price > 0)


def test_a_simulation_stuck_in_one_step_answers_ctrl_c():
    # The liquidation loop reads the cancel flag: a huge step is stopped by SIGINT.
    answers_ctrl_c("from liqcascade.scenarios import calibrated_book, default_positions\n"
                   "book, positions = calibrated_book(), default_positions(2_000_000)",
                   "lc.simulate(book, positions, 'binance', 1000, shock=-0.3, resilience=0.5)", wait=1.0)


# -- 2. trades at prices <= 0 ---------------------------------------------------------------------

def test_levels_shifted_to_zero_or_below_are_gone():
    # simulate shifts the book by path - mid: a low path put bids at or below 0, and a long
    # was liquidated at 0. Those levels are gone now: nothing fills there.
    book = lc.OrderBook([99.0, 98.0, 50.0], [1.0, 1.0, 100.0], [101.0], [1.0])
    positions = lc.Positions([1, 1], [1.0, 1.0], [100.0, 100.0], [10.0, 5.0])
    sim = lc.simulate(book, positions, "market_orders", 3, path=[100.0, 2.0, 0.5])
    assert np.all(sim.events.price > 0)
    assert np.all(np.isnan(sim.timeline.best_bid) | (sim.timeline.best_bid > 0))
    assert np.all(sim.timeline.bid_depth >= 0)
    assert sim.timeline.bid_depth[-1] == 0.0  # every bid level is below 0 at a fundamental of 0.5


def test_an_index_mark_that_would_reach_zero_is_an_error_naming_basis():
    book = lc.OrderBook([99.0], [1.0], [101.0], [1.0])
    positions = lc.Positions(1, 1.0, 100.0, 10.0)
    with pytest.raises(ValueError, match=r"^basis: the index mark path \+ basis must stay > 0"):
        lc.simulate(book, positions, "binance", 3, mark="index", basis=-1000.0)
    with pytest.raises(ValueError, match=r"^basis:"):
        lc.simulate(book, positions, "binance", 2, mark="index", basis=-50.0, path=[100.0, 40.0])
    # a basis the path stays above is fine
    assert lc.simulate(book, positions, "binance", 2, mark="index", basis=-30.0, path=[100.0, 40.0]).timeline.mark_price[1] == 10.0


# -- 3. undefined behaviour -----------------------------------------------------------------------

@pytest.mark.parametrize("halt", [2**63 - 1, 2**63 - 2, 10**6])
def test_a_halt_longer_than_the_run_halts_to_its_end(halt):
    # halt = 2**63 - 1 never halted and 2**63 - 2 halted forever (signed overflow).
    book = lc.OrderBook([99.0, 90.0], [1.0, 1.0], [101.0], [1.0])
    positions = lc.Positions(1, 1.0, 100.0, 50.0)
    sim = lc.simulate(book, positions, "binance", 5, shock=-0.05, breakers=[lc.CircuitBreaker(0.01, 1, halt)])
    assert sim.timeline.halted.tolist() == [False, True, True, True, True]


def test_integers_beyond_int64_are_refused_naming_the_field():
    book = lc.OrderBook([99.0], [1.0], [101.0], [1.0])
    positions = lc.Positions(1, 1.0, 100.0, 10.0)
    with pytest.raises(ValueError, match=r"^breakers.halt: must be <= 9223372036854775807"):
        lc.simulate(book, positions, "binance", 2, breakers=[lc.CircuitBreaker(0.01, 1, 2**63)])
    with pytest.raises(ValueError, match=r"^max_orders_per_step: must be <= "):
        lc.LiquidationPolicy(max_orders_per_step=2**64)
    with pytest.raises(ValueError, match=r"^steps: must be in \[1, 2\*\*40\]"):
        lc.simulate(book, positions, "binance", 2**41)


def test_misaligned_and_strided_arrays_are_copied_not_read_in_place():
    def misaligned(values):
        values = np.asarray(values, dtype=np.float64)
        buffer = bytearray(values.nbytes + 1)
        out = np.frombuffer(buffer, dtype=np.float64, offset=1, count=values.size)
        out[:] = values
        assert not out.flags.aligned
        return out

    book = lc.OrderBook(misaligned([99.0, 98.0]), misaligned([1.0, 2.0]), [101.0], [1.0])
    assert book.depth(0.5).bid_qty == 3.0
    positions = lc.Positions(np.array([1, 1], dtype=np.int8), misaligned([1.0, 2.0]), misaligned([100.0, 100.0]),
                             misaligned([5.0, 50.0]))
    assert positions.liquidation_price.tolist() == lc.Positions([1, 1], [1.0, 2.0], [100.0, 100.0], [5.0, 50.0]).liquidation_price.tolist()
    strided = np.array([0.01, 9.9, -0.02, 9.9])[::2]
    rows = lc.cascade_many(book, positions, strided)
    assert rows.shock.tolist() == [0.01, -0.02]
    rows = lc.cascade_many(book, positions, misaligned([0.01, -0.02]))
    assert rows.shock.tolist() == [0.01, -0.02]


# -- 4. impossible numbers from finite input ------------------------------------------------------

def test_shocks_that_overflow_the_price_are_errors():
    book = lc.OrderBook([99.0], [1.0], [101.0], [1.0])
    positions = lc.Positions(1, 1.0, 100.0, 10.0)
    with pytest.raises(ValueError, match=r"^shock: moves the reference price 100 to inf"):
        lc.cascade(book, positions, 1e308)
    with pytest.raises(ValueError, match=r"^shock: moves the reference price"):
        lc.cascade(book, positions, 1.0, ref_price=1e308)
    result = lc.cascade(book, positions, -0.5, ref_price=1e308)  # a finite target is fine
    assert math.isfinite(result.final_price) and math.isfinite(result.amplification)


def test_a_book_near_the_largest_double_has_a_finite_mid():
    book = lc.OrderBook([1e308], [1e-10], [1.5e308], [1e-10])
    assert book.mid == 1.25e308
    with pytest.raises(ValueError, match=r"^bid_qty\[1\]: the side's total quantity or notional"):
        lc.OrderBook([1e308, 9e307], [1.0, 1.0], [1.5e308], [1e-10])


def test_margin_from_an_extreme_leverage_is_an_error_not_zero():
    # from_leverage(1, 1.0, 1e10, 1e-300) gave margin 0 and leverage inf
    with pytest.raises(ValueError, match=r"^leverage\[0\]: too small: the margin qty \* entry_price / leverage overflows"):
        lc.Positions.from_leverage(1, 1.0, 1e10, 1e-300)
    with pytest.raises(ValueError, match=r"^margin\[0\]: must be finite"):
        lc.Positions(1, 1.0, 1e10, math.inf)


def test_scenario_numbers_stay_within_int64():
    population, book_model = lc.PositionPopulation(count=10), lc.BookModel()
    with pytest.raises(ValueError, match=r"^first_scenario: first_scenario \+ n_scenarios must be <= 2\*\*63"):
        lc.monte_carlo(population, book_model, [0.01], 2, first_scenario=2**63, progress=False)
    rows = lc.monte_carlo(population, book_model, [0.01], 2, first_scenario=2**63 - 2, progress=False)
    assert rows.scenario.tolist() == [2**63 - 2, 2**63 - 1]
    assert lc.sample_scenario(population, book_model, [0.01], 0, 2**63 - 1).shock == 0.01
    with pytest.raises(ValueError, match=r"^index: a scenario number must be < 2\*\*63"):
        lc.sample_scenario(population, book_model, [0.01], 0, 2**63)
    with pytest.raises(ValueError, match=r"^scenario: a scenario number must be < 2\*\*63"):
        population.sample(0, 2**64 - 1)


# -- 5. the caller's arrays -----------------------------------------------------------------------

def test_positions_own_their_data():
    book = lc.OrderBook([99.0, 98.0, 94.0], [1.0, 1.0, 1.0], [101.0], [1.0])
    side = np.array([1], dtype=np.int8)
    qty, entry, margin = np.array([1.0]), np.array([100.0]), np.array([5.0])
    positions = lc.Positions(side, qty, entry, margin)
    before = positions.liquidation_price.copy()
    qty[0], entry[0], margin[0], side[0] = -5.0, math.nan, 1e300, -1
    assert positions.qty[0] == 1.0 and positions.side[0] == 1
    assert positions.liquidation_price.tolist() == before.tolist()
    result = lc.cascade(book, positions, -0.05)
    assert result.liquidated_qty == 1.0
    sim = lc.simulate(book, positions, "market_orders", 1, shock=-0.05)
    assert sim.final_qty.tolist() == [0.0]


def test_zero_copy_is_an_explicit_opt_in_that_makes_the_arrays_read_only():
    qty = np.array([1.0, 2.0])
    positions = lc.Positions([1, -1], qty, [100.0, 100.0], [5.0, 5.0], copy=False)
    assert np.shares_memory(positions.qty, qty)
    assert not qty.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        qty[0] = -5.0
    with pytest.raises(TypeError, match=r"^copy: expected a bool"):
        lc.Positions(1, 1.0, 100.0, 5.0, copy="no")


# -- 6. error types -------------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "error", "pattern"), [
    (lambda: lc.PositionPopulation(maint_amount=math.nan), ValueError, r"^maint_amount: must be finite, got nan"),
    (lambda: lc.gbm_path(10, 1.0, 100.0, 0.1, mu=math.nan), ValueError, r"^mu: must be finite, got nan"),
    (lambda: lc.PositionPopulation(count=2**64), ValueError, r"^count: must be <= "),
    (lambda: lc.PositionPopulation(entry_spread=10**400), ValueError, r"^entry_spread: must be finite"),
    (lambda: lc.monte_carlo(lc.PositionPopulation(count=10), lc.BookModel(), [0.01], 2, threads=2**32),
     ValueError, r"^threads: must be <= 4294967295"),
    (lambda: lc.monte_carlo(lc.PositionPopulation(count=10), lc.BookModel(), [0.01], 2, threads=5000),
     ValueError, r"^threads: must be at most 1024"),
    (lambda: lc.random_flow(10, 1e300, 1.0), ValueError, r"^rate: the orders drawn would need"),
    (lambda: lc.BookModel.power(1e6, 0.5, points=-1), ValueError, r"^points: must be >= 2"),
    (lambda: lc.BookModel.exponential(1e6, 0.01, max_distance=math.nan), ValueError, r"^max_distance: must be finite"),
    (lambda: lc.cascade_many(lc.OrderBook([99.0], [1.0], [101.0], [1.0]), lc.Positions(1, 1.0, 100.0, 10.0),
                             [[0.1], [0.1, 0.2]]), ValueError, r"^shocks: cannot be read as a 1-D array"),
    (lambda: lc.monte_carlo(lc.PositionPopulation(count=1000, entry_distribution="student_t", entry_df=5e-324),
                            lc.BookModel(), [-0.01], 2, progress=False),
     ValueError, r"^population: scenario \d+ drew a position the engine cannot represent .*entry_df"),
    (lambda: lc.monte_carlo(lc.PositionPopulation(count=1000), lc.BookModel(level_noise=1e300), [-0.01], 2,
                            progress=False),
     ValueError, r"^book_model: scenario \d+'s sampled book is not a valid book .*level_noise"),
    (lambda: lc.gbm_path(10, 1.0, 100.0, 0.1, jump_rate=1e300), ValueError, r"^jump_rate: at most 1e9 jumps per step"),
])
def test_bad_parameters_raise_errors_that_name_them(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# -- 7. long calls: interruptible, and refused up front when they cannot fit ------------------------

@pytest.mark.parametrize(("call", "pattern"), [
    (lambda: lc.simulate(lc.OrderBook([99.0], [1.0], [101.0], [1.0]), lc.Positions(1, 1.0, 100.0, 10.0),
                         "binance", 10**10), r"^steps: the simulation's timeline would need [\d.]+ GiB of memory"),
    (lambda: lc.monte_carlo(lc.PositionPopulation(count=10), lc.BookModel(), [0.01], 10**12, progress=False),
     r"^n_scenarios: the study's rows would need"),
    (lambda: lc.random_flow(10**12, 1.0, 1.0), r"^steps: the flow would need"),
    (lambda: lc.gbm_path(10**12, 1.0, 100.0, 0.1), r"^steps: the path would need"),
])
def test_runs_that_cannot_fit_in_memory_are_refused_up_front(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


@pytest.mark.parametrize(("call", "fresh_set"), [
    ("lc.sample_scenario(lc.PositionPopulation(count=60_000_000), lc.BookModel(), [0.01], 0, 0)", False),
    ("p.prepare()", True),
    # a fresh set's first cascade sorts its side as far as it reaches: here all of it
    ("lc.cascade(lc.OrderBook([1.5], [1e12], [2.5], [1.0]), p, -0.9)", True),
])
def test_long_calls_answer_ctrl_c(call, fresh_set):
    if fresh_set:  # a fresh 30M-position set each time: every call sorts
        answers_ctrl_c("p = lc.Positions(np.ones(30_000_000, np.int8), 1.0, "
                       "np.random.default_rng(0).uniform(1, 2, 30_000_000), 0.1)",
                       call + "\np = lc.Positions(p.side, p.qty, p.entry_price, p.margin, copy=False)", wait=1.5)
    else:
        answers_ctrl_c("", call, wait=1.5)


# -- findings of the fuzzing harness's long runs (tests/fuzz/FINDINGS.md) --------------------------

@pytest.mark.parametrize(("call", "pattern"), [
    (lambda: lc.Positions([1, 1], [1.0, 10**400], 100.0, 10.0), r"^qty: a value is too large for a float64"),
    (lambda: BTC_TIERS.assign([10**400]), r"^notional: a value is too large for a float64"),
    (lambda: BTC_TIERS.tier_of([[], [1.0]]), r"^notional: cannot be read as a 1-D array"),
    (lambda: lc.monte_carlo(lc.PositionPopulation(count=10), lc.BookModel(), [[0.1], [0.1, 0.2]], 1),
     r"^values: cannot be read as a 1-D array"),
    (lambda: lc.buffer_cache(2**63), r"^limit: must be <= "),
    (lambda: lc.gbm_path(100, 60.0, 100.0, 1.0), r"^sigma: the path leaves the range of a price"),
    (lambda: lc.gbm_path(100, 1.0, 100.0, 0.1, jump_rate=1.0, jump_mean=1e300), r"^sigma: the path leaves"),
    (lambda: lc.simulate(lc.OrderBook([99.0], [1.0], [101.0], [1.0]), lc.Positions(1, 1.0, 100.0, 10.0),
                         "binance", 10, dt=1e308), r"^dt: must be finite and > 0, and dt \* steps finite"),
    (lambda: lc.cascade(lc.OrderBook([99.0], [1.0], [101.0], [1.0]), lc.Positions(1, 1.0, 100.0, 10.0),
                        buy_qty=0.5, ref_price=5e-324), r"^ref_price: too small for this book"),
])
def test_fuzzing_findings_are_errors_naming_the_parameter(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_empirical_shocks_of_strings_and_tiny_student_t_df():
    with pytest.raises(TypeError, match=r"^values: expected numbers"):
        lc.ShockModel.empirical(["x"])
    # a Student-t of a tiny df draws infinite moves: they are redrawn, never returned or cascaded
    population = lc.PositionPopulation(count=100)
    with pytest.warns(lc.LiqcascadeWarning):
        model = lc.ShockModel.student_t(5e-324, 0.01)
    shock = lc.sample_scenario(population, lc.BookModel(), model, 0, 0).shock
    assert math.isfinite(shock) and shock > -1
    rows = lc.monte_carlo(population, lc.BookModel(), model, 4, progress=False)
    assert np.all(np.isfinite(rows.shock)) and np.all(np.isfinite(rows.final_price))


# -- found by the invariants under the sanitizer run ------------------------------------------------

def test_a_netted_fund_inventory_is_never_deleveraged_at_a_price_of_zero_or_below():
    # Long and short takeovers netted into one inventory gave it an "average cost" of -9, and
    # the fund deleveraged its rest at -9. A takeover of the other side now closes inventory
    # at the takeover price, its PnL realised in the takeover's event.
    book = lc.OrderBook([99.5], [0.5], [100.5, 101.0, 101.5, 102.0, 102.5], [0.5, 0.0625, 0.5, 0.5, 0.5])
    positions = lc.Positions([1] * 12 + [-1] * 3, [0.5] * 11 + [3.5, 1.125, 3.0, 0.5],
                             [95.0] * 10 + [100.0, 100.0, 95.0, 80.0, 95.0], 0.0, 0.0)
    sim = lc.simulate(book, positions, "binance", 1, band=0.01, insurance_fund=5.0)
    events = sim.events
    assert np.all(events.price > 0)
    before = np.concatenate(([5.0], events.fund[:-1]))
    np.testing.assert_allclose(events.fund - before, events.fee - events.loss, atol=1e-9)
    assert events.loss[events.kind == 1].max() == pytest.approx(60.0)  # took 3 short at 80 against longs at 100


def test_adl_leaves_no_dust_positions():
    # 1.9999999999999991 deleveraged against a short of 2.0 left 8.9e-16 open, deleveraged again later
    book = lc.OrderBook([99.5], [0.5], [100.5], [0.5])
    qty = [0.5] * 4 + [1.9999999999999991] + [0.5] * 6 + [2.0] + [0.5] * 4
    side = [1] * 11 + [-1] + [1] * 4
    positions = lc.Positions(side, qty, 95.0, 0.0, [0.0] * 4 + [0.004] + [0.0] * 11)
    sim = lc.simulate(book, positions, "binance", 1, shock=-0.25)
    adl = sim.events.kind == 2
    assert np.all(sim.events.qty[adl] > 1e-12)
    assert sim.final_qty[11] == 0.0
