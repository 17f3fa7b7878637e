// A set of isolated-margin positions in one market, as columns, with their liquidation and
// bankruptcy prices and, once prepared, their thresholds sorted in trigger order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <array>
#include <functional>
#include <memory>
#include <atomic>
#include <bit>
#include <mutex>
#include <span>
#include <vector>

#include "cascade_core/bulk_allocator.hpp"
#include "cascade_core/margin.hpp"
#include "cascade_core/order_book.hpp"
#include "cascade_core/radix_sort.hpp"

namespace cascade_core {

// Views of the caller's columns; the set never writes through them and the caller keeps them
// alive and unchanged for the set's lifetime. All columns have the same length.
struct PositionColumns {
  std::span<const std::int8_t> side;   // +1 long, -1 short
  std::span<const double> qty;         // base units, > 0
  std::span<const double> entry_price; // > 0
  std::span<const double> margin;      // isolated margin, >= 0
  std::span<const double> mmr;         // maintenance margin rate, [0, 1)
  std::span<const double> maint_amount;// maintenance amount (Binance's cum), finite
};

// One position at risk on one side, as the cascade's merge reads it.
struct AtRisk {
  double threshold;        // liquidation price (never -0.0: stored as +0.0)
  double qty;              // quantity
  double bankruptcy;       // bankruptcy price
  std::uint32_t index;     // index in the set
};

// A position at risk as a cascade that records no per-position result reads it: AtRisk
// without the index (a study's sort moves 24 bytes per position instead of 32).
struct Trigger {
  double threshold;        // liquidation price (never -0.0: stored as +0.0)
  double qty;              // quantity
  double bankruptcy;       // bankruptcy price
};

// Records put in trigger order on demand: records()[0, sorted()) are in their final order, and
// extend() puts more of them in order (at least one, unless all are) and returns the new
// sorted(). A cascade that stops early leaves the rest unsorted.
template <class Record>
class LazyRecords {
 public:
  [[nodiscard]] virtual std::span<const Record> records() const noexcept = 0;
  [[nodiscard]] virtual std::size_t sorted() const noexcept = 0;
  virtual std::size_t extend() = 0;

 protected:
  LazyRecords() = default;
  LazyRecords(const LazyRecords&) = default;
  LazyRecords& operator=(const LazyRecords&) = default;
  ~LazyRecords() = default;
};

// The sort key that puts one side's positions in trigger order, ascending: a threshold's
// order-preserving bits (radix_sort.hpp), all flipped for longs (they trigger by liquidation
// price descending, shorts ascending; the sorts are stable, so ties stay by index).
struct TriggerOrderKey {
  std::uint64_t flip;
  explicit TriggerOrderKey(Direction direction) noexcept
      : flip(direction == Direction::down ? ~std::uint64_t{0} : 0) {}
  // Of any threshold (-0.0 ties with +0.0).
  [[nodiscard]] std::uint64_t of(double threshold) const noexcept { return ordered_key(threshold) ^ flip; }
  // Of a stored record's threshold (never -0.0: no fold).
  template <class Record>
  std::uint64_t operator()(const Record& r) const noexcept {
    return ordered_key_of_bits(std::bit_cast<std::uint64_t>(r.threshold)) ^ flip;
  }
};

// The positions of one side, in the order a falling (longs) or rising (shorts) price triggers
// them: longs by liquidation price descending, shorts ascending, ties by index.
using SortedThresholds = bulk_vector<AtRisk>;

class PositionSet {
 public:
  // Validates every column (InputError names the field and the first bad index) and computes
  // the liquidation prices, in one pass. O(n).
  // With `copy`, the set keeps its own copy of the columns (in recycled buffers, copied in the
  // same pass that computes the prices); otherwise it views the caller's, who keeps them alive
  // and unchanged for the set's lifetime.
  // `rule` is how the maintenance requirement is valued (margin basis, close fee), for every
  // position of the set.
  // `inverse_size` > 0 marks an inverse market's set: its columns are the reciprocal market's
  // linear positions (inverse.hpp), and every cascade runs on the reciprocal market.
  explicit PositionSet(const PositionColumns& columns, bool copy = false, const MarginRule& rule = {},
                       double inverse_size = 0.0);

  PositionSet(const PositionSet&) = delete;
  PositionSet& operator=(const PositionSet&) = delete;

  [[nodiscard]] std::size_t size() const noexcept { return columns_.side.size(); }
  [[nodiscard]] const PositionColumns& columns() const noexcept { return columns_; }
  [[nodiscard]] std::span<const std::int8_t> side() const noexcept { return columns_.side; }
  [[nodiscard]] const MarginRule& rule() const noexcept { return rule_; }
  // 0 for a linear set; the contract size (USD) of an inverse one.
  [[nodiscard]] double inverse_size() const noexcept { return inverse_size_; }
  // Per position, in index order.
  [[nodiscard]] std::span<const double> liquidation_price() const noexcept { return liq_; }
  [[nodiscard]] std::span<const double> bankruptcy_price() const noexcept { return bankrupt_; }

  // Sorts a side's thresholds once (linear-time radix sort); later calls return at once.
  // prepare() sorts both sides. Thread-safe. When `cancel` is set during the sort, throws
  // Cancelled and leaves the rest of the side unsorted (a later call sorts it).
  //
  // A side is sorted in two steps: its positions are distributed into top-digit buckets (one
  // pass), then the buckets are sorted in order, each in cache. A cascade on a side not yet
  // sorted (lazy_at_risk) sorts buckets only as it reaches them; what it sorted stays sorted.
  void prepare(Direction direction, const std::atomic<bool>* cancel = nullptr) const;
  void prepare(const std::atomic<bool>* cancel = nullptr) const;
  [[nodiscard]] bool prepared(Direction direction) const noexcept;
  [[nodiscard]] bool prepared() const noexcept {
    return prepared(Direction::down) && prepared(Direction::up);
  }

  // Positions at risk when the price moves in `direction`: longs for down, shorts for up, in
  // trigger order. Sorts that side on first use.
  [[nodiscard]] const SortedThresholds& at_risk(Direction direction) const;

  // The same positions, put in trigger order as far as a reader reaches (LazyRecords): the
  // records of buckets already sorted, more on extend(). Thread-safe (readers of one side share
  // its sorted prefix; extend() sorts under the side's lock). The set must outlive it. When
  // `cancel` is set during extend(), throws Cancelled.
  class LazyAtRisk final : public LazyRecords<AtRisk> {
   public:
    LazyAtRisk(const PositionSet& set, Direction direction, const std::atomic<bool>* cancel);
    [[nodiscard]] std::span<const AtRisk> records() const noexcept override;
    [[nodiscard]] std::size_t sorted() const noexcept override;
    std::size_t extend() override;

   private:
    const PositionSet* set_;
    Direction direction_;
    const std::atomic<bool>* cancel_;
  };
  [[nodiscard]] LazyAtRisk lazy_at_risk(Direction direction, const std::atomic<bool>* cancel = nullptr) const {
    return LazyAtRisk(*this, direction, cancel);
  }

  // Each position's maintenance requirement and equity at `price` (USD; an inverse set's in coin,
  // valued at that price): the requirement of margin.hpp with the tier of its notional at that
  // price when `tiers` is given (a venue's margin ratio), else its own mmr and maint_amount.
  void at_price(double price, const TierTable* tiers, std::span<double> maintenance, std::span<double> equity) const;

  // How many positions a move in `direction` puts at risk (longs for down, shorts for up; an
  // inverse set: the contract's longs and shorts), and how many of them are already at or past
  // their liquidation price at `price` (USD for an inverse set). O(log n): sorts that side on
  // first use.
  [[nodiscard]] std::size_t at_risk_count(Direction direction) const;
  [[nodiscard]] std::size_t past_liquidation(Direction direction, double price) const;

  // An index derived from one side (the aggregate path's prefix sums): built once by `build` on
  // first use and kept for the set's lifetime — the set never changes, so neither does it.
  // Thread-safe; a `build` that throws (Cancelled) leaves nothing cached.
  [[nodiscard]] std::shared_ptr<const void> side_index(
      Direction direction, const std::function<std::shared_ptr<const void>()>& build) const;

 private:
  // The side's sort state. After distribute(): `records` holds the side's positions bucketed
  // by top digit (the vector never moves again); buckets [0, next_bucket) are sorted, which is
  // records [0, sorted_count). `sort_mutex` guards next_bucket and sorter; sorted_count is
  // published with release order after the buckets below it are written.
  struct Side {
    mutable SortedThresholds records;  // empty until distributed
    mutable bulk_vector<std::uint32_t> index;  // the side's positions, until distributed
    mutable std::once_flag distribute_once;
    mutable std::mutex sort_mutex;
    mutable std::unique_ptr<BucketStarts> start;
    mutable std::unique_ptr<BucketSorter<AtRisk, TriggerOrderKey>> sorter;
    mutable std::size_t next_bucket = 0;
    mutable std::atomic<std::size_t> sorted_count{0};
    mutable std::atomic<bool> sorted{false};
    mutable std::mutex index_mutex;
    mutable std::shared_ptr<const void> derived;  // side_index()
  };
  const Side& side_of(Direction direction) const noexcept {
    return direction == Direction::down ? longs_ : shorts_;
  }
  void validate_and_report(std::size_t n) const;
  // The side's first sort step (once): its positions into their top-digit buckets.
  void distribute(const Side& s, Direction direction) const;
  // Sorts the side's next buckets, under its lock, until at least `want` records are in order
  // (or all are); returns how many are. Throws Cancelled when `cancel` is set.
  std::size_t sort_until(const Side& s, std::size_t want, const std::atomic<bool>* cancel) const;
  // The direction of the stored (for an inverse set: reciprocal) positions a price move makes.
  [[nodiscard]] Direction stored_direction(Direction direction) const noexcept;

  PositionColumns columns_;
  MarginRule rule_;
  double inverse_size_ = 0.0;
  bulk_vector<std::int8_t> own_side_;  // the columns' own copy (copy = true)
  std::array<bulk_vector<double>, 5> own_;
  Side longs_, shorts_;
  bulk_vector<double> liq_;
  bulk_vector<double> bankrupt_;
};

}  // namespace cascade_core
