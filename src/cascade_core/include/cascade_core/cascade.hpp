// The static cascade of docs/design.md: one market, instantaneous, no replenishment.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include "cascade_core/book_walker.hpp"
#include "cascade_core/bulk_allocator.hpp"
#include "cascade_core/order_book.hpp"
#include "cascade_core/positions.hpp"

namespace cascade_core {

// What starts the cascade.
struct Shock {
  enum class Kind { relative, quantity, target };
  Kind kind = Kind::relative;
  // relative: the move s > -1 (p_t = p_ref * (1 + s)); s < 0 is down, s > 0 up, s == 0 no move.
  // quantity: a market order of this size (> 0) in `direction`.
  // target: the exogenous move to this price (finite, > 0) in `direction` (an inverse market's
  // move, carried to its reciprocal market exactly: inverse.hpp).
  double value = 0.0;
  Direction direction = Direction::down;  // used by quantity shocks only

  static Shock relative(double move) { return {Kind::relative, move, Direction::down}; }
  static Shock sell(double qty) { return {Kind::quantity, qty, Direction::down}; }
  static Shock buy(double qty) { return {Kind::quantity, qty, Direction::up}; }
  static Shock to_price(double price, Direction direction) { return {Kind::target, price, direction}; }

  // The way the price goes, so the side at risk: a relative move > 0 is up (a zero move counts
  // as down, and moves nothing), a quantity shock goes its `direction`.
  [[nodiscard]] Direction moves() const noexcept {
    return kind == Kind::relative ? (value > 0.0 ? Direction::up : Direction::down) : direction;
  }
};

struct RoundTrace {
  double start_price;   // `last` when the round began
  std::int64_t count;   // positions triggered at that price
  double qty;           // their total quantity
};

struct CascadeResult {
  Direction direction = Direction::down;
  double ref_price = 0.0;       // p_ref
  double shock_price = 0.0;     // `last` after the exogenous move, before any liquidation
  double final_price = 0.0;     // `last` when the cascade ended
  std::int64_t n_liquidated = 0;      // positions triggered (filled in full, in part or not)
  double liquidated_qty = 0.0;        // base quantity of liquidation orders that filled
  double liquidated_notional = 0.0;   // sum of fill value
  double unfilled_qty = 0.0;          // liquidation quantity that found no book
  double exogenous_filled_qty = 0.0;  // quantity shocks: what the exogenous order filled
  double exogenous_unfilled_qty = 0.0;
  std::int64_t rounds = 0;
  bool book_exhausted = false;        // an order (exogenous or liquidation) ran out of book
  double bad_debt = 0.0;
  std::int64_t levels_touched = 0;    // book levels traded against or removed
  std::vector<RoundTrace> trace;
  // The moves relative to p_ref, and the amplification (final move over shock move; NaN when
  // the shock did not move the price) — defined here once, for every caller.
  [[nodiscard]] double shock_move() const noexcept { return shock_price / ref_price - 1.0; }
  [[nodiscard]] double final_move() const noexcept { return final_price / ref_price - 1.0; }
  [[nodiscard]] double amplification() const noexcept {
    const double shock_delta = shock_price - ref_price;
    return shock_delta != 0.0 ? (final_price - ref_price) / shock_delta : std::numeric_limits<double>::quiet_NaN();
  }
  // Per liquidated position, in processing order.
  bulk_vector<std::int64_t> liquidated_index;  // int64: what NumPy indexes with
  bulk_vector<double> filled_qty;
  bulk_vector<double> fill_price;     // VWAP of its fills, NaN if nothing filled
};

// The exogenous move (docs/design.md, "Static cascade", steps 1-3), shared by every cascade path:
// checks the shock and the reference price (InputError, as cascade() below), and applies the
// move to a walker over the side consumed. `result` holds the direction, ref_price,
// shock_price, the exogenous fill and book_exhausted; `identity` is true for a zero shock
// (then `result` is final: nothing moves).
struct CascadeStart {
  CascadeResult result;
  BookWalker walker;
  bool identity = false;
};
CascadeStart start_cascade(const OrderBook& book, const Shock& shock, std::optional<double> ref_price);

// Runs one cascade. No `ref_price` means the book's mid. Throws InputError for a bad
// shock, a bad reference price or an empty book side that the shock needs. Cost is
// O(positions triggered + levels touched) once `positions` is prepared. Without
// `record_positions` the per-position vectors stay empty (studies that keep only the
// aggregates skip their allocation).
//
// A side not yet sorted is sorted only as far as the cascade reaches (PositionSet::LazyAtRisk):
// the same result, bit for bit, as on the side fully sorted. `cancel`, when set during that
// sort, throws Cancelled (the set stays valid: what was sorted stays sorted).
CascadeResult cascade(const OrderBook& book, const PositionSet& positions, const Shock& shock, std::optional<double> ref_price, bool record_positions = true,
                      const std::atomic<bool>* cancel = nullptr);

// The same cascade for a caller that has sorted one side's positions itself (a Monte Carlo
// study): `at_risk` holds the positions a move in `at_risk_direction` triggers (longs for
// down, shorts for up), in trigger order — what PositionSet::at_risk gives, without the
// index. Per-position results are not recorded. Throws InputError, as above, and when the
// shock moves the other way.
CascadeResult cascade(const OrderBook& book, std::span<const Trigger> at_risk,
                      Direction at_risk_direction, const Shock& shock, std::optional<double> ref_price);

// Trigger records put in trigger order on demand (positions.hpp's LazyRecords).
using LazyTriggers = LazyRecords<Trigger>;

// The cascade above on records sorted as it reaches them: the same result as on
// `at_risk.records()` fully sorted.
CascadeResult cascade(const OrderBook& book, LazyTriggers& at_risk, Direction at_risk_direction,
                      const Shock& shock, std::optional<double> ref_price);

}  // namespace cascade_core
