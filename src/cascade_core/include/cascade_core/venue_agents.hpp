// Agents in a venue (docs/design.md, "Agents"): traders whose orders follow the price and carry
// a move across markets — stop orders, leveraged tokens, leverage-targeting funds. Validated and
// indexed once (VenueAgents); the static venue cascade (venue_cascade.cpp) trades their orders
// in its rounds alongside the liquidations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cascade_core {

class VenueState;

// Stop-market orders: side -1 a sell stop (fires when its market has moved down and last <=
// price), +1 a buy stop (moved up and last >= price). A threshold with no margin.
struct StopColumns {
  std::span<const std::int64_t> market;
  std::span<const std::int8_t> side;
  std::span<const double> qty;
  std::span<const double> price;
};

// A leveraged token on one market: target leverage L (> 1, or < 0: an inverse token), net asset
// value `nav` (quote) at its last rebalance, made at `rebalance_price`, and a threshold theta in
// (0, 1): it rebalances when last <= P (1 - theta) (market moved down) or last >= P (1 + theta)
// (moved up).
struct TokenColumns {
  std::span<const std::int64_t> market;
  std::span<const double> leverage;
  std::span<const double> nav;
  std::span<const double> threshold;
  std::span<const double> rebalance_price;  // NaN: the market's reference price
};

// Leverage-targeting funds: equity at the reference prices, target leverage (>= 1) and the
// buffer max_leverage (>= target); holdings (base units >= 0) per fund and market, row-major
// (fund f's holding in market m is holdings[f * n_markets + m]). Debt = assets - equity at the
// reference prices (>= 0).
struct FundColumns {
  std::size_t n_funds = 0;
  std::span<const double> equity;
  std::span<const double> target_leverage;
  std::span<const double> max_leverage;
  std::span<const double> holdings;
};

// The rebalance of a token with leverage L and net asset value `nav`, last rebalanced at
// `rebalance_price`, at `price`: r = price / rebalance_price - 1; the marked NAV N (1 + L r);
// the trade in quote, L (L - 1) r N (its sign: + buy, - sell) while the marked NAV is > 0,
// otherwise the whole exposure closed, -L N (1 + r) (the token is wiped out).
struct TokenRebalance {
  double ret;
  double nav_marked;
  double notional;  // signed: > 0 buys
  bool wiped_out;
};
[[nodiscard]] inline TokenRebalance token_rebalance(double leverage, double nav, double rebalance_price,
                                                    double price) noexcept {
  const double r = price / rebalance_price - 1.0;
  const double marked = nav * (1.0 + leverage * r);
  if (marked > 0.0) return {r, marked, leverage * (leverage - 1.0) * r * nav, false};
  return {r, marked, -leverage * nav * (1.0 + r), true};
}

// A fund's assets A = sum of holdings x prices (by market), equity A - debt, and whether it
// must deleverage: it holds something (A > 0) and its equity is <= 0 or its leverage A / E is
// above max_leverage (A > max_leverage * E). It then sells the fraction f of every holding:
// f = (A - target * E) / A (1 when E <= 0).
struct FundHealth {
  double assets;
  double equity;
  bool triggered;
  double fraction;
};
[[nodiscard]] inline FundHealth fund_health(double assets, double debt, double target, double max_leverage) noexcept {
  const double equity = assets - debt;
  const bool triggered = assets > 0.0 && (!(equity > 0.0) || assets > max_leverage * equity);
  double fraction = 0.0;
  if (triggered) fraction = equity > 0.0 ? (assets - target * equity) / assets : 1.0;
  return {assets, equity, triggered, fraction};
}

// A token's next rebalance price below (a down heap) or above (an up heap), with the version of
// the token's entries it belongs to (older entries are stale).
struct TokenEntry {
  double price;
  std::uint32_t token;
  std::uint32_t version;
};
struct TokenFallsFirst {  // the highest rebalance price below is reached first; ties by token
  bool operator()(const TokenEntry& x, const TokenEntry& y) const noexcept {
    return x.price != y.price ? x.price < y.price : x.token > y.token;
  }
};
struct TokenRisesFirst {
  bool operator()(const TokenEntry& x, const TokenEntry& y) const noexcept {
    return x.price != y.price ? x.price > y.price : x.token > y.token;
  }
};

// The agents of one venue, validated against it and indexed once: stops per market in trigger
// order (sell stops by price descending, buy stops ascending, ties by index), tokens and funds
// per market. Cascades read it only.
class VenueAgents {
 public:
  VenueAgents(const VenueState& state, const StopColumns& stops, const TokenColumns& tokens,
              const FundColumns& funds);
  VenueAgents() = default;  // none
  static const VenueAgents& none();  // a shared empty one

  [[nodiscard]] std::size_t n_markets() const noexcept { return n_markets_; }
  [[nodiscard]] std::size_t n_stops() const noexcept { return stop_qty_.size(); }
  [[nodiscard]] std::size_t n_tokens() const noexcept { return token_market_.size(); }
  [[nodiscard]] std::size_t n_funds() const noexcept { return fund_equity_.size(); }
  [[nodiscard]] bool empty() const noexcept { return n_stops() == 0 && n_tokens() == 0 && n_funds() == 0; }
  // Each fund's debt (assets at the reference prices - equity).
  [[nodiscard]] std::span<const double> fund_debt() const noexcept { return fund_debt_; }

 private:
  friend class VenueCascade;
  friend class VenueSimulation;
  friend class AgentWatch;
  struct StopEntry {
    double price;
    double qty;
    std::uint32_t index;
  };

  std::size_t n_markets_ = 0;
  std::vector<double> stop_qty_;
  std::vector<std::vector<StopEntry>> sell_stops_, buy_stops_;  // per market, in trigger order
  std::vector<std::int64_t> token_market_;
  std::vector<double> token_leverage_, token_nav_, token_threshold_, token_price_;
  std::vector<double> fund_equity_, fund_target_, fund_max_, fund_debt_;
  std::vector<double> holdings_;  // dense, funds x markets
  std::vector<std::uint32_t> fund_offset_, fund_market_;              // CSR: each fund's markets held (> 0)
  std::vector<std::uint32_t> market_fund_offset_, market_fund_;      // CSR: each market's funds
};

}  // namespace cascade_core
