#include "cascade_core/cascade.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "cascade_core/book_walker.hpp"
#include "cascade_core/errors.hpp"

namespace cascade_core {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

double checked_ref_price(const OrderBook& book, double ref_price) {
  if (std::isnan(ref_price)) return book.mid();
  if (!std::isfinite(ref_price) || ref_price <= 0.0) {
    throw InputError("ref_price", "must be finite and > 0, got " + format_value(ref_price));
  }
  return ref_price;
}

}  // namespace

CascadeResult cascade(const OrderBook& book, const PositionSet& positions, const Shock& shock,
                      double ref_price, bool record_positions) {
  CascadeResult result;
  if (shock.kind == Shock::Kind::relative) {
    if (!std::isfinite(shock.value) || shock.value <= -1.0) {
      throw InputError("shock", "must be finite and > -1, got " + format_value(shock.value));
    }
    result.direction = shock.value > 0.0 ? Direction::up : Direction::down;
  } else {
    if (!std::isfinite(shock.value) || shock.value <= 0.0) {
      throw InputError(shock.direction == Direction::down ? "sell_qty" : "buy_qty",
                       "must be finite and > 0, got " + format_value(shock.value));
    }
    result.direction = shock.direction;
  }
  const Direction direction = result.direction;
  result.ref_price = checked_ref_price(book, ref_price);

  const BookSide& side = book.side_consumed(direction);
  const bool no_move = shock.kind == Shock::Kind::relative && shock.value == 0.0;
  if (side.empty() && !no_move) {
    throw InputError(direction == Direction::down ? "bid_price" : "ask_price",
                     std::string("the ") + (direction == Direction::down ? "bid" : "ask") +
                         " side is empty, and this shock needs it");
  }

  double last = result.ref_price;
  BookWalker walker(side, direction == Direction::down);
  if (shock.kind == Shock::Kind::relative) {
    if (no_move) {
      // A zero shock is the identity: nothing moves, nothing is triggered.
      result.shock_price = result.final_price = last;
      return result;
    }
    last = result.ref_price * (1.0 + shock.value);
    walker.remove_beyond(last);
  } else {
    const auto fill = walker.take(shock.value, last);
    result.exogenous_filled_qty = fill.qty;
    result.exogenous_unfilled_qty = fill.unfilled;
    if (fill.unfilled > 0.0) result.book_exhausted = true;
  }
  result.shock_price = last;

  // Merge the sorted thresholds against the book: a round takes every position whose
  // threshold `last` had reached at the round's start. One pass: a position is filled as soon
  // as it is known to belong to the round.
  const SortedThresholds& at_risk = positions.at_risk(direction);
  const bool down = direction == Direction::down;
  const AtRisk* record = at_risk.data();
  const std::size_t n = at_risk.size();
  const auto reached = [down](double start, double threshold) {
    return down ? start <= threshold : start >= threshold;
  };
  if (record_positions) {
    // Sized for the worst case and written in place (the allocator leaves the memory
    // untouched until written, and recycles it), then cut to what the cascade reached.
    result.liquidated_index.resize(n);
    result.filled_qty.resize(n);
    result.fill_price.resize(n);
  }
  std::size_t next = 0;
  while (next < n && reached(last, record[next].threshold)) {
    const double start = last;
    std::size_t k = next;
    double round_qty = 0.0;
    do {
      const AtRisk& position = record[k];
      const double qty = position.qty;
      round_qty += qty;
      const auto fill = walker.take(qty, last);
      if (fill.unfilled > 0.0) {
        result.unfilled_qty += fill.unfilled;
        result.book_exhausted = true;
      }
      result.liquidated_qty += fill.qty;
      result.liquidated_notional += fill.notional;
      // Shortfall of the fills against the bankruptcy price, over the filled quantity (zero
      // when nothing filled). Adding max(shortfall, 0) is exactly adding it where positive.
      const double bankrupt = position.bankruptcy;
      const double shortfall = down ? bankrupt * fill.qty - fill.notional
                                    : fill.notional - bankrupt * fill.qty;
      result.bad_debt += shortfall > 0.0 ? shortfall : 0.0;
      if (record_positions) {
        result.liquidated_index[k] = position.index;
        result.filled_qty[k] = fill.qty;
        result.fill_price[k] = fill.qty > 0.0 ? fill.notional / fill.qty : nan;
      }
      ++k;
    } while (k < n && reached(start, record[k].threshold));
    result.trace.push_back({start, static_cast<std::int64_t>(k - next), round_qty});
    next = k;
  }
  if (record_positions) {
    result.liquidated_index.resize(next);
    result.filled_qty.resize(next);
    result.fill_price.resize(next);
  }
  result.n_liquidated = static_cast<std::int64_t>(next);
  result.rounds = static_cast<std::int64_t>(result.trace.size());
  result.final_price = last;
  result.levels_touched = static_cast<std::int64_t>(walker.levels_touched());
  return result;
}

}  // namespace cascade_core
