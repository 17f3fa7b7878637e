// Populations of a venue sampled per scenario (docs/design.md, "Populations over a venue"):
// traders that hold positions in several markets — cross-margin accounts with collateral
// baskets, or isolated positions — whose directions load on a common "strategy" factor,
// leveraged tokens and leverage-targeting funds. Every draw comes from a counter-based stream
// (rng.hpp: Purpose::venue_trader, venue_strategy, venue_token, venue_fund, venue_stop), so a scenario's
// population is a pure function of (seed, scenario): bit-identical for any thread count, split
// or machine. The study over a venue with such a population (run_venue_population_study)
// samples one scenario at a time per worker (memory bounded by one population per thread).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "cascade_core/bulk_allocator.hpp"
#include "cascade_core/correlated_shocks.hpp"
#include "cascade_core/models.hpp"
#include "cascade_core/monte_carlo.hpp"
#include "cascade_core/venue.hpp"
#include "cascade_core/venue_study.hpp"

namespace cascade_core {

struct VenuePopulationModel {
  using SizeDistribution = PopulationModel::SizeDistribution;

  // Traders (an account, cross or isolated) and the markets they trade.
  std::uint64_t traders = 0;
  double cross_share = 0.5;                  // a trader is a cross-margin account with this probability
  std::vector<std::int64_t> markets;         // the venue markets traded (distinct)
  std::vector<double> open_interest;         // per traded market: expected total notional (> 0)
  std::vector<double> markets_per_trader;    // weight of holding k = 1, 2, ... of them (a k-subset, uniform)
  // Directions: position (trader a, market m) is long when
  // loading * f[s(a), m] + sqrt(1 - loading^2) * eps[a, m] < Phi^-1(long_share), the factor of
  // strategy s f[s, m] = sqrt(rho) g[s] + sqrt(1 - rho) h[s, m] (g, h, eps standard normals).
  double long_share = 0.5;
  std::uint64_t strategies = 1;
  double strategy_loading = 0.0;             // in [0, 1]
  double strategy_market_correlation = 0.0;  // rho in [0, 1]
  // Leverage: a cross account's one draw, an isolated position's own; capped at the tier's
  // max_leverage of the position's notional where its market has one.
  std::vector<double> leverage, leverage_weights;
  double entry_spread = 0.02;                // entry = ref * exp(spread * Z)
  SizeDistribution size_distribution = SizeDistribution::pareto;  // a trader's size, shared by its positions
  double size_shape = 1.5;
  double mmr = 0.005;                        // markets without tiers
  double maint_amount = 0.0;
  // Collateral baskets: rows of value shares over the venue's assets (n_baskets x n_assets,
  // row-major, each row >= 0 summing to 1), chosen per cross account with basket_weights.
  std::vector<double> baskets, basket_weights;
  // Leveraged tokens: each on a traded market drawn uniformly; leverage and threshold from their
  // mixes; NAV token_nav * open_interest[m] * markets / tokens * X (X lognormal, mean 1, sigma
  // agent_size_sigma): the expected total NAV in market m is token_nav * open_interest[m].
  std::uint64_t tokens = 0;
  std::vector<double> token_leverage, token_leverage_weights;
  std::vector<double> token_threshold, token_threshold_weights;
  double token_nav = 0.0;
  // Funds: each holds a uniform k-subset of the traded markets (k from fund_markets weights),
  // value weights in proportion to the markets' open interest; assets fund_assets * sum(open
  // interest) / funds * X; target leverage from its mix; buffer max = target * U(buffer_min,
  // buffer_max); drawn at its target (equity = assets / target).
  std::uint64_t funds = 0;
  std::vector<double> fund_markets;
  double fund_assets = 0.0;
  std::vector<double> fund_target, fund_target_weights;
  double fund_buffer_min = 1.2, fund_buffer_max = 1.5;
  double agent_size_sigma = 1.0;
  // Stop clusters, per traded market m (issue 20): stop_notional * open_interest[m] of stops a
  // side (sell stops below the reference, buy stops above). A side's share 1 - stop_extreme_share
  // is split evenly among clusters just beyond the stop_clusters round numbers nearest the
  // reference (multiples of stop_round_step[m]; 0: round_number_step(ref)), the rest in one
  // cluster beyond the recent low (sell) or high (buy), ref (1 - d_low) and ref (1 + d_high),
  // d ~ U(0, 2 stop_range) drawn per scenario. A cluster of centre c: stops_per_cluster stops at
  // c (1 + side |z| stop_width), z standard normal, quantities c-notional shares of the cluster's
  // (lognormal, sigma agent_size_sigma, normalised: a cluster's sum of qty x c is exact).
  double stop_notional = 0.0;
  std::uint64_t stop_clusters = 3;
  std::vector<double> stop_round_step;  // per traded market (empty: all automatic)
  std::uint64_t stops_per_cluster = 20;
  double stop_width = 0.002;
  double stop_extreme_share = 0.0;
  double stop_range = 0.05;

  // InputError naming the field unless the model is valid on its own (shapes and ranges).
  void validate() const;
  // validate(), then against a venue: market indices, the baskets' width, the markets' books.
  void validate(const Venue& venue) const;
  [[nodiscard]] std::size_t n_baskets() const noexcept { return basket_weights.size(); }
};

// One scenario's sampled population, as columns ready for a VenueState and VenueAgents (bulk
// vectors: a study's worker reuses one sample from scenario to scenario, resized in place).
struct VenuePopulationSample {
  // positions, trader by trader, each trader's in the order of the traded markets
  bulk_vector<std::int8_t> side;
  bulk_vector<double> qty, entry_price, margin, mmr, maint_amount;
  bulk_vector<std::int64_t> market, account, trader;
  // per trader
  bulk_vector<std::uint8_t> cross;
  bulk_vector<std::int64_t> strategy, basket, n_held;  // basket: -1 for an isolated trader
  bulk_vector<double> leverage, size;                   // a cross account's leverage (NaN isolated); size X
  // cross accounts (numbered in trader order): balances, n_accounts x n_assets
  std::size_t n_accounts = 0;
  bulk_vector<double> collateral;
  // agents
  std::vector<std::int64_t> token_market;
  std::vector<double> token_leverage, token_nav, token_threshold, token_price;
  std::vector<double> fund_equity, fund_target, fund_max, fund_holdings;  // holdings: funds x venue markets
  std::vector<double> strategy_factor;  // strategies x traded markets
  // stops (market, side, qty, price), and per traded market the round-number step used and the
  // recent low and high drawn
  std::vector<std::int64_t> stop_market;
  std::vector<std::int8_t> stop_side;
  std::vector<double> stop_qty, stop_price;
  std::vector<double> stop_step, recent_low, recent_high;

  void clear() noexcept;
  [[nodiscard]] VenuePositionColumns positions() const noexcept;
  [[nodiscard]] AccountColumns accounts() const noexcept { return {n_accounts, collateral}; }
};

// The default step of a market's round numbers: the largest 1, 2 or 5 times a power of ten that
// is at most 5 % of its reference price (BTC at 122,000: 5,000; ETH at 4,100: 200; SOL at 200: 10).
[[nodiscard]] double round_number_step(double ref_price);

// The `count` multiples of `step` nearest `ref_price` strictly below it (`below`) or strictly
// above it, nearest first (those <= 0 left out): where stops cluster.
[[nodiscard]] std::vector<double> round_number_levels(double ref_price, double step, std::size_t count, bool below);

// Scenario `scenario`'s population over `venue` (the model validated against it first).
// `cancel`, when set, stops the sampling early (the sample is then incomplete).
void sample_venue_population(const VenuePopulationModel& model, const Venue& venue, std::uint64_t seed,
                             std::uint64_t scenario, VenuePopulationSample& out,
                             const std::atomic<bool>* cancel = nullptr);

// Scenarios [first, first + count) of a study over `venue` with a population resampled per
// scenario: moves from `sampler` at the markets `shocked` names, the population of the
// scenario, one venue_cascade (with its tokens and funds), one row (VenueStudyColumns).
VenueStudyColumns run_venue_population_study(std::shared_ptr<const Venue> venue, const VenuePopulationModel& model,
                                             const CorrelatedShockSampler& sampler,
                                             std::span<const std::size_t> shocked, std::uint64_t seed,
                                             std::uint64_t first, std::size_t count, unsigned threads,
                                             RunControl& control);

}  // namespace cascade_core
