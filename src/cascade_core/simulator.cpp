#include "cascade_core/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "cascade_core/errors.hpp"
#include "cascade_core/resources.hpp"
#include "market_engine.hpp"

namespace cascade_core {

void SimulationConfig::validate(std::size_t) const {
  // (bounded so that step arithmetic never overflows; memory refuses far fewer)
  require(steps >= 1 && steps <= (std::int64_t{1} << 40), "steps", "must be in [1, 2**40]", static_cast<double>(steps));
  require(std::isfinite(dt) && dt > 0.0 && std::isfinite(dt * static_cast<double>(steps)), "dt",
          "must be finite and > 0, and dt * steps finite (the timeline's time)", dt);
  require(std::isfinite(resilience) && resilience >= 0.0, "resilience", "must be finite and >= 0", resilience);
  if (!path.empty() && path.size() != static_cast<std::size_t>(steps)) {
    throw InputError("path", "length " + std::to_string(path.size()) + " does not match steps " + std::to_string(steps));
  }
  for (std::size_t t = 0; t < path.size(); ++t) {
    if (!(std::isfinite(path[t]) && path[t] > 0.0)) {
      throw InputError("path", static_cast<std::ptrdiff_t>(t), "must be finite and > 0, got " + format_value(path[t]));
    }
  }
  if (!flow.empty() && flow.size() != static_cast<std::size_t>(steps)) {
    throw InputError("flow", "length " + std::to_string(flow.size()) + " does not match steps " + std::to_string(steps));
  }
  for (std::size_t t = 0; t < flow.size(); ++t) {
    if (!std::isfinite(flow[t])) throw InputError("flow", static_cast<std::ptrdiff_t>(t), "must be finite");
  }
  require(std::isfinite(shock) && shock > -1.0, "shock", "must be finite and > -1", shock);
  require(std::isfinite(mark_halflife) && mark_halflife >= 0.0, "mark_halflife", "must be finite and >= 0", mark_halflife);
  require(std::isfinite(basis), "basis", "must be finite", basis);
  require(std::isfinite(band) && band >= 0.0 && band < 1.0, "band", "must be in [0, 1)", band);
  for (std::size_t k = 0; k < breakers.size(); ++k) {
    const auto& b = breakers[k];
    if (!(std::isfinite(b.move) && b.move > 0.0 && b.window >= 1 && b.halt >= 1)) {
      throw InputError("breakers", static_cast<std::ptrdiff_t>(k), "needs move > 0, window >= 1 and halt >= 1");
    }
  }
  require(std::isfinite(insurance_fund), "insurance_fund", "must be finite", insurance_fund);
  require(funding_interval >= 0, "funding_interval", "must be >= 0 (0: no funding)", static_cast<double>(funding_interval));
  if (!funding_rate.empty()) {
    if (funding_interval == 0) throw InputError("funding_rate", "needs a funding_interval > 0");
    if (funding_rate.size() != static_cast<std::size_t>(steps)) {
      throw InputError("funding_rate", "length " + std::to_string(funding_rate.size()) + " does not match steps " +
                                           std::to_string(steps));
    }
    for (std::size_t t = 0; t < funding_rate.size(); ++t) {
      if (!(std::isfinite(funding_rate[t]) && std::abs(funding_rate[t]) < 1.0)) {
        throw InputError("funding_rate", static_cast<std::ptrdiff_t>(t),
                         "must be finite and in (-1, 1), got " + format_value(funding_rate[t]));
      }
    }
  }
  require(std::isfinite(funding_interest) && std::abs(funding_interest) < 1.0, "funding_interest",
          "must be finite and in (-1, 1)", funding_interest);
  require(std::isfinite(funding_clamp) && funding_clamp >= 0.0 && funding_clamp < 1.0, "funding_clamp",
          "must be in [0, 1)", funding_clamp);
  require(std::isfinite(funding_cap) && funding_cap >= 0.0 && funding_cap < 1.0, "funding_cap", "must be in [0, 1)",
          funding_cap);
  policy.validate();
}

void LiquidationPolicy::validate() const {
  require(std::isfinite(fee_rate) && fee_rate >= 0.0 && fee_rate <= 1.0, "fee_rate", "must be finite and in [0, 1]",
          fee_rate);
  require(std::isfinite(backstop_fraction) && backstop_fraction >= 0.0 && backstop_fraction <= 1.0,
          "backstop_fraction", "must be finite and in [0, 1]", backstop_fraction);
  tiers.validate();
  if (partial_tiers && tiers.notional_floor.empty()) throw InputError("tiers", "partial_tiers needs a tier table");
  require(max_orders_per_step >= 0, "max_orders_per_step", "must be >= 0", static_cast<double>(max_orders_per_step));
  require(std::isfinite(max_notional_per_step) && max_notional_per_step >= 0.0, "max_notional_per_step",
          "must be finite and >= 0", max_notional_per_step);
  require(std::isfinite(unwind_per_step) && unwind_per_step >= 0.0, "unwind_per_step", "must be finite and >= 0",
          unwind_per_step);
  require(std::isfinite(slice_above) && slice_above >= 0.0, "slice_above", "must be finite and >= 0", slice_above);
  require(std::isfinite(slice_fraction) && slice_fraction > 0.0 && slice_fraction <= 1.0, "slice_fraction",
          "must be in (0, 1]", slice_fraction);
  require(std::isfinite(slice_cooldown) && slice_cooldown >= 0.0, "slice_cooldown", "must be finite and >= 0",
          slice_cooldown);
  require(std::isfinite(taker_fee) && taker_fee >= 0.0 && taker_fee < 1.0, "taker_fee", "must be in [0, 1)", taker_fee);
  require(margin_call_grace >= 0 && margin_call_grace <= (std::int64_t{1} << 40), "margin_call_grace",
          "must be in [0, 2**40] steps", static_cast<double>(margin_call_grace));
  require(std::isfinite(margin_call_met) && margin_call_met >= 0.0 && margin_call_met <= 1.0, "margin_call_met",
          "must be a probability in [0, 1]", margin_call_met);
  require(latency >= 0 && latency <= (std::int64_t{1} << 40), "latency", "must be in [0, 2**40] steps",
          static_cast<double>(latency));
  if (adl_ranking != AdlRanking::pnl_leverage && adl_ranking != AdlRanking::binance) {
    throw InputError("adl_ranking", "must be pnl_leverage or binance");
  }
}

void check_market_run(const OrderBook& book, const PositionSet& positions, const SimulationConfig& config) {
  config.validate(positions.size());

  const double mid = book.mid();  // both sides needed: the mid is the book's centre
  const auto [lowest, highest] = std::minmax_element(config.path.begin(), config.path.end());
  const double lowest_path = config.path.empty() ? mid : *lowest;
  const double top_path = config.path.empty() ? mid : *highest;
  if (config.mark == SimulationConfig::Mark::index) {
    // the mark is the fundamental plus the basis: it must stay a price (> 0) at every step
    if (!(lowest_path + config.basis > 0.0)) {
      throw InputError("basis", "the index mark path + basis must stay > 0, but the lowest fundamental " +
                                    format_value(lowest_path) + " plus basis " + format_value(config.basis) + " is not");
    }
  }
  // Every running total (fund, inventory, fills) is bounded by what the book can trade over
  // the run: its quantity at its worst shifted price, once per step.
  const double shift = std::max(0.0, top_path - mid);
  const double size = positions.inverse_size();
  double per_step = 0.0;
  for (const BookSide* side : {&book.bids(), &book.asks()}) {
    double qty = 0.0;
    for (const double q : side->qty) qty += q;
    if (side->empty()) continue;
    if (size == 0.0) {
      per_step += qty * (std::max(side->price.front(), side->price.back()) + shift);
    } else {
      // an inverse market's values are in coin, contracts * size / price: bounded by the
      // lowest price a level can be shifted to, which must stay away from 0
      const double lowest_level = std::min(side->price.front(), side->price.back()) + std::min(0.0, lowest_path - mid);
      if (!(lowest_level > 0.0)) {
        throw InputError("path", "an inverse market's book levels must stay above 0 on the path (a level's coin "
                                 "value is contracts * size / price): the lowest path " +
                                     format_value(lowest_path) + " takes a level to " + format_value(lowest_level));
      }
      per_step += qty * size / lowest_level;
    }
  }
  constexpr double bound = std::numeric_limits<double>::max() / 4.0;
  if (!(std::abs(config.insurance_fund) <= bound)) {
    throw InputError("insurance_fund", "must be at most " + format_value(bound) + " in size, got " +
                                           format_value(config.insurance_fund));
  }
  if (!(per_step * (static_cast<double>(config.steps) + 1.0) <= bound)) {
    throw InputError("steps", "the book's notional traded over every step (" + format_value(per_step) +
                                  " per step) would overflow the running totals");
  }
  // The timeline's columns and the breakers' price history, per step; the position copies.
  constexpr double bytes_per_step = 21 * sizeof(double);
  constexpr double bytes_per_position = 6 * sizeof(double) + 2;
  require_memory("steps",
                 bytes_per_step * static_cast<double>(config.steps) +
                     bytes_per_position * static_cast<double>(positions.size()),
                 "the simulation's timeline");
}

SimulationResult simulate(const OrderBook& book, const PositionSet& positions,
                          const SimulationConfig& config, const std::atomic<bool>* cancel) {
  check_market_run(book, positions, config);
  positions.prepare();
  engine::MarketEngine simulation(book, positions, config);
  return simulation.run(cancel);
}

}  // namespace cascade_core
