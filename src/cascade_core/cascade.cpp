#include "cascade_core/cascade.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cascade_core/bad_debt.hpp"
#include "cascade_core/book_walker.hpp"
#include "cascade_core/errors.hpp"
#include "cascade_core/inverse.hpp"

namespace cascade_core {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

double checked_ref_price(const OrderBook& book, std::optional<double> ref_price) {
  if (!ref_price) return book.mid();
  if (!std::isfinite(*ref_price) || *ref_price <= 0.0) {
    throw InputError("ref_price", "must be finite and > 0, got " + format_value(*ref_price));
  }
  return *ref_price;
}

// fill_round is kept out of line on purpose: inlined into merge(), GCC keeps the loop's sums
// on the stack. And GCC must not SLP-vectorise it: depending on the calling context it may
// load a record's qty and bankruptcy price as one two-lane vector and unpack them, which
// lengthens the loop's dependency chains (a round ran 70-130% slower after merge() learnt to
// continue a round on lazily sorted records; the hash of 3,000 cascades is the same either way).
#if defined(__GNUC__) && !defined(__clang__)
#define CASCADE_CORE_ROUND_LOOP __attribute__((noinline, optimize("no-tree-slp-vectorize")))
#elif defined(__GNUC__)
#define CASCADE_CORE_ROUND_LOOP __attribute__((noinline))
#else
#define CASCADE_CORE_ROUND_LOOP
#endif

// The running sums of a merge, the book position and what the book could not take.
struct MergeState {
  double liquidated_qty = 0.0;
  double liquidated_notional = 0.0;
  double bad_debt = 0.0;
  double round_qty = 0.0;
  double last = 0.0;          // last trade price
  double unfilled_qty = 0.0;
  std::size_t level = 0;      // the book walker's cursor: current level
  double left = 0.0;          // and what remains of it
  bool exhausted = false;
};

// Where the recorded per-position results go (unused when not recording).
struct MergeOutput {
  std::int64_t* index = nullptr;
  double* qty = nullptr;
  double* price = nullptr;
};

// Compared as integers: `start` is a price (>= +0.0) and a sorted threshold is finite and
// never -0.0 (positions.cpp stores -0.0 as +0.0), so their bit patterns order exactly as the
// values do (a negative threshold's pattern is negative). The integer compare leaves the FP
// adders, which the loop below is bound by, to the sums: 10% faster cascades.
template <bool Down>
bool reached(double start, double threshold) noexcept {
  const auto s = std::bit_cast<std::int64_t>(start), t = std::bit_cast<std::int64_t>(threshold);
  return Down ? s <= t : s >= t;
}

// x > +0, as an integer test on its bit pattern (x is a difference of finite values, never NaN:
// the pattern is positive exactly for x > +0), leaving the FP adders to the sums. Used as
// "an order of qty fits in what is left of the level": left - qty > +0.
inline bool above_zero(double x) noexcept { return std::bit_cast<std::int64_t>(x) > 0; }

// The general walk of an order across levels — BookWalker::take's loop, operation for
// operation — on a round's cursor kept in registers (`s.level`, `s.left`, `s.last`): the
// order's fill and what the book could not take (0 once filled). Inlined into the round loop,
// which is what keeps the cursor in registers.
struct LevelFill {
  double qty = 0.0;
  double notional = 0.0;
  double remaining = 0.0;
};

#if defined(__GNUC__)
#define CASCADE_CORE_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define CASCADE_CORE_ALWAYS_INLINE inline
#endif

template <class State>
CASCADE_CORE_ALWAYS_INLINE LevelFill walk_levels(double qty, State& s, const double* level_price,
                                                 const double* level_qty, std::size_t levels) noexcept {
  LevelFill fill;
  double remaining = qty;
  while (remaining > 0.0 && s.level < levels) {
    const double p = level_price[s.level];
    s.last = p;
    if (remaining >= s.left) {
      fill.qty += s.left;
      fill.notional += s.left * p;
      remaining -= s.left;
      ++s.level;
      s.left = s.level < levels ? level_qty[s.level] : 0.0;
    } else {
      fill.qty += remaining;
      fill.notional += remaining * p;
      s.left -= remaining;
      remaining = 0.0;
    }
  }
  fill.remaining = remaining;
  return fill;
}

// One round: positions k, k+1, ... that `start` (the price when the round began) has
// reached, each closed by a market order in trigger order. Returns the first position not in
// the round. The book is walked here with BookWalker::take's arithmetic (same operations,
// same order: a fill within the current level, or the general loop across levels), and every
// sum adds in the reference model's order. A leaf function: the sums, the last price and the
// book cursor stay in registers, also when an order crosses levels.
template <bool Down, bool Record, class Position>
CASCADE_CORE_ROUND_LOOP std::size_t fill_round(const Position* record, std::size_t k, std::size_t n,
                                             double start, const double* level_price,
                                             const double* level_qty, std::size_t levels,
                                             MergeState& state, MergeOutput out) noexcept {
  MergeState s = state;
  double price = s.level < levels ? level_price[s.level] : 0.0;
  for (; k < n; ++k) {
    const Position& position = record[k];
    if (!reached<Down>(start, position.threshold)) break;
    const double qty = position.qty;
    const double rest = s.left - qty;
    if (above_zero(rest)) {
      // within the current level (s.left is 0 once the side is used up)
      s.left = rest;
      s.round_qty += qty;
      s.last = price;
      const double notional = qty * price;
      s.liquidated_qty += qty;
      s.liquidated_notional += notional;
      s.bad_debt += positive_part(shortfall<Down>(position.bankruptcy, qty, notional));
      if constexpr (Record) {
        out.index[k] = position.index;
        out.qty[k] = qty;
        out.price[k] = notional / qty;  // qty > 0 here
      }
      continue;
    }
    // the order reaches the end of the level: take()'s general loop
    s.round_qty += qty;
    const LevelFill fill = walk_levels(qty, s, level_price, level_qty, levels);
    const double fill_qty = fill.qty, fill_notional = fill.notional, remaining = fill.remaining;
    price = s.level < levels ? level_price[s.level] : 0.0;
    if (remaining > 0.0) {
      s.unfilled_qty += remaining;
      s.exhausted = true;
    }
    s.liquidated_qty += fill_qty;
    s.liquidated_notional += fill_notional;
    s.bad_debt += positive_part(shortfall<Down>(position.bankruptcy, fill_qty, fill_notional));
    if constexpr (Record) {
      out.index[k] = position.index;
      out.qty[k] = fill_qty;
      out.price[k] = fill_qty > 0.0 ? fill_notional / fill_qty : nan;
    }
  }
  state = s;
  return k;
}

// Merges the sorted thresholds against the book: a round takes every position whose threshold
// `last` had reached at the round's start. One pass: a position is filled as soon as it is
// known to belong to the round. Returns how many positions were liquidated. `Position` is
// AtRisk or, without recording (no index needed), Trigger. With `lazy` (Trigger only), only
// records [0, lazy->sorted()) are in order, and more are put in order as the merge reaches
// the end of them (a round then goes on where it stopped: the same fills, in the same order).
template <bool Down, bool Record, class Position>
std::size_t merge(std::span<const Position> at_risk, BookWalker& walker, double& last_price,
                  CascadeResult& result, LazyRecords<Position>* lazy = nullptr) {
  const Position* record = at_risk.data();
  const std::size_t n = at_risk.size();
  MergeOutput out;
  if constexpr (Record) {
    // Sized for the worst case and written in place (the allocator leaves the memory
    // untouched until written, and recycles it), then cut to what the cascade reached.
    result.liquidated_index.resize(n);
    result.filled_qty.resize(n);
    result.fill_price.resize(n);
    out = {result.liquidated_index.data(), result.filled_qty.data(), result.fill_price.data()};
  }
  MergeState state;
  state.last = last_price;
  const BookWalker::Cursor cursor = walker.cursor();
  state.level = cursor.level;
  state.left = cursor.left;
  std::size_t sorted = lazy != nullptr ? lazy->sorted() : n;
  const auto put_in_order = [&](std::size_t k) {  // records [0, k] (k < n)
    while (k >= sorted) {
      const std::size_t more = lazy->extend();
      if (more <= sorted) throw std::logic_error("LazyRecords::extend put no more records in order");
      sorted = more;
    }
  };
  std::size_t next = 0;
  while (next < n) {
    put_in_order(next);
    if (!reached<Down>(state.last, record[next].threshold)) break;
    const double start = state.last;
    state.round_qty = 0.0;
    std::size_t k = next;
    for (;;) {
      k = fill_round<Down, Record, Position>(record, k, sorted, start, walker.prices(), walker.quantities(),
                                             walker.size(), state, out);
      if (k < sorted || k == n) break;  // a position not reached, or none left
      put_in_order(k);
    }
    result.trace.push_back({start, static_cast<std::int64_t>(k - next), state.round_qty});
    next = k;
  }
  walker.set_cursor({state.level, state.left});
  last_price = state.last;
  result.liquidated_qty = state.liquidated_qty;
  result.liquidated_notional = state.liquidated_notional;
  result.unfilled_qty = state.unfilled_qty;
  result.bad_debt = state.bad_debt;
  if (state.exhausted) result.book_exhausted = true;
  if constexpr (Record) {
    result.liquidated_index.resize(next);
    result.filled_qty.resize(next);
    result.fill_price.resize(next);
  }
  return next;
}

}  // namespace

CascadeStart start_cascade(const OrderBook& book, const Shock& shock, std::optional<double> ref_price) {
  CascadeResult result;
  if (shock.kind == Shock::Kind::relative) {
    if (!std::isfinite(shock.value) || shock.value <= -1.0) {
      throw InputError("shock", "must be finite and > -1, got " + format_value(shock.value));
    }
  } else if (shock.kind == Shock::Kind::target) {
    if (!std::isfinite(shock.value) || shock.value <= 0.0) {
      throw InputError("shock", "moves the price to " + format_value(shock.value) + ", which is not a finite price > 0");
    }
  } else {
    if (!std::isfinite(shock.value) || shock.value <= 0.0) {
      throw InputError(shock.direction == Direction::down ? "sell_qty" : "buy_qty",
                       "must be finite and > 0, got " + format_value(shock.value));
    }
  }
  result.direction = shock.moves();
  const Direction direction = result.direction;
  result.ref_price = checked_ref_price(book, ref_price);

  const BookSide& side = book.side_consumed(direction);
  // Every price the cascade can reach, relative to p_ref, must be a number (final_move): the
  // highest ask of an up move, the best bid of a sell order (a relative down move reaches no
  // price above its target).
  const bool relative_down = shock.kind != Shock::Kind::quantity && direction == Direction::down;
  if (!side.empty() && !relative_down) {
    const double highest = direction == Direction::up ? side.price.back() : side.price.front();
    if (!std::isfinite(highest / result.ref_price)) {
      throw InputError("ref_price", "too small for this book: its level " + format_value(highest) +
                                        " / ref_price " + format_value(result.ref_price) + " overflows");
    }
  }
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
      return {std::move(result), walker, true};
    }
    last = result.ref_price * (1.0 + shock.value);
    if (!(std::isfinite(last) && last > 0.0)) {
      throw InputError("shock", "moves the reference price " + format_value(result.ref_price) + " to " +
                                    format_value(last) + ", which is not a finite price > 0");
    }
    walker.remove_beyond(last);
  } else if (shock.kind == Shock::Kind::target) {
    last = shock.value;
    walker.remove_beyond(last);
  } else {
    const auto fill = walker.take(shock.value, last);
    result.exogenous_filled_qty = fill.qty;
    result.exogenous_unfilled_qty = fill.unfilled;
    if (fill.unfilled > 0.0) result.book_exhausted = true;
  }
  result.shock_price = last;
  return {std::move(result), walker, false};
}

namespace {

// The cascade of docs/design.md against one side's positions in trigger order, which
// `at_risk(direction)` gives once the shock's direction is known and checked.
template <class Position, class AtRiskOf>
CascadeResult run_cascade(const OrderBook& book, const Shock& shock, std::optional<double> ref_price,
                          bool record_positions, AtRiskOf at_risk_of) {
  CascadeStart start = start_cascade(book, shock, ref_price);
  CascadeResult& result = start.result;
  if (start.identity) return std::move(result);
  const Direction direction = result.direction;
  double last = result.shock_price;
  BookWalker& walker = start.walker;

  // the side's records in trigger order: all of them, or as far as the merge reaches (lazy)
  LazyRecords<Position>& lazy = at_risk_of(direction);
  const std::span<const Position> at_risk = lazy.records();
  LazyRecords<Position>* const extend = lazy.sorted() < at_risk.size() ? &lazy : nullptr;
  const bool down = direction == Direction::down;
  std::size_t next;
  if constexpr (std::is_same_v<Position, AtRisk>) {
    if (record_positions) {
      next = down ? merge<true, true, Position>(at_risk, walker, last, result, extend)
                  : merge<false, true, Position>(at_risk, walker, last, result, extend);
    } else {
      next = down ? merge<true, false, Position>(at_risk, walker, last, result, extend)
                  : merge<false, false, Position>(at_risk, walker, last, result, extend);
    }
  } else {
    next = down ? merge<true, false, Position>(at_risk, walker, last, result, extend)
                : merge<false, false, Position>(at_risk, walker, last, result, extend);
  }
  result.n_liquidated = static_cast<std::int64_t>(next);
  result.rounds = static_cast<std::int64_t>(result.trace.size());
  result.final_price = last;
  result.levels_touched = static_cast<std::int64_t>(walker.levels_touched());
  return std::move(result);
}

}  // namespace

CascadeResult cascade(const OrderBook& book, const PositionSet& positions, const Shock& shock, std::optional<double> ref_price, bool record_positions,
                      const std::atomic<bool>* cancel) {
  const auto run = [&](const OrderBook& on, const Shock& s, std::optional<double> ref) {
    std::optional<PositionSet::LazyAtRisk> side;
    return run_cascade<AtRisk>(on, s, ref, record_positions, [&](Direction direction) -> LazyRecords<AtRisk>& {
      // sorted as far as the cascade reaches (a side already sorted: nothing to extend)
      return side.emplace(positions.lazy_at_risk(direction, cancel));
    });
  };
  const double size = positions.inverse_size();
  if (size == 0.0) return run(book, shock, ref_price);
  // an inverse market: the linear cascade of the reciprocal market (inverse.hpp)
  const ReciprocalShock reciprocal = reciprocal_shock(book, shock, ref_price, size);
  return to_contract_terms(run(reciprocal_book(book, size), reciprocal.shock, reciprocal.ref), reciprocal, size, book);
}

CascadeResult cascade(const OrderBook& book, std::span<const Trigger> at_risk,
                      Direction at_risk_direction, const Shock& shock, std::optional<double> ref_price) {
  // records already all in order: nothing for extend() to do
  struct Sorted final : LazyTriggers {
    std::span<const Trigger> all;
    explicit Sorted(std::span<const Trigger> records) : all(records) {}
    std::span<const Trigger> records() const noexcept override { return all; }
    std::size_t sorted() const noexcept override { return all.size(); }
    std::size_t extend() override { return all.size(); }
  } sorted(at_risk);
  return cascade(book, sorted, at_risk_direction, shock, ref_price);
}

CascadeResult cascade(const OrderBook& book, LazyTriggers& at_risk, Direction at_risk_direction,
                      const Shock& shock, std::optional<double> ref_price) {
  return run_cascade<Trigger>(book, shock, ref_price, false, [&](Direction direction) -> LazyTriggers& {
    if (direction != at_risk_direction) {
      throw InputError("shock", "moves the price the other way than the positions given are at risk");
    }
    return at_risk;
  });
}

}  // namespace cascade_core
