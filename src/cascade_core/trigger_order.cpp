#include "cascade_core/trigger_order.hpp"

#include <utility>

namespace cascade_core {

void sort_triggers(TriggerSample& sample) {
  stable_sort_records(sample.records, sample.key_lo, sample.key_hi, TriggerOrderKey(sample.direction));
}

TriggerOrder::TriggerOrder(TriggerSample& sample) : sample_(&sample) {
  const std::size_t n = sample.records.size();
  if (n < 2 || sample.key_lo >= sample.key_hi) {  // a constant key: input order is the order
    sorted_ = n;
    return;
  }
  const TriggerOrderKey key(sample.direction);
  top_ = TopDigit(sample.key_lo, sample.key_hi);
  start_ = distribute(sample.records, top_, key);
  sorter_.emplace(sample.records.data(), start_, top_, key);
}

std::span<const Trigger> TriggerOrder::records() const noexcept {
  return {sample_->records.data(), sample_->records.size()};
}

std::size_t TriggerOrder::extend() {
  // a few buckets at a time (at least one record, unless none is left): each is sorted in
  // cache right before the cascade reads it
  constexpr std::size_t chunk = 1024;
  const std::size_t target = sorted_ + chunk;
  while (next_bucket_ < top_buckets && sorted_ < target) {
    sorter_->sort(next_bucket_);
    ++next_bucket_;
    sorted_ = start_[next_bucket_];
  }
  return sorted_;
}

}  // namespace cascade_core
