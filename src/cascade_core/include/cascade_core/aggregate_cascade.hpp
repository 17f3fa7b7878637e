// The aggregate path of the static cascade (docs/design.md, "Aggregate path"): the same rounds
// as cascade(), each resolved from prefix sums — which positions the round's start price
// triggers (a search in the sorted thresholds), which level their total sale reaches (a search
// in the book's cumulative depth) — in O(rounds · log n) per shock instead of O(positions
// touched). Bad debt is exact: blocks of sorted positions whose bankruptcy prices cannot lie
// beyond the prices their fills reach are skipped, the others are filled one by one.
//
// Exactness (docs/design.md): the discrete results (final price, n_liquidated, rounds, trace
// start prices and counts, book exhaustion, levels touched) are always those of cascade():
// when every quantity lies on one binary grid small enough for every partial sum to be exact
// (integer quantities, say), the comparisons are exact and resolve ties as the walk does; when
// not, a round whose end lies within the sums' rounding-error bound of a level boundary is
// recomputed by cascade() itself. The sums (filled and unfilled quantity, notional, bad debt)
// agree to rounding — to the bit for quantities and bad debt in the grid case.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "cascade_core/bulk_allocator.hpp"
#include "cascade_core/cascade.hpp"
#include "cascade_core/order_book.hpp"
#include "cascade_core/positions.hpp"

namespace cascade_core {

class AggregateCascade {
 public:
  // Indexes the book side and the position side of each direction asked for (down: bids and
  // longs; up: asks and shorts), once, for any number of shocks: the position side O(n) on the
  // set's first aggregate run in that direction, the book side O(levels) on the book's (the set
  // and the book keep them: PositionSet::side_index, OrderBook::side_index). Sorts those sides of `positions` if they are not yet. `book`
  // and `positions` must outlive this object. (An inverse set's cascades run on its reciprocal
  // book: pass that book; cascade_many does.)
  // Throws Cancelled when `cancel` is set while indexing.
  AggregateCascade(const OrderBook& book, const PositionSet& positions, bool down, bool up,
                   const std::atomic<bool>* cancel = nullptr);

  AggregateCascade(const AggregateCascade&) = delete;
  AggregateCascade& operator=(const AggregateCascade&) = delete;

  // One cascade: what cascade(book, positions, shock, ref_price, false) gives, per the rule
  // above (no per-position results). Thread-safe. Throws InputError as cascade() does, and
  // std::logic_error for a direction not indexed.
  [[nodiscard]] CascadeResult run(const Shock& shock, std::optional<double> ref_price) const;

  // Runs so far whose round ended within rounding of a level boundary and were recomputed by
  // cascade() (only possible off the exact grid).
  [[nodiscard]] std::uint64_t fallbacks() const noexcept { return fallbacks_.load(std::memory_order_relaxed); }

  // Positions per block of the bad-debt bound.
  static constexpr std::size_t block = 32;
  // Thresholds per entry of the coarse index the trigger searches go through first.
  static constexpr std::size_t stride = 64;

  // Prefix sums of one book side: depth[k] and notional[k] over its first k levels, each as a
  // double-double (hi + lo) so that differences of them lose nothing to cancellation.
  struct BookIndex {
    std::span<const double> price, qty;
    bulk_vector<double> depth_hi, depth_lo, notional_hi, notional_lo;  // levels + 1
    int grid = 0;          // every level quantity is a multiple of 2^grid
    double max_qty = 0.0;  // largest level
  };
  // One side of the position set in trigger order.
  struct SideIndex {
    std::span<const AtRisk> records;
    bulk_vector<double> threshold;  // records[k].threshold, contiguous for the searches
    bulk_vector<double> coarse;     // threshold[k * stride]: small enough to stay in cache
    bulk_vector<double> cum_qty;    // cum_qty[k]: sum of the first k quantities, in order
    // sum of bankruptcy price x quantity over the first k positions (double-double): the
    // bankruptcy value of a run of positions that all end in bad debt
    bulk_vector<double> cum_bankruptcy_hi, cum_bankruptcy_lo;
    // Sparse tables of block maxima and minima of the bad-debt key (bankruptcy price for longs,
    // its negative for shorts): level t, block i covers blocks [i, i + 2^t).
    bulk_vector<double> key_max, key_min;
    std::size_t blocks = 0;
    int grid = 0;
    double max_qty = 0.0;
  };

 private:
  template <bool Down>
  CascadeResult run_side(CascadeStart& start, const Shock& shock, std::optional<double> ref_price) const;

  const OrderBook& book_;
  const PositionSet& positions_;
  std::shared_ptr<const BookIndex> bids_, asks_;  // (kept by the book)
  std::shared_ptr<const SideIndex> longs_, shorts_;  // (kept by the position set)
  mutable std::atomic<std::uint64_t> fallbacks_{0};
};

}  // namespace cascade_core
