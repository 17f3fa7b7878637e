#include "cascade_core/monte_carlo.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "cascade_core/errors.hpp"
#include "cascade_core/inverse.hpp"
#include "cascade_core/resources.hpp"

namespace cascade_core {

void ScenarioColumns::resize(std::size_t n) {
  scenario.resize(n);
  shock.resize(n);
  final_price.resize(n);
  final_move.resize(n);
  amplification.resize(n);
  liquidated_notional_long.resize(n);
  liquidated_notional_short.resize(n);
  bad_debt.resize(n);
  n_liquidated.resize(n);
  rounds.resize(n);
  book_exhausted.resize(n);
}

void ScenarioColumns::set(std::size_t row, std::uint64_t scenario_index, double shock_value,
                          const CascadeResult& r) {
  scenario[row] = scenario_index;
  shock[row] = shock_value;
  final_price[row] = r.final_price;
  final_move[row] = r.final_move();
  amplification[row] = r.amplification();
  const bool down = r.direction == Direction::down;
  liquidated_notional_long[row] = down ? r.liquidated_notional : 0.0;
  liquidated_notional_short[row] = down ? 0.0 : r.liquidated_notional;
  bad_debt[row] = r.bad_debt;
  n_liquidated[row] = r.n_liquidated;
  rounds[row] = r.rounds;
  book_exhausted[row] = r.book_exhausted ? 1 : 0;
}

void check_scenario_range(std::uint64_t first, std::uint64_t count, const char* field) {
  // scenario numbers are int64 in the result table, and sample_scenario takes them back
  constexpr std::uint64_t limit = std::uint64_t{1} << 63;
  if (first >= limit || count > limit - first) {
    if (count == 1) throw InputError(field, "a scenario number must be < 2**63, got " + std::to_string(first));
    throw InputError(field, "first_scenario + n_scenarios must be <= 2**63, got " + std::to_string(first) + " + " +
                                std::to_string(count));
  }
}

void check_threads(unsigned threads) {
  if (threads > max_threads) {
    throw InputError("threads", "must be at most " + std::to_string(max_threads) + ", got " + std::to_string(threads));
  }
}

// A scenario's book: the book model's, in contracts for an inverse population (its profile is
// USD notional: each level's notional / contract size).
OrderBook study_book(const PopulationModel& population, const BookModel& book_model, std::uint64_t seed,
                     std::uint64_t scenario) {
  OrderBook book = sample_book(book_model, seed, scenario);
  if (population.inverse_size != 0.0) return contract_book(book, population.inverse_size);
  return book;  // (moved, not copied)
}

void reject_population_sample(const PopulationModel& population, const PositionSample& sample,
                              std::uint64_t scenario) {
  try {
    if (population.inverse_size == 0.0) {
      const PositionSet positions(sample.columns(), false, population.margin_rule);
    } else {  // the contract columns as Positions(contract="inverse") builds them
      const PositionColumns c = sample.columns();
      const std::size_t n = c.side.size();
      std::vector<std::int8_t> side(n);
      std::vector<double> qty(n), entry(n);
      reciprocal_positions(c.side, c.qty, c.entry_price, population.inverse_size, side, qty, entry);
      const PositionSet positions(PositionColumns{side, qty, entry, c.margin, c.mmr, c.maint_amount}, false,
                                  population.margin_rule, population.inverse_size);
    }
  } catch (const InputError& error) {
    // valid parameters whose draws leave the engine's domain: name the model, not a position
    throw InputError("population", "scenario " + std::to_string(scenario) +
                                       " drew a position the engine cannot represent (" + error.what() +
                                       "): its entry_spread and entry_df, size_shape or open_interest "
                                       "are too extreme");
  }
}

unsigned default_threads() noexcept {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

void parallel_for(std::size_t count, unsigned threads, RunControl& control,
                  const std::function<void(std::size_t)>& work) {
  if (threads == 0) threads = default_threads();
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, count == 0 ? 1 : count));
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto worker = [&] {
    for (;;) {
      if (control.cancel.load(std::memory_order_relaxed)) return;
      const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= count) return;
      try {
        work(i);
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        control.cancel.store(true);
        return;
      }
      control.done.fetch_add(1, std::memory_order_relaxed);
    }
  };
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::jthread> pool;
    pool.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
  }  // jthreads join here
  if (failure) std::rethrow_exception(failure);
}

ScenarioColumns run_monte_carlo(const PopulationModel& population, const BookModel& book_model,
                                const ShockModel& shocks, std::uint64_t seed, std::uint64_t first,
                                std::size_t count, unsigned threads, RunControl& control) {
  population.validate();
  book_model.validate();
  shocks.validate();
  check_scenario_range(first, count);
  check_threads(threads);
  require_memory("n_scenarios", static_cast<double>(count) * bytes_per_row, "the study's rows");
  const double workers = static_cast<double>(std::min<std::size_t>(threads == 0 ? default_threads() : threads,
                                                                   std::max<std::size_t>(count, 1)));
  require_memory("count", workers * static_cast<double>(population.count) * bytes_per_sampled_position,
                 "one sampled population per worker thread");
  ScenarioColumns out;
  out.resize(count);
  // A book without randomness is the same in every scenario: build it once.
  std::optional<OrderBook> fixed_book;
  if (!book_model.random()) fixed_book.emplace(study_book(population, book_model, seed, 0));
  // An inverse population's scenarios run on the reciprocal market (inverse.hpp), as cascade()
  // runs an inverse set: a fixed book's reciprocal built once too.
  const double inverse_size = population.inverse_size;
  std::optional<OrderBook> fixed_reciprocal;
  if (inverse_size != 0.0 && fixed_book) fixed_reciprocal.emplace(reciprocal_book(*fixed_book, inverse_size));
  if (threads == 0) threads = default_threads();
  // One position sample per worker thread, reused across its scenarios: memory stays bounded.
  std::mutex samples_mutex;
  std::vector<std::unique_ptr<TriggerSample>> spare;
  parallel_for(count, threads, control, [&](std::size_t row) {
    const HugePageScope huge_pages;  // this worker's blocks serve many scenarios
    std::unique_ptr<TriggerSample> sample;
    {
      std::lock_guard lock(samples_mutex);
      if (!spare.empty()) {
        sample = std::move(spare.back());
        spare.pop_back();
      }
    }
    if (!sample) sample = std::make_unique<TriggerSample>();
    const std::uint64_t scenario = first + row;
    const double shock = sample_shock(shocks, seed, scenario);
    std::optional<OrderBook> scenario_book;  // (sample_scenario composes a scenario the same way)
    if (!fixed_book) scenario_book.emplace(study_book(population, book_model, seed, scenario));
    const OrderBook& book = fixed_book ? *fixed_book : *scenario_book;
    // Only the side the shock moves toward can be triggered: sample that side straight into
    // trigger records, cascade, sorting them as far as the cascade reaches (the same values
    // and order as a PositionSet built from sample_positions' columns: the row equals
    // cascade() on sample_scenario's inputs).
    const Direction direction = Shock::relative(shock).moves();
    if (shock != 0.0) {
      sample_triggers(population, book.mid(), seed, scenario, direction, *sample, &control.cancel);
    } else {
      sample->records.clear();
    }
    if (!control.cancel.load()) {
      if (!sample->valid) {
        // some position is one PositionSet rejects: build it to raise its error
        PositionSample columns;
        sample_positions(population, book.mid(), seed, scenario, direction == Direction::down ? 1 : -1,
                         columns);
        reject_population_sample(population, columns, scenario);
        throw std::logic_error("run_monte_carlo: a sampled position was flagged but not rejected");
      }
      TriggerOrder order(*sample);  // sorted as far as the cascade reaches
      try {
        if (inverse_size == 0.0) {
          out.set(row, scenario, shock, cascade(book, order, direction, Shock::relative(shock), book.mid()));
        } else {
          const ReciprocalShock r = reciprocal_shock(book, Shock::relative(shock), book.mid(), inverse_size);
          std::optional<OrderBook> scenario_reciprocal;
          if (!fixed_reciprocal) scenario_reciprocal.emplace(reciprocal_book(book, inverse_size));
          const OrderBook& reciprocal = fixed_reciprocal ? *fixed_reciprocal : *scenario_reciprocal;
          out.set(row, scenario, shock,
                  to_contract_terms(cascade(reciprocal, order, sample->direction, r.shock, r.ref), r, inverse_size,
                                    book));
        }
      } catch (const InputError& error) {
        if (error.field() != "shock") throw;
        throw InputError("shocks", "scenario " + std::to_string(scenario) + "'s shock " + format_value(shock) +
                                       " is not one the book can take (" + error.what() + ")");
      }
    }
    std::lock_guard lock(samples_mutex);
    spare.push_back(std::move(sample));
  });
  return out;
}

ScenarioSample sample_scenario(const PopulationModel& population, const BookModel& book_model,
                               const ShockModel& shocks, std::uint64_t seed, std::uint64_t scenario,
                               const std::atomic<bool>* cancel, const char* scenario_field) {
  population.validate();
  book_model.validate();
  shocks.validate();
  check_scenario_range(scenario, 1, scenario_field);
  require_memory("count", static_cast<double>(population.count) * 2.0 * (5 * sizeof(double) + 1),
                 "the scenario's position columns");
  const double shock = sample_shock(shocks, seed, scenario);
  ScenarioSample out{study_book(population, book_model, seed, book_model.random() ? scenario : 0), {}, shock};
  sample_positions(population, out.book.mid(), seed, scenario, 0, out.positions, cancel);
  if (cancel == nullptr || !cancel->load()) reject_population_sample(population, out.positions, scenario);
  return out;
}

ScenarioColumns cascade_many(const OrderBook& book, const PositionSet& positions,
                             std::span<const double> shocks, std::optional<double> ref_price, unsigned threads,
                             RunControl& control, bool detail) {
  check_threads(threads);
  require_memory("shocks", static_cast<double>(shocks.size()) * bytes_per_row, "the rows of cascade_many");
  for (std::size_t i = 0; i < shocks.size(); ++i) {
    if (!(std::isfinite(shocks[i]) && shocks[i] > -1.0)) {
      throw InputError("shocks", static_cast<std::ptrdiff_t>(i),
                       "must be finite and > -1, got " + format_value(shocks[i]));
    }
  }
  ScenarioColumns out;
  out.resize(shocks.size());
  if (detail) {
    positions.prepare(&control.cancel);  // once, before the threads share it
    parallel_for(shocks.size(), threads, control, [&](std::size_t i) {
      out.set(i, i, shocks[i],
              cascade(book, positions, Shock::relative(shocks[i]), ref_price, /*record_positions=*/false));
    });
    return out;
  }
  // Index only the directions the shocks move (a zero shock needs neither), once, before the
  // threads share it. An inverse market's cascades run on its reciprocal market (inverse.hpp):
  // its book once, each shock turned into a move of 1/p, each result back into contract terms.
  const double size = positions.inverse_size();
  const bool inverse = size != 0.0;
  const bool down = std::any_of(shocks.begin(), shocks.end(), [](double s) { return s < 0.0; });
  const bool up = std::any_of(shocks.begin(), shocks.end(), [](double s) { return s > 0.0; });
  const std::optional<OrderBook> reciprocal = inverse ? std::optional(reciprocal_book(book, size)) : std::nullopt;
  const AggregateCascade aggregate(inverse ? *reciprocal : book, positions, inverse ? up : down, inverse ? down : up,
                                   &control.cancel);
  parallel_for(shocks.size(), threads, control, [&](std::size_t i) {
    const Shock shock = Shock::relative(shocks[i]);
    if (!inverse) {
      out.set(i, i, shocks[i], aggregate.run(shock, ref_price));
      return;
    }
    const ReciprocalShock r = reciprocal_shock(book, shock, ref_price, size);
    out.set(i, i, shocks[i], to_contract_terms(aggregate.run(r.shock, r.ref), r, size, book));
  });
  return out;
}

}  // namespace cascade_core
