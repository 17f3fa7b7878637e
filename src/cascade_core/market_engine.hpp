// One market's time-stepped engine (docs/design.md, "Time-stepped engine"), its step split into
// phases so that the one-market simulate() and the venue simulator (venue_simulator.cpp) run the
// same code: simulate() is begin_step, liquidate, end_step per step; a venue runs each phase for
// all its markets in turn, with its cross accounts between them. Internal to the core.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <limits>
#include <queue>
#include <utility>
#include <vector>

#include "cascade_core/book_walker.hpp"
#include "cascade_core/margin.hpp"
#include "cascade_core/order_book.hpp"
#include "cascade_core/positions.hpp"
#include "cascade_core/rng.hpp"
#include "cascade_core/simulator.hpp"

namespace cascade_core::engine {

inline constexpr double inf = std::numeric_limits<double>::infinity();

// A quantity below this fraction of the size it is left from is rounding dust of the sizes
// (fills and takes summed in another order), not a position or an inventory: it counts as 0.
inline constexpr double dust = 1e-12;

enum class State : std::uint8_t { open, queued, liquidated, cooling, called };

class MarketEngine {
 public:
  // `shared_fund`: the insurance fund of a group of markets (its balance set by the caller);
  // none: the market's own, starting at config.insurance_fund.
  MarketEngine(const OrderBook& book, const PositionSet& positions, const SimulationConfig& config,
               double* shared_fund = nullptr)
      : config_(config), positions_(positions), cols_(positions.columns()),
        bids_(book.bids(), true, /*track_volume=*/true), asks_(book.asks(), false, /*track_volume=*/true), centre0_(book.mid()),
        fund_(shared_fund != nullptr ? *shared_fund : own_fund_) {
    const std::size_t n = positions.size();
    open_qty_.assign(cols_.qty.begin(), cols_.qty.end());
    margin_.assign(cols_.margin.begin(), cols_.margin.end());
    mmr_.assign(cols_.mmr.begin(), cols_.mmr.end());
    maint_.assign(cols_.maint_amount.begin(), cols_.maint_amount.end());
    state_.assign(n, State::open);
    if (config.policy.partial_tiers) tier_cap_.assign(n, std::numeric_limits<std::uint32_t>::max());
    if (config.policy.latency > 0) ready_step_.assign(n, 0);
    if (config.policy.margin_call_grace > 0) call_count_.assign(n, 0);
    last_ = mark_ = centre0_;
    if (shared_fund == nullptr) fund_ = config.insurance_fund;
    inverse_ = positions.inverse_size();
    // a cooldown of c time units ends at the first step at least c after the slice
    cooldown_steps_ = static_cast<std::int64_t>(
        std::min(std::ceil(config.policy.slice_cooldown / config.dt), static_cast<double>(config.steps) + 1.0));
  }

  // The run of one market alone (simulate()): each step's phases in order.
  SimulationResult run(const std::atomic<bool>* cancel) {
    cancel_ = cancel;
    start();
    for (std::size_t t = 0; t < static_cast<std::size_t>(config_.steps); ++t) {
      if (cancelled()) break;
      begin_step(t);
      liquidate();
      end_step(t);
    }
    return finish();
  }

  // The phases of a step, which a venue (venue_simulator.cpp) runs for each of its markets in
  // turn: begin_step (centre, refill, halt, exogenous trading, mark, funding, the queue's
  // re-admissions), liquidate (may be called again within the step: it makes progress or
  // stops), end_step (the fund's unwind, breakers, the timeline row).
  void start() {
    const auto& cfg = config_;
    history_.assign(1, centre0_);  // last price before each step
    history_.reserve(static_cast<std::size_t>(cfg.steps) + 1);
    result_.final_qty.clear();
    refill_ = std::exp(-cfg.resilience * cfg.dt);
    ema_alpha_ = cfg.mark_halflife > 0.0 ? 1.0 - std::exp2(-cfg.dt / cfg.mark_halflife) : 1.0;
    halted_until_ = 0;
  }

  void begin_step(std::size_t t) {
    const auto& cfg = config_;
    step_ = static_cast<std::int64_t>(t);
    centre_ = cfg.path.empty() ? centre0_ : cfg.path[t];
    shift_ = centre_ - centre0_;
    if (t > 0 && cfg.resilience > 0.0) {
      bids_.refill(refill_);
      asks_.refill(refill_);
    }
    halted_ = step_ < halted_until_;
    step_qty_ = step_notional_ = step_adl_ = step_taker_ = 0.0;
    step_rate_ = step_funding_long_ = step_funding_short_ = step_deposits_ = 0.0;
    if (!halted_) {
      exogenous(t, centre_);
    }
    // the mark: last trade, its EMA, or the index (fundamental) plus a basis
    switch (cfg.mark) {
      case SimulationConfig::Mark::last: mark_ = last_; break;
      case SimulationConfig::Mark::ema: mark_ += ema_alpha_ * (last_ - mark_); break;  // from the initial mid
      case SimulationConfig::Mark::index: mark_ = centre_ + cfg.basis; break;
    }
    funding(t, centre_);
    if (!halted_) admit_waiting();
  }

  void end_step(std::size_t t) {
    const auto& cfg = config_;
    if (!halted_) unwind();
    history_.push_back(last_);
    for (const auto& breaker : cfg.breakers) {
      // the move over the window (or since the start, while it is shorter)
      const auto window = static_cast<std::size_t>(breaker.window);
      const double before = history_[history_.size() > window ? history_.size() - 1 - window : 0];
      if (std::abs(last_ / before - 1.0) >= breaker.move) {
        // a halt beyond the run's end halts it to the end (no step + halt overflow)
        const std::int64_t until = breaker.halt >= cfg.steps ? cfg.steps : step_ + 1 + breaker.halt;
        halted_until_ = std::max(halted_until_, until);
      }
    }
    record(t, centre_, halted_);
  }

  SimulationResult finish() {
    if (inverse_ != 0.0) {
      for (double& q : open_qty_) q /= inverse_;  // contracts
    }
    result_.final_qty = std::move(open_qty_);  // finish() is the simulation's last use
    result_.liquidated.resize(state_.size());  // recycled memory: every element written below
    for (std::size_t i = 0; i < state_.size(); ++i) result_.liquidated[i] = state_[i] == State::liquidated ? 1 : 0;
    return std::move(result_);
  }

  // What a venue reads and does between the phases.
  [[nodiscard]] bool halted() const noexcept { return halted_; }
  [[nodiscard]] double mark() const noexcept { return mark_; }
  [[nodiscard]] double last() const noexcept { return last_; }
  void set_cancel(const std::atomic<bool>* cancel) noexcept { cancel_ = cancel; }
  // Whether one more liquidation order may go this step (the policy's throughput), and counts it.
  bool take_budget() noexcept {
    if (halted_ || budget_ == 0) return false;
    if (config_.policy.max_notional_per_step > 0.0 && step_notional_ >= config_.policy.max_notional_per_step) {
      return false;
    }
    --budget_;
    return true;
  }
  // A market order of another owner (a cross account's close, a collateral sale), within the
  // band; `liquidation` counts its fill in the step's liquidated quantity and notional. The
  // last-price mark follows the fill, as it follows the engine's own.
  BookWalker::Fill venue_order(int side, double qty, bool liquidation) {
    const auto fill = trade(side, qty, side > 0 ? -inf : inf);
    if (liquidation) {
      step_qty_ += fill.qty;
      step_notional_ += fill.notional;
    }
    if (config_.mark == SimulationConfig::Mark::last) mark_ = last_;
    return fill;
  }
  // The fund covers a cross account's deficit (its share in this market).
  void cover(double loss) noexcept { fund_ -= loss; }
  // What a cross account's close could not fill — `qty` for a holder of `side` — at the mark:
  // the fund takes it over while its balance is > 0 (policy.takeover), else ADL closes opposite
  // positions for it (policy.adl). Events name the venue's position as -(position + 2).
  // Returns what is left (it waits for the next step).
  double absorb(int side, double qty, std::int64_t tag) {
    const auto& policy = config_.policy;
    const double price = mx();
    if (policy.takeover && fund_ > 0.0) {
      const double realised = take_over(side, qty, price);
      event(EventKind::takeover, tag, qty, price, std::max(realised, 0.0), std::max(-realised, 0.0), -1);
      return 0.0;
    }
    if (policy.adl) return deleverage(-side, qty, price, tag);
    return qty;
  }

 private:
  void exogenous(std::size_t t, double centre) {
    const auto& cfg = config_;
    if (t == 0 && cfg.shock != 0.0) {
      const double target = centre * (1.0 + cfg.shock);
      (cfg.shock < 0.0 ? bids_ : asks_).remove_beyond(target, shift_);
      last_ = target;
    }
    if (!cfg.flow.empty() && cfg.flow[t] != 0.0) {
      const double q = cfg.flow[t];
      const auto fill = q < 0.0 ? bids_.take(-q, last_, -inf, shift_) : asks_.take(q, last_, inf, shift_);
      result_.exogenous_filled += fill.qty;
    }
  }

  // Position i's liquidation price with its current size, margin and tier.
  [[nodiscard]] double liquidation_price_of(std::uint32_t i) const noexcept {
    return liquidation_price(cols_.side[i], open_qty_[i], cols_.entry_price[i], margin_[i], mmr_[i], maint_[i],
                             positions_.rule());
  }

  // Back to open at liquidation price `liq`: queued again when the mark reaches it.
  void relist(std::uint32_t i, double liq) {
    if (cols_.side[i] > 0) relisted_longs_.emplace(liq, i); else relisted_shorts_.emplace(liq, i);
  }

  // Calls whose grace period has ended: met (a deposit back to the initial margin fraction at the
  // mark; open again at the new liquidation price) or not (to the engine's queue).
  void resolve_calls() {
    const auto& policy = config_.policy;
    while (!calls_.empty() && calls_.front().first <= step_) {
      const std::uint32_t i = calls_.front().second;
      calls_.pop_front();
      if (state_[i] != State::called) continue;
      const std::uint32_t call = call_count_.empty() ? 0 : call_count_[i]++;
      const PhiloxCounter w = philox4x32_10({i, call, static_cast<std::uint32_t>(policy.margin_call_seed),
                                             static_cast<std::uint32_t>(policy.margin_call_seed >> 32)},
                                            philox_key(policy.margin_call_seed ^ 0x6D617267696E63ULL));
      const int side = cols_.side[i];
      const double q = open_qty_[i];
      if (unit_from_u32(w[0]) < policy.margin_call_met) {
        const double fraction = cols_.margin[i] / (cols_.qty[i] * cols_.entry_price[i]);  // at the open
        const double equity = margin_[i] + side * q * (mx() - cols_.entry_price[i]);
        const double deposit = std::max(0.0, fraction * q * mx() - equity);
        margin_[i] += deposit;
        step_deposits_ += deposit;
        state_[i] = State::open;
        event(EventKind::call_met, i, q, mx(), 0.0, 0.0, -1);
        relist(i, liquidation_price_of(i));
      } else {
        state_[i] = State::queued;  // the engine re-checks it at the mark when its order goes
        (side > 0 ? long_queue_ : short_queue_).push_back(i);
        if (!ready_step_.empty()) ready_step_[i] = step_;
      }
    }
  }

  // Positions whose cooldown after a slice has ended are open again, at their new liquidation price.
  void end_cooldowns() {
    while (!cooling_.empty() && cooling_.front().first <= step_) {
      const std::uint32_t i = cooling_.front().second;
      cooling_.pop_front();
      if (state_[i] != State::cooling) continue;
      state_[i] = State::open;
      relist(i, liquidation_price_of(i));
    }
  }

  // Moves every newly triggered position into the queues, in trigger order.
  void enqueue() {
    const auto& longs = positions_.at_risk(Direction::down);
    while (next_long_ < longs.size() && mx() <= longs[next_long_].threshold) {
      admit(longs[next_long_++].index, long_queue_);
    }
    while (!relisted_longs_.empty() && mx() <= relisted_longs_.top().first) {
      admit(relisted_longs_.top().second, long_queue_);
      relisted_longs_.pop();
    }
    while (!relisted_shorts_.empty() && mx() >= relisted_shorts_.top().first) {
      admit(relisted_shorts_.top().second, short_queue_);
      relisted_shorts_.pop();
    }
    const auto& shorts = positions_.at_risk(Direction::up);
    while (next_short_ < shorts.size() && mx() >= shorts[next_short_].threshold) {
      admit(shorts[next_short_++].index, short_queue_);
    }
  }

  // Queues position i for the engine unless it is already queued, closed or empty.
  void admit(std::uint32_t i, std::deque<std::uint32_t>& queue) {
    if (state_[i] == State::open && open_qty_[i] > 0.0 && config_.policy.margin_call_grace > 0) {
      // a margin call first: the position has the grace period to meet it
      state_[i] = State::called;
      calls_.emplace_back(step_ + config_.policy.margin_call_grace, i);
      event(EventKind::margin_call, i, open_qty_[i], mx(), 0.0, 0.0, -1);
      return;
    }
    if (state_[i] == State::open && open_qty_[i] > 0.0) {
      state_[i] = State::queued;
      queue.push_back(i);
      if (!ready_step_.empty()) ready_step_[i] = step_ + config_.policy.latency;
    }
  }

  // Whether the front of a queue may go now (its latency has passed).
  [[nodiscard]] bool ready(const std::deque<std::uint32_t>& queue) const noexcept {
    return !queue.empty() && (ready_step_.empty() || ready_step_[queue.front()] <= step_);
  }

  // Funding at the start of step t = k * interval: every open position pays side * qty * mark *
  // rate from its margin; from then on every position's liquidation price has moved, so the
  // trigger lists are rebuilt from the new prices (a settlement is rare: every interval steps).
  void funding(std::size_t t, double centre) {
    const auto& cfg = config_;
    if (cfg.funding_interval <= 0) return;
    premium_sum_ += (mark_ - centre) / centre;
    ++premium_steps_;
    if (t == 0 || t % static_cast<std::size_t>(cfg.funding_interval) != 0) return;
    double rate = 0.0;
    if (!cfg.funding_rate.empty()) {
      rate = cfg.funding_rate[t];
    } else {  // the venues' formula from the average premium over the interval
      const double premium = premium_sum_ / static_cast<double>(premium_steps_);
      rate = premium + std::clamp(cfg.funding_interest - premium, -cfg.funding_clamp, cfg.funding_clamp);
      rate = std::clamp(rate, -cfg.funding_cap, cfg.funding_cap);
    }
    premium_sum_ = 0.0;
    premium_steps_ = 0;
    step_rate_ = rate;
    if (rate == 0.0) return;
    for (std::uint32_t i = 0; i < open_qty_.size(); ++i) {
      if (state_[i] == State::liquidated || open_qty_[i] <= 0.0) continue;
      // longs pay shorts when the rate is positive: the book's side (an inverse set's positions
      // are the reciprocal market's, of the other side), value qty * mark in the set's terms
      const int payer = inverse_ != 0.0 ? -cols_.side[i] : cols_.side[i];
      const double pay = payer * open_qty_[i] * mx() * rate;
      margin_[i] -= pay;
      (payer > 0 ? step_funding_long_ : step_funding_short_) += pay;
    }
    rebuild_triggers();
  }

  // Every open position at its liquidation price now, in the relisting heaps; the set's sorted
  // lists (priced at the start) are not read any more.
  void rebuild_triggers() {
    std::vector<std::pair<double, std::uint32_t>> longs, shorts;
    for (std::uint32_t i = 0; i < open_qty_.size(); ++i) {
      if (state_[i] != State::open || open_qty_[i] <= 0.0) continue;
      (cols_.side[i] > 0 ? longs : shorts).emplace_back(liquidation_price_of(i), i);
    }
    using LongHeap = decltype(relisted_longs_);
    using ShortHeap = decltype(relisted_shorts_);
    relisted_longs_ = LongHeap(LongHeap::value_compare(), std::move(longs));
    relisted_shorts_ = ShortHeap(ShortHeap::value_compare(), std::move(shorts));
    next_long_ = positions_.at_risk(Direction::down).size();
    next_short_ = positions_.at_risk(Direction::up).size();
  }

  // At a step's start (not halted): cooldowns and margin calls that end, and what the engine
  // could not finish closing in an earlier step, go again, first; the step's order budget.
  void admit_waiting() {
    const auto& policy = config_.policy;
    end_cooldowns();
    resolve_calls();
    for (const std::uint32_t i : retry_) {
      if (state_[i] == State::liquidated && open_qty_[i] > 0.0) (cols_.side[i] > 0 ? long_queue_ : short_queue_).push_back(i);
    }
    retry_.clear();
    budget_ = policy.max_orders_per_step > 0 ? policy.max_orders_per_step : std::numeric_limits<std::int64_t>::max();
  }

 public:
  // Closes what the mark has triggered, within the step's budget (not when halted).
  void liquidate() {
    if (halted_) return;
    const auto& policy = config_.policy;
    auto& budget = budget_;
    // Each pass closes a queued position for good or moves it down a tier (close()), so the
    // loop ends; a step with millions of orders still answers Ctrl-C.
    for (std::uint64_t pass = 1;; ++pass) {
      if ((pass & 0x3FF) == 0 && cancelled()) break;
      enqueue();
      if (budget == 0 || !(ready(long_queue_) || ready(short_queue_))) break;
      if (policy.max_notional_per_step > 0.0 && step_notional_ >= policy.max_notional_per_step) break;
      auto& queue = ready(long_queue_) ? long_queue_ : short_queue_;
      const std::uint32_t i = queue.front();
      queue.pop_front();
      if (state_[i] == State::queued && !triggered(i)) {
        // the mark came back before its order went (throughput, latency): open again
        state_[i] = State::open;
        relist(i, liquidation_price_of(i));
        continue;
      }
      close(i);
      --budget;
      if (config_.mark == SimulationConfig::Mark::last) mark_ = last_;
    }
    result_.queued_now = static_cast<std::int64_t>(long_queue_.size() + short_queue_.size() + retry_.size());
  }

 private:

  // The mark in the positions' terms (an inverse set's: 1 / mark).
  [[nodiscard]] double mx() const noexcept { return inverse_ != 0.0 ? 1.0 / mark_ : mark_; }
  // A price and a quantity in the positions' terms, in the book's (USD, contracts).
  [[nodiscard]] double quote_price(double x) const noexcept {
    if (inverse_ == 0.0) return x;
    return x > 0.0 ? 1.0 / x : inf;
  }
  [[nodiscard]] double book_qty(double q) const noexcept { return inverse_ != 0.0 ? q / inverse_ : q; }

  // A market order that trades `qty` (positions' terms) for a holder of `side` (a long sells)
  // at no worse than `limit` (positions' terms; -inf/+inf: none) and the band around the mark.
  // The fill in the positions' terms: qty, and in `notional` its value (an inverse set: the
  // coin value, contract size * sum of contracts / price).
  BookWalker::Fill trade(int side, double qty, double limit) {
    int book_side = side;
    double book_limit = limit;
    double book_qty_asked = qty;
    if (inverse_ != 0.0) {  // the reciprocal market's long is the book's short
      book_side = -side;
      book_qty_asked = qty / inverse_;
      const bool none = !(std::isfinite(limit) && limit > 0.0);
      book_limit = none ? (book_side > 0 ? -inf : inf) : 1.0 / limit;
    }
    if (config_.band > 0.0) {
      const double band_limit = mark_ * (1.0 - book_side * config_.band);
      book_limit = book_side > 0 ? std::max(book_limit, band_limit) : std::min(book_limit, band_limit);
    }
    auto fill = book_side > 0 ? bids_.take(book_qty_asked, last_, book_limit, shift_)
                              : asks_.take(book_qty_asked, last_, book_limit, shift_);
    if (inverse_ != 0.0) {
      fill.notional = inverse_ * fill.reciprocal;
      fill.qty *= inverse_;
      fill.unfilled *= inverse_;
    }
    return fill;
  }

  struct CloseFill {
    BookWalker::Fill fill;
    double fee = 0.0;    // clearance fee, to the fund
    double taker = 0.0;  // taker fee, to the venue
    double loss = 0.0;   // what the fills fell short of the bankruptcy price: the fund covered it
  };

  // A market order for `qty` of position i at no worse than the policy's limit; books the
  // fee or the bad debt.
  CloseFill market_close(std::uint32_t i, double qty, double bankrupt) {
    const auto& policy = config_.policy;
    const int side = cols_.side[i];
    const auto fill = trade(side, qty, policy.limit_at_bankruptcy ? bankrupt : (side > 0 ? -inf : inf));
    double fee = 0.0, taker = 0.0, loss = 0.0;
    if (fill.qty > 0.0) {
      // equity the filled part leaves: filled * side * (vwap - bankruptcy)
      const double equity_left = side * (fill.notional - bankrupt * fill.qty);
      if (equity_left > 0.0) {
        // the taker fee first, then the clearance fee, each out of what equity is left
        taker = std::min(policy.taker_fee * fill.notional, equity_left);
        fee = std::min(policy.fee_rate * fill.notional, equity_left - taker);
      } else {
        loss = -equity_left;  // bad debt: the fund covers it
      }
      fund_ += fee - loss;
      step_qty_ += fill.qty;
      step_notional_ += fill.notional;
      step_taker_ += taker;
      event(EventKind::liquidation, i, fill.qty, fill.notional / fill.qty, fee, loss, -1);
    }
    return {fill, fee, taker, loss};
  }

  // A partial close (a tier step-down, a slice) settles against the margin: the realised PnL and
  // the fees, and what the fund covered of a fill beyond bankruptcy (so the rest keeps its own
  // share of the margin: the shortfall is not charged twice, to the fund and to the position).
  void settle_partial(std::uint32_t i, const CloseFill& close) {
    if (close.fill.qty <= 0.0) return;
    const int side = cols_.side[i];
    margin_[i] += side * (close.fill.notional - cols_.entry_price[i] * close.fill.qty) - close.fee - close.taker +
                  close.loss;
    open_qty_[i] -= close.fill.qty;
  }

  // The fund takes `qty` of position i over at `price`. Taking over the opposite side of what
  // it holds closes that much of its inventory at `price`: the PnL is realised into the fund
  // (returned, for the event) and the rest keeps its average entry — so the inventory's
  // average is always a price (> 0), never the quotient of a netted long and short.
  double takeover(std::uint32_t i, double qty, double price) { return take_over(cols_.side[i], qty, price); }

  // The fund takes over `qty` of a holder of `side` at `price` (takeover()'s rule).
  double take_over(int side, double qty, double price) {
    const double signed_qty = side * qty;
    if (inventory_ == 0.0 || (inventory_ > 0.0) == (signed_qty > 0.0)) {
      inventory_cost_ += signed_qty * price;
      inventory_ += signed_qty;
      return 0.0;
    }
    const double held_side = inventory_ > 0.0 ? 1.0 : -1.0;
    const double average = inventory_cost_ / inventory_;
    const double closing = std::min(qty, std::abs(inventory_));
    const double pnl = held_side * closing * (price - average);
    fund_ += pnl;
    const double rest = qty - closing;
    if (rest > 0.0 || closing == std::abs(inventory_)) {  // flat, or flipped to the new side
      inventory_ = -held_side * rest;
      inventory_cost_ = inventory_ * price;
    } else {
      inventory_ -= held_side * closing;
      inventory_cost_ = inventory_ * average;
    }
    return pnl;
  }

  void close(std::uint32_t i) {
    const auto& policy = config_.policy;
    const int side = cols_.side[i];
    const double entry = cols_.entry_price[i];
    auto bankruptcy = [&] { return bankruptcy_price(side, open_qty_[i], entry, margin_[i]); };
    state_[i] = State::liquidated;
    if (policy.backstop_fraction > 0.0) {
      // Hyperliquid-like backstop: too little equity left for a market order
      const double q = open_qty_[i];
      const double equity = margin_[i] + side * q * (mx() - entry);
      const double maintenance = maintenance_requirement(q, entry, mx(), mmr_[i], maint_[i], positions_.rule());
      if (equity < policy.backstop_fraction * maintenance) {
        const double realised = takeover(i, q, mx());
        fund_ += equity;  // the vault keeps the collateral left (or absorbs its deficit)
        const double gain = equity + realised;
        event(EventKind::takeover, i, q, mx(), std::max(gain, 0.0), std::max(-gain, 0.0), -1);
        open_qty_[i] = 0.0;
        return;
      }
    }
    if (policy.partial_tiers && !policy.tiers.notional_floor.empty()) {
      // Bybit-like: step down the risk-limit tiers before any full close. A position's tier
      // only goes down (one reduced to a tier stays at most in it, even when a rising price
      // grows a short's notional again), so this loop runs at most once per tier, and a
      // position is relisted at most once per tier: every close makes progress.
      std::size_t tier = std::min<std::size_t>(policy.tiers.tier_of(open_qty_[i] * mx()), tier_cap_[i]);
      while (tier > 0) {
        const double q = open_qty_[i];
        const double keep = policy.tiers.notional_floor[tier] / mx();  // the lower tier's limit
        // `keep * mark` may round to just above the floor: the position is in the lower tier
        // then, with nothing to sell (the reduction is not recomputed from a tier lookup).
        if (q > keep) {
          const CloseFill reduced = market_close(i, q - keep, bankruptcy());
          settle_partial(i, reduced);
          if (reduced.fill.unfilled > 0.0 || margin_[i] <= 0.0) break;  // the book would not take it
        }
        --tier;
        tier_cap_[i] = static_cast<std::uint32_t>(tier);
        mmr_[i] = policy.tiers.mmr[tier];
        maint_[i] = policy.tiers.maint_amount[tier];
        const double liq = liquidation_price_of(i);
        if (side > 0 ? mx() > liq : mx() < liq) {  // safe in the lower tier: back to open
          state_[i] = State::open;
          relist(i, liq);
          return;
        }
      }
    }
    if (policy.slice_above > 0.0 && open_qty_[i] * mx() > policy.slice_above) {
      // Hyperliquid-like: a slice of the position, then a cooldown before it may go again
      const double q = open_qty_[i];
      const CloseFill slice = market_close(i, policy.slice_fraction * q, bankruptcy());
      settle_partial(i, slice);
      if (slice.fill.unfilled == 0.0 && margin_[i] > 0.0) {
        state_[i] = State::cooling;
        cooling_.emplace_back(step_ + cooldown_steps_, i);
        return;
      }  // else the book would not take the slice: the rest goes as below
    }
    const double bankrupt = bankruptcy();
    const double q = open_qty_[i];
    const double left = market_close(i, q, bankrupt).fill.unfilled;
    open_qty_[i] = left;
    if (left <= 0.0) return;
    margin_[i] *= left / q;  // the rest keeps its share of the margin (and its bankruptcy price)
    if (policy.takeover && fund_ > 0.0) {
      // the fund becomes the holder of the rest at the bankruptcy price
      const double realised = takeover(i, left, bankrupt);
      event(EventKind::takeover, i, left, bankrupt, std::max(realised, 0.0), std::max(-realised, 0.0), -1);
      open_qty_[i] = 0.0;
      return;
    }
    if (policy.adl) {
      const double rest = deleverage(-side, left, bankrupt, i);
      margin_[i] *= rest / left;
      open_qty_[i] = rest;
    }
    // What the book, the fund and ADL could not absorb stays with the engine: it tries again
    // from the next step (the book may have refilled, the fund grown, opposite positions opened).
    if (open_qty_[i] > 0.0) retry_.push_back(i);
  }

  // Whether position i's liquidation price is reached at the mark now.
  [[nodiscard]] bool triggered(std::uint32_t i) const noexcept {
    const double liq = liquidation_price_of(i);
    return cols_.side[i] > 0 ? mx() <= liq : mx() >= liq;
  }

  // Closes up to `qty` of open positions on `side` at `price`, most profitable and most
  // leveraged first (rank: PnL% x effective leverage when in profit, PnL% / effective leverage
  // otherwise), ranked at the step's first deleveraging on that side. Returns what could not
  // be deleveraged.
  double deleverage(int side, double qty, double price, std::int64_t source) {
    auto& ranking = side > 0 ? adl_longs_ : adl_shorts_;
    if (ranking.step != step_) rank(side, ranking);
    double remaining = qty;
    for (; remaining > 0.0 && ranking.next < ranking.order.size(); ++ranking.next) {
      const std::uint32_t j = ranking.order[ranking.next];
      if (state_[j] != State::open || open_qty_[j] <= 0.0) continue;
      const double take = std::min(open_qty_[j], remaining);
      margin_[j] *= 1.0 - take / open_qty_[j];
      open_qty_[j] = take == open_qty_[j] ? 0.0 : open_qty_[j] - take;
      if (open_qty_[j] <= cols_.qty[j] * dust) open_qty_[j] = 0.0;  // closed
      remaining = take == remaining ? 0.0 : remaining - take;
      if (remaining <= qty * dust) remaining = 0.0;
      step_adl_ += take;
      event(EventKind::adl, j, take, price, 0.0, 0.0, source);
      if (open_qty_[j] > 0.0) break;  // partly used: the next call starts with it
    }
    return remaining;
  }

  struct Ranking {
    std::int64_t step = -1;
    std::size_t next = 0;
    std::vector<std::uint32_t> order;
  };

  void rank(int side, Ranking& ranking) {
    const bool binance = config_.policy.adl_ranking == LiquidationPolicy::AdlRanking::binance;
    std::vector<std::pair<double, std::uint32_t>> scored;
    for (std::uint32_t j = 0; j < open_qty_.size(); ++j) {
      if (cols_.side[j] != side || state_[j] != State::open || open_qty_[j] <= 0.0) continue;
      const double pnl = side * open_qty_[j] * (mx() - cols_.entry_price[j]);
      const double equity = margin_[j] + pnl;
      if (equity <= 0.0) continue;
      if (binance) {
        // Binance's documented ADL ranking: PnlPercent x MarginRatio, with the position's
        // isolated margin as its wallet balance
        const double pnl_percent = std::max(0.0, pnl) / std::max(1.0, margin_[j]);
        const double mm = maintenance_requirement(open_qty_[j], cols_.entry_price[j], mx(), mmr_[j], maint_[j],
                                                  positions_.rule());
        scored.emplace_back(pnl_percent * (mm / equity), j);
        continue;
      }
      const double pnl_pct = margin_[j] > 0.0 ? pnl / margin_[j] : (pnl > 0.0 ? inf : -inf);
      const double leverage = open_qty_[j] * mx() / equity;
      scored.emplace_back(pnl > 0.0 ? pnl_pct * leverage : pnl_pct / leverage, j);
    }
    std::stable_sort(scored.begin(), scored.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    ranking.order.resize(scored.size());
    for (std::size_t k = 0; k < scored.size(); ++k) ranking.order[k] = scored[k].second;
    ranking.next = 0;
    ranking.step = step_;
  }

  // The fund sells (buys back) its inventory into the book; a fund left negative deleverages
  // what remains against the opposite side at its cost (so it takes no further loss).
  void unwind() {
    if (inventory_ == 0.0) return;
    const auto& policy = config_.policy;
    const double held = std::abs(inventory_);
    const double qty = policy.unwind_per_step > 0.0 ? std::min(held, policy.unwind_per_step) : held;
    const int side = inventory_ > 0.0 ? 1 : -1;  // a long inventory is sold
    const double average = inventory_cost_ / inventory_;
    const auto fill = trade(side, qty, side > 0 ? -inf : inf);
    if (fill.qty > 0.0) {
      const double pnl = side * (fill.notional - average * fill.qty);
      fund_ += pnl;
      inventory_ -= side * fill.qty;
      inventory_cost_ -= side * fill.qty * average;
      event(EventKind::unwind, -1, fill.qty, fill.notional / fill.qty, 0.0, -pnl, -1);
    }
    drop_dust_inventory(held);  // (not a position to deleverage)
    if (fund_ < 0.0 && policy.adl && inventory_ != 0.0) {
      const double done = std::abs(inventory_) - deleverage(-side, std::abs(inventory_), average, -1);
      inventory_ -= side * done;
      inventory_cost_ -= side * done * average;
      drop_dust_inventory(held);
    }
  }

  // What the fills' rounding leaves of an inventory of `held` is dust: the fund is flat.
  void drop_dust_inventory(double held) noexcept {
    if (std::abs(inventory_) < dust * (1.0 + held)) inventory_ = inventory_cost_ = 0.0;
  }

  void event(EventKind kind, std::int64_t position, double qty, double price, double fee, double loss,
             std::int64_t counterparty) {
    result_.event_step.push_back(step_);
    result_.event_position.push_back(position);
    result_.event_counterparty.push_back(counterparty);
    result_.event_fund.push_back(fund_);
    result_.event_kind.push_back(static_cast<std::int8_t>(kind));
    result_.event_qty.push_back(book_qty(qty));
    result_.event_price.push_back(quote_price(price));
    result_.event_fee.push_back(fee);
    result_.event_loss.push_back(loss);
  }

  void record(std::size_t t, double centre, bool halted) {
    auto& r = result_;
    r.time.push_back(static_cast<double>(t) * config_.dt);
    r.price.push_back(last_);
    r.mark_price.push_back(mark_);
    r.fundamental.push_back(centre);
    r.liquidated_qty.push_back(book_qty(step_qty_));
    r.liquidated_notional.push_back(step_notional_);
    r.insurance_fund.push_back(fund_);
    r.fund_inventory.push_back(inverse_ != 0.0 ? -inventory_ / inverse_ : inventory_);  // (an inverse one: its book side)
    r.adl_qty.push_back(book_qty(step_adl_));
    r.bid_depth.push_back(bids_.remaining(shift_));
    r.ask_depth.push_back(asks_.remaining(shift_));
    r.best_bid.push_back(bids_.best(shift_));
    r.best_ask.push_back(asks_.best(shift_));
    r.funding_rate.push_back(step_rate_);
    r.funding_long.push_back(step_funding_long_);
    r.funding_short.push_back(step_funding_short_);
    r.taker_fees.push_back(step_taker_);
    r.margin_deposits.push_back(step_deposits_);
    r.halted.push_back(halted ? 1 : 0);
    r.queued.push_back(r.queued_now);
  }

  [[nodiscard]] bool cancelled() const noexcept {
    return cancel_ != nullptr && cancel_->load(std::memory_order_relaxed);
  }

  const SimulationConfig& config_;
  const std::atomic<bool>* cancel_ = nullptr;
  const PositionSet& positions_;
  PositionColumns cols_;
  BookWalker bids_, asks_;
  double centre0_;
  double shift_ = 0.0;
  double last_ = 0.0, mark_ = 0.0;  // prices of the book (USD)
  // 0 for a linear set; an inverse set's contract size: its positions, margins, the fund and
  // every formula live in the reciprocal market's terms (x = 1/p, quantities in USD, values in
  // coin), the book in contracts and USD prices; trade(), mx() and the recorders convert.
  double inverse_ = 0.0;
  double own_fund_ = 0.0;
  double& fund_;  // the market's own fund or its group's
  double inventory_ = 0.0, inventory_cost_ = 0.0;
  // per-position working copies: recycled buffers (a run in a loop reuses mapped pages)
  bulk_vector<double> open_qty_, margin_, mmr_, maint_;
  // positions reduced to a lower tier, with their new liquidation prices
  std::priority_queue<std::pair<double, std::uint32_t>> relisted_longs_;  // highest first
  std::priority_queue<std::pair<double, std::uint32_t>, std::vector<std::pair<double, std::uint32_t>>,
                      std::greater<>> relisted_shorts_;  // lowest first
  bulk_vector<State> state_;
  bulk_vector<std::uint32_t> tier_cap_;  // partial_tiers: the highest tier a position may be in
  std::size_t next_long_ = 0, next_short_ = 0;
  std::deque<std::uint32_t> long_queue_, short_queue_;
  std::vector<std::uint32_t> retry_;  // closes left unfinished this step: queued again at the next
  std::deque<std::pair<std::int64_t, std::uint32_t>> calls_;  // (step the grace ends, position), in that order
  bulk_vector<std::uint32_t> call_count_;  // calls each position has had (the draw's counter)
  double step_deposits_ = 0.0;
  std::deque<std::pair<std::int64_t, std::uint32_t>> cooling_;  // (step the cooldown ends, position), in that order
  std::int64_t cooldown_steps_ = 0;
  Ranking adl_longs_, adl_shorts_;
  std::int64_t step_ = 0;
  double step_qty_ = 0.0, step_notional_ = 0.0, step_adl_ = 0.0, step_taker_ = 0.0;
  double step_rate_ = 0.0, step_funding_long_ = 0.0, step_funding_short_ = 0.0;
  double premium_sum_ = 0.0;  // funding: the premium summed since the last settlement
  std::size_t premium_steps_ = 0;
  bulk_vector<std::int64_t> ready_step_;  // latency: the step a queued position's order may go
  SimulationResult result_;
  // the step loop's state (start(), begin_step(), end_step())
  std::vector<double> history_;
  double refill_ = 1.0, ema_alpha_ = 1.0, centre_ = 0.0;
  std::int64_t halted_until_ = 0;
  bool halted_ = false;
  std::int64_t budget_ = 0;
};

}  // namespace cascade_core::engine
