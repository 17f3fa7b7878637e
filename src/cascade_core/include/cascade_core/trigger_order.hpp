// A study's trigger records put in trigger order: all at once (sort_triggers), or lazily, as
// far as a cascade reaches (TriggerOrder, read through cascade.hpp's LazyTriggers).
#pragma once

#include <cstddef>
#include <optional>
#include <span>

#include "cascade_core/cascade.hpp"
#include "cascade_core/position_sampler.hpp"
#include "cascade_core/positions.hpp"
#include "cascade_core/radix_sort.hpp"

namespace cascade_core {

// Sorts the records into trigger order (PositionSet's order for that side: stable, linear time).
void sort_triggers(TriggerSample& sample);

// The same order, put in place as a cascade reaches it (cascade(book, LazyTriggers&, ...)):
// the records are distributed into top-digit buckets (one pass over all), and a bucket is
// sorted in cache when the cascade first needs one of its records; a cascade that stops
// early leaves the buckets beyond it unsorted. `sample` must outlive this and not change.
class TriggerOrder final : public LazyTriggers {
 public:
  explicit TriggerOrder(TriggerSample& sample);
  TriggerOrder(const TriggerOrder&) = delete;  // the sorter points into this object's buckets
  TriggerOrder& operator=(const TriggerOrder&) = delete;
  ~TriggerOrder() = default;
  [[nodiscard]] std::span<const Trigger> records() const noexcept override;
  [[nodiscard]] std::size_t sorted() const noexcept override { return sorted_; }
  std::size_t extend() override;

 private:
  TriggerSample* sample_;
  TopDigit top_{0, 0};
  BucketStarts start_{};
  std::optional<BucketSorter<Trigger, TriggerOrderKey>> sorter_;
  std::size_t next_bucket_ = 0;
  std::size_t sorted_ = 0;
};

}  // namespace cascade_core
