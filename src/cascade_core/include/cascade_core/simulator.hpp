// The time-stepped simulator of one market (docs/design.md, "The time-stepped engine"):
// a book that refills toward its profile (Obizhaeva-Wang), a mark price, a liquidation engine
// with a throughput limit, an insurance fund with takeovers and their unwinding, auto-
// deleveraging, price bands and circuit breakers.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "cascade_core/bulk_allocator.hpp"
#include "cascade_core/margin.hpp"
#include "cascade_core/order_book.hpp"
#include "cascade_core/positions.hpp"

namespace cascade_core {

struct CircuitBreaker {
  double move = 0.0;             // halt when |last / last[t - window] - 1| >= move
  std::int64_t window = 1;       // steps
  std::int64_t halt = 1;         // steps halted
};

struct LiquidationPolicy {
  double fee_rate = 0.0;               // clearance fee on liquidated notional, to the fund, capped at equity left (1: all of it)
  bool limit_at_bankruptcy = true;     // IOC orders fill no worse than the bankruptcy price
  bool takeover = true;                // the insurance fund takes over what the book would not fill
  bool adl = true;                     // auto-deleverage opposite positions when the fund cannot
  std::int64_t max_orders_per_step = 0;  // 0: no limit; the rest queue in trigger order
  double max_notional_per_step = 0.0;    // 0: no limit; orders start while the step's liquidated notional is below it
  double unwind_per_step = 0.0;        // fund inventory sold back into the book per step (0: all)
  // Bybit-like: a triggered position above the first tier is first reduced to the lower tier's
  // limit (and gets its maintenance), then re-checked; only in the first tier is it closed.
  bool partial_tiers = false;
  TierTable tiers;
  // Hyperliquid-like: a triggered position whose equity is below this fraction of its
  // maintenance is taken over whole by the backstop vault (the fund) at the mark. 0: off.
  double backstop_fraction = 0.0;
  // Hyperliquid-like slices: a triggered position whose notional at the mark is above
  // `slice_above` sells `slice_fraction` of its size, then waits `slice_cooldown` (time units)
  // before it may be liquidated again. 0: off.
  double slice_above = 0.0;
  double slice_fraction = 0.2;
  double slice_cooldown = 30.0;
  // Which opposite positions ADL closes first: `pnl_leverage` ranks by PnL% x effective leverage
  // (PnL% / effective leverage when losing); `binance` by PnlPercent x MarginRatio as Binance
  // documents it: max(0, upnl) / max(1, wallet) times MM / (wallet + upnl) (0 when that is <= 0).
  enum class AdlRanking : std::int8_t { pnl_leverage = 0, binance = 1 } adl_ranking = AdlRanking::pnl_leverage;
  // Trading costs: the taker fee on every liquidation fill, paid to the venue out of the equity
  // the fill leaves (before the clearance fee); and the latency, in steps, between a trigger and
  // its order.
  double taker_fee = 0.0;
  std::int64_t latency = 0;
  // Margin calls (a broker's: Reg T / FINRA 4210): a triggered position is first called and has
  // `margin_call_grace` steps to meet the call. Met — with probability `margin_call_met`, a
  // counter-based draw per position and call from `margin_call_seed` — its margin is raised so
  // that its equity at the mark is back at its initial margin fraction of its notional, and it
  // stays open; not met, it goes to the engine (re-checked there: liquidated if the mark is still
  // past its liquidation price). 0 steps: off, liquidated at once.
  std::int64_t margin_call_grace = 0;
  double margin_call_met = 0.0;
  std::uint64_t margin_call_seed = 0;

  void validate() const;  // InputError naming the field
};

struct SimulationConfig {
  std::int64_t steps = 1;
  double dt = 1.0;
  double resilience = 0.0;             // rho: consumed depth refills as exp(-rho dt) per step
  std::vector<double> path;            // fundamental (book centre) per step; empty: constant
  std::vector<double> flow;            // exogenous market order per step, signed qty (+ buy); empty: none
  double shock = 0.0;                  // relative exogenous move at step 0 (consumes depth, as the static cascade)
  enum class Mark { last, ema, index } mark = Mark::last;
  double mark_halflife = 0.0;          // ema: half-life in time units
  double basis = 0.0;                  // index: mark = path + basis
  double band = 0.0;                   // fills only within mark * (1 +- band); 0: none
  std::vector<CircuitBreaker> breakers;
  double insurance_fund = 0.0;         // starting balance
  // Funding (docs/design.md, "Funding"): settled at the start of every step t = k * interval
  // (k >= 1) at the mark, each open position paying side * qty * mark * rate (longs pay shorts
  // when the rate is positive). The rate is funding_rate[t] when given, else the venue formula
  // from the premium of the mark over the index (the fundamental), averaged over the interval:
  // clamp(P + clamp(interest - P, -clamp, +clamp), -cap, +cap). 0: no funding.
  std::int64_t funding_interval = 0;
  std::vector<double> funding_rate;    // per step (read at settlement steps); empty: from the premium
  double funding_interest = 0.0001;    // per interval
  double funding_clamp = 0.0005;
  double funding_cap = 0.003;
  LiquidationPolicy policy;

  void validate(std::size_t n_positions) const;
};

enum class EventKind : std::int8_t { liquidation = 0, takeover = 1, adl = 2, unwind = 3, margin_call = 4, call_met = 5 };

struct SimulationResult {
  // timeline, one row per step
  std::vector<double> time, price, mark_price, fundamental, liquidated_qty, liquidated_notional,
      insurance_fund, fund_inventory, adl_qty, bid_depth, ask_depth, best_bid, best_ask, funding_rate, funding_long,
      funding_short, taker_fees, margin_deposits;
  std::vector<std::uint8_t> halted;
  std::vector<std::int64_t> queued;
  // events, one row per fill, takeover or deleveraging
  std::vector<std::int64_t> event_step, event_position;
  std::vector<std::int64_t> event_counterparty;  // adl: the position (or -1: the fund) deleveraged against
  std::vector<double> event_fund;                // insurance fund balance after the event
  std::vector<std::int8_t> event_kind;
  std::vector<double> event_qty, event_price, event_fee, event_loss;
  // final state per position
  bulk_vector<double> final_qty;               // open quantity left
  bulk_vector<std::uint8_t> liquidated;        // closed by the liquidation engine
  // totals
  double exogenous_filled = 0.0;
  std::int64_t queued_now = 0;  // working value: positions waiting for the engine
};

// The checks simulate() makes before it runs (the config's ranges, the index mark, the running
// totals' bound, memory), for a venue's markets too; InputError naming the field.
void check_market_run(const OrderBook& book, const PositionSet& positions, const SimulationConfig& config);

// Runs the simulation. `book` is the profile the book refills toward, centred on its mid.
SimulationResult simulate(const OrderBook& book, const PositionSet& positions,
                          const SimulationConfig& config, const std::atomic<bool>* cancel = nullptr);

}  // namespace cascade_core
