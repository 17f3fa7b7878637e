// Many markets through time (docs/design.md, "Many markets through time"): each market of a
// venue steps as the one-market engine does (its book, resilience, fundamental path, mark,
// breakers, throughput, fund, ADL), and the venue's cross accounts are checked on the marks
// every step, through the static cascade's account index (they cost what their prices touch).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "cascade_core/simulator.hpp"
#include "cascade_core/venue.hpp"

namespace cascade_core {

struct VenueSimulationConfig {
  // What every market shares: steps, dt, the mark and its half-life, the band, breakers,
  // funding's interval and formula, the liquidation policy. Its path, flow, shock, resilience,
  // basis, insurance_fund and funding_rate are not read: they are per market, below.
  SimulationConfig common;
  std::vector<double> paths;        // steps x markets, row-major: each market's fundamental; empty: constant
  std::vector<double> flows;        // steps x markets, row-major: signed exogenous orders; empty: none
  std::vector<double> shocks;       // per market: relative move at step 0; empty: none
  std::vector<double> resilience;   // per market; empty: 0
  // Insurance funds: fund_group[m] is market m's fund (empty: each market its own), and
  // insurance_fund[g] fund g's starting balance (empty: 0).
  std::vector<std::int64_t> fund_group;
  std::vector<double> insurance_fund;
  // Leveraged tokens' scheduled rebalance: every token rebalances at steps k * interval (k >= 1)
  // besides its threshold rebalances (0: thresholds only).
  std::int64_t token_rebalance_interval = 0;

  // InputError naming the field (paths[t], flows[t], shocks[m], resilience[m], fund_group[m],
  // insurance_fund[g], or the common config's).
  void validate(std::size_t n_markets) const;
  [[nodiscard]] std::size_t n_funds(std::size_t n_markets) const;
};

enum class AccountOrderKind : std::int8_t { close = 0, sale = 1 };

struct VenueSimulationResult {
  // per market: its engine's timeline and events (events' `position` is the venue's position
  // index, -1 for the fund), as simulate() gives them
  std::vector<SimulationResult> markets;
  std::vector<std::vector<std::int64_t>> isolated_index;  // per market: the venue index of its final_qty's rows
  // per market and step: what cross accounts' closes and collateral sales filled
  std::vector<std::vector<double>> account_qty, account_notional, sale_qty, sale_notional;
  std::vector<std::vector<std::int64_t>> accounts_liquidated;  // accounts whose liquidation started
  // one row per account order's fill attempt that filled something (or found no book)
  std::vector<std::int64_t> order_step, order_market, order_account, order_item;  // item: position or asset
  std::vector<std::int8_t> order_kind;
  std::vector<double> order_qty, order_price, order_unfilled;
  std::vector<double> order_absorbed;  // of the unfilled: taken over by the fund or deleveraged, at the mark
  // one row per liquidated account, in liquidation order
  std::vector<std::int64_t> account_index, account_step, account_settled_step;  // -1: not settled by the end
  std::vector<double> account_equity, account_maintenance;  // at the marks that triggered it
  std::vector<double> account_equity_after, account_bad_debt;
  // agents (docs/design.md, "Agents through time"): per market and step, what their orders filled
  std::vector<std::vector<double>> stop_qty, token_qty, fund_qty;
  // per stop fired, in firing order
  std::vector<std::int64_t> stop_index, stop_step;
  std::vector<double> stop_filled_qty, stop_fill_price;
  // per token rebalance: the mark it rebalanced at, its return since its last rebalance, the
  // order (signed: + buys), what filled, its value, the NAV after the order's cost; scheduled or not
  std::vector<std::int64_t> token_index, token_step;
  std::vector<std::uint8_t> token_scheduled;
  std::vector<double> token_price, token_return, token_order_qty, token_filled_qty, token_notional, token_nav_after;
  std::vector<double> token_nav;  // per token at the end
  // per fund sale: its assets and equity at the marks, the fraction of every holding it sells,
  // what the sales fetched
  std::vector<std::int64_t> fund_index, fund_step;
  std::vector<double> fund_assets, fund_equity, fund_fraction, fund_notional;
  std::vector<double> fund_debt_after, fund_holdings_after;  // per fund (holdings: funds x markets)
  // per insurance fund at the end
  std::vector<double> fund_final;
  std::int64_t accounts_evaluated = 0;  // exact health evaluations (what the index let through)
};

// Runs the venue through time; `state` must not change while it runs. InputError naming the field.
VenueSimulationResult simulate_venue(const VenueState& state, const VenueSimulationConfig& config,
                                     const std::atomic<bool>* cancel = nullptr);
// The same with agents (stops, leveraged tokens, funds) trading through time; `agents` must have
// been built for this state's venue.
VenueSimulationResult simulate_venue(const VenueState& state, const VenueSimulationConfig& config,
                                     const VenueAgents& agents, const std::atomic<bool>* cancel = nullptr);

// Correlated geometric Brownian paths (steps x markets, row-major): path[0] = start, then
// path[t] = path[t-1] · exp((mu − σ²/2) dt + σ √dt · z_t), z_t ~ N(0, R) drawn from step t's
// counter-based stream (CorrelatedShockSampler, scenario t), so a path is a pure function of
// its inputs. `correlation` k x k row-major (PSD, unit diagonal), `sigma`, `mu` and `start` per
// market. InputError naming the field.
std::vector<double> correlated_gbm_paths(const std::vector<double>& correlation, const std::vector<double>& sigma,
                                         const std::vector<double>& mu, const std::vector<double>& start,
                                         std::int64_t steps, double dt, std::uint64_t seed);

}  // namespace cascade_core
