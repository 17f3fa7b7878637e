#include "cascade_core/venue_study.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "cascade_core/errors.hpp"
#include "cascade_core/resources.hpp"

namespace cascade_core {

void VenueStudyColumns::resize(std::size_t n, std::size_t m) {
  rows = n;
  markets = m;
  for (auto* v : {&rounds, &n_liquidated, &accounts_liquidated}) v->resize(n);
  for (auto* v : {&liquidated_notional, &sold_notional, &bad_debt, &account_bad_debt, &token_bad_debt}) v->resize(n);
  scenario.resize(n);
  book_exhausted.resize(n);
  for (auto* v : {&shock, &shock_price, &final_price, &final_move, &amplification, &liquidated_notional_long,
                  &liquidated_notional_short, &market_sold_notional, &market_bad_debt, &token_notional,
                  &fund_notional, &market_token_bad_debt}) {
    v->resize(n * m);
  }
  market_n_liquidated.resize(n * m);
  market_book_exhausted.resize(n * m);
}

void VenueStudyColumns::set(std::size_t row, std::uint64_t scenario_index, std::span<const double> moves,
                            const VenueState& state, const VenueResult& result) {
  scenario[row] = scenario_index;
  rounds[row] = result.rounds;
  n_liquidated[row] = static_cast<std::int64_t>(result.liquidated_index.size());
  accounts_liquidated[row] = static_cast<std::int64_t>(result.account_index.size());
  bad_debt[row] = result.bad_debt;
  token_bad_debt[row] = result.token_bad_debt;
  double accounts_debt = 0.0;
  for (const double d : result.account_bad_debt) accounts_debt += d;
  account_bad_debt[row] = accounts_debt;
  // Which side each market's liquidations were on: a market whose closes were all longs (or
  // all shorts) gives that side its whole liquidated notional, exactly; one with both splits
  // it in proportion to the two sides' fills (qty x VWAP).
  std::vector<double> long_fills(markets, 0.0), short_fills(markets, 0.0);
  const auto side = state.side();
  const auto market = state.market();
  for (std::size_t j = 0; j < result.liquidated_index.size(); ++j) {
    const auto i = static_cast<std::size_t>(result.liquidated_index[j]);
    const double filled = result.filled_qty[j];
    const double value = filled > 0.0 ? filled * result.fill_price[j] : 0.0;
    const auto m = static_cast<std::size_t>(market[i]);
    (side[i] > 0 ? long_fills : short_fills)[m] += value;
  }
  double total_notional = 0.0, total_sold = 0.0;
  bool any_exhausted = false;
  for (std::size_t m = 0; m < markets; ++m) {
    const VenueMarketResult& r = result.markets[m];
    const std::size_t at = m * rows + row;
    shock[at] = moves[m];
    shock_price[at] = r.shock_price;
    final_price[at] = r.final_price;
    final_move[at] = r.final_price / r.ref_price - 1.0;
    const double shock_delta = r.shock_price - r.ref_price;  // as CascadeResult::amplification
    amplification[at] = shock_delta != 0.0 ? (r.final_price - r.ref_price) / shock_delta
                                           : std::numeric_limits<double>::quiet_NaN();
    double long_part = r.liquidated_notional;
    if (short_fills[m] > 0.0) {
      long_part = long_fills[m] > 0.0
                      ? r.liquidated_notional * (long_fills[m] / (long_fills[m] + short_fills[m]))
                      : 0.0;
    }
    liquidated_notional_long[at] = long_part;
    liquidated_notional_short[at] = r.liquidated_notional - long_part;
    market_sold_notional[at] = r.sold_notional;
    market_bad_debt[at] = r.bad_debt;
    market_n_liquidated[at] = r.n_liquidated;
    market_book_exhausted[at] = r.book_exhausted ? 1 : 0;
    token_notional[at] = r.tokens.notional;
    fund_notional[at] = r.funds.notional;
    market_token_bad_debt[at] = r.token_bad_debt;
    total_notional += r.liquidated_notional;
    total_sold += r.sold_notional;
    any_exhausted = any_exhausted || r.book_exhausted;
  }
  liquidated_notional[row] = total_notional;
  sold_notional[row] = total_sold;
  book_exhausted[row] = any_exhausted ? 1 : 0;
}

void check_shocked_markets(std::span<const std::size_t> shocked, std::size_t dimension, std::size_t n_markets) {
  if (shocked.size() != dimension) {
    throw InputError("markets", "the shock model moves " + std::to_string(dimension) + " markets, but " +
                                    std::to_string(shocked.size()) + " are named");
  }
  for (std::size_t i = 0; i < shocked.size(); ++i) {
    if (shocked[i] >= n_markets) {
      throw InputError("markets", static_cast<std::ptrdiff_t>(i),
                       "no market " + std::to_string(shocked[i]) + " in a venue of " + std::to_string(n_markets));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (shocked[j] == shocked[i]) {
        throw InputError("markets", static_cast<std::ptrdiff_t>(i),
                         "market " + std::to_string(shocked[i]) + " is named twice (also markets[" +
                             std::to_string(j) + "])");
      }
    }
  }
}

std::vector<double> venue_scenario_moves(const CorrelatedShockSampler& sampler, std::span<const std::size_t> shocked,
                                         std::size_t n_markets, std::uint64_t seed, std::uint64_t scenario) {
  std::vector<double> drawn(sampler.dimension()), moves(n_markets, 0.0);
  sampler.sample(seed, scenario, drawn);
  for (std::size_t j = 0; j < drawn.size(); ++j) moves[shocked[j]] = drawn[j];
  return moves;
}

VenueStudyColumns run_venue_study(const VenueState& state, const CorrelatedShockSampler& sampler,
                                  std::span<const std::size_t> shocked, std::uint64_t seed, std::uint64_t first,
                                  std::size_t count, unsigned threads, RunControl& control,
                                  const VenueAgents* agents) {
  const std::size_t n_markets = state.n_markets();
  check_shocked_markets(shocked, sampler.dimension(), n_markets);
  check_scenario_range(first, count);
  check_threads(threads);
  require_memory("n_scenarios",
                 static_cast<double>(count) * (72.0 + 112.0 * static_cast<double>(n_markets)), "the study's rows");
  VenueStudyColumns out;
  out.resize(count, n_markets);
  parallel_for(count, threads, control, [&](std::size_t row) {
    const std::uint64_t scenario = first + row;
    const std::vector<double> moves = venue_scenario_moves(sampler, shocked, n_markets, seed, scenario);
    std::vector<Shock> shocks;
    shocks.reserve(n_markets);
    for (const double move : moves) shocks.push_back(Shock::relative(move));
    try {
      out.set(row, scenario, moves, state,
              agents != nullptr ? venue_cascade(state, shocks, *agents, &control.cancel)
                                : venue_cascade(state, shocks, &control.cancel));
    } catch (const InputError& error) {
      if (error.field() != "shocks") throw;
      throw InputError("shocks", "scenario " + std::to_string(scenario) + "'s move of market " +
                                     std::to_string(error.index()) + " is not one its book can take (" +
                                     error.what() + ")");
    }
  });
  return out;
}

}  // namespace cascade_core
