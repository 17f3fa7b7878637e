// The engine without Python: a C++ program that embeds cascade_core::cascade_core, as an
// exchange's risk system would. Built and run by tests/test_cpp_core.py (or by hand:
// cmake -S . -B build/cpp -DCASCADE_CORE_BUILD_TESTS=ON && cmake --build build/cpp &&
// ctest --test-dir build/cpp).
//
// Named cases: TEST_CASE("rule") { ... CHECK(expr); ... } registers a case under the rule it
// checks. `cascade_core_tests [text]` runs every case (or those whose names contain `text`),
// prints "ok  <name>" or "FAIL <name>: <file>:<line>: CHECK(<expr>)" for each, and ends with
// "N cases, M failed"; the exit code is 0 only when none failed. A failed CHECK ends its case;
// an exception escaping a case fails it, naming the exception.
#include <cascade_core/aggregate_cascade.hpp>
#include <cascade_core/book_walker.hpp>
#include <cascade_core/correlated_shocks.hpp>
#include <cascade_core/bulk_allocator.hpp>
#include <cascade_core/cascade.hpp>
#include <cascade_core/errors.hpp>
#include <cascade_core/margin.hpp>
#include <cascade_core/models.hpp>
#include <cascade_core/monte_carlo.hpp>
#include <cascade_core/order_book.hpp>
#include <cascade_core/position_sampler.hpp>
#include <cascade_core/positions.hpp>
#include <cascade_core/radix_sort.hpp>
#include <cascade_core/resources.hpp>
#include <cascade_core/rng.hpp>
#include <cascade_core/simulator.hpp>
#include <cascade_core/trigger_order.hpp>
#include <cascade_core/venue.hpp>
#include <cascade_core/venue_simulator.hpp>
#include <cascade_core/venue_population.hpp>
#include <cascade_core/venue_study.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <optional>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <future>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace cc = cascade_core;

// ---- a tiny self-registering test framework ------------------------------------------------

namespace {

struct TestCase {
  const char* name;
  void (*run)();
};

std::vector<TestCase>& registry() {
  static std::vector<TestCase> cases;
  return cases;
}

struct Registrar {
  Registrar(const char* name, void (*run)()) { registry().push_back({name, run}); }
};

// Thrown by a failed CHECK: ends the case, the runner reports where.
struct CheckFailed {
  const char* file;
  int line;
  const char* expr;
};

// Set by a case that had to leave a thread running (a call that did not return): the runner
// then exits without running static destructors under it.
bool abandoned_thread = false;

}  // namespace

#define CASCADE_TEST_CAT2(a, b) a##b
#define CASCADE_TEST_CAT(a, b) CASCADE_TEST_CAT2(a, b)
#define CASCADE_TEST_CASE2(name, fn)                                  \
  static void fn();                                                   \
  static const Registrar CASCADE_TEST_CAT(fn, _registrar){name, &fn}; \
  static void fn()
#define TEST_CASE(name) CASCADE_TEST_CASE2(name, CASCADE_TEST_CAT(test_case_, __LINE__))

#define CHECK(cond)                                            \
  do {                                                         \
    if (!(cond)) throw CheckFailed{__FILE__, __LINE__, #cond}; \
  } while (0)

// Whether `call()` throws cc::InputError naming `field`.
template <class Call>
static bool throws_input_error(const char* field, Call&& call) {
  try {
    call();
  } catch (const cc::InputError& error) {
    return error.field() == field;
  }
  return false;
}

// ---- helpers -------------------------------------------------------------------------------

// Whether the batch sampler's rows are the one-at-a-time draws of the side asked for, bit for
// bit and in index order.
static bool batch_matches_one_at_a_time(const cc::PopulationModel& pop, double ref_price, std::uint64_t seed,
                                        std::uint64_t scenario, int only_side) {
  cc::PositionSample sample;
  cc::sample_positions(pop, ref_price, seed, scenario, only_side, sample);
  std::size_t row = 0;
  bool same = true;
  for (std::uint32_t j = 0; j < pop.count; ++j) {
    const cc::PositionDraw d = cc::sample_position(pop, ref_price, seed, scenario, j);
    if (only_side != 0 && d.side != only_side) continue;
    same = same && row < sample.side.size() && sample.side[row] == d.side && sample.qty[row] == d.qty &&
           sample.entry_price[row] == d.entry_price && sample.margin[row] == d.margin && sample.mmr[row] == d.mmr &&
           sample.maint_amount[row] == d.maint_amount;
    ++row;
  }
  return same && row == sample.side.size();
}

// Whether a study's trigger records of one side are, in index order, the threshold (-0.0 as
// +0.0), quantity and bankruptcy price a PositionSet computes from sample_positions' columns,
// bit for bit, with the range of their sort keys.
static bool triggers_match_columns(const cc::PopulationModel& pop, double ref_price, std::uint64_t seed,
                                   std::uint64_t scenario, int only_side) {
  cc::PositionSample sample;
  cc::sample_positions(pop, ref_price, seed, scenario, only_side, sample);
  const cc::PositionSet set(sample.columns());
  cc::TriggerSample triggers;
  const cc::Direction direction = only_side > 0 ? cc::Direction::down : cc::Direction::up;
  cc::sample_triggers(pop, ref_price, seed, scenario, direction, triggers);
  const auto bits = [](double x) { return std::bit_cast<std::uint64_t>(x); };
  const cc::TriggerOrderKey key(direction);
  std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
  bool same = triggers.valid && triggers.records.size() == set.size();
  for (std::size_t i = 0; same && i < set.size(); ++i) {
    const cc::Trigger& t = triggers.records[i];
    same = bits(t.threshold) == bits(set.liquidation_price()[i] + 0.0) && bits(t.qty) == bits(sample.qty[i]) &&
           bits(t.bankruptcy) == bits(set.bankruptcy_price()[i]);
    lo = std::min(lo, key.of(t.threshold));
    hi = std::max(hi, key.of(t.threshold));
  }
  return same && (set.size() == 0 || (triggers.key_lo == lo && triggers.key_hi == hi));
}

// Every field of two cascade results, doubles bit for bit.
static bool same_result(const cc::CascadeResult& a, const cc::CascadeResult& b) {
  const auto eq = [](double x, double y) { return std::bit_cast<std::uint64_t>(x) == std::bit_cast<std::uint64_t>(y); };
  bool same = a.direction == b.direction && eq(a.ref_price, b.ref_price) && eq(a.shock_price, b.shock_price) &&
              eq(a.final_price, b.final_price) && a.n_liquidated == b.n_liquidated &&
              eq(a.liquidated_qty, b.liquidated_qty) && eq(a.liquidated_notional, b.liquidated_notional) &&
              eq(a.unfilled_qty, b.unfilled_qty) && a.rounds == b.rounds && a.book_exhausted == b.book_exhausted &&
              eq(a.bad_debt, b.bad_debt) && a.levels_touched == b.levels_touched && a.trace.size() == b.trace.size();
  for (std::size_t r = 0; same && r < a.trace.size(); ++r) {
    same = eq(a.trace[r].start_price, b.trace[r].start_price) && a.trace[r].count == b.trace[r].count &&
           eq(a.trace[r].qty, b.trace[r].qty);
  }
  return same;
}

// The small study of the thread-count case, also used where only valid models are needed.
static cc::PopulationModel small_population() {
  cc::PopulationModel population;
  population.count = 5000;
  population.leverage = {10.0, 25.0};
  population.leverage_weights = {0.5, 0.5};
  population.entry_spread = 0.02;
  population.open_interest = 5e6;
  return population;
}

static cc::BookModel small_book_model() {
  cc::BookModel book_model;
  book_model.mid = 100000.0;
  book_model.tick = 1.0;
  book_model.profile_distance = {0.0, 0.01, 0.1};
  book_model.profile_notional = {0.0, 2e6, 8e6};
  book_model.level_noise = 0.2;
  return book_model;
}

static cc::ShockModel small_shocks() {
  cc::ShockModel shocks;
  shocks.kind = cc::ShockModel::Kind::normal;
  shocks.scale = 0.03;
  return shocks;
}

// Binance BTCUSDT's maintenance tiers.
static cc::TierTable binance_btcusdt_tiers() {
  cc::TierTable tiers;
  tiers.notional_floor = {0.0, 5e4, 6e5, 3e6, 1.2e7, 7e7, 1e8, 2.3e8, 4.8e8, 6e8, 8e8, 1.2e9};
  tiers.mmr = {0.004, 0.005, 0.0065, 0.01, 0.02, 0.025, 0.05, 0.1, 0.125, 0.15, 0.25, 0.5};
  tiers.maint_amount = {0.0,       50.0,       950.0,      11450.0,    131450.0,    481450.0,
                        2981450.0, 14481450.0, 26481450.0, 41481450.0, 121481450.0, 421481450.0};
  return tiers;
}

// ---- random numbers ------------------------------------------------------------------------

TEST_CASE("philox4x32_10: Random123's known answer for zero counter and key") {
  const auto block = cc::philox4x32_10({0, 0, 0, 0}, {0, 0});
  CHECK(block[0] == 0x6627E8D5U && block[3] == 0x9B00DBD8U);
}

TEST_CASE("philox_blocks: the batch Philox is philox4x32_10, counter by counter") {
  // (vectorised where the CPU allows)
  std::vector<std::uint32_t> item(1003), w0(1003), w1(1003), w2(1003), w3(1003);
  for (std::size_t i = 0; i < item.size(); ++i) item[i] = static_cast<std::uint32_t>(i * 2654435761U);
  cc::philox_blocks(item.size(), item.data(), 7U << 24, 0xDEADBEEFU, 3U, {0x243F6A88U, 0x85A308D3U}, w0.data(),
                    w1.data(), w2.data(), w3.data());
  bool same = true;
  for (std::size_t i = 0; i < item.size(); ++i) {
    const auto want = cc::philox4x32_10({item[i], 7U << 24, 0xDEADBEEFU, 3U}, {0x243F6A88U, 0x85A308D3U});
    same = same && want[0] == w0[i] && want[1] == w1[i] && want[2] == w2[i] && want[3] == w3[i];
  }
  CHECK(same);
}

// ---- margin --------------------------------------------------------------------------------

TEST_CASE("liquidation price: Binance's worked example (docs/design.md)") {
  CHECK(std::abs(cc::liquidation_price(1, 1.0, 100000.0, 5000.0, 0.005, 50.0) - 95427.1) < 0.05);
}

// ---- the static cascade --------------------------------------------------------------------

// Long 1 @ 100 with margin 1.5 (liq 98.5) and a long liquidated at 90, on a three-level bid side.
struct SmallCascade {
  std::vector<double> bid_price{99.0, 98.0, 97.0}, bid_qty{1.0, 1.0, 5.0};
  std::vector<double> ask_price{101.0}, ask_qty{1.0};
  cc::OrderBook book{bid_price, bid_qty, ask_price, ask_qty};
  std::vector<std::int8_t> side{1, 1};
  std::vector<double> qty{1.0, 1.0}, entry{100.0, 100.0}, margin{1.5, 10.0}, zero{0.0, 0.0};
};

TEST_CASE("margin rules: Bybit's entry-basis example and the tier at the liquidation price") {
  // Bybit: long 1 BTC at 20,000, 50x (margin 400), mmr 0.5 %, requirement at entry -> 19,700
  const cc::MarginRule at_entry{cc::MarginBasis::entry, 0.0};
  CHECK(std::abs(cc::liquidation_price(1, 1.0, 20000.0, 400.0, 0.005, 0.0, at_entry) - 19700.0) < 1e-9);
  // at mark basis without a fee, the rule's form is the six-argument form, to the bit
  CHECK(cc::liquidation_price(-1, 0.3, 101.0, 7.0, 0.01, 0.2, cc::MarginRule{}) ==
        cc::liquidation_price(-1, 0.3, 101.0, 7.0, 0.01, 0.2));
  // Binance BTCUSDT's first brackets: 0.52 BTC at 100,000, 20x: entry notional 52,000 (second
  // bracket), liquidation notional ~49,600 (first): the tier at the liquidation price is 0
  cc::TierTable table;
  table.notional_floor = {0.0, 50000.0, 600000.0};
  table.mmr = {0.004, 0.005, 0.0065};
  table.maint_amount = cc::TierTable::continuous_maint_amount(table.notional_floor, table.mmr);
  CHECK(table.tier_at_liquidation(1, 0.52, 100000.0, 2600.0, cc::MarginRule{}) == 0);
  CHECK(table.tier_for(cc::TierRule::entry, 1, 0.52, 100000.0, 2600.0, cc::MarginRule{}) == 1);
  // a short growing into the next bracket: 0.49 BTC at 100,000, 20x -> tier 1
  CHECK(table.tier_at_liquidation(-1, 0.49, 100000.0, 2450.0, cc::MarginRule{}) == 1);
  // leverage limits: 1,000x where the tier allows 100x is rejected naming leverage, or clipped
  table.max_leverage = {125.0, 100.0, 75.0};
  const std::vector<std::int8_t> side{1};
  const std::vector<double> qty{1.0}, entry{100000.0}, margin{100.0};
  std::vector<double> mmr(1), maint(1), out_margin(1);
  bool raised = false;
  try {
    (void)cc::assign_tiers(table, side, qty, entry, margin, {}, cc::TierRule::liquidation, cc::LeverageLimit::reject,
                           mmr, maint, out_margin);
  } catch (const cc::InputError& error) {
    raised = error.field() == "leverage" && error.index() == 0;
  }
  CHECK(raised);
  CHECK(cc::assign_tiers(table, side, qty, entry, margin, {}, cc::TierRule::liquidation, cc::LeverageLimit::clip,
                         mmr, maint, out_margin) == 1);
  CHECK(std::abs(out_margin[0] - 1000.0) < 1e-9);
}

TEST_CASE("cascade: a sell of 1.5 moves to 98, liquidates the long at 98.5 and ends at 97") {
  const SmallCascade s;
  const cc::PositionSet positions(cc::PositionColumns{s.side, s.qty, s.entry, s.margin, s.zero, s.zero});
  const auto result = cc::cascade(s.book, positions, cc::Shock::sell(1.5), std::nullopt);
  CHECK(result.shock_price == 98.0);
  CHECK(result.n_liquidated == 1 && result.final_price == 97.0);
}

TEST_CASE("PositionSet: bad input is an InputError naming the field and index") {
  const SmallCascade s;
  const std::vector<double> bad_qty{1.0, -1.0};
  bool raised = false;
  try {
    const cc::PositionSet rejected(cc::PositionColumns{s.side, bad_qty, s.entry, s.margin, s.zero, s.zero});
  } catch (const cc::InputError& error) {
    raised = true;
    CHECK(error.field() == "qty" && error.index() == 1);
  }
  CHECK(raised);
}

TEST_CASE("PositionSet: qty * entry_price + margin beyond sum_bound(n) is rejected naming qty") {
  const std::vector<std::int8_t> side{1, 1};
  const double share = cc::sum_bound(2);
  const std::vector<double> qty{1.0, 1.0}, zero{0.0, 0.0};
  // within the bound: accepted
  const std::vector<double> entry{0.5 * share, 0.9 * share}, margin{0.0, 0.05 * share};
  const cc::PositionSet accepted(cc::PositionColumns{side, qty, entry, margin, zero, zero});
  CHECK(accepted.size() == 2);
  // the second position's notional is within it, its notional plus margin is not
  const std::vector<double> too_much_margin{0.0, 0.2 * share};
  bool raised = false;
  try {
    const cc::PositionSet rejected(cc::PositionColumns{side, qty, entry, too_much_margin, zero, zero});
  } catch (const cc::InputError& error) {
    raised = true;
    CHECK(error.field() == "qty" && error.index() == 1);
  }
  CHECK(raised);
  // one position of a set of one: notional 1e308 > max / 2
  const std::vector<std::int8_t> one_side{1};
  const std::vector<double> one{1.0}, huge{1e308}, none{0.0};
  CHECK(throws_input_error(
      "qty", [&] { const cc::PositionSet rejected(cc::PositionColumns{one_side, one, huge, none, none, none}); }));
}

TEST_CASE("cascade: a relative shock whose target price overflows is an InputError naming shock") {
  const std::vector<double> bid_price{1e308}, bid_qty{1.0}, ask_price{1.5e308}, ask_qty{1.0};
  const cc::OrderBook book(bid_price, bid_qty, ask_price, ask_qty);
  const std::vector<std::int8_t> side{-1};
  const std::vector<double> qty{1.0}, entry{1e300}, margin{1e299}, zero{0.0};
  const cc::PositionSet positions(cc::PositionColumns{side, qty, entry, margin, zero, zero});
  // mid 1.25e308 * (1 + 0.5) is beyond the largest double
  CHECK(
      throws_input_error("shock", [&] { (void)cc::cascade(book, positions, cc::Shock::relative(0.5), std::nullopt); }));
  CHECK(throws_input_error("shock", [&] { (void)cc::cascade(book, positions, cc::Shock::relative(1.0), 1e308); }));
}

TEST_CASE("AggregateCascade: integer quantities give cascade()'s results to the bit, both ways") {
  // levels and positions of 1..3 units: sales end exactly on level boundaries again and again
  std::vector<double> bid_price, bid_qty, ask_price, ask_qty;
  for (int k = 0; k < 40; ++k) {
    bid_price.push_back(999.0 - k);
    ask_price.push_back(1001.0 + k);
    bid_qty.push_back(1.0 + k % 3);
    ask_qty.push_back(1.0 + (k * 7) % 3);
  }
  const cc::OrderBook book(bid_price, bid_qty, ask_price, ask_qty);
  std::vector<std::int8_t> side;
  std::vector<double> qty, entry, margin, zero;
  for (int i = 0; i < 300; ++i) {
    side.push_back(i % 2 == 0 ? 1 : -1);
    qty.push_back(1.0 + (i * 5) % 3);
    entry.push_back(1000.0);
    margin.push_back(qty.back() * (0.5 + (i * 37) % 60));  // liquidation 0.5..60 away from 1000
    zero.push_back(0.0);
  }
  const cc::PositionSet positions(cc::PositionColumns{side, qty, entry, margin, zero, zero});
  const cc::AggregateCascade aggregate(book, positions, true, true);
  std::vector<cc::Shock> shocks{cc::Shock::sell(3.0), cc::Shock::buy(7.0), cc::Shock::sell(500.0)};
  for (int k = 1; k <= 60; ++k) {
    shocks.push_back(cc::Shock::relative(-0.001 * k));
    shocks.push_back(cc::Shock::relative(0.001 * k));
  }
  for (const cc::Shock& shock : shocks) {
    const auto want = cc::cascade(book, positions, shock, std::nullopt, false);
    const auto got = aggregate.run(shock, std::nullopt);
    CHECK(got.final_price == want.final_price && got.shock_price == want.shock_price);
    CHECK(got.n_liquidated == want.n_liquidated && got.rounds == want.rounds);
    CHECK(got.book_exhausted == want.book_exhausted && got.levels_touched == want.levels_touched);
    CHECK(got.liquidated_qty == want.liquidated_qty && got.unfilled_qty == want.unfilled_qty);
    CHECK(std::abs(got.liquidated_notional - want.liquidated_notional) <= 1e-12 * want.liquidated_notional);
    CHECK(std::abs(got.bad_debt - want.bad_debt) <= 1e-12 * want.liquidated_notional);
    CHECK(got.trace.size() == want.trace.size());
    for (std::size_t r = 0; r < std::min(got.trace.size(), want.trace.size()); ++r) {
      CHECK(got.trace[r].start_price == want.trace[r].start_price && got.trace[r].count == want.trace[r].count &&
            got.trace[r].qty == want.trace[r].qty);
    }
  }
  CHECK(aggregate.fallbacks() == 0);
}

TEST_CASE("AggregateCascade: a direction not indexed is a logic_error, a cancelled index Cancelled") {
  const SmallCascade s;
  const cc::PositionSet positions(cc::PositionColumns{s.side, s.qty, s.entry, s.margin, s.zero, s.zero});
  const cc::AggregateCascade down_only(s.book, positions, true, false);
  bool raised = false;
  try {
    (void)down_only.run(cc::Shock::relative(0.01), std::nullopt);
  } catch (const std::logic_error&) {
    raised = true;
  }
  CHECK(raised);
  std::atomic<bool> cancel{true};
  raised = false;
  try {
    const cc::AggregateCascade cancelled(s.book, positions, true, true, &cancel);
  } catch (const cc::Cancelled&) {
    raised = true;
  }
  CHECK(raised);
}

// ---- the order book ------------------------------------------------------------------------

TEST_CASE("OrderBook: the mid of a book near the largest double is finite") {
  const double max = std::numeric_limits<double>::max();
  const std::vector<double> bid_price{0.9 * max}, bid_qty{1.0}, ask_price{max}, ask_qty{1.0};
  const cc::OrderBook book(bid_price, bid_qty, ask_price, ask_qty);
  const double mid = book.mid();
  CHECK(std::isfinite(mid));
  CHECK(mid > book.best_bid() && mid < book.best_ask());
}

TEST_CASE("BookWalker: levels shifted to prices <= 0 fill nothing, best is NaN, remaining 0") {
  const std::vector<double> bid_price{100.0, 90.0, 80.0}, bid_qty{1.0, 2.0, 4.0};
  const std::vector<double> ask_price{110.0}, ask_qty{1.0};
  const cc::OrderBook book(bid_price, bid_qty, ask_price, ask_qty);
  const double no_limit = -std::numeric_limits<double>::infinity();
  {
    // shifted by -95: 5, -5, -15: only the first level is still a price
    cc::BookWalker walker(book.bids(), true, true);
    CHECK(walker.best(-95.0) == 5.0);
    CHECK(walker.remaining(-95.0) == 1.0);
    double last = 0.0;
    const auto fill = walker.take(10.0, last, no_limit, -95.0);
    CHECK(fill.qty == 1.0 && fill.notional == 5.0 && fill.unfilled == 9.0 && last == 5.0);
    CHECK(std::isnan(walker.best(-95.0)));
    CHECK(walker.remaining(-95.0) == 0.0);
    // unshifted, the levels it did not reach are still there
    CHECK(walker.best() == 90.0 && walker.remaining() == 6.0);
  }
  {
    // shifted by -100 and more: every level at a price <= 0 (0 itself is not a price)
    for (const double shift : {-100.0, -250.0}) {
      cc::BookWalker walker(book.bids(), true, true);
      CHECK(std::isnan(walker.best(shift)));
      CHECK(walker.remaining(shift) == 0.0);
      double last = 42.0;
      const auto fill = walker.take(3.0, last, no_limit, shift);
      CHECK(fill.qty == 0.0 && fill.notional == 0.0 && fill.unfilled == 3.0 && last == 42.0);
      CHECK(walker.consumed() == 0.0 && walker.levels_touched() == 0);
    }
  }
}

// ---- Monte Carlo studies -------------------------------------------------------------------

TEST_CASE("run_monte_carlo: a study is the same on one thread and on three") {
  cc::RunControl one, three;
  const auto a = cc::run_monte_carlo(small_population(), small_book_model(), small_shocks(), 9, 0, 16, 1, one);
  const auto b = cc::run_monte_carlo(small_population(), small_book_model(), small_shocks(), 9, 0, 16, 3, three);
  CHECK(a.final_price == b.final_price && a.bad_debt == b.bad_debt);
  CHECK(one.done.load() == 16);
}

TEST_CASE("run_monte_carlo and sample_scenario: scenario numbers beyond 2**63 are refused naming the field") {
  const auto population = small_population();
  const auto book_model = small_book_model();
  const auto shocks = small_shocks();
  constexpr std::uint64_t limit = std::uint64_t{1} << 63;
  CHECK(throws_input_error("index", [&] { (void)cc::sample_scenario(population, book_model, shocks, 9, limit); }));
  CHECK(throws_input_error("index",
                           [&] { (void)cc::sample_scenario(population, book_model, shocks, 9, ~std::uint64_t{0}); }));
  cc::RunControl control;
  CHECK(throws_input_error("first_scenario", [&] {
    (void)cc::run_monte_carlo(population, book_model, shocks, 9, limit - 1, 2, 1, control);
  }));
  CHECK(throws_input_error(
      "first_scenario", [&] { (void)cc::run_monte_carlo(population, book_model, shocks, 9, limit, 1, 1, control); }));
  CHECK(control.done.load() == 0);
  // the last scenario number that fits is a scenario like any other
  cc::check_scenario_range(limit - 1, 1, "index");  // returns
  cc::check_scenario_range(0, limit);
}

// ---- the study sampler ---------------------------------------------------------------------

TEST_CASE("sample_positions: the batch sampler is the one-at-a-time layout for every law, rule and side") {
  // bit for bit, for every size law, entry law, maintenance rule and side filter
  using Pop = cc::PopulationModel;
  const Pop::SizeDistribution sizes[] = {Pop::SizeDistribution::pareto, Pop::SizeDistribution::lognormal,
                                         Pop::SizeDistribution::fixed};
  const Pop::EntryDistribution entries[] = {Pop::EntryDistribution::lognormal, Pop::EntryDistribution::uniform,
                                            Pop::EntryDistribution::student_t};
  bool same = true;
  int cases = 0;
  for (const auto size : sizes) {
    for (const auto entry : entries) {
      for (const int only_side : {0, 1, -1}) {
        Pop pop;
        pop.count = 1037;  // not a multiple of the batch nor of 4
        pop.long_share = 0.55;
        pop.leverage = {2.0, 10.0, 50.0, 125.0};
        pop.leverage_weights = {0.1, 0.5, 0.3, 0.1};
        pop.size_distribution = size;
        pop.size_shape = size == Pop::SizeDistribution::pareto ? 1.5 : 0.8;
        pop.entry_distribution = entry;
        pop.entry_spread = entry == Pop::EntryDistribution::uniform ? 0.2 : 0.05;  // tails, redraws
        pop.open_interest = 5e7;
        if (only_side != 0) {
          pop.tiers.notional_floor = {0.0, 5e4, 6e5};
          pop.tiers.mmr = {0.004, 0.005, 0.0065};
          pop.tiers.maint_amount = {0.0, 50.0, 950.0};
        }
        pop.exclude_underwater = only_side != -1 || entry != Pop::EntryDistribution::lognormal;
        same = same && batch_matches_one_at_a_time(pop, 100.0, 99, 5, only_side);
        if (only_side != 0) same = same && triggers_match_columns(pop, 100.0, 99, 5, only_side);
        ++cases;
      }
    }
  }
  CHECK(same && cases == 27);
}

TEST_CASE("sample_positions: side selection at the edges (all long, none long, counts around 64)") {
  bool same = true;
  int cases = 0;
  for (const double long_share : {0.0, 1.0, 0.3}) {
    for (const std::uint64_t count : {1ULL, 3ULL, 64ULL, 65ULL, 255ULL, 256ULL, 257ULL}) {
      for (const int only_side : {0, 1, -1}) {
        cc::PopulationModel pop;
        pop.count = count;
        pop.long_share = long_share;
        pop.leverage = {10.0};
        pop.leverage_weights = {1.0};
        pop.entry_spread = 0.02;
        pop.open_interest = 1e6;
        for (std::uint32_t j = 0; j < count; ++j) {
          const int side = cc::sample_position(pop, 100.0, 3, 1, j).side;
          same = same && (long_share != 1.0 || side == 1) && (long_share != 0.0 || side == -1);
        }
        same = same && batch_matches_one_at_a_time(pop, 100.0, 3, 1, only_side);
        ++cases;
      }
    }
  }
  CHECK(same && cases == 63);
}

// ---- lazily sorted triggers ----------------------------------------------------------------

TEST_CASE("TriggerOrder: a cascade on lazily sorted records is the cascade on sorted ones") {
  // shocks that stop early, go deep or exhaust the book, both sides. A small shock leaves
  // most records unsorted; sorting on to the end gives sort_triggers' order.
  cc::PopulationModel pop;
  pop.count = 200'000;
  pop.long_share = 0.55;
  pop.leverage = {2.0, 5.0, 10.0, 25.0, 50.0, 100.0};
  pop.leverage_weights = {0.1, 0.2, 0.3, 0.2, 0.15, 0.05};
  pop.entry_spread = 0.03;
  pop.open_interest = 5e8;
  pop.tiers.notional_floor = {0.0, 5e4, 6e5};
  pop.tiers.mmr = {0.004, 0.005, 0.0065};
  pop.tiers.maint_amount = {0.0, 50.0, 950.0};
  cc::BookModel deep;
  deep.mid = 1e5;
  deep.tick = 1.0;
  deep.profile_distance = {0.0, 0.01, 0.05, 0.1, 0.2, 0.5};
  deep.profile_notional = {0.0, 2e7, 6e7, 7.5e7, 8.5e7, 1e8};
  cc::BookModel thin = deep;
  for (double& v : thin.profile_notional) v *= 1e-3;
  thin.level_noise = 0.3;
  bool same = true, lazy = false, exhausted = false;
  int cases = 0;
  for (const cc::BookModel* model : {&deep, &thin}) {
    const cc::OrderBook book = cc::sample_book(*model, 11, 2);
    for (const double shock : {-0.002, -0.05, -0.4, 0.002, 0.05, 0.4}) {
      const cc::Direction direction = shock < 0.0 ? cc::Direction::down : cc::Direction::up;
      cc::TriggerSample full, partial;
      cc::sample_triggers(pop, book.mid(), 11, 2, direction, full);
      cc::sample_triggers(pop, book.mid(), 11, 2, direction, partial);
      cc::sort_triggers(full);
      const auto expected = cc::cascade(book, std::span<const cc::Trigger>(full.records), direction,
                                        cc::Shock::relative(shock), book.mid());
      cc::TriggerOrder order(partial);
      const auto result = cc::cascade(book, order, direction, cc::Shock::relative(shock), book.mid());
      same = same && same_result(expected, result);
      if (model == &deep && std::abs(shock) == 0.002) lazy = lazy || 4 * order.sorted() < partial.records.size();
      exhausted = exhausted || result.book_exhausted;
      while (order.sorted() < partial.records.size()) order.extend();
      same =
          same && partial.records.size() == full.records.size() &&
          std::equal(partial.records.begin(), partial.records.end(), full.records.begin(),
                     [](const cc::Trigger& x, const cc::Trigger& y) {
                       return std::bit_cast<std::uint64_t>(x.threshold) == std::bit_cast<std::uint64_t>(y.threshold) &&
                              std::bit_cast<std::uint64_t>(x.qty) == std::bit_cast<std::uint64_t>(y.qty) &&
                              std::bit_cast<std::uint64_t>(x.bankruptcy) == std::bit_cast<std::uint64_t>(y.bankruptcy);
                     });
      ++cases;
    }
  }
  CHECK(same && lazy && exhausted && cases == 12);
}

TEST_CASE("PositionSet: a fresh set's cascade sorts lazily, equals the prepared set's, from many threads at once") {
  // A set's first cascade sorts its side only as far as it reaches (PositionSet::LazyAtRisk):
  // every field, per-position arrays included, must be the prepared set's, for shocks that
  // stop early, go deep or exhaust the book, both ways; several threads cascading on one fresh
  // set share its sorted prefix; a cancelled lazy sort leaves the set usable.
  cc::PopulationModel pop;
  pop.count = 60'000;
  pop.long_share = 0.55;
  pop.leverage = {2.0, 10.0, 25.0, 50.0, 100.0};
  pop.leverage_weights = {0.1, 0.3, 0.3, 0.2, 0.1};
  pop.entry_spread = 0.03;
  pop.open_interest = 5e8;
  cc::BookModel model;
  model.mid = 1e5;
  model.tick = 1.0;
  model.profile_distance = {0.0, 0.01, 0.05, 0.1, 0.2, 0.5};
  model.profile_notional = {0.0, 2e6, 6e6, 7.5e6, 8.5e6, 1e7};
  cc::ShockModel fixed;
  fixed.values = {-0.01};
  const cc::ScenarioSample sample = cc::sample_scenario(pop, model, fixed, 5, 0);
  const cc::OrderBook& book = sample.book;
  const cc::PositionColumns columns = sample.positions.columns();
  const cc::PositionSet prepared(columns, false);
  prepared.prepare();
  const std::vector<double> shocks = {-0.001, -0.01, -0.05, -0.6, 0.001, 0.01, 0.05, 3.0};
  const auto same_positions = [](const cc::CascadeResult& a, const cc::CascadeResult& b) {
    const auto bits = [](double x) { return std::bit_cast<std::uint64_t>(x); };
    bool same = a.liquidated_index.size() == b.liquidated_index.size();
    for (std::size_t k = 0; same && k < a.liquidated_index.size(); ++k) {
      same = a.liquidated_index[k] == b.liquidated_index[k] && bits(a.filled_qty[k]) == bits(b.filled_qty[k]) &&
             bits(a.fill_price[k]) == bits(b.fill_price[k]);
    }
    return same;
  };
  bool same = true, lazy = false, exhausted = false;
  for (const double shock : shocks) {
    const auto expected = cc::cascade(book, prepared, cc::Shock::relative(shock), std::nullopt);
    const cc::PositionSet fresh(columns, true);
    const auto result = cc::cascade(book, fresh, cc::Shock::relative(shock), std::nullopt);
    same = same && same_result(expected, result) && same_positions(expected, result);
    const cc::Direction direction = shock < 0.0 ? cc::Direction::down : cc::Direction::up;
    lazy = lazy || !fresh.prepared(direction);  // a small shock left buckets unsorted
    exhausted = exhausted || result.book_exhausted;
    fresh.prepare();  // sorting on to the end gives the prepared order
    same = same && std::equal(fresh.at_risk(direction).begin(), fresh.at_risk(direction).end(),
                              prepared.at_risk(direction).begin(), prepared.at_risk(direction).end(),
                              [](const cc::AtRisk& x, const cc::AtRisk& y) { return x.index == y.index; });
  }
  // four threads, each its shocks, on one fresh set
  const cc::PositionSet shared(columns, false);
  std::vector<std::future<bool>> agree;
  for (std::size_t t = 0; t < 4; ++t) {
    agree.push_back(std::async(std::launch::async, [&, t] {
      bool ok = true;
      for (std::size_t k = t; k < t + shocks.size(); ++k) {
        const cc::Shock shock = cc::Shock::relative(shocks[k % shocks.size()]);
        const auto a = cc::cascade(book, shared, shock, std::nullopt);
        const auto b = cc::cascade(book, prepared, shock, std::nullopt);
        ok = ok && same_result(a, b) && same_positions(a, b);
      }
      return ok;
    }));
  }
  bool threads_agree = true;
  for (auto& f : agree) threads_agree = f.get() && threads_agree;
  // cancelled while sorting lazily: Cancelled, and the next call finishes the job
  const cc::PositionSet cancelled(columns, false);
  const std::atomic<bool> stop{true};
  bool raised = false;
  try {
    (void)cc::cascade(book, cancelled, cc::Shock::relative(-0.05), std::nullopt, true, &stop);
  } catch (const cc::Cancelled&) {
    raised = true;
  }
  const bool after = same_result(cc::cascade(book, cancelled, cc::Shock::relative(-0.05), std::nullopt),
                                 cc::cascade(book, prepared, cc::Shock::relative(-0.05), std::nullopt));
  CHECK(same && lazy && exhausted && threads_agree && raised && after);
}

TEST_CASE("LazyTriggers: an extend() that puts nothing more in order is an error, not a hang") {
  const SmallCascade s;
  struct Stuck final : cc::LazyTriggers {
    std::vector<cc::Trigger> all{{99.0, 1.0, 90.0}, {98.0, 1.0, 90.0}};
    std::span<const cc::Trigger> records() const noexcept override { return all; }
    std::size_t sorted() const noexcept override { return 0; }
    std::size_t extend() override { return 0; }
  } stuck;
  bool raised = false;
  try {
    (void)cc::cascade(s.book, stuck, cc::Direction::down, cc::Shock::relative(-0.05), std::nullopt);
  } catch (const std::logic_error&) {
    raised = true;
  }
  CHECK(raised);
}

// ---- memory --------------------------------------------------------------------------------

TEST_CASE("HugePageScope: large blocks are whole aligned 2 MiB pages; the scope restores the setting") {
  // (outside a scope, ordinary malloc)
  cc::release_cached_buffers();
  std::uintptr_t address = 0;
  {
    const cc::HugePageScope outer;
    {
      const cc::HugePageScope inner;
    }
    const cc::bulk_vector<double> block(700'000);  // 5.6 MB
    address = reinterpret_cast<std::uintptr_t>(block.data());
  }
  CHECK(address % (std::uintptr_t{2} << 20) == 0);
}

TEST_CASE("require_memory: more than the machine has is an InputError naming the field given") {
#ifdef __linux__
  CHECK(cc::physical_memory_bytes() > 0);
#endif
  if (cc::physical_memory_bytes() > 0) {
    CHECK(throws_input_error("n_scenarios", [] { cc::require_memory("n_scenarios", 1e30, "the study's rows"); }));
  }
  cc::require_memory("n_scenarios", 1024.0, "the study's rows");  // fits: returns
}

// ---- the time-stepped simulator ------------------------------------------------------------

TEST_CASE("simulate: Bybit-like partial liquidation ends (tier step-down at a mark between levels)") {
  // The reproducer: a long of 1 BTC at 100,000 with 3,800 margin in Binance BTCUSDT's tiers,
  // partial_tiers on, and a bid side of two levels around the price its step-down reaches.
  // Run on its own thread so that a regression fails this case instead of hanging the program.
  struct Outcome {
    std::size_t steps_recorded;
    double final_qty;
    bool liquidated;
  };
  auto promise = std::make_shared<std::promise<Outcome>>();
  std::future<Outcome> future = promise->get_future();
  std::thread([promise] {
    try {
      const double m = 96211.60209131344;
      const std::vector<double> bid_price{m, m - 10.0}, bid_qty{1000.0, 1000.0}, ask_price{103000.0}, ask_qty{1.0};
      const cc::OrderBook book(bid_price, bid_qty, ask_price, ask_qty);
      const cc::TierTable tiers = binance_btcusdt_tiers();
      const std::size_t tier = tiers.tier_of(1.0 * 100000.0);
      const std::vector<std::int8_t> side{1};
      const std::vector<double> qty{1.0}, entry{100000.0}, margin{3800.0};
      const std::vector<double> mmr{tiers.mmr[tier]}, maint{tiers.maint_amount[tier]};
      const cc::PositionSet positions(cc::PositionColumns{side, qty, entry, margin, mmr, maint});
      cc::SimulationConfig config;
      config.steps = 1;
      config.shock = -0.03407631803279687;
      config.policy.partial_tiers = true;
      config.policy.fee_rate = 1.0;
      config.policy.tiers = tiers;
      const cc::SimulationResult result = cc::simulate(book, positions, config);
      promise->set_value({result.time.size(), result.final_qty.empty() ? std::numeric_limits<double>::quiet_NaN() : result.final_qty[0],
                          !result.liquidated.empty() && result.liquidated[0] != 0});
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  }).detach();
  const bool returned = future.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  if (!returned) abandoned_thread = true;
  CHECK(returned);
  const Outcome outcome = future.get();  // rethrows what simulate threw
  CHECK(outcome.steps_recorded == 1);
  CHECK(outcome.final_qty >= 0.0 && outcome.final_qty <= 1.0);
}

TEST_CASE("simulate: a circuit breaker halting INT64_MAX or INT64_MAX - 1 steps halts every later step") {
  const std::vector<double> bid_price{100.0, 99.0, 98.0, 90.0}, bid_qty{1.0, 1.0, 1.0, 100.0};
  const std::vector<double> ask_price{101.0, 102.0}, ask_qty{1.0, 100.0};
  const cc::OrderBook book(bid_price, bid_qty, ask_price, ask_qty);
  const std::vector<std::int8_t> side{1};
  const std::vector<double> qty{1.0}, entry{100.5}, margin{50.0}, zero{0.0};
  const cc::PositionSet positions(cc::PositionColumns{side, qty, entry, margin, zero, zero});
  for (const std::int64_t halt :
       {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max() - 1}) {
    cc::SimulationConfig config;
    config.steps = 5;
    config.shock = -0.05;  // step 0 moves 5 %: the breaker trips
    cc::CircuitBreaker breaker;
    breaker.move = 0.01;
    breaker.window = 1;
    breaker.halt = halt;
    config.breakers = {breaker};
    const cc::SimulationResult result = cc::simulate(book, positions, config);
    CHECK(result.halted.size() == 5);
    CHECK(result.halted[0] == 0);
    for (std::size_t t = 1; t < result.halted.size(); ++t) CHECK(result.halted[t] == 1);
  }
}

TEST_CASE("venue_cascade: BitMEX cross example, a one-market venue is cascade(), bad input names the field") {
  // wallet 10,000 USDT, long 20 ETHUSDT at 1,000, 1 % maintenance at entry: liquidation 510
  std::vector<double> bid_price, bid_qty, ask_price, ask_qty;
  for (int k = 0; k < 600; ++k) {
    bid_price.push_back(1000.0 - k);
    bid_qty.push_back(10.0);
    ask_price.push_back(1001.0 + k);
    ask_qty.push_back(10.0);
  }
  auto venue = std::make_shared<cc::Venue>();
  cc::VenueMarket market;
  market.name = "ETHUSDT";
  market.book = std::make_shared<const cc::OrderBook>(bid_price, bid_qty, ask_price, ask_qty);
  market.rule.basis = cc::MarginBasis::entry;
  market.ref_price = 1000.0;
  venue->markets.push_back(market);
  venue->assets.push_back(cc::VenueAsset{"USDT"});
  const std::vector<std::int8_t> side{1};
  const std::vector<double> qty{20.0}, entry{1000.0}, zero{0.0}, mmr{0.01}, wallet{10000.0};
  const std::vector<std::int64_t> market_of{0}, account{0};
  const cc::VenueState state(venue, {side, qty, entry, zero, mmr, zero, market_of, account}, {1, wallet});
  CHECK(state.maintenance_ref()[0] == 200.0);
  const std::vector<cc::Shock> above{cc::Shock::relative(-0.4899)}, at{cc::Shock::relative(-0.49)};
  CHECK(cc::venue_cascade(state, above).rounds == 0);
  const cc::VenueResult hit = cc::venue_cascade(state, at);
  CHECK(hit.rounds == 1);
  CHECK(hit.account_index.size() == 1);
  CHECK(hit.account_equity_after[0] == 190.0);  // 20 sold at 510 and 509
  CHECK(hit.account_bad_debt[0] == 0.0);

  // the same book with isolated positions only: cascade(), field for field
  const std::vector<std::int8_t> sides{1, 1, -1, 1};
  const std::vector<double> q{5.0, 7.0, 3.0, 11.0}, e{1000.0, 990.0, 1000.0, 1010.0}, m{100.0, 200.0, 50.0, 300.0},
      r{0.01, 0.005, 0.01, 0.0}, z(4, 0.0);
  const std::vector<std::int64_t> mk(4, 0), iso(4, -1);
  const std::vector<double> none;
  const cc::VenueState isolated(venue, {sides, q, e, m, r, z, mk, iso}, {0, none});
  cc::MarginRule rule;
  rule.basis = cc::MarginBasis::entry;
  const cc::PositionSet set(cc::PositionColumns{sides, q, e, m, r, z}, false, rule);
  for (const double s : {-0.02, -0.05, -0.3}) {
    const cc::CascadeResult one = cc::cascade(*market.book, set, cc::Shock::relative(s), 1000.0);
    const std::vector<cc::Shock> shocks{cc::Shock::relative(s)};
    const cc::VenueResult v = cc::venue_cascade(isolated, shocks);
    CHECK(v.markets[0].final_price == one.final_price);
    CHECK(v.markets[0].liquidated_notional == one.liquidated_notional);
    CHECK(v.markets[0].n_liquidated == one.n_liquidated);
    CHECK(v.rounds == one.rounds);
    CHECK(v.bad_debt == one.bad_debt);
  }

  const std::vector<std::int64_t> bad_account{3};
  bool thrown = false;
  try {
    const cc::VenueState bad(venue, {side, qty, entry, zero, mmr, zero, market_of, bad_account}, {1, wallet});
  } catch (const cc::InputError& err) {
    thrown = std::string(err.what()).find("account[0]") == 0;
  }
  CHECK(thrown);
}

TEST_CASE("venue_cascade: a relative or target shock moves the whole market, a quantity shock does not") {
  // A and B: bids 99.9 ... 90.0, asks 100.1 ... 110.0, 500 a level; account 0 long 1 A and short 10 B
  // at 100 on 100 USDT. Both markets +20 %: every ask is gone, the bids are re-anchored (times
  // 120 / 100), so the account's sale of 1 A fills at 99.9 x 1.2 (tests/test_venue.py works it out).
  std::vector<double> bid_price, bid_qty, ask_price, ask_qty;
  for (int k = 1; k <= 100; ++k) {
    bid_price.push_back(100.0 - 0.1 * k);
    bid_qty.push_back(500.0);
    ask_price.push_back(100.0 + 0.1 * k);
    ask_qty.push_back(500.0);
  }
  auto venue = std::make_shared<cc::Venue>();
  for (const char* name : {"A", "B"}) {
    cc::VenueMarket market;
    market.name = name;
    market.book = std::make_shared<const cc::OrderBook>(bid_price, bid_qty, ask_price, ask_qty);
    market.ref_price = 100.0;
    venue->markets.push_back(market);
  }
  venue->assets.push_back(cc::VenueAsset{"USDT"});
  const std::vector<std::int8_t> side{1, -1};
  const std::vector<double> qty{1.0, 10.0}, entry{100.0, 100.0}, zero{0.0, 0.0}, mmr{0.01, 0.01}, wallet{100.0};
  const std::vector<std::int64_t> market_of{0, 1}, account{0, 0};
  const cc::VenueState state(venue, {side, qty, entry, zero, mmr, zero, market_of, account}, {1, wallet});
  const std::vector<cc::Shock> relative{cc::Shock::relative(0.2), cc::Shock::relative(0.2)};
  const std::vector<cc::Shock> target{cc::Shock::to_price(120.0, cc::Direction::up),
                                      cc::Shock::to_price(120.0, cc::Direction::up)};
  for (const auto* shocks : {&relative, &target}) {
    const cc::VenueResult r = cc::venue_cascade(state, *shocks);
    CHECK(r.markets[0].shock_price == 120.0);
    CHECK(r.markets[0].final_price == bid_price[0] * (120.0 / 100.0));
    CHECK(r.fill_price[0] == bid_price[0] * (120.0 / 100.0));
    CHECK(r.markets[1].final_price == 120.0);
    CHECK(r.markets[1].unfilled_qty == 10.0);
    CHECK(std::abs(r.bad_debt - 80.12) < 1e-9);
  }
  // a quantity shock is an order: the bids stay where they were
  const std::vector<cc::Shock> orders{cc::Shock::buy(1e5),
                                      cc::Shock::buy(1e5)};
  const cc::VenueResult q = cc::venue_cascade(state, orders);
  CHECK(q.markets[0].final_price == bid_price[0]);
}

TEST_CASE("correlated shocks: bivariate normal quadrant closed form, a semi-definite factor, bad matrices name the row") {
  // P(both < 0) = 1/4 + asin(rho) / (2 pi) for a standard bivariate normal
  cc::CorrelatedShockModel model;
  model.kind = cc::CorrelatedShockModel::Kind::normal;
  model.dimension = 2;
  model.correlation = {1.0, 0.6, 0.6, 1.0};
  model.scale = {0.1, 0.2};
  const cc::CorrelatedShockSampler sampler(model);
  const int n = 200000;
  int both = 0;
  std::vector<double> x(2);
  for (int i = 0; i < n; ++i) {
    sampler.sample(7, static_cast<std::uint64_t>(i), x);
    both += (x[0] < 0.0 && x[1] < 0.0) ? 1 : 0;
  }
  const double expected = 0.25 + std::asin(0.6) / (2.0 * 3.141592653589793);
  CHECK(std::abs(static_cast<double>(both) / n - expected) < 0.005);  // s.e. about 0.001
  // a pure function of (seed, scenario)
  std::vector<double> y(2);
  sampler.sample(7, 12345, x);
  sampler.sample(7, 12345, y);
  CHECK(x == y);

  // correlation 1: semi-definite, a zero pivot; both moves are one normal times each scale
  model.correlation = {1.0, 1.0, 1.0, 1.0};
  const cc::CorrelatedShockSampler same(model);
  same.sample(3, 9, x);
  CHECK(std::abs(x[1] - 2.0 * x[0]) < 1e-15);

  auto message = [](const cc::CorrelatedShockModel& m) {
    try {
      m.validate();
    } catch (const cc::InputError& err) {
      return std::string(err.what());
    }
    return std::string();
  };
  cc::CorrelatedShockModel bad = model;
  bad.dimension = 3;
  bad.scale = {1.0, 1.0, 1.0};
  bad.correlation = {1.0, 0.9, -0.9, 0.9, 1.0, 0.9, -0.9, 0.9, 1.0};  // not PSD: fails at row 2
  CHECK(message(bad).find("correlation[2]: is not positive semi-definite") == 0);
  bad.correlation = {1.0, 0.5, 0.0, 0.4, 1.0, 0.0, 0.0, 0.0, 1.0};
  CHECK(message(bad).find("correlation[1]: must be symmetric") == 0);
  bad.correlation = {1.0, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 1.0};
  CHECK(message(bad).find("correlation[1]: the diagonal must be 1") == 0);
  bad.correlation = {1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0};
  bad.scale = {1.0, -1.0, 1.0};
  CHECK(message(bad).find("scale[1]") == 0);
  cc::CorrelatedShockModel rows;
  rows.kind = cc::CorrelatedShockModel::Kind::historical;
  rows.dimension = 2;
  rows.moves = {0.01, -0.02, -1.0, 0.0};
  CHECK(message(rows).find("moves[1]: column 0") == 0);
}

TEST_CASE("run_venue_study: rows equal direct venue cascades, for any thread count and split") {
  std::vector<double> bid_price, bid_qty, ask_price, ask_qty;
  for (int k = 1; k <= 400; ++k) {
    bid_price.push_back(1000.0 - k);
    bid_qty.push_back(2.0);
    ask_price.push_back(1000.0 + k);
    ask_qty.push_back(2.0);
  }
  auto venue = std::make_shared<cc::Venue>();
  for (const char* name : {"A", "B"}) {
    cc::VenueMarket market;
    market.name = name;
    market.book = std::make_shared<const cc::OrderBook>(bid_price, bid_qty, ask_price, ask_qty);
    venue->markets.push_back(market);
  }
  venue->assets.push_back(cc::VenueAsset{"USDT"});
  // accounts long 1 in A and 1 in B; isolated longs and shorts in both
  std::vector<std::int8_t> side;
  std::vector<double> qty, entry, margin, mmr, maint;
  std::vector<std::int64_t> market_of, account;
  std::vector<double> wallet;
  for (int a = 0; a < 40; ++a) {
    for (std::int64_t m = 0; m < 2; ++m) {
      side.push_back(1);
      qty.push_back(1.0);
      entry.push_back(1000.0);
      margin.push_back(0.0);
      mmr.push_back(0.01);
      maint.push_back(0.0);
      market_of.push_back(m);
      account.push_back(a);
    }
    wallet.push_back(40.0 + 5.0 * a);
  }
  for (int i = 0; i < 60; ++i) {
    side.push_back(i % 3 == 0 ? -1 : 1);
    qty.push_back(0.5);
    entry.push_back(1000.0);
    margin.push_back(10.0 + i);
    mmr.push_back(0.01);
    maint.push_back(0.0);
    market_of.push_back(i % 2);
    account.push_back(-1);
  }
  const cc::VenueState state(venue, {side, qty, entry, margin, mmr, maint, market_of, account},
                             {wallet.size(), wallet});
  cc::CorrelatedShockModel model;
  model.kind = cc::CorrelatedShockModel::Kind::student_t;
  model.dimension = 2;
  model.df = 4.0;
  model.correlation = {1.0, 0.7, 0.7, 1.0};
  model.scale = {0.03, 0.03};
  const cc::CorrelatedShockSampler sampler(model);
  const std::vector<std::size_t> shocked{0, 1};
  cc::RunControl control;
  const cc::VenueStudyColumns all = cc::run_venue_study(state, sampler, shocked, 11, 0, 64, 1, control);
  cc::RunControl control2, control3;
  const cc::VenueStudyColumns threaded = cc::run_venue_study(state, sampler, shocked, 11, 0, 64, 4, control2);
  const cc::VenueStudyColumns tail = cc::run_venue_study(state, sampler, shocked, 11, 40, 24, 2, control3);
  CHECK(threaded.final_price == all.final_price);
  CHECK(threaded.bad_debt == all.bad_debt);
  CHECK(threaded.accounts_liquidated == all.accounts_liquidated);
  std::int64_t liquidated_accounts = 0;
  for (std::size_t r = 0; r < 64; ++r) {
    const std::vector<double> moves = cc::venue_scenario_moves(sampler, shocked, 2, 11, r);
    std::vector<cc::Shock> shocks{cc::Shock::relative(moves[0]), cc::Shock::relative(moves[1])};
    const cc::VenueResult direct = cc::venue_cascade(state, shocks);
    CHECK(all.bad_debt[r] == direct.bad_debt);
    CHECK(all.rounds[r] == direct.rounds);
    CHECK(all.accounts_liquidated[r] == static_cast<std::int64_t>(direct.account_index.size()));
    for (std::size_t m = 0; m < 2; ++m) {
      CHECK(all.shock[m * 64 + r] == moves[m]);
      CHECK(all.final_price[m * 64 + r] == direct.markets[m].final_price);
      CHECK(all.liquidated_notional_long[m * 64 + r] + all.liquidated_notional_short[m * 64 + r] ==
            direct.markets[m].liquidated_notional);
      if (r >= 40) CHECK(tail.final_price[m * 24 + (r - 40)] == all.final_price[m * 64 + r]);
    }
    liquidated_accounts += all.accounts_liquidated[r];
  }
  CHECK(liquidated_accounts > 0);  // the study exercised the account path
  bool thrown = false;
  try {
    const std::vector<std::size_t> twice{1, 1};
    cc::RunControl c;
    (void)cc::run_venue_study(state, sampler, twice, 0, 0, 1, 1, c);
  } catch (const cc::InputError& err) {
    thrown = std::string(err.what()).find("markets[1]") == 0;
  }
  CHECK(thrown);
}

// ---- the runner ----------------------------------------------------------------------------

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : "";
  int ran = 0, failed = 0;
  for (const TestCase& test : registry()) {
    if (std::strstr(test.name, filter) == nullptr) continue;
    ++ran;
    std::string failure;
    try {
      test.run();
    } catch (const CheckFailed& check) {
      failure = std::string(check.file) + ":" + std::to_string(check.line) + ": CHECK(" + check.expr + ")";
    } catch (const std::exception& error) {
      failure = std::string("unexpected exception: ") + error.what();
    } catch (...) {
      failure = "unexpected exception of an unknown type";
    }
    if (failure.empty()) {
      std::printf("ok  %s\n", test.name);
    } else {
      ++failed;
      std::printf("FAIL %s: %s\n", test.name, failure.c_str());
    }
    std::fflush(stdout);
  }
  if (ran == 0) {
    std::printf("no case matches \"%s\"\n", filter);
    return EXIT_FAILURE;
  }
  std::printf("%d cases, %d failed\n", ran, failed);
  std::fflush(stdout);
  // a thread still inside a call that never returned: do not destroy statics under it
  if (abandoned_thread) std::_Exit(EXIT_FAILURE);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

TEST_CASE("venue_cascade with agents: a token trades L(L-1) r N, a fund sells to its target, a stop fires once") {
  // a linear book: 10 units every 1.0 below and above 1,000
  std::vector<double> bid_price, bid_qty, ask_price, ask_qty;
  for (int k = 1; k <= 900; ++k) {
    bid_price.push_back(1000.0 - k);
    bid_qty.push_back(10.0);
    ask_price.push_back(1000.0 + k);
    ask_qty.push_back(10.0);
  }
  auto venue = std::make_shared<cc::Venue>();
  cc::VenueMarket market;
  market.name = "A";
  market.book = std::make_shared<const cc::OrderBook>(bid_price, bid_qty, ask_price, ask_qty);
  venue->markets.push_back(market);
  venue->assets.push_back(cc::VenueAsset{"USDT"});
  const std::vector<std::int8_t> no_side;
  const std::vector<double> none;
  const std::vector<std::int64_t> no_index;
  const cc::VenueState state(venue, {no_side, none, none, none, none, none, no_index, no_index}, {0, none});
  // a 3x token with NAV 100,000 and a 5 % threshold; a fund of 100 units at leverage 5 (target 5)
  const std::vector<std::int64_t> on_a{0};
  const std::vector<double> leverage{3.0}, nav{100000.0}, threshold{0.05}, at_ref{std::numeric_limits<double>::quiet_NaN()};
  const std::vector<double> equity{20000.0}, target{5.0}, holdings{100.0};
  const std::vector<std::int8_t> sell{-1};
  const std::vector<double> stop_qty{4.0}, stop_price{955.0};
  const cc::VenueAgents agents(state, {on_a, sell, stop_qty, stop_price}, {on_a, leverage, nav, threshold, at_ref},
                               {1, equity, target, target, holdings});
  CHECK(agents.fund_debt()[0] == 80000.0);
  const std::vector<cc::Shock> shock{cc::Shock::relative(-0.05)};  // to 950
  const cc::VenueResult r = cc::venue_cascade(state, shock, agents);
  CHECK(!r.token_index.empty());
  CHECK(r.token_round[0] == 1);
  CHECK(r.token_price[0] == 950.0);
  const double ret = 950.0 / 1000.0 - 1.0;
  CHECK(r.token_order_qty[0] == -(std::abs(3.0 * 2.0 * ret * 100000.0) / 950.0));
  // the fund: assets 95,000, equity 15,000, leverage 6.33 > 5: sells (95,000 - 75,000) / 95,000
  CHECK(!r.fund_index.empty());
  CHECK(r.fund_round[0] == 1);
  CHECK(r.fund_fraction[0] == (95000.0 - 5.0 * 15000.0) / 95000.0);
  double fetched = 0.0;  // every sale is the one fund's: its debt fell by what they fetched
  for (const double n : r.fund_notional) fetched += n;
  CHECK(std::abs(r.fund_debt_after[0] - (80000.0 - fetched)) <= 1e-9 * 80000.0);
  // the stop at 955 fires in round 1, once
  CHECK(r.stop_index.size() == 1);
  CHECK(r.stop_round[0] == 1);
  CHECK(r.markets[0].stops.sold_qty == 4.0);
  // no shock: nothing moves
  const std::vector<cc::Shock> still{cc::Shock::relative(0.0)};
  const cc::VenueResult idle = cc::venue_cascade(state, still, agents);
  CHECK(idle.rounds == 0);
  CHECK(idle.token_nav[0] == 100000.0);
  // bad input names the field
  const std::vector<double> bad_leverage{0.5};
  bool thrown = false;
  try {
    const cc::VenueAgents bad(state, {on_a, sell, stop_qty, stop_price}, {on_a, bad_leverage, nav, threshold, at_ref},
                              {1, equity, target, target, holdings});
  } catch (const cc::InputError& error) {
    thrown = std::string(error.what()).rfind("tokens.leverage[0]", 0) == 0;
  }
  CHECK(thrown);
}

TEST_CASE("run_venue_population_study: rows equal direct venue cascades on the sampled population, any threads") {
  std::vector<double> bid_price, bid_qty, ask_price, ask_qty;
  for (int k = 1; k <= 400; ++k) {
    bid_price.push_back(1000.0 - k);
    bid_qty.push_back(20.0);
    ask_price.push_back(1000.0 + k);
    ask_qty.push_back(20.0);
  }
  auto venue = std::make_shared<cc::Venue>();
  for (const char* name : {"A", "B"}) {
    cc::VenueMarket market;
    market.name = name;
    market.book = std::make_shared<const cc::OrderBook>(bid_price, bid_qty, ask_price, ask_qty);
    venue->markets.push_back(market);
  }
  venue->assets.push_back(cc::VenueAsset{"USDT"});
  venue->assets.push_back(cc::VenueAsset{"B-COIN", 1, 1.0, 0.1});
  cc::VenuePopulationModel model;
  model.traders = 600;
  model.cross_share = 0.6;
  model.markets = {0, 1};
  model.open_interest = {2e6, 1e6};
  model.markets_per_trader = {0.5, 0.5};
  model.strategies = 3;
  model.strategy_loading = 0.7;
  model.leverage = {5.0, 20.0};
  model.leverage_weights = {0.5, 0.5};
  model.baskets = {1.0, 0.0, 0.5, 0.5};
  model.basket_weights = {0.7, 0.3};
  model.tokens = 4;
  model.token_leverage = {3.0, -3.0};
  model.token_leverage_weights = {0.5, 0.5};
  model.token_threshold = {0.02};
  model.token_threshold_weights = {1.0};
  model.token_nav = 0.05;
  model.funds = 5;
  model.fund_markets = {0.0, 1.0};
  model.fund_assets = 0.2;
  model.fund_target = {3.0};
  model.fund_target_weights = {1.0};
  cc::CorrelatedShockModel shocks;
  shocks.kind = cc::CorrelatedShockModel::Kind::normal;
  shocks.dimension = 1;
  shocks.correlation = {1.0};
  shocks.scale = {0.05};
  const cc::CorrelatedShockSampler sampler(shocks);
  const std::vector<std::size_t> shocked{0};  // market A alone: B liquidates through cross accounts and funds
  cc::RunControl c1, c2;
  const cc::VenueStudyColumns one = cc::run_venue_population_study(venue, model, sampler, shocked, 5, 0, 16, 1, c1);
  const cc::VenueStudyColumns two = cc::run_venue_population_study(venue, model, sampler, shocked, 5, 0, 16, 2, c2);
  CHECK(one.final_price == two.final_price);
  CHECK(one.bad_debt == two.bad_debt);
  bool contagion = false;
  for (std::size_t r = 0; r < 16; ++r) {
    cc::VenuePopulationSample s;
    cc::sample_venue_population(model, *venue, 5, r, s);
    const cc::VenueState state(venue, s.positions(), s.accounts());
    const cc::VenueAgents agents(state, cc::StopColumns{},
                                 cc::TokenColumns{s.token_market, s.token_leverage, s.token_nav, s.token_threshold,
                                                  s.token_price},
                                 cc::FundColumns{model.funds, s.fund_equity, s.fund_target, s.fund_max,
                                                 s.fund_holdings});
    const std::vector<double> moves = cc::venue_scenario_moves(sampler, shocked, 2, 5, r);
    std::vector<cc::Shock> shock_list{cc::Shock::relative(moves[0]), cc::Shock::relative(moves[1])};
    const cc::VenueResult direct = cc::venue_cascade(state, shock_list, agents);
    CHECK(one.rounds[r] == direct.rounds);
    CHECK(one.bad_debt[r] == direct.bad_debt);
    CHECK(one.final_price[r] == direct.markets[0].final_price);
    CHECK(one.final_price[16 + r] == direct.markets[1].final_price);
    contagion = contagion || direct.markets[1].liquidated_notional > 0.0;
    // equity >= notional / leverage at the reference: with these leverages every account starts above its trigger
    for (std::size_t a = 0; a < state.n_accounts(); ++a) CHECK(state.equity_ref()[a] > state.maintenance_ref()[a]);
  }
  CHECK(contagion);
  // bad models name their field
  cc::VenuePopulationModel bad = model;
  bad.markets = {0, 0};
  bool named = false;
  try {
    bad.validate(*venue);
  } catch (const cc::InputError& e) {
    named = std::string(e.what()).find("markets[1]") != std::string::npos;
  }
  CHECK(named);
  bad = model;
  bad.baskets = {1.0, 0.5};
  named = false;
  try {
    bad.validate(*venue);
  } catch (const cc::InputError& e) {
    named = std::string(e.what()).find("baskets") != std::string::npos;
  }
  CHECK(named);
}

TEST_CASE("venue: an asset on an index that follows a market; account trigger prices; bad index names the field") {
  // two markets: ETH (10 units every 1.0 around 1,000) and a thin wBETH book (0.05 every 10.0
  // around 1,070); one account long 10 ETH at 1,000 (mmr 1 %) holding 1 wBETH valued on
  // 1.07 x ETH and sold into its own book when liquidated
  const auto ladder = [](double mid, double step, double qty, int n) {
    std::vector<double> bp, bq, ap, aq;
    for (int k = 1; k <= n; ++k) {
      bp.push_back(mid - step * k);
      bq.push_back(qty);
      ap.push_back(mid + step * k);
      aq.push_back(qty);
    }
    return std::make_shared<const cc::OrderBook>(bp, bq, ap, aq);
  };
  auto venue = std::make_shared<cc::Venue>();
  cc::VenueMarket eth, wbeth;
  eth.name = "ETH";
  eth.book = ladder(1000.0, 1.0, 10.0, 400);
  wbeth.name = "WBETH";
  wbeth.book = ladder(1070.0, 10.0, 0.05, 60);
  venue->markets = {eth, wbeth};
  cc::VenueAsset quote{"USDT"}, staked{"wBETH"};
  staked.priced_by = 1;
  staked.index_market = 0;
  staked.index_ratio = 1.07;
  venue->assets = {quote, staked};
  const std::vector<std::int8_t> side{1};
  const std::vector<double> qty{10.0}, entry{1000.0}, margin{0.0}, mmr{0.01}, maint{0.0};
  const std::vector<std::int64_t> market{0}, account{0};
  const std::vector<double> collateral{0.0, 1.0};
  const cc::VenueState state(venue, {side, qty, entry, margin, mmr, maint, market, account}, {1, collateral});
  const std::vector<double> last{900.0, 500.0};
  CHECK(state.asset_prices(last)[1] == 1.07 * 900.0);  // the index, not wBETH's own last price
  // equity 1.07 p + 10 (p - 1,000), maintenance 0.1 p: triggered at p = 10,000 / 10.97
  const cc::VenueState::TriggerPrices t = state.account_trigger_prices();
  CHECK(t.account.size() == 1 && t.market[0] == 0);  // exposed to ETH only: the index's market
  CHECK(std::abs(t.down[0] - 10000.0 / 10.97) <= 1e-9 * 1000.0);
  CHECK(std::isnan(t.up[0]));
  // a -10 % ETH shock triggers it; its wBETH is sold into the wBETH book
  const std::vector<cc::Shock> shocks{cc::Shock::relative(-0.1), cc::Shock::relative(0.0)};
  const cc::VenueResult r = cc::venue_cascade(state, shocks);
  CHECK(r.account_index.size() == 1);
  CHECK(r.markets[1].sold_qty == 1.0);
  // a bad index names the field
  cc::Venue bad = *venue;
  bad.assets[1].index_ratio = 0.0;
  bool thrown = false;
  try {
    bad.validate();
  } catch (const cc::InputError& error) {
    thrown = std::string(error.what()).rfind("assets[1].index_ratio", 0) == 0;
  }
  CHECK(thrown);
  bad.assets[1].index_ratio = 1.0;
  bad.assets[1].index_market = 2;
  thrown = false;
  try {
    bad.validate();
  } catch (const cc::InputError& error) {
    thrown = std::string(error.what()).rfind("assets[1].index_market", 0) == 0;
  }
  CHECK(thrown);
}

TEST_CASE("simulate_venue: one market without accounts is simulate(); an account through time; correlated paths") {
  std::vector<double> bid_price, bid_qty, ask_price, ask_qty;
  for (int k = 1; k <= 400; ++k) {
    bid_price.push_back(1000.0 - k);
    bid_qty.push_back(2.0);
    ask_price.push_back(1000.0 + k);
    ask_qty.push_back(2.0);
  }
  auto venue = std::make_shared<cc::Venue>();
  cc::VenueMarket market;
  market.name = "ETHUSDT";
  market.book = std::make_shared<const cc::OrderBook>(bid_price, bid_qty, ask_price, ask_qty);
  venue->markets.push_back(market);
  venue->assets.push_back(cc::VenueAsset{"USDT"});
  // isolated positions only: simulate(), field for field
  const std::vector<std::int8_t> side{1, 1, -1, 1};
  const std::vector<double> qty{5.0, 7.0, 3.0, 11.0}, entry{1000.0, 990.0, 1000.0, 1010.0},
      margin{100.0, 200.0, 50.0, 300.0}, mmr{0.01, 0.005, 0.01, 0.0}, zero(4, 0.0);
  const std::vector<std::int64_t> market_of(4, 0), isolated(4, -1);
  const std::vector<double> none;
  const cc::VenueState state(venue, {side, qty, entry, margin, mmr, zero, market_of, isolated}, {0, none});
  const cc::PositionSet set(cc::PositionColumns{side, qty, entry, margin, mmr, zero});
  cc::SimulationConfig config;
  config.steps = 40;
  config.shock = -0.04;
  config.resilience = 0.05;
  config.insurance_fund = 100.0;
  config.policy.fee_rate = 0.0125;
  cc::VenueSimulationConfig venue_config;
  venue_config.common = config;
  venue_config.common.shock = 0.0;
  venue_config.common.resilience = 0.0;
  venue_config.shocks = {-0.04};
  venue_config.resilience = {0.05};
  venue_config.insurance_fund = {100.0};
  const cc::SimulationResult one = cc::simulate(*market.book, set, config);
  const cc::VenueSimulationResult many = cc::simulate_venue(state, venue_config);
  const cc::SimulationResult& m = many.markets[0];
  CHECK(m.price == one.price && m.mark_price == one.mark_price && m.insurance_fund == one.insurance_fund);
  CHECK(m.liquidated_qty == one.liquidated_qty && m.liquidated_notional == one.liquidated_notional);
  CHECK(m.event_position == one.event_position && m.event_qty == one.event_qty && m.event_fund == one.event_fund);
  CHECK(std::equal(m.final_qty.begin(), m.final_qty.end(), one.final_qty.begin(), one.final_qty.end()));

  // an account (wallet 10,000, long 20 at 1,000, mmr 0.5 %: triggered at 10,000 / 19.9 = 502.5)
  // on an index mark falling 10 a step: liquidated at step 50 (mark 500)
  const std::vector<std::int8_t> long_side{1};
  const std::vector<double> twenty{20.0}, at_1000{1000.0}, no_margin{0.0}, half_percent{0.005}, wallet{10000.0};
  const std::vector<std::int64_t> first{0}, account{0};
  const cc::VenueState cross(venue, {long_side, twenty, at_1000, no_margin, half_percent, no_margin, first, account},
                             {1, wallet});
  cc::VenueSimulationConfig fall;
  fall.common.steps = 60;
  fall.common.mark = cc::SimulationConfig::Mark::index;
  fall.common.policy.limit_at_bankruptcy = false;
  for (int t = 0; t < 60; ++t) fall.paths.push_back(1000.0 - 10.0 * t);
  const cc::VenueSimulationResult r = cc::simulate_venue(cross, fall);
  CHECK(r.account_index.size() == 1 && r.account_step[0] == 50 && r.account_settled_step[0] == 50);

  // correlated paths: reproducible, the start first, a bad correlation names its field
  const std::vector<double> corr{1.0, 0.5, 0.5, 1.0}, sigma{0.01, 0.02}, mu{0.0, 0.0}, start{100.0, 50.0};
  const std::vector<double> a = cc::correlated_gbm_paths(corr, sigma, mu, start, 100, 1.0, 9);
  CHECK(a == cc::correlated_gbm_paths(corr, sigma, mu, start, 100, 1.0, 9));
  CHECK(a[0] == 100.0 && a[1] == 50.0 && a.size() == 200);
  bool thrown = false;
  try {
    (void)cc::correlated_gbm_paths({1.0, 2.0, 2.0, 1.0}, sigma, mu, start, 10, 1.0, 0);
  } catch (const cc::InputError& error) {
    thrown = std::string(error.what()).rfind("correlation", 0) == 0;
  }
  CHECK(thrown);
}

TEST_CASE("venue population stop clusters: round numbers, cluster sums, rows equal direct cascades with the stops") {
  CHECK(cc::round_number_step(122000.0) == 5000.0);
  CHECK(cc::round_number_step(4100.0) == 200.0);
  CHECK(cc::round_number_step(200.0) == 10.0);
  const std::vector<double> below{990.0, 960.0, 930.0}, above{1020.0, 1050.0}, positive{30.0};
  CHECK(cc::round_number_levels(1000.0, 30.0, 3, true) == below);
  CHECK(cc::round_number_levels(1000.0, 30.0, 2, false) == above);
  CHECK(cc::round_number_levels(50.0, 30.0, 3, true) == positive);  // > 0 only
  std::vector<double> bid_price, bid_qty, ask_price, ask_qty;
  for (int k = 1; k <= 400; ++k) {
    bid_price.push_back(1000.0 - k);
    bid_qty.push_back(20.0);
    ask_price.push_back(1000.0 + k);
    ask_qty.push_back(20.0);
  }
  auto venue = std::make_shared<cc::Venue>();
  for (const char* name : {"A", "B"}) {
    cc::VenueMarket market;
    market.name = name;
    market.book = std::make_shared<const cc::OrderBook>(bid_price, bid_qty, ask_price, ask_qty);
    venue->markets.push_back(market);
  }
  venue->assets.push_back(cc::VenueAsset{"USDT"});
  cc::VenuePopulationModel model;
  model.traders = 300;
  model.markets = {0, 1};
  model.open_interest = {2e6, 1e6};
  model.markets_per_trader = {0.5, 0.5};
  model.leverage = {10.0};
  model.leverage_weights = {1.0};
  model.baskets = {1.0};
  model.basket_weights = {1.0};
  model.stop_notional = 0.05;
  model.stop_round_step = {30.0, 0.0};  // B's automatic: 5 % of 1,000 -> 50
  model.stops_per_cluster = 7;
  model.stop_extreme_share = 0.5;
  model.validate(*venue);
  cc::VenuePopulationSample s;
  cc::sample_venue_population(model, *venue, 3, 1, s);
  CHECK(s.stop_qty.size() == 2 * 2 * 4 * 7);
  const std::vector<double> steps{30.0, 50.0};  // B's automatic: 5 % of 1,000
  CHECK(s.stop_step == steps);
  // per market and side: sum qty x centre = stop_notional x OI / 2, half at the round numbers
  for (std::size_t j = 0; j < 2; ++j) {
    for (const int side : {-1, 1}) {
      double at_round = 0.0, at_extreme = 0.0;
      const std::vector<double> levels = cc::round_number_levels(1000.0, s.stop_step[j], 3, side < 0);
      std::size_t seen = 0;
      for (std::size_t i = 0; i < s.stop_qty.size(); ++i) {
        if (s.stop_market[i] != static_cast<std::int64_t>(j) || s.stop_side[i] != side) continue;
        const std::size_t cluster = seen++ / 7;
        const double centre = cluster < 3 ? levels[cluster] : (side < 0 ? s.recent_low[j] : s.recent_high[j]);
        CHECK(side * (s.stop_price[i] - centre) >= 0.0);
        (cluster < 3 ? at_round : at_extreme) += s.stop_qty[i] * centre;
      }
      const double expected = 0.5 * model.stop_notional * model.open_interest[j];
      CHECK(std::abs(at_round - 0.5 * expected) <= 1e-9 * expected);
      CHECK(std::abs(at_extreme - 0.5 * expected) <= 1e-9 * expected);
    }
  }
  cc::CorrelatedShockModel shocks;
  shocks.kind = cc::CorrelatedShockModel::Kind::fixed;
  shocks.dimension = 1;
  shocks.moves = {-0.08, 0.06};
  const cc::CorrelatedShockSampler sampler(shocks);
  const std::vector<std::size_t> shocked{0};
  cc::RunControl control;
  const cc::VenueStudyColumns rows = cc::run_venue_population_study(venue, model, sampler, shocked, 3, 0, 2, 2, control);
  bool fired = false;
  for (std::size_t r = 0; r < 2; ++r) {
    cc::VenuePopulationSample t;
    cc::sample_venue_population(model, *venue, 3, r, t);
    const cc::VenueState state(venue, t.positions(), t.accounts());
    const cc::VenueAgents agents(state, cc::StopColumns{t.stop_market, t.stop_side, t.stop_qty, t.stop_price},
                                 cc::TokenColumns{}, cc::FundColumns{});
    const std::vector<double> moves = cc::venue_scenario_moves(sampler, shocked, 2, 3, r);
    std::vector<cc::Shock> shock_list{cc::Shock::relative(moves[0]), cc::Shock::relative(moves[1])};
    const cc::VenueResult direct = cc::venue_cascade(state, shock_list, agents);
    CHECK(rows.rounds[r] == direct.rounds);
    CHECK(rows.final_price[r] == direct.markets[0].final_price);
    CHECK(rows.token_bad_debt[r] == direct.token_bad_debt);
    fired = fired || direct.markets[0].stops.orders > 0;
  }
  CHECK(fired);
}
