// The engine without Python: a C++ program that embeds cascade_core::cascade_core, as an
// exchange's risk system would. Built and run by tests/test_cpp_core.py (or by hand:
// cmake -S . -B build/cpp -DCASCADE_CORE_BUILD_TESTS=ON && cmake --build build/cpp &&
// ctest --test-dir build/cpp).
#include <cascade_core/bulk_allocator.hpp>
#include <cascade_core/cascade.hpp>
#include <cascade_core/errors.hpp>
#include <cascade_core/margin.hpp>
#include <cascade_core/models.hpp>
#include <cascade_core/position_sampler.hpp>
#include <cascade_core/trigger_order.hpp>
#include <cascade_core/monte_carlo.hpp>
#include <cascade_core/radix_sort.hpp>
#include <cascade_core/rng.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <vector>

namespace cc = cascade_core;

static int failures = 0;
static int checks = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    ++checks;                                                         \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

// Whether the batch sampler's rows are the one-at-a-time draws of the side asked for, bit for
// bit and in index order.
static bool batch_matches_one_at_a_time(const cc::PopulationModel& pop, double ref_price,
                                        std::uint64_t seed, std::uint64_t scenario, int only_side) {
  cc::PositionSample sample;
  cc::sample_positions(pop, ref_price, seed, scenario, only_side, sample);
  std::size_t row = 0;
  bool same = true;
  for (std::uint32_t j = 0; j < pop.count; ++j) {
    const cc::PositionDraw d = cc::sample_position(pop, ref_price, seed, scenario, j);
    if (only_side != 0 && d.side != only_side) continue;
    same = same && row < sample.side.size() && sample.side[row] == d.side && sample.qty[row] == d.qty &&
           sample.entry_price[row] == d.entry_price && sample.margin[row] == d.margin &&
           sample.mmr[row] == d.mmr && sample.maint_amount[row] == d.maint_amount;
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

int main() {
  // Random123's known answer for philox4x32_10 with zero counter and key.
  const auto block = cc::philox4x32_10({0, 0, 0, 0}, {0, 0});
  CHECK(block[0] == 0x6627E8D5U && block[3] == 0x9B00DBD8U);

  // docs/design.md's Binance worked example.
  CHECK(std::abs(cc::liquidation_price(1, 1.0, 100000.0, 5000.0, 0.005, 50.0) - 95427.1) < 0.05);

  // A cascade: long 1 @ 100 with margin 1.5 (liq 98.5) and a long liquidated at 90.
  const std::vector<double> bid_price{99.0, 98.0, 97.0}, bid_qty{1.0, 1.0, 5.0};
  const std::vector<double> ask_price{101.0}, ask_qty{1.0};
  const cc::OrderBook book(bid_price, bid_qty, ask_price, ask_qty);
  const std::vector<std::int8_t> side{1, 1};
  const std::vector<double> qty{1.0, 1.0}, entry{100.0, 100.0}, margin{1.5, 10.0}, zero{0.0, 0.0};
  const cc::PositionSet positions(cc::PositionColumns{side, qty, entry, margin, zero, zero});
  const auto result = cc::cascade(book, positions, cc::Shock::sell(1.5), std::nan(""));
  CHECK(result.shock_price == 98.0);
  CHECK(result.n_liquidated == 1 && result.final_price == 97.0);

  // Bad input is a typed exception naming the field and index, never a crash.
  const std::vector<double> bad_qty{1.0, -1.0};
  try {
    const cc::PositionSet rejected(cc::PositionColumns{side, bad_qty, entry, margin, zero, zero});
    CHECK(false);
  } catch (const cc::InputError& error) {
    CHECK(error.field() == "qty" && error.index() == 1);
  }

  // A small study is the same on one thread and on three.
  cc::PopulationModel population;
  population.count = 5000;
  population.leverage = {10.0, 25.0};
  population.leverage_weight = {0.5, 0.5};
  population.entry_spread = 0.02;
  population.open_interest = 5e6;
  cc::BookModel book_model;
  book_model.mid = 100000.0;
  book_model.tick = 1.0;
  book_model.profile_distance = {0.0, 0.01, 0.1};
  book_model.profile_notional = {0.0, 2e6, 8e6};
  book_model.level_noise = 0.2;
  cc::ShockModel shocks;
  shocks.kind = cc::ShockModel::Kind::normal;
  shocks.scale = 0.03;
  cc::RunControl one, three;
  const auto a = cc::run_monte_carlo(population, book_model, shocks, 9, 0, 16, 1, one);
  const auto b = cc::run_monte_carlo(population, book_model, shocks, 9, 0, 16, 3, three);
  CHECK(a.final_price == b.final_price && a.bad_debt == b.bad_debt);
  CHECK(one.done.load() == 16);

  // The batch Philox (vectorised where the CPU allows) is philox4x32_10, counter by counter.
  {
    std::vector<std::uint32_t> item(1003), w0(1003), w1(1003), w2(1003), w3(1003);
    for (std::size_t i = 0; i < item.size(); ++i) item[i] = static_cast<std::uint32_t>(i * 2654435761U);
    cc::philox_blocks(item.size(), item.data(), 7U << 24, 0xDEADBEEFU, 3U, {0x243F6A88U, 0x85A308D3U},
                      w0.data(), w1.data(), w2.data(), w3.data());
    bool same = true;
    for (std::size_t i = 0; i < item.size(); ++i) {
      const auto want = cc::philox4x32_10({item[i], 7U << 24, 0xDEADBEEFU, 3U}, {0x243F6A88U, 0x85A308D3U});
      same = same && want[0] == w0[i] && want[1] == w1[i] && want[2] == w2[i] && want[3] == w3[i];
    }
    CHECK(same);
  }

  // The batch sampler is the one-position-at-a-time layout, bit for bit, for every size law,
  // entry law, maintenance rule and side filter.
  {
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
          pop.leverage_weight = {0.1, 0.5, 0.3, 0.1};
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

  // Side selection at the edges: everyone long, nobody long, counts around a group of 64.
  {
    bool same = true;
    int cases = 0;
    for (const double long_share : {0.0, 1.0, 0.3}) {
      for (const std::uint64_t count : {1ULL, 3ULL, 64ULL, 65ULL, 255ULL, 256ULL, 257ULL}) {
        for (const int only_side : {0, 1, -1}) {
          cc::PopulationModel pop;
          pop.count = count;
          pop.long_share = long_share;
          pop.leverage = {10.0};
          pop.leverage_weight = {1.0};
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

  // A study's records sorted only as far as its cascade reaches (TriggerOrder): the same
  // cascade as on fully sorted records — shocks that stop early, go deep or exhaust the book,
  // both sides. A small shock leaves most records unsorted; sorting on to the end gives
  // sort_triggers' order. An extend() that puts nothing more in order is an error, not a hang.
  {
    cc::PopulationModel pop;
    pop.count = 200'000;
    pop.long_share = 0.55;
    pop.leverage = {2.0, 5.0, 10.0, 25.0, 50.0, 100.0};
    pop.leverage_weight = {0.1, 0.2, 0.3, 0.2, 0.15, 0.05};
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
        same = same && partial.records.size() == full.records.size() &&
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

    struct Stuck final : cc::LazyTriggers {
      std::vector<cc::Trigger> all{{99.0, 1.0, 90.0}, {98.0, 1.0, 90.0}};
      std::span<const cc::Trigger> records() const noexcept override { return all; }
      std::size_t sorted() const noexcept override { return 0; }
      std::size_t extend() override { return 0; }
    } stuck;
    bool raised = false;
    try {
      (void)cc::cascade(book, stuck, cc::Direction::down, cc::Shock::relative(-0.05), std::nan(""));
    } catch (const std::logic_error&) {
      raised = true;
    }
    CHECK(raised);
  }

  // Inside a HugePageScope a new large block is made of whole, aligned 2 MiB pages (outside
  // it, ordinary malloc); the scope restores the thread's previous setting.
  {
    cc::release_cached_buffers();
    std::uintptr_t address = 0;
    {
      const cc::HugePageScope outer;
      { const cc::HugePageScope inner; }
      const cc::bulk_vector<double> block(700'000);  // 5.6 MB
      address = reinterpret_cast<std::uintptr_t>(block.data());
    }
    CHECK(address % (std::uintptr_t{2} << 20) == 0);
  }

  std::printf("cascade_core C++ tests: %d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
