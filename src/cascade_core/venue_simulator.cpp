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
#include <queue>
#include <string>

#include "cascade_core/correlated_shocks.hpp"
#include "cascade_core/det_math.hpp"
#include "cascade_core/errors.hpp"
#include "cascade_core/resources.hpp"
#include "cascade_core/rng.hpp"
#include "market_engine.hpp"

namespace cascade_core {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr std::uint32_t liquidated_version = std::numeric_limits<std::uint32_t>::max();

struct HeapEntry {
  double price;
  std::uint32_t account;
  std::uint32_t version;
};
struct FallsFirst {  // down heaps: the highest bound is reached first
  bool operator()(const HeapEntry& x, const HeapEntry& y) const noexcept { return x.price < y.price; }
};
struct RisesFirst {  // up heaps: the lowest bound first
  bool operator()(const HeapEntry& x, const HeapEntry& y) const noexcept { return x.price > y.price; }
};

// A cross account's order waiting in its market: close a position, or sell a collateral balance.
struct AccountOrder {
  std::uint32_t row;   // the account's row in the result (its work record)
  std::uint32_t item;  // the position (close) or the asset (sale)
  double qty;          // what is left to trade
  int side;            // the holder's side: +1 sells (a long, a balance), -1 buys back (a short)
  AccountOrderKind kind;
};

struct AccountWork {
  double cash = 0.0;                  // quote balance + realised PnL + what sales fetched
  std::int64_t outstanding = 0;       // orders not yet done
  std::vector<double> weight;         // per market: its positions' notional at the trigger (the deficit's split)
};

template <class Heap>
void drop_stale(Heap& heap, const std::vector<std::uint32_t>& version) {
  // rebuilt from its live entries once stale ones (accounts re-valued or liquidated since) dominate
  std::vector<HeapEntry> live;
  while (!heap.empty()) {
    if (version[heap.top().account] == heap.top().version) live.push_back(heap.top());
    heap.pop();
  }
  for (const HeapEntry& e : live) heap.push(e);
}

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
  if (!common.path.empty() || !common.flow.empty() || !common.funding_rate.empty()) {
    throw InputError("path", "a venue's paths and flows are per market (paths, flows); funding_rate is not supported");
  }
}

class VenueSimulation {
 public:
  VenueSimulation(const VenueState& state, const VenueSimulationConfig& config, const std::atomic<bool>* cancel)
      : s_(state), cancel_(cancel), markets_(state.n_markets()) {
    config.validate(markets_);
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
      check_market_run(*market.book, *iso.set, c);
      iso.set->prepare(cancel);
    }
    for (std::size_t m = 0; m < markets_; ++m) {
      const std::size_t g = config.fund_group.empty() ? m : static_cast<std::size_t>(config.fund_group[m]);
      engines_.push_back(std::make_unique<engine::MarketEngine>(*s_.venue().markets[m].book, *isolated_[m].set,
                                                                configs_[m], &funds_[g]));
    }
    const std::size_t accounts = s_.n_accounts();
    version_.assign(accounts, 0);
    stamp_.assign(accounts, 0);
    bound_cursor_down_.assign(markets_, 0);
    bound_cursor_up_.assign(markets_, 0);
    near_done_.assign(markets_, 0);
    heap_down_.resize(markets_);
    heap_up_.resize(markets_);
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
      for (std::size_t m = 0; m < markets_; ++m) {
        engines_[m]->begin_step(t);
        step_account_qty_[m] = step_account_notional_[m] = step_sale_qty_[m] = step_sale_notional_[m] = 0.0;
        step_accounts_[m] = 0;
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
        const bool traded = execute_orders();
        if (liquidated == 0 && !traded) break;
        if (cancelled()) break;
      }
      for (std::size_t m = 0; m < markets_; ++m) {
        engines_[m]->end_step(t);
        result_.account_qty[m].push_back(step_account_qty_[m]);
        result_.account_notional[m].push_back(step_account_notional_[m]);
        result_.sale_qty[m].push_back(step_sale_qty_[m]);
        result_.sale_notional[m].push_back(step_sale_notional_[m]);
        result_.accounts_liquidated[m].push_back(step_accounts_[m]);
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
      for (auto& p : r.event_position) {
        if (p >= 0) p = index[static_cast<std::size_t>(p)];
      }
      for (auto& p : r.event_counterparty) {
        if (p >= 0) p = index[static_cast<std::size_t>(p)];
      }
    }
    result_.fund_final = funds_;
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
    candidates_.clear();
    ++pass_;
    const auto consider = [&](std::uint32_t a) {
      if (stamp_[a] == pass_ || version_[a] == liquidated_version) return;
      stamp_[a] = pass_;
      candidates_.push_back(a);
    };
    const auto& ref = s_.ref_price();
    for (std::size_t m = 0; m < markets_; ++m) {
      const double mark = marks_[m] = engines_[m]->mark();
      if (!near_done_[m] && mark != ref[m]) {  // (accounts within rounding of their trigger at the reference)
        near_done_[m] = 1;
        for (const std::uint32_t a : s_.near_trigger_[m]) {
          if (version_[a] == 0) consider(a);
        }
      }
      const auto& down = s_.bound_down_[m];
      for (std::size_t& k = bound_cursor_down_[m]; k < down.size() && mark <= down[k].price; ++k) {
        if (version_[down[k].account] == 0) consider(down[k].account);
      }
      const auto& up = s_.bound_up_[m];
      for (std::size_t& k = bound_cursor_up_[m]; k < up.size() && mark >= up[k].price; ++k) {
        if (version_[up[k].account] == 0) consider(up[k].account);
      }
      auto& heap_down = heap_down_[m];
      while (!heap_down.empty() && mark <= heap_down.top().price) {
        const HeapEntry e = heap_down.top();
        heap_down.pop();
        if (version_[e.account] == e.version) consider(e.account);
      }
      auto& heap_up = heap_up_[m];
      while (!heap_up.empty() && mark >= heap_up.top().price) {
        const HeapEntry e = heap_up.top();
        heap_up.pop();
        if (version_[e.account] == e.version) consider(e.account);
      }
    }
    if (candidates_.empty()) return 0;
    std::sort(candidates_.begin(), candidates_.end());
    const std::vector<double> price = s_.asset_prices(marks_);
    triggered_.clear();
    std::size_t done = 0;
    for (const std::uint32_t a : candidates_) {
      if ((++done & 0xFFFF) == 0 && cancelled()) break;
      const AccountHealth h = s_.health(a, marks_, price);
      ++result_.accounts_evaluated;
      if (h.triggered()) {
        version_[a] = liquidated_version;
        triggered_.push_back({a, h.equity, h.maintenance});
      } else {
        const std::uint32_t version = ++version_[a];
        s_.account_bounds(a, h, marks_, [&](std::uint32_t m, bool is_down, double bound) {
          if (is_down) {
            heap_down_[m].push({bound, a, version});
          } else {
            heap_up_[m].push({bound, a, version});
          }
        });
      }
    }
    // stale entries (accounts re-valued since) are dropped once they could dominate a heap
    const std::size_t limit = 2 * s_.n_accounts() + 1024;
    for (std::size_t m = 0; m < markets_; ++m) {
      if (heap_down_[m].size() > limit) drop_stale(heap_down_[m], version_);
      if (heap_up_[m].size() > limit) drop_stale(heap_up_[m], version_);
    }
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
    w.weight.assign(markets_, 0.0);
    std::vector<std::uint8_t> counted(markets_, 0);
    for (std::uint32_t j = s_.account_offset_[a]; j < s_.account_offset_[a + 1]; ++j) {
      const std::uint32_t i = s_.account_position_[j];
      const auto m = static_cast<std::size_t>(s_.market_[i]);
      queue_[m].push_back({row, i, s_.qty_[i], s_.side_[i], AccountOrderKind::close});
      ++w.outstanding;
      w.weight[m] += s_.qty_[i] * marks_[m];
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
        if (fill.unfilled > 0.0) {
          o.qty = fill.unfilled;
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
      double total = 0.0;
      for (const double x : w.weight) total += x;
      for (std::size_t m = 0; m < markets_; ++m) {
        if (w.weight[m] > 0.0) engines_[m]->cover(bad_debt * (w.weight[m] / total));
      }
    }
  }

  const VenueState& s_;
  const std::atomic<bool>* cancel_;
  std::size_t markets_;
  std::vector<double> funds_;
  std::vector<SimulationConfig> configs_;  // (engines hold references: never resized after construction)
  std::vector<Isolated> isolated_;
  std::vector<std::unique_ptr<engine::MarketEngine>> engines_;
  std::int64_t step_ = 0;
  std::vector<double> marks_;
  // the account index: as VenueCascade's (versions; the sorted reference bounds' cursors; heaps)
  std::vector<std::uint32_t> version_, stamp_;
  std::uint32_t pass_ = 0;
  std::vector<std::size_t> bound_cursor_down_, bound_cursor_up_;
  std::vector<std::uint8_t> near_done_;
  std::vector<std::priority_queue<HeapEntry, std::vector<HeapEntry>, FallsFirst>> heap_down_;
  std::vector<std::priority_queue<HeapEntry, std::vector<HeapEntry>, RisesFirst>> heap_up_;
  std::vector<std::uint32_t> candidates_;
  std::vector<TriggeredAccount> triggered_;
  // accounts being liquidated
  std::vector<AccountWork> work_;
  std::vector<std::deque<AccountOrder>> queue_, carry_;
  std::vector<double> step_account_qty_, step_account_notional_, step_sale_qty_, step_sale_notional_;
  std::vector<std::int64_t> step_accounts_;
  VenueSimulationResult result_;
};

VenueSimulationResult simulate_venue(const VenueState& state, const VenueSimulationConfig& config,
                                     const std::atomic<bool>* cancel) {
  VenueSimulation simulation(state, config, cancel);
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
