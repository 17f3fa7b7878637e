// Many markets through time (docs/design.md, "Many markets through time"). Each market runs the
// one-market engine's phases (market_engine.hpp); between its liquidation phase and the step's
// end the venue checks its cross accounts on the marks, through the static cascade's account
// index (VenueState's sorted bounds, then heaps of re-valuations): a step costs what its prices
// touch, not the number of accounts.
#include "cascade_core/venue_simulator.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>
#include <string>

#include "cascade_core/account_watch.hpp"
#include "cascade_core/correlated_shocks.hpp"
#include "cascade_core/det_math.hpp"
#include "cascade_core/errors.hpp"
#include "cascade_core/resources.hpp"
#include "cascade_core/rng.hpp"
#include "market_engine.hpp"

namespace cascade_core {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

// A cross account's order waiting in its market: close a position, or sell a collateral balance.
struct AccountOrder {
  std::uint32_t row;   // the account's row in the result (its work record)
  std::uint32_t item;  // the position (close) or the asset (sale)
  double qty;          // what is left to trade
  int side;            // the holder's side: +1 sells (a long, a balance), -1 buys back (a short)
  AccountOrderKind kind;
};

enum class AgentKind : std::uint8_t { stop, token, fund };

// An agent's market order of a pass: tried once, what the book does not take is not carried.
struct AgentOrder {
  std::uint32_t index;  // the stop, token or fund
  std::uint32_t item;   // token, fund: its row in the result
  double qty;
  int side;             // +1 sells, -1 buys
  AgentKind kind;
};

struct AccountWork {
  double cash = 0.0;                  // quote balance + realised PnL + what sales fetched
  std::int64_t outstanding = 0;       // orders not yet done
};

}  // namespace

std::size_t VenueSimulationConfig::n_funds(std::size_t n_markets) const {
  if (fund_group.empty()) return n_markets;
  return static_cast<std::size_t>(*std::max_element(fund_group.begin(), fund_group.end())) + 1;
}

void VenueSimulationConfig::validate(std::size_t n_markets) const {
  const std::int64_t steps = common.steps;
  require(steps >= 1 && steps <= (std::int64_t{1} << 40), "steps", "must be in [1, 2**40]", static_cast<double>(steps));
  const double cells = static_cast<double>(steps) * static_cast<double>(n_markets);
  const auto table = [&](const std::vector<double>& values, const char* field, bool positive) {
    if (values.empty()) return;
    if (static_cast<double>(values.size()) != cells) {
      throw InputError(field, "expected steps x markets = " + std::to_string(steps) + " x " +
                                  std::to_string(n_markets) + " values, got " + std::to_string(values.size()));
    }
    for (std::size_t j = 0; j < values.size(); ++j) {
      const double v = values[j];
      if (!(std::isfinite(v) && (!positive || v > 0.0))) {
        throw InputError(field, static_cast<std::ptrdiff_t>(j / n_markets),
                         std::string("market ") + std::to_string(j % n_markets) +
                             (positive ? ": must be finite and > 0, got " : ": must be finite, got ") + format_value(v));
      }
    }
  };
  table(paths, "paths", true);
  table(flows, "flows", false);
  const auto per_market = [&](const std::vector<double>& values, const char* field, bool (*ok)(double) noexcept,
                              const char* rule) {
    if (values.empty()) return;
    if (values.size() != n_markets) {
      throw InputError(field, "expected one per market (" + std::to_string(n_markets) + "), got " +
                                  std::to_string(values.size()));
    }
    require_each(values, field, ok, rule);
  };
  per_market(shocks, "shocks", [](double v) noexcept { return std::isfinite(v) && v > -1.0; },
             "must be finite and > -1");
  per_market(resilience, "resilience", finite_non_negative, "must be finite and >= 0");
  if (!fund_group.empty()) {
    if (fund_group.size() != n_markets) {
      throw InputError("fund_group", "expected one per market (" + std::to_string(n_markets) + "), got " +
                                         std::to_string(fund_group.size()));
    }
    for (std::size_t m = 0; m < n_markets; ++m) {
      if (fund_group[m] < 0 || fund_group[m] >= static_cast<std::int64_t>(n_markets)) {
        throw InputError("fund_group", static_cast<std::ptrdiff_t>(m),
                         "must be a fund index in [0, " + std::to_string(n_markets) + "), got " +
                             std::to_string(fund_group[m]));
      }
    }
  }
  const std::size_t funds = n_funds(n_markets);
  if (!insurance_fund.empty() && insurance_fund.size() != funds) {
    throw InputError("insurance_fund", "expected one per fund (" + std::to_string(funds) + "), got " +
                                           std::to_string(insurance_fund.size()));
  }
  require_each(insurance_fund, "insurance_fund", finite, "must be finite");
  require(token_rebalance_interval >= 0, "token_rebalance_interval", "must be >= 0 steps (0: thresholds only)",
          static_cast<double>(token_rebalance_interval));
  if (!common.path.empty() || !common.flow.empty() || !common.funding_rate.empty()) {
    throw InputError("path", "a venue's paths and flows are per market (paths, flows); funding_rate is not supported");
  }
}

class VenueSimulation {
 public:
  VenueSimulation(const VenueState& state, const VenueSimulationConfig& config, const VenueAgents& agents,
                  const std::atomic<bool>* cancel)
      : s_(state), g_(agents), cancel_(cancel), markets_(state.n_markets()),
        token_interval_(config.token_rebalance_interval), agent_watch_(agents), watch_(state) {
    config.validate(markets_);
    if (!g_.empty() && g_.n_markets() != markets_) {
      throw InputError("agents", "built for a venue of " + std::to_string(g_.n_markets()) + " markets, not " +
                                     std::to_string(markets_));
    }
    const std::size_t steps = static_cast<std::size_t>(config.common.steps);
    funds_.assign(config.n_funds(markets_), 0.0);
    for (std::size_t g = 0; g < config.insurance_fund.size(); ++g) funds_[g] = config.insurance_fund[g];
    configs_.resize(markets_);
    isolated_.resize(markets_);
    const std::size_t n = s_.n_positions();
    for (std::size_t i = 0; i < n; ++i) {
      if (s_.account_[i] >= 0) continue;
      Isolated& iso = isolated_[static_cast<std::size_t>(s_.market_[i])];
      iso.side.push_back(s_.side_[i]);
      iso.qty.push_back(s_.qty_[i]);
      iso.entry.push_back(s_.entry_[i]);
      iso.margin.push_back(s_.margin_[i]);
      iso.mmr.push_back(s_.mmr_[i]);
      iso.maint.push_back(s_.maint_[i]);
      iso.index.push_back(static_cast<std::int64_t>(i));
    }
    for (std::size_t m = 0; m < markets_; ++m) {
      SimulationConfig& c = configs_[m];
      c = config.common;
      if (!config.paths.empty()) {
        c.path.resize(steps);
        for (std::size_t t = 0; t < steps; ++t) c.path[t] = config.paths[t * markets_ + m];
      }
      if (!config.flows.empty()) {
        c.flow.resize(steps);
        for (std::size_t t = 0; t < steps; ++t) c.flow[t] = config.flows[t * markets_ + m];
      }
      c.shock = config.shocks.empty() ? 0.0 : config.shocks[m];
      c.resilience = config.resilience.empty() ? 0.0 : config.resilience[m];
      const std::size_t g = config.fund_group.empty() ? m : static_cast<std::size_t>(config.fund_group[m]);
      c.insurance_fund = funds_[g];
      Isolated& iso = isolated_[m];
      const VenueMarket& market = s_.venue().markets[m];
      iso.set = std::make_unique<PositionSet>(PositionColumns{iso.side, iso.qty, iso.entry, iso.margin, iso.mmr, iso.maint},
                                              false, market.rule);
      try {
        check_market_run(*market.book, *iso.set, c);
      } catch (const InputError& error) {  // the one-market checks, for this market: say which
        throw InputError("markets[" + std::to_string(m) + "]", "'" + market.name + "': " + error.what());
      }
      iso.set->prepare(cancel);
    }
    for (std::size_t m = 0; m < markets_; ++m) {
      const std::size_t g = config.fund_group.empty() ? m : static_cast<std::size_t>(config.fund_group[m]);
      engines_.push_back(std::make_unique<engine::MarketEngine>(*s_.venue().markets[m].book, *isolated_[m].set,
                                                                configs_[m], &funds_[g]));
    }
    queue_.resize(markets_);
    carry_.resize(markets_);
    marks_.assign(markets_, 0.0);
    step_account_qty_.assign(markets_, 0.0);
    step_account_notional_.assign(markets_, 0.0);
    step_sale_qty_.assign(markets_, 0.0);
    step_sale_notional_.assign(markets_, 0.0);
    step_accounts_.assign(markets_, 0);
    auto& r = result_;
    for (auto* column : {&r.account_qty, &r.account_notional, &r.sale_qty, &r.sale_notional}) {
      column->assign(markets_, {});
      for (auto& c : *column) c.reserve(steps);
    }
    r.accounts_liquidated.assign(markets_, {});
    init_agents(steps);
  }

  VenueSimulationResult run() {
    const std::size_t steps = static_cast<std::size_t>(configs_.front().steps);
    for (auto& e : engines_) {
      e->set_cancel(cancel_);
      e->start();
    }
    for (std::size_t t = 0; t < steps; ++t) {
      if (cancelled()) break;
      step_ = static_cast<std::int64_t>(t);
      scheduled_done_ = false;
      for (std::size_t m = 0; m < markets_; ++m) {
        engines_[m]->begin_step(t);
        step_account_qty_[m] = step_account_notional_[m] = step_sale_qty_[m] = step_sale_notional_[m] = 0.0;
        step_accounts_[m] = 0;
        step_stop_[m] = step_token_[m] = step_fund_[m] = 0.0;
        // orders a book could not finish in the last step go first
        for (auto it = carry_[m].rbegin(); it != carry_[m].rend(); ++it) queue_[m].push_front(*it);
        carry_[m].clear();
      }
      // Isolated positions, then accounts at the marks, then the accounts' orders; again while
      // an account was liquidated or an order filled (each order is tried once a step and each
      // account liquidated once: the loop ends).
      for (;;) {
        for (auto& e : engines_) e->liquidate();
        const std::size_t liquidated = check_accounts();
        const bool agents = collect_agents();
        const bool traded = execute_orders();
        execute_agents();
        if (liquidated == 0 && !traded && !agents) break;
        if (cancelled()) break;
      }
      for (std::size_t m = 0; m < markets_; ++m) {
        engines_[m]->end_step(t);
        result_.account_qty[m].push_back(step_account_qty_[m]);
        result_.account_notional[m].push_back(step_account_notional_[m]);
        result_.sale_qty[m].push_back(step_sale_qty_[m]);
        result_.sale_notional[m].push_back(step_sale_notional_[m]);
        result_.accounts_liquidated[m].push_back(step_accounts_[m]);
        result_.stop_qty[m].push_back(step_stop_[m]);
        result_.token_qty[m].push_back(step_token_[m]);
        result_.fund_qty[m].push_back(step_fund_[m]);
      }
    }
    // accounts with orders left at the end: what was not traded is valued at the final marks
    for (std::size_t m = 0; m < markets_; ++m) marks_[m] = engines_[m]->mark();
    for (std::size_t m = 0; m < markets_; ++m) {
      for (const auto* q : {&carry_[m], &queue_[m]}) {
        for (const AccountOrder& o : *q) {
          AccountWork& w = work_[o.row];
          if (o.kind == AccountOrderKind::close) {
            w.cash += o.side * o.qty * (marks_[m] - s_.entry_[o.item]);
          } else {
            w.cash += o.qty * marks_[m];
          }
        }
      }
    }
    for (std::size_t row = 0; row < work_.size(); ++row) {
      if (result_.account_settled_step[row] < 0) settle(row, false);
    }
    for (std::size_t m = 0; m < markets_; ++m) {
      result_.markets.push_back(engines_[m]->finish());
      SimulationResult& r = result_.markets.back();
      const auto& index = isolated_[m].index;
      result_.isolated_index.push_back(index);
      // the engine's positions are the market's isolated ones; a cross position is -(i + 2)
      const auto venue_index = [&index](std::int64_t& p) {
        if (p >= 0) p = index[static_cast<std::size_t>(p)];
        else if (p <= -2) p = -p - 2;
      };
      for (auto& p : r.event_position) venue_index(p);
      for (auto& p : r.event_counterparty) venue_index(p);
    }
    result_.fund_final = funds_;
    result_.token_nav = token_nav_;
    result_.fund_debt_after = fund_debt_;
    result_.fund_holdings_after = holdings_;
    return std::move(result_);
  }

 private:
  struct Isolated {
    std::vector<std::int8_t> side;
    std::vector<double> qty, entry, margin, mmr, maint;
    std::vector<std::int64_t> index;  // the venue's position index
    std::unique_ptr<PositionSet> set;
  };

  [[nodiscard]] bool cancelled() const noexcept {
    return cancel_ != nullptr && cancel_->load(std::memory_order_relaxed);
  }

  // Accounts whose bounds the marks have reached are valued exactly at the marks; triggered
  // ones are liquidated (in liquidated_before order), the others re-indexed there.
  std::size_t check_accounts() {
    if (s_.n_accounts() == 0) return 0;
    watch_.begin();
    const auto& ref = s_.ref_price();
    for (std::size_t m = 0; m < markets_; ++m) {
      const double mark = marks_[m] = engines_[m]->mark();
      watch_.collect(m, mark, mark != ref[m]);  // (accounts within rounding of their trigger at the reference)
    }
    if (watch_.empty()) return 0;
    triggered_.clear();
    result_.accounts_evaluated += static_cast<std::int64_t>(watch_.evaluate(marks_, triggered_, cancel_));
    watch_.compact();
    std::sort(triggered_.begin(), triggered_.end(), liquidated_before);
    for (const TriggeredAccount& t : triggered_) start_liquidation(t);
    return triggered_.size();
  }

  // The account's positions' closes and its collateral's sales join their markets' queues.
  void start_liquidation(const TriggeredAccount& t) {
    const std::uint32_t a = t.account;
    const auto row = static_cast<std::uint32_t>(work_.size());
    auto& r = result_;
    r.account_index.push_back(a);
    r.account_step.push_back(step_);
    r.account_settled_step.push_back(-1);
    r.account_equity.push_back(t.equity);
    r.account_maintenance.push_back(t.maintenance);
    r.account_equity_after.push_back(nan);
    r.account_bad_debt.push_back(nan);
    AccountWork& w = work_.emplace_back();
    const std::size_t assets = s_.n_assets();
    w.cash = s_.collateral_[a * assets];  // the quote balance
    weight_.resize(weight_.size() + markets_, 0.0);  // per market: its positions' notional at the trigger
    double* weight = weight_.data() + static_cast<std::size_t>(row) * markets_;
    std::vector<std::uint8_t> counted(markets_, 0);
    for (std::uint32_t j = s_.account_offset_[a]; j < s_.account_offset_[a + 1]; ++j) {
      const std::uint32_t i = s_.account_position_[j];
      const auto m = static_cast<std::size_t>(s_.market_[i]);
      queue_[m].push_back({row, i, s_.qty_[i], s_.side_[i], AccountOrderKind::close});
      ++w.outstanding;
      weight[m] += s_.qty_[i] * marks_[m];
      if (!counted[m]) {
        counted[m] = 1;
        ++step_accounts_[m];
      }
    }
    for (std::size_t k = 1; k < assets; ++k) {
      const VenueAsset& asset = s_.venue().assets[k];
      const double b = s_.collateral_[a * assets + k];
      if (asset.priced_by < 0 || !(b > 0.0)) continue;
      queue_[static_cast<std::size_t>(asset.priced_by)].push_back(
          {row, static_cast<std::uint32_t>(k), b, 1, AccountOrderKind::sale});
      ++w.outstanding;
    }
  }

  // Each market's account orders in queue order, within the step's budget; each tried once a
  // step (what the book would not take waits for the next step). Whether any order went.
  bool execute_orders() {
    bool any = false;
    for (std::size_t m = 0; m < markets_; ++m) {
      auto& queue = queue_[m];
      engine::MarketEngine& e = *engines_[m];
      while (!queue.empty() && e.take_budget()) {
        AccountOrder o = queue.front();
        queue.pop_front();
        any = true;
        const bool close = o.kind == AccountOrderKind::close;
        const auto fill = e.venue_order(o.side, o.qty, close);
        AccountWork& w = work_[o.row];
        if (close) {
          w.cash += o.side * (fill.notional - s_.entry_[o.item] * fill.qty);
          step_account_qty_[m] += fill.qty;
          step_account_notional_[m] += fill.notional;
        } else {
          w.cash += fill.notional;
          step_sale_qty_[m] += fill.qty;
          step_sale_notional_[m] += fill.notional;
        }
        auto& r = result_;
        r.order_step.push_back(step_);
        r.order_market.push_back(static_cast<std::int64_t>(m));
        r.order_account.push_back(r.account_index[o.row]);
        r.order_item.push_back(o.item);
        r.order_kind.push_back(static_cast<std::int8_t>(o.kind));
        r.order_qty.push_back(fill.qty);
        r.order_price.push_back(fill.qty > 0.0 ? fill.notional / fill.qty : nan);
        r.order_unfilled.push_back(fill.unfilled);
        double left = fill.unfilled;
        if (close && left > 0.0) {
          // what the book would not take: the fund takes it over, or ADL, at the mark
          left = e.absorb(o.side, left, -static_cast<std::int64_t>(o.item) - 2);
          const double absorbed = fill.unfilled - left;
          w.cash += o.side * absorbed * (e.mark() - s_.entry_[o.item]);
        }
        r.order_absorbed.push_back(fill.unfilled - left);
        if (left > 0.0) {
          o.qty = left;
          carry_[m].push_back(o);
        } else if (--w.outstanding == 0) {
          settle(o.row, true);
        }
      }
    }
    return any;
  }

  // An account whose orders are done (or the run's end): its equity after is its cash plus the
  // balances it did not sell (at the marks, no haircut); a deficit is bad debt, which the funds
  // of its positions' markets cover in proportion to their notional at the trigger (`charge`).
  void settle(std::size_t row, bool charge) {
    const auto a = static_cast<std::size_t>(result_.account_index[row]);
    AccountWork& w = work_[row];
    const std::size_t assets = s_.n_assets();
    double equity = w.cash;
    for (std::size_t k = 1; k < assets; ++k) {
      const VenueAsset& asset = s_.venue().assets[k];
      const double b = s_.collateral_[a * assets + k];
      if (b == 0.0 || (asset.priced_by >= 0 && b > 0.0)) continue;  // (sold: in the cash)
      equity += b * (asset.priced_by < 0 ? asset.price : engines_[static_cast<std::size_t>(asset.priced_by)]->mark());
    }
    const double bad_debt = std::max(0.0, -equity);
    result_.account_equity_after[row] = equity;
    result_.account_bad_debt[row] = bad_debt;
    if (!charge) return;
    result_.account_settled_step[row] = step_;
    if (bad_debt > 0.0) {
      const double* weight = weight_.data() + row * markets_;
      double total = 0.0;
      for (std::size_t m = 0; m < markets_; ++m) total += weight[m];
      for (std::size_t m = 0; m < markets_; ++m) {
        if (weight[m] > 0.0) engines_[m]->cover(bad_debt * (weight[m] / total));
      }
    }
  }


  // -- agents (docs/design.md, "Agents through time") ------------------------------------------

  void init_agents(std::size_t steps) {
    for (auto* column : {&result_.stop_qty, &result_.token_qty, &result_.fund_qty}) {
      column->assign(markets_, {});
      for (auto& c : *column) c.reserve(steps);
    }
    step_stop_.assign(markets_, 0.0);
    step_token_.assign(markets_, 0.0);
    step_fund_.assign(markets_, 0.0);
    agent_orders_.resize(markets_);
    stop_cursor_sell_.assign(markets_, 0);
    stop_cursor_buy_.assign(markets_, 0);
    token_nav_ = g_.token_nav_;
    token_price_ = g_.token_price_;
    token_step_.assign(g_.n_tokens(), -1);
    holdings_ = g_.holdings_;
    fund_debt_ = g_.fund_debt_;
    fund_step_.assign(g_.n_funds(), -1);
    agent_mark_ = s_.ref_price();
  }

  [[nodiscard]] bool token_alive(std::uint32_t t) const noexcept { return token_nav_[t] > 0.0; }

  // At the pass's marks, in markets not halted: stops reached (once each), tokens at their
  // thresholds or on schedule, funds past their buffer (each token and fund at most once a
  // step). Their orders wait in agent_orders_ for execute_agents(). Whether any acted.
  bool collect_agents() {
    if (g_.empty()) return false;
    bool any = false;
    for (std::size_t m = 0; m < markets_; ++m) {
      if (engines_[m]->halted()) continue;
      const double mark = engines_[m]->mark();
      const auto& sells = g_.sell_stops_[m];
      for (std::size_t& k = stop_cursor_sell_[m]; k < sells.size() && mark <= sells[k].price; ++k) {
        agent_orders_[m].push_back({sells[k].index, 0, sells[k].qty, 1, AgentKind::stop});
        any = true;
      }
      const auto& buys = g_.buy_stops_[m];
      for (std::size_t& k = stop_cursor_buy_[m]; k < buys.size() && mark >= buys[k].price; ++k) {
        agent_orders_[m].push_back({buys[k].index, 0, buys[k].qty, -1, AgentKind::stop});
        any = true;
      }
    }
    // tokens: on schedule (the step's first pass), then at their thresholds; by index
    tokens_due_.clear();
    const bool scheduled = token_interval_ > 0 && step_ > 0 && step_ % token_interval_ == 0;
    if (scheduled && !scheduled_done_) {
      scheduled_done_ = true;
      for (std::uint32_t t = 0; t < g_.n_tokens(); ++t) {
        if (token_alive(t) && !engines_[static_cast<std::size_t>(g_.token_market_[t])]->halted()) {
          tokens_due_.push_back(t);
        }
      }
    }
    const auto take_token = [&](std::uint32_t t) {
      if (!token_alive(t)) return true;
      if (token_step_[t] == step_) return false;  // rebalanced this step already: it may go at a later step
      tokens_due_.push_back(t);
      return true;
    };
    for (std::size_t m = 0; m < markets_; ++m) {
      if (engines_[m]->halted()) continue;
      const double mark = engines_[m]->mark();
      agent_watch_.reached(m, mark, true, take_token);
      agent_watch_.reached(m, mark, false, take_token);
    }
    std::sort(tokens_due_.begin(), tokens_due_.end());
    tokens_due_.erase(std::unique(tokens_due_.begin(), tokens_due_.end()), tokens_due_.end());
    for (const std::uint32_t t : tokens_due_) {
      if (token_step_[t] == step_) continue;
      token_step_[t] = step_;
      agent_watch_.stale(t);  // its entries are stale now
      any = true;
      const auto m = static_cast<std::size_t>(g_.token_market_[t]);
      const double p = engines_[m]->mark();
      const TokenRebalance rb = token_rebalance(g_.token_leverage_[t], token_nav_[t], token_price_[t], p);
      const double qty = std::abs(rb.notional) / p;
      const auto item = static_cast<std::uint32_t>(result_.token_index.size());
      auto& r = result_;
      r.token_index.push_back(t);
      r.token_step.push_back(step_);
      r.token_scheduled.push_back(scheduled && std::abs(rb.ret) < g_.token_threshold_[t] ? 1 : 0);
      r.token_price.push_back(p);
      r.token_return.push_back(rb.ret);
      r.token_order_qty.push_back(rb.notional > 0.0 ? qty : -qty);
      r.token_filled_qty.push_back(0.0);
      r.token_notional.push_back(0.0);
      r.token_nav_after.push_back(rb.nav_marked);  // less the order's cost once it fills
      token_wiped_.push_back(rb.wiped_out ? 1 : 0);
      token_nav_[t] = rb.nav_marked;
      token_price_[t] = p;
      if (qty > 0.0) {
        agent_orders_[m].push_back({t, item, qty, rb.notional > 0.0 ? -1 : 1, AgentKind::token});
      } else {
        finish_token(t, item);
      }
    }
    // funds holding a market whose mark moved since the last reading, by index
    if (g_.n_funds() > 0) {
      agent_watch_.begin_funds();
      for (std::size_t m = 0; m < markets_; ++m) {
        const double mark = engines_[m]->mark();
        if (mark == agent_mark_[m]) continue;
        agent_mark_[m] = mark;
        agent_watch_.funds_of(m, [&](std::uint32_t f) { return fund_step_[f] == step_; });
      }
      for (const std::uint32_t f : agent_watch_.funds()) {
        double assets = 0.0;
        for (std::uint32_t j = g_.fund_offset_[f]; j < g_.fund_offset_[f + 1]; ++j) {
          const std::uint32_t m = g_.fund_market_[j];
          assets += holdings_[f * markets_ + m] * engines_[m]->mark();
        }
        const FundHealth h = fund_health(assets, fund_debt_[f], g_.fund_target_[f], g_.fund_max_[f]);
        if (!h.triggered) continue;
        fund_step_[f] = step_;
        any = true;
        const auto item = static_cast<std::uint32_t>(result_.fund_index.size());
        result_.fund_index.push_back(f);
        result_.fund_step.push_back(step_);
        result_.fund_assets.push_back(h.assets);
        result_.fund_equity.push_back(h.equity);
        result_.fund_fraction.push_back(h.fraction);
        result_.fund_notional.push_back(0.0);
        for (std::uint32_t j = g_.fund_offset_[f]; j < g_.fund_offset_[f + 1]; ++j) {
          const std::uint32_t m = g_.fund_market_[j];
          const double qty = h.fraction * holdings_[f * markets_ + m];
          if (qty > 0.0 && !engines_[m]->halted()) agent_orders_[m].push_back({f, item, qty, 1, AgentKind::fund});
        }
      }
    }
    return any;
  }

  // A token's rebalance done: its new NAV (marked, less its order's cost) and, unless it is
  // wiped out, its next rebalance prices.
  void finish_token(std::uint32_t t, std::uint32_t item) {
    const double nav = result_.token_nav_after[item];
    token_nav_[t] = nav;
    if (!token_wiped_[item] && nav > 0.0) {
      agent_watch_.push(t, token_price_[t]);
    } else {
      token_nav_[t] = std::min(nav, 0.0);  // it trades no more
    }
  }

  // Each market's agent orders of the pass, in the order collected (stops, tokens, funds): a
  // market order each, no throughput limit (they are not liquidations), tried once.
  void execute_agents() {
    for (std::size_t m = 0; m < markets_; ++m) {
      auto& orders = agent_orders_[m];
      if (orders.empty()) continue;
      // stops first, then tokens, then funds (stable: each kind in the order it was collected)
      std::stable_sort(orders.begin(), orders.end(),
                       [](const AgentOrder& x, const AgentOrder& y) { return x.kind < y.kind; });
      engine::MarketEngine& e = *engines_[m];
      for (const AgentOrder& o : orders) {
        const auto fill = e.venue_order(o.side, o.qty, false);
        auto& r = result_;
        if (o.kind == AgentKind::stop) {
          step_stop_[m] += fill.qty;
          r.stop_index.push_back(o.index);
          r.stop_step.push_back(step_);
          r.stop_filled_qty.push_back(fill.qty);
          r.stop_fill_price.push_back(fill.qty > 0.0 ? fill.notional / fill.qty : nan);
        } else if (o.kind == AgentKind::token) {
          step_token_[m] += fill.qty;
          // the order's cost against the mark it rebalanced at: what a sell fetched below it,
          // what a buy paid above it
          const double p = r.token_price[o.item];
          const double cost = o.side > 0 ? fill.qty * p - fill.notional : fill.notional - fill.qty * p;
          r.token_filled_qty[o.item] = fill.qty;
          r.token_notional[o.item] = fill.notional;
          r.token_nav_after[o.item] -= cost;
          finish_token(o.index, o.item);
        } else {
          step_fund_[m] += fill.qty;
          r.fund_notional[o.item] += fill.notional;
          fund_debt_[o.index] -= fill.notional;
          // what the fills' rounding leaves of a holding sold whole is dust (the static rule)
          double& held = holdings_[o.index * markets_ + m];
          held -= fill.qty;
          if (held <= 1e-12 * g_.holdings_[o.index * markets_ + m]) held = 0.0;
        }
      }
      orders.clear();
    }
  }

  const VenueState& s_;
  const VenueAgents& g_;
  const std::atomic<bool>* cancel_;
  std::size_t markets_;
  std::int64_t token_interval_;
  bool scheduled_done_ = false;  // this step's scheduled rebalance has been collected
  std::vector<double> step_stop_, step_token_, step_fund_;
  std::vector<std::vector<AgentOrder>> agent_orders_;
  std::vector<std::size_t> stop_cursor_sell_, stop_cursor_buy_;
  std::vector<double> token_nav_, token_price_;
  std::vector<std::uint32_t> tokens_due_;
  std::vector<std::int64_t> token_step_;
  std::vector<std::uint8_t> token_wiped_;  // per rebalance row
  AgentWatch agent_watch_;  // tokens' rebalance prices, funds' freshness
  std::vector<double> holdings_, fund_debt_, agent_mark_;
  std::vector<std::int64_t> fund_step_;
  std::vector<double> funds_;
  std::vector<SimulationConfig> configs_;  // (engines hold references: never resized after construction)
  std::vector<Isolated> isolated_;
  std::vector<std::unique_ptr<engine::MarketEngine>> engines_;
  std::int64_t step_ = 0;
  std::vector<double> marks_;
  AccountWatch watch_;  // the account index, as VenueCascade's
  std::vector<TriggeredAccount> triggered_;
  // accounts being liquidated
  std::vector<AccountWork> work_;
  std::vector<double> weight_;  // per liquidated account and market (row-major): the deficit's split
  std::vector<std::deque<AccountOrder>> queue_, carry_;
  std::vector<double> step_account_qty_, step_account_notional_, step_sale_qty_, step_sale_notional_;
  std::vector<std::int64_t> step_accounts_;
  VenueSimulationResult result_;
};

VenueSimulationResult simulate_venue(const VenueState& state, const VenueSimulationConfig& config,
                                     const std::atomic<bool>* cancel) {
  VenueSimulation simulation(state, config, VenueAgents::none(), cancel);
  return simulation.run();
}

VenueSimulationResult simulate_venue(const VenueState& state, const VenueSimulationConfig& config,
                                     const VenueAgents& agents, const std::atomic<bool>* cancel) {
  VenueSimulation simulation(state, config, agents, cancel);
  return simulation.run();
}

std::vector<double> correlated_gbm_paths(const std::vector<double>& correlation, const std::vector<double>& sigma,
                                         const std::vector<double>& mu, const std::vector<double>& start,
                                         std::int64_t steps, double dt, std::uint64_t seed) {
  const std::size_t k = sigma.size();
  if (k == 0) throw InputError("sigma", "needs one volatility per market, got none");
  require_each(sigma, "sigma", finite_non_negative, "must be finite and >= 0");
  CorrelatedShockModel model;
  model.kind = CorrelatedShockModel::Kind::normal;
  model.dimension = k;
  model.correlation = correlation;
  model.scale = sigma;  // (validated as scales: finite, >= 0)
  const std::vector<double> factor = model.cholesky();
  if (mu.size() != k) throw InputError("mu", "expected one per market (" + std::to_string(k) + ")");
  if (start.size() != k) throw InputError("start", "expected one per market (" + std::to_string(k) + ")");
  require_each(mu, "mu", finite, "must be finite");
  require_each(start, "start", finite_positive, "must be finite and > 0");
  require(steps >= 1 && steps <= (std::int64_t{1} << 40), "steps", "must be in [1, 2**40]", static_cast<double>(steps));
  require(std::isfinite(dt) && dt > 0.0, "dt", "must be finite and > 0", dt);
  require_memory("steps", 8.0 * static_cast<double>(steps) * static_cast<double>(k), "the paths");
  const auto n = static_cast<std::size_t>(steps);
  std::vector<double> path(n * k);
  std::copy(start.begin(), start.end(), path.begin());
  std::vector<double> drift(k), vol(k), z(k);
  for (std::size_t i = 0; i < k; ++i) {
    drift[i] = (mu[i] - 0.5 * sigma[i] * sigma[i]) * dt;
    vol[i] = sigma[i] * std::sqrt(dt);
  }
  for (std::size_t t = 1; t < n; ++t) {
    Stream stream(seed, t, Purpose::path, 0);
    for (std::size_t j = 0; j < k; ++j) z[j] = stream.normal();
    for (std::size_t i = 0; i < k; ++i) {
      double y = 0.0;
      for (std::size_t j = 0; j <= i; ++j) y += factor[i * k + j] * z[j];
      const double p = path[(t - 1) * k + i] * det_exp(drift[i] + vol[i] * y);
      if (!(std::isfinite(p) && p > 0.0)) {
        throw InputError("sigma", static_cast<std::ptrdiff_t>(i),
                         "the path leaves the range of a price at step " + std::to_string(t) +
                             ": sigma, mu or dt are too large for this many steps");
      }
      path[t * k + i] = p;
    }
  }
  return path;
}

}  // namespace cascade_core
