// Monte Carlo studies: many independent scenarios on a thread pool, one result row each,
// written into preallocated columns. Results never depend on the thread count or on how the
// scenario range is split.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "cascade_core/aggregate_cascade.hpp"
#include "cascade_core/cascade.hpp"
#include "cascade_core/models.hpp"
#include "cascade_core/position_sampler.hpp"
#include "cascade_core/trigger_order.hpp"

namespace cascade_core {

// Shared between a run and whoever watches it: `cancel` stops it within one scenario (or
// one 65,536-position sampling chunk), `done` counts finished rows.
struct RunControl {
  std::atomic<bool> cancel{false};
  std::atomic<std::uint64_t> done{0};
};

// One row per scenario (or per shock of cascade_many), as columns.
struct ScenarioColumns {
  std::vector<std::uint64_t> scenario;
  std::vector<double> shock, final_price, final_move, amplification;
  std::vector<double> liquidated_notional_long, liquidated_notional_short, bad_debt;
  std::vector<std::int64_t> n_liquidated, rounds;
  std::vector<std::uint8_t> book_exhausted;

  void resize(std::size_t n);
  void set(std::size_t row, std::uint64_t scenario_index, double shock_value,
           const CascadeResult& result);
};

// Runs `work(i)` for i in [0, count) on `threads` threads (0: every core), stopping early when
// `control.cancel` is set; counts finished items in `control.done`. The first exception thrown
// by any `work` cancels the rest and is rethrown here, after every thread has joined.
void parallel_for(std::size_t count, unsigned threads, RunControl& control,
                  const std::function<void(std::size_t)>& work);

unsigned default_threads() noexcept;

// The most worker threads a run may ask for.
inline constexpr unsigned max_threads = 1024;
// Memory per result row, and per sampled position of a worker (its trigger records and their
// bucket copy), for the up-front memory checks.
inline constexpr double bytes_per_row = 96.0;
inline constexpr double bytes_per_sampled_position = 64.0;

// InputError naming `field` (first_scenario, or the index of one scenario) unless [first, first +
// count) fits in int64 scenario numbers.
void check_scenario_range(std::uint64_t first, std::uint64_t count, const char* field = "first_scenario");
// InputError naming threads when more than max_threads are asked for (0: every core).
void check_threads(unsigned threads);
// Throws InputError naming the population when `sample` (scenario `scenario`) holds a
// position PositionSet rejects; returns when it holds none.
void reject_population_sample(const PopulationModel& population, const PositionSample& sample,
                              std::uint64_t scenario);

// Scenarios [first, first + count) of a study. Each: shock from `shocks`, book from `book`,
// positions from `population` around the book's mid — only the side the shock puts at risk
// is sampled — then one static cascade. A model's validate() is called first.
ScenarioColumns run_monte_carlo(const PopulationModel& population, const BookModel& book,
                                const ShockModel& shocks, std::uint64_t seed, std::uint64_t first,
                                std::size_t count, unsigned threads, RunControl& control);

// The inputs of one scenario of a study, as run_monte_carlo draws them (both sides of the
// population): a direct cascade on them reproduces the scenario's row.
struct ScenarioSample {
  OrderBook book;
  PositionSample positions;
  double shock = 0.0;
};

// Scenario `scenario` of a study: its shock, its book (a book model without randomness gives
// every scenario scenario 0's book) and its positions around the book's mid. Validates the
// models; throws InputError naming the population when a drawn position is one PositionSet
// rejects. `cancel` stops the sampling early (the sample is then incomplete).
ScenarioSample sample_scenario(const PopulationModel& population, const BookModel& book,
                               const ShockModel& shocks, std::uint64_t seed, std::uint64_t scenario,
                               const std::atomic<bool>* cancel = nullptr, const char* scenario_field = "index");

// One fixed position set, many relative shocks (the sort is shared). Rows are in `shocks` order.
// By default each row comes from the aggregate path (AggregateCascade: prefix sums, O(rounds ·
// log n) per shock, the set and book indexed once per call); with `detail`, from cascade()'s
// walk over every position a shock reaches. docs/design.md says how the two agree.
ScenarioColumns cascade_many(const OrderBook& book, const PositionSet& positions,
                             std::span<const double> shocks, std::optional<double> ref_price, unsigned threads,
                             RunControl& control, bool detail = false);

}  // namespace cascade_core
