#include "cascade_core/aggregate_cascade.hpp"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "cascade_core/bad_debt.hpp"
#include "cascade_core/book_walker.hpp"
#include "cascade_core/errors.hpp"

namespace cascade_core {

namespace {

// Twice the unit roundoff (2^-53): every error bound below is written with it, so each holds
// with a factor of two to spare.
constexpr double unit = 0x1p-52;

// Double-double arithmetic (Dekker, Knuth): hi + lo carries ~106 bits. Exact under
// round-to-nearest without FMA contraction (the library is built with -ffp-contract=off).
struct DD {
  double hi = 0.0;
  double lo = 0.0;
};
inline DD two_sum(double a, double b) noexcept {
  const double s = a + b;
  const double bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}
inline DD fast_two_sum(double a, double b) noexcept {
  const double s = a + b;
  return {s, b - (s - a)};
}
inline DD add(DD a, DD b) noexcept {
  const DD s = two_sum(a.hi, b.hi);
  return fast_two_sum(s.hi, s.lo + a.lo + b.lo);
}
inline DD sub(DD a, DD b) noexcept { return add(a, {-b.hi, -b.lo}); }

// The exponent of x's lowest set bit: x is an odd multiple of 2^e (x finite, > 0).
int trailing_exponent(double x) noexcept {
  const auto bits = std::bit_cast<std::uint64_t>(x);
  const auto biased = static_cast<int>((bits >> 52) & 0x7ff);
  std::uint64_t mantissa = bits & ((std::uint64_t{1} << 52) - 1);
  if (biased == 0) return -1074 + std::countr_zero(mantissa);  // subnormal
  mantissa |= std::uint64_t{1} << 52;
  return biased - 1075 + std::countr_zero(mantissa);
}

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) throw Cancelled();
}

constexpr std::size_t cancel_stride = 1 << 16;

// Does `last` reach a position's liquidation price (docs/design.md: long when last <= p_liq,
// short when last >= p_liq)? Plain comparisons: prices are >= +0 and stored thresholds never
// -0.0, so they order exactly as cascade.cpp's bit-pattern test.
template <bool Down>
bool reaches(double last, double threshold) noexcept {
  return Down ? last <= threshold : last >= threshold;
}

// The first index in [from, to) where `pred` fails, `pred` holding on a prefix: an exponential
// search from `from`, then a binary one. Rounds move forward through the sorted thresholds and
// the levels, so each search costs the log of how far it moves.
template <class Pred>
std::size_t first_false(const double* a, std::size_t from, std::size_t to, Pred pred) noexcept {
  if (from >= to || !pred(a[from])) return from;
  std::size_t ok = from, step = 1;
  for (;;) {
    const std::size_t probe = ok + step;
    if (probe >= to) break;
    if (!pred(a[probe])) {
      to = probe;
      break;
    }
    ok = probe;
    step *= 2;
  }
  return static_cast<std::size_t>(std::partition_point(a + ok + 1, a + to, pred) - a);
}

AggregateCascade::BookIndex index_book(const BookSide& side) {
  AggregateCascade::BookIndex index;
  const std::size_t levels = side.size();
  index.price = std::span<const double>(side.price.data(), levels);
  index.qty = std::span<const double>(side.qty.data(), levels);
  index.depth_hi.resize(levels + 1);
  index.depth_lo.resize(levels + 1);
  index.notional_hi.resize(levels + 1);
  index.notional_lo.resize(levels + 1);
  DD depth, notional;
  int grid = INT_MAX;
  double max_qty = 0.0;
  index.depth_hi[0] = index.depth_lo[0] = index.notional_hi[0] = index.notional_lo[0] = 0.0;
  for (std::size_t k = 0; k < levels; ++k) {
    const double q = side.qty[k], p = side.price[k];
    depth = add(depth, {q, 0.0});
    const double value = q * p;
    notional = add(notional, {value, std::fma(q, p, -value)});  // the level's exact value
    index.depth_hi[k + 1] = depth.hi;
    index.depth_lo[k + 1] = depth.lo;
    index.notional_hi[k + 1] = notional.hi;
    index.notional_lo[k + 1] = notional.lo;
    grid = std::min(grid, trailing_exponent(q));
    max_qty = std::max(max_qty, q);
  }
  index.grid = grid;
  index.max_qty = max_qty;
  return index;
}

AggregateCascade::SideIndex index_side(const PositionSet& positions, Direction direction,
                                       const std::atomic<bool>* cancel) {
  constexpr std::size_t block = AggregateCascade::block;
  positions.prepare(direction, cancel);
  AggregateCascade::SideIndex index;
  index.records = std::span<const AtRisk>(positions.at_risk(direction));
  const AtRisk* record = index.records.data();
  const std::size_t n = index.records.size();
  const bool down = direction == Direction::down;
  index.threshold.resize(n);
  index.cum_qty.resize(n + 1);
  index.blocks = (n + block - 1) / block;
  const std::size_t blocks = index.blocks;
  const int levels = blocks == 0 ? 0 : static_cast<int>(std::bit_width(blocks));
  index.key_max.resize(static_cast<std::size_t>(levels) * blocks);
  index.key_min.resize(static_cast<std::size_t>(levels) * blocks);
  index.cum_bankruptcy_hi.resize(n + 1);
  index.cum_bankruptcy_lo.resize(n + 1);
  double cum = 0.0, max_qty = 0.0;
  DD bankruptcy_value;
  int grid = INT_MAX;
  index.cum_qty[0] = index.cum_bankruptcy_hi[0] = index.cum_bankruptcy_lo[0] = 0.0;
  for (std::size_t b = 0; b < blocks; ++b) {
    if (b % (cancel_stride / block) == 0) check_cancel(cancel);
    const std::size_t end = std::min(n, (b + 1) * block);
    double high = -std::numeric_limits<double>::infinity(), low = std::numeric_limits<double>::infinity();
    for (std::size_t k = b * block; k < end; ++k) {
      const AtRisk& r = record[k];
      index.threshold[k] = r.threshold;
      cum += r.qty;  // the sums cascade() forms for a first round, in the same order
      index.cum_qty[k + 1] = cum;
      const double value = r.bankruptcy * r.qty;
      bankruptcy_value = add(bankruptcy_value, {value, std::fma(r.bankruptcy, r.qty, -value)});
      index.cum_bankruptcy_hi[k + 1] = bankruptcy_value.hi;
      index.cum_bankruptcy_lo[k + 1] = bankruptcy_value.lo;
      const double key = down ? r.bankruptcy : -r.bankruptcy;
      high = std::max(high, key);
      low = std::min(low, key);
      max_qty = std::max(max_qty, r.qty);
      grid = std::min(grid, trailing_exponent(r.qty));
    }
    index.key_max[b] = high;
    index.key_min[b] = low;
  }
  for (int t = 1; t < levels; ++t) {
    const std::size_t half = std::size_t{1} << (t - 1), width = std::size_t{1} << t;
    const std::size_t below = static_cast<std::size_t>(t - 1) * blocks, level = below + blocks;
    for (std::size_t i = 0; i + width <= blocks; ++i) {
      index.key_max[level + i] = std::max(index.key_max[below + i], index.key_max[below + i + half]);
      index.key_min[level + i] = std::min(index.key_min[below + i], index.key_min[below + i + half]);
    }
  }
  index.coarse.resize((n + AggregateCascade::stride - 1) / AggregateCascade::stride);
  for (std::size_t i = 0; i < index.coarse.size(); ++i) index.coarse[i] = index.threshold[i * AggregateCascade::stride];
  index.grid = grid;
  index.max_qty = max_qty;
  return index;
}

// The positions `start` triggers: the first index in [from, n) whose threshold it does not
// reach, through the coarse index (in cache) and then one stride of the thresholds.
template <bool Down>
std::size_t triggered_until(const AggregateCascade::SideIndex& index, std::size_t from, double start) noexcept {
  constexpr std::size_t stride = AggregateCascade::stride;
  const double* threshold = index.threshold.data();
  const std::size_t n = index.threshold.size();
  const auto reached = [start](double t) { return reaches<Down>(start, t); };
  if (from >= n || !reached(threshold[from])) return from;
  // coarse[b] = threshold[b * stride]: the first entry after from's not reached bounds the answer
  const std::size_t b = first_false(index.coarse.data(), from / stride + 1, index.coarse.size(), reached);
  const std::size_t lo = std::max(from + 1, (b - 1) * stride + 1), hi = std::min(n, b * stride);
  return static_cast<std::size_t>(std::partition_point(threshold + lo, threshold + hi, reached) - threshold);
}

}  // namespace

AggregateCascade::AggregateCascade(const OrderBook& book, const PositionSet& positions, bool down, bool up,
                                   const std::atomic<bool>* cancel)
    : book_(book), positions_(positions) {
  const auto side_of = [&](Direction direction) {
    return std::static_pointer_cast<const SideIndex>(positions.side_index(direction, [&] {
      return std::static_pointer_cast<const void>(std::make_shared<const SideIndex>(index_side(positions, direction, cancel)));
    }));
  };
  const auto book_side = [&](Direction direction) {
    return std::static_pointer_cast<const BookIndex>(book.side_index(direction, [&] {
      return std::static_pointer_cast<const void>(
          std::make_shared<const BookIndex>(index_book(book.side_consumed(direction))));
    }));
  };
  if (down) {
    longs_ = side_of(Direction::down);
    bids_ = book_side(Direction::down);
  }
  if (up) {
    shorts_ = side_of(Direction::up);
    asks_ = book_side(Direction::up);
  }
  check_cancel(cancel);
}

CascadeResult AggregateCascade::run(const Shock& shock, std::optional<double> ref_price) const {
  CascadeStart start = start_cascade(book_, shock, ref_price);
  if (start.identity) return std::move(start.result);
  return start.result.direction == Direction::down ? run_side<true>(start, shock, ref_price)
                                                   : run_side<false>(start, shock, ref_price);
}

template <bool Down>
CascadeResult AggregateCascade::run_side(CascadeStart& start, const Shock& shock,
                                         std::optional<double> ref_price) const {
  const std::shared_ptr<const BookIndex>& book_index = Down ? bids_ : asks_;
  const std::shared_ptr<const SideIndex>& side_index = Down ? longs_ : shorts_;
  if (!book_index || !side_index) {
    throw std::logic_error("AggregateCascade::run: the shock's direction was not indexed");
  }
  const BookIndex& bk = *book_index;
  const SideIndex& at_risk = *side_index;
  CascadeResult& result = start.result;
  const BookWalker& walker = start.walker;
  const std::size_t levels = bk.price.size(), n = at_risk.records.size();
  const double* depth = bk.depth_hi.data();
  const double* cum = at_risk.cum_qty.data();
  const double depth_total = depth[levels];

  // What the exogenous move consumed, as a cumulative quantity along the side: the walker's
  // cursor (level, left) is at depth[level] + (qty[level] - left).
  const BookWalker::Cursor cursor = walker.cursor();
  const DD depth_at_cursor{depth[cursor.level], bk.depth_lo[cursor.level]};
  const double taken_at_cursor = cursor.level < levels ? bk.qty[cursor.level] - cursor.left : 0.0;
  const DD consumed = add(depth_at_cursor, {taken_at_cursor, 0.0});
  const double c0 = consumed.hi;

  // The exact grid: every quantity a multiple of 2^grid and every sum below 2^(53 + grid), so
  // that every sum either path forms is exact and so are the comparisons below.
  int grid = std::min(bk.grid, at_risk.grid);
  if (shock.kind == Shock::Kind::quantity) grid = std::min(grid, trailing_exponent(shock.value));
  grid = std::clamp(grid, -1100, 1100);
  const double grid_total = depth_total + cum[n] + (shock.kind == Shock::Kind::quantity ? shock.value : 0.0);
  const bool exact = std::isfinite(grid_total) && grid_total <= std::ldexp(1.0, 52 + grid);
  const double largest = std::max(bk.max_qty, at_risk.max_qty);
  // Off the grid: a bound on how far the cumulative quantity computed here (prefix sums) and
  // the one cascade()'s walk implies (a running `left`, one rounding per order and level) can
  // lie from the exact one after k positions and level j. A round that ends closer than that to
  // a level boundary could end on the other side of it in the walk: cascade() decides it.
  const auto tie_bound = [&](std::size_t k, std::size_t j, double c) {
    return 2.0 * unit * (static_cast<double>(k) * cum[k] + c + depth[std::min(j + 1, levels)] +
                         largest * static_cast<double>(k + j + 4));
  };
  const auto near_boundary = [&](double c, std::size_t k, std::size_t j) {
    if (exact) return false;
    const double bound = tie_bound(k, j, c);
    return std::abs(c - depth[std::min(j, levels)]) <= bound ||
           (j + 1 <= levels && std::abs(depth[j + 1] - c) <= bound);
  };
  const auto fall_back = [&] {
    fallbacks_.fetch_add(1, std::memory_order_relaxed);
    return cascade(book_, positions_, shock, ref_price, /*record_positions=*/false);
  };

  // Bad debt. A long's fills lie between the level its order starts in and the last level it
  // takes from. So a run of longs whose bankruptcy prices all lie at or below the lowest price
  // the run reaches adds nothing, and a run whose bankruptcy prices all lie above the highest
  // price it reaches adds, position by position, bankruptcy value minus fill value: summed at
  // once from prefix sums (the fill values of consecutive orders telescope). Shorts mirror
  // this. Other runs are split down to blocks, and a block is filled one position at a time.
  // The margin covers the rounding of a fill's value over up to `levels` levels.
  const double margin = unit * (2.0 * static_cast<double>(levels) + 16.0);
  const std::size_t blocks = at_risk.blocks;
  const auto table_lookup = [blocks](const bulk_vector<double>& table, std::size_t first, std::size_t end,
                                     auto pick) {  // blocks [first, end)
    const int t = static_cast<int>(std::bit_width(end - first)) - 1;
    const double* level = table.data() + static_cast<std::size_t>(t) * blocks;
    return pick(level[first], level[end - (std::size_t{1} << t)]);
  };
  const auto larger = [](double a, double b) { return std::max(a, b); };
  const auto smaller = [](double a, double b) { return std::min(a, b); };
  // no position of the run can fill beyond its bankruptcy price / every one does
  const auto none_short = [&](double key_max, double end_price) {
    return Down ? key_max <= end_price * (1.0 - margin) : key_max <= -(end_price * (1.0 + margin));
  };
  const auto all_short = [&](double key_min, double start_price) {
    return Down ? key_min > start_price * (1.0 + margin) : key_min > -(start_price * (1.0 - margin));
  };
  double bad_debt = 0.0;
  const BookSide& side = book_.side_consumed(Down ? Direction::down : Direction::up);
  // the level an order starting at cumulative quantity x takes from first: depth[j] <= x <
  // depth[j + 1], searched from level_from (depth[level_from] <= x)
  const auto level_at = [&](double x, std::size_t level_from) {
    return static_cast<std::size_t>(std::upper_bound(depth + level_from + 1, depth + levels + 1, x) - depth) - 1;
  };
  // the side's value from its top down to cumulative quantity x (at level j)
  const auto value_at = [&](const DD& x, std::size_t j) {
    const DD levels_above{bk.notional_hi[j], bk.notional_lo[j]};
    if (j >= levels) return levels_above;
    return add(levels_above, {sub(x, {depth[j], bk.depth_lo[j]}).hi * bk.price[j], 0.0});
  };
  // Positions [l, r) filled one by one from the cursor their cumulative quantity gives, with
  // the walk's arithmetic (BookWalker::take, as cascade()'s round loop).
  const auto fill_one_by_one = [&](std::size_t l, std::size_t r, const DD& x, std::size_t j) {
    BookWalker fills(side, Down);
    fills.set_cursor({j, sub({depth[j + 1], bk.depth_lo[j + 1]}, x).hi});
    double last = 0.0;
    for (std::size_t i = l; i < r; ++i) {
      const AtRisk& position = at_risk.records[i];
      const BookWalker::Fill fill = fills.take(position.qty, last);
      bad_debt += positive_part(shortfall<Down>(position.bankruptcy, fill.qty, fill.notional));
    }
  };
  // Positions [l, r) of a round, in trigger order (left before right), so that what is added
  // comes in cascade()'s order. Position l's order starts in level j_start (depth[j_start] <=
  // its cumulative quantity < depth[j_start + 1]); position r - 1's ends in level j_end (the
  // last it takes from).
  const auto visit = [&](auto& self, std::size_t l, std::size_t r, std::size_t j_start,
                         std::size_t j_end) -> void {
    const std::size_t first = l / block, end = (r - 1) / block + 1;
    if (none_short(table_lookup(at_risk.key_max, first, end, larger), bk.price[j_end])) return;
    const DD x = add(consumed, {cum[l], 0.0});
    if (c0 + cum[r] <= depth_total && all_short(table_lookup(at_risk.key_min, first, end, smaller), bk.price[j_start])) {
      const DD x_end = add(consumed, {cum[r], 0.0});
      const std::size_t j_after = x_end.hi >= depth[j_end + 1] ? j_end + 1 : j_end;  // where an order at r would start
      const DD fill_value = sub(value_at(x_end, j_after), value_at(x, j_start));
      const DD bankruptcy_value = sub({at_risk.cum_bankruptcy_hi[r], at_risk.cum_bankruptcy_lo[r]},
                                      {at_risk.cum_bankruptcy_hi[l], at_risk.cum_bankruptcy_lo[l]});
      bad_debt += (Down ? sub(bankruptcy_value, fill_value) : sub(fill_value, bankruptcy_value)).hi;
      return;
    }
    if (end - first <= 1) {
      fill_one_by_one(l, r, x, j_start);
      return;
    }
    const std::size_t mid = (first + end) / 2 * block;
    const double x_mid = c0 + cum[mid];
    // first m with depth[m] >= x_mid: the left half's orders end in level m - 1
    const std::size_t m = static_cast<std::size_t>(
        std::lower_bound(depth + j_start + 1, depth + std::min(j_end + 2, levels + 1), x_mid) - depth);
    self(self, l, mid, j_start, std::min(m, levels) - 1);
    if (x_mid < depth_total) self(self, mid, r, depth[m] == x_mid ? m : m - 1, j_end);
  };

  double last = result.shock_price;
  bool exhausted = result.book_exhausted;
  bool side_left = cursor.level < levels;  // some of the side is still there
  std::size_t k = 0, level = cursor.level;  // positions triggered; D[level] <= consumed
  std::size_t touched = walker.levels_touched();
  double c = c0;
  for (;;) {
    const double start_price = last;
    const std::size_t k1 = triggered_until<Down>(at_risk, k, start_price);
    if (k1 == k) break;
    result.trace.push_back({start_price, static_cast<std::int64_t>(k1 - k), cum[k1] - cum[k]});
    const double c_before = c;
    c = c0 + cum[k1];
    if (side_left) {
      // the round's last order ends in level j: depth[j] < c <= depth[j + 1] (j == levels: the
      // side ran out)
      const std::size_t j = first_false(depth, level + 1, levels + 1, [c](double d) { return d < c; }) - 1;
      if (near_boundary(c, k1, j)) return fall_back();
      if (j == levels) exhausted = true;
      const std::size_t end_level = std::min(j, levels - 1);
      last = bk.price[end_level];
      touched = end_level + 1;
      const std::size_t round_start = level + 1 <= levels && c_before >= depth[level + 1] ? level + 1 : level;
      visit(visit, k, k1, round_start, end_level);
      side_left = c < depth_total;
      level = std::min(j, levels);
    } else {
      exhausted = true;  // these orders found no book
    }
    k = k1;
  }

  result.n_liquidated = static_cast<std::int64_t>(k);
  result.rounds = static_cast<std::int64_t>(result.trace.size());
  result.final_price = last;
  result.book_exhausted = exhausted;
  result.levels_touched = static_cast<std::int64_t>(touched);
  result.bad_debt = bad_debt;
  if (k > 0) {
    const double sold = cum[k];
    const double room = sub({depth_total, bk.depth_lo[levels]}, consumed).hi;  // what the side still had
    const double filled = std::min(sold, room);
    result.liquidated_qty = filled;
    result.unfilled_qty = sold > room ? sold - room : 0.0;
    // fill value: the side's value from what the exogenous move left to where the orders end
    const DD begin = value_at(consumed, cursor.level);
    DD end{bk.notional_hi[levels], bk.notional_lo[levels]};
    if (sold < room) {
      const DD x = add(consumed, {sold, 0.0});
      end = value_at(x, level_at(x.hi, cursor.level));
    }
    result.liquidated_notional = sub(end, begin).hi;
  }
  return std::move(result);
}

}  // namespace cascade_core
