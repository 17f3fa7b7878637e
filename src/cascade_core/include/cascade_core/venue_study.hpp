// Monte Carlo over a venue (docs/design.md, "Monte Carlo", "Studies over a venue"): a fixed
// venue (its markets, positions and accounts, indexed once in a VenueState shared read-only by
// the worker threads), correlated moves per scenario (correlated_shocks.hpp), one static venue
// cascade each, one row per scenario with venue-wide and per-market columns. Rows are
// bit-identical for any thread count and any split of the scenario range.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "cascade_core/correlated_shocks.hpp"
#include "cascade_core/monte_carlo.hpp"
#include "cascade_core/venue.hpp"

namespace cascade_core {

// Venue-wide columns have one value per row; per-market columns are market-major (market m's
// value of row r at [m * rows + r]), so that each market's column is contiguous.
struct VenueStudyColumns {
  std::size_t rows = 0, markets = 0;
  // venue-wide
  std::vector<std::uint64_t> scenario;
  std::vector<std::int64_t> rounds, n_liquidated, accounts_liquidated;
  std::vector<double> liquidated_notional, sold_notional, bad_debt, account_bad_debt;
  std::vector<double> token_bad_debt;  // the tokens' issuers' shortfall, apart from bad_debt (VenueResult)
  std::vector<std::uint8_t> book_exhausted;  // in any market
  // per market
  std::vector<double> shock, shock_price, final_price, final_move, amplification;
  std::vector<double> liquidated_notional_long, liquidated_notional_short, market_sold_notional, market_bad_debt;
  std::vector<std::int64_t> market_n_liquidated;
  std::vector<std::uint8_t> market_book_exhausted;
  std::vector<double> token_notional, fund_notional;  // agents' filled notional (0 without agents)
  std::vector<double> market_token_bad_debt;          // per market: its tokens' issuers' shortfall

  void resize(std::size_t rows, std::size_t markets);
  // Row `row` from one cascade's result (`moves`: the relative shock of every market).
  void set(std::size_t row, std::uint64_t scenario_index, std::span<const double> moves, const VenueState& state,
           const VenueResult& result);
};

// Every market's relative move in scenario `scenario`: the sampler's moves at the markets
// `shocked` names (one per dimension), 0 elsewhere.
std::vector<double> venue_scenario_moves(const CorrelatedShockSampler& sampler, std::span<const std::size_t> shocked,
                                         std::size_t n_markets, std::uint64_t seed, std::uint64_t scenario);

// InputError naming markets[i] unless `shocked` names one distinct market of the venue per
// dimension of the model.
void check_shocked_markets(std::span<const std::size_t> shocked, std::size_t dimension, std::size_t n_markets);

// Scenarios [first, first + count) of a study over `state`: each draws its moves and runs
// venue_cascade(state, moves) — with `agents` trading when given (built for this state). A
// scenario whose move a market's book cannot take is an InputError naming shocks, the scenario
// and the market.
VenueStudyColumns run_venue_study(const VenueState& state, const CorrelatedShockSampler& sampler,
                                  std::span<const std::size_t> shocked, std::uint64_t seed, std::uint64_t first,
                                  std::size_t count, unsigned threads, RunControl& control,
                                  const VenueAgents* agents = nullptr);

}  // namespace cascade_core
