// A venue's agents (docs/design.md, "Agents"): validation against the venue, and the indexes a
// cascade reads — stops in trigger order per market (the isolated positions' merge), funds per
// market held.
#include "cascade_core/venue_agents.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "cascade_core/errors.hpp"
#include "cascade_core/venue.hpp"

namespace cascade_core {

namespace {

constexpr std::size_t max_rows = std::numeric_limits<std::uint32_t>::max() - 1;

void length(std::size_t size, std::size_t n, const char* field, const char* of) {
  if (size != n) {
    throw InputError(field, "length " + std::to_string(size) + " does not match " + of + "'s " + std::to_string(n));
  }
}

void market_index(std::int64_t m, std::size_t markets, const char* field, std::size_t i) {
  if (m < 0 || m >= static_cast<std::int64_t>(markets)) {
    throw InputError(field, static_cast<std::ptrdiff_t>(i),
                     "must be a market index in [0, " + std::to_string(markets) + "), got " + std::to_string(m));
  }
}

[[noreturn]] void bad(const char* field, std::size_t i, const std::string& rule, double value) {
  throw InputError(field, static_cast<std::ptrdiff_t>(i), rule + ", got " + format_value(value));
}

}  // namespace

VenueAgents::VenueAgents(const VenueState& state, const StopColumns& stops, const TokenColumns& tokens,
                         const FundColumns& funds)
    : n_markets_(state.n_markets()) {
  const std::size_t markets = n_markets_;
  const double share = sum_bound(std::max<std::size_t>(1, stops.qty.size() + funds.holdings.size()));
  // stops
  const std::size_t n_stops = stops.qty.size();
  length(stops.market.size(), n_stops, "stops.market", "stops.qty");
  length(stops.side.size(), n_stops, "stops.side", "stops.qty");
  length(stops.price.size(), n_stops, "stops.price", "stops.qty");
  if (n_stops > max_rows) throw InputError("stops.qty", "at most 4,294,967,294 stops");
  sell_stops_.resize(markets);
  buy_stops_.resize(markets);
  for (std::size_t i = 0; i < n_stops; ++i) {
    market_index(stops.market[i], markets, "stops.market", i);
    if (stops.side[i] != 1 && stops.side[i] != -1) bad("stops.side", i, "must be +1 (buy stop) or -1 (sell stop)", stops.side[i]);
    if (!finite_positive(stops.qty[i]) || !(stops.qty[i] <= share)) bad("stops.qty", i, "must be finite and > 0", stops.qty[i]);
    if (!finite_positive(stops.price[i])) bad("stops.price", i, "must be finite and > 0", stops.price[i]);
    const auto m = static_cast<std::size_t>(stops.market[i]);
    (stops.side[i] < 0 ? sell_stops_ : buy_stops_)[m].push_back({stops.price[i], stops.qty[i], static_cast<std::uint32_t>(i)});
  }
  stop_qty_.assign(stops.qty.begin(), stops.qty.end());
  for (std::size_t m = 0; m < markets; ++m) {
    std::stable_sort(sell_stops_[m].begin(), sell_stops_[m].end(),
                     [](const StopEntry& x, const StopEntry& y) { return x.price > y.price; });
    std::stable_sort(buy_stops_[m].begin(), buy_stops_[m].end(),
                     [](const StopEntry& x, const StopEntry& y) { return x.price < y.price; });
  }
  // tokens
  const std::size_t n_tokens = tokens.market.size();
  length(tokens.leverage.size(), n_tokens, "tokens.leverage", "tokens.market");
  length(tokens.nav.size(), n_tokens, "tokens.nav", "tokens.market");
  length(tokens.threshold.size(), n_tokens, "tokens.threshold", "tokens.market");
  length(tokens.rebalance_price.size(), n_tokens, "tokens.rebalance_price", "tokens.market");
  if (n_tokens > max_rows) throw InputError("tokens.market", "at most 4,294,967,294 tokens");
  for (std::size_t i = 0; i < n_tokens; ++i) {
    market_index(tokens.market[i], markets, "tokens.market", i);
    const double L = tokens.leverage[i];
    if (!(std::isfinite(L) && (L > 1.0 || L < 0.0) && std::abs(L) <= 1e3)) {
      bad("tokens.leverage", i, "must be > 1 (long) or < 0 (inverse), |L| <= 1000", L);
    }
    if (!finite_positive(tokens.nav[i]) || !(tokens.nav[i] <= share)) bad("tokens.nav", i, "must be finite and > 0", tokens.nav[i]);
    if (!(tokens.threshold[i] > 0.0 && tokens.threshold[i] < 1.0)) {
      bad("tokens.threshold", i, "must be in (0, 1)", tokens.threshold[i]);
    }
    const double p = tokens.rebalance_price[i];
    if (!std::isnan(p) && !finite_positive(p)) bad("tokens.rebalance_price", i, "must be finite and > 0 (NaN: the reference price)", p);
    token_market_.push_back(tokens.market[i]);
    token_leverage_.push_back(L);
    token_nav_.push_back(tokens.nav[i]);
    token_threshold_.push_back(tokens.threshold[i]);
    token_price_.push_back(std::isnan(p) ? state.ref_price()[static_cast<std::size_t>(tokens.market[i])] : p);
  }
  // funds
  const std::size_t n_funds = funds.n_funds;
  if (n_funds > max_rows) throw InputError("funds", "at most 4,294,967,294 funds");
  length(funds.equity.size(), n_funds, "funds.equity", "funds");
  length(funds.target_leverage.size(), n_funds, "funds.target_leverage", "funds");
  length(funds.max_leverage.size(), n_funds, "funds.max_leverage", "funds");
  if (funds.holdings.size() != n_funds * markets) {
    throw InputError("funds.holdings", "expected " + std::to_string(n_funds) + " x " + std::to_string(markets) +
                                           " holdings, got " + std::to_string(funds.holdings.size()));
  }
  holdings_.assign(funds.holdings.begin(), funds.holdings.end());
  fund_offset_.push_back(0);
  std::vector<std::uint32_t> per_market(markets + 1, 0);
  for (std::size_t f = 0; f < n_funds; ++f) {
    double assets = 0.0;
    for (std::size_t m = 0; m < markets; ++m) {
      const double q = holdings_[f * markets + m];
      if (!finite_non_negative(q) || !(q <= share)) {
        throw InputError("funds.holdings[" + std::to_string(f) + "][" + state.venue().markets[m].name + "]",
                         "must be finite and >= 0, got " + format_value(q));
      }
      if (q > 0.0) {
        assets += q * state.ref_price()[m];
        fund_market_.push_back(static_cast<std::uint32_t>(m));
        ++per_market[m + 1];
      }
    }
    fund_offset_.push_back(static_cast<std::uint32_t>(fund_market_.size()));
    const double equity = funds.equity[f], target = funds.target_leverage[f], max = funds.max_leverage[f];
    if (!finite_positive(equity) || !(equity <= assets)) {
      bad("funds.equity", f, "must be finite, > 0 and <= the holdings' value at the reference prices (" +
                                 format_value(assets) + ")", equity);
    }
    if (!(std::isfinite(target) && target >= 1.0)) bad("funds.target_leverage", f, "must be finite and >= 1", target);
    if (!(std::isfinite(max) && max >= target)) bad("funds.max_leverage", f, "must be finite and >= target_leverage", max);
    fund_equity_.push_back(equity);
    fund_target_.push_back(target);
    fund_max_.push_back(max);
    fund_debt_.push_back(assets - equity);
  }
  for (std::size_t m = 0; m < markets; ++m) per_market[m + 1] += per_market[m];
  market_fund_offset_ = per_market;
  market_fund_.assign(fund_market_.size(), 0);
  std::vector<std::uint32_t> next(per_market.begin(), per_market.end() - 1);
  for (std::size_t f = 0; f < n_funds; ++f) {
    for (std::uint32_t j = fund_offset_[f]; j < fund_offset_[f + 1]; ++j) {
      market_fund_[next[fund_market_[j]]++] = static_cast<std::uint32_t>(f);
    }
  }
}

const VenueAgents& VenueAgents::none() {
  static const VenueAgents empty;
  return empty;
}

}  // namespace cascade_core
