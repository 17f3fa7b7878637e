// Linear-time stable sorting on float64 keys (liquidation thresholds).
//
// Each key is mapped to an order-preserving uint64 (ordered_key); records are sorted by it
// with a most-significant-digit radix sort (stable_sort_records below). The records
// themselves move through the passes: on large sets that is cheaper than sorting indices and
// then gathering the records from random places.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "cascade_core/bulk_allocator.hpp"

namespace cascade_core {

// ordered_key below on a double's bits, for a value known not to be -0.0 (no fold): negative
// values have all bits flipped, the others only the sign bit.
inline std::uint64_t ordered_key_of_bits(std::uint64_t bits) noexcept {
  const auto negative = static_cast<std::uint64_t>(static_cast<std::int64_t>(bits) >> 63);
  return bits ^ (negative | 0x8000000000000000ULL);
}

// Maps a double to an unsigned integer with the same order (-0.0 is folded onto +0.0 so that
// equal values tie, as they compare equal). NaN must not reach here. Without a branch, so
// that loops computing keys vectorise: x + 0.0 is +0.0 for x = -0.0 and x otherwise.
inline std::uint64_t ordered_key(double value) noexcept {
  return ordered_key_of_bits(std::bit_cast<std::uint64_t>(value + 0.0));
}

namespace detail {

// Stable insertion sort by the full key of from[0, n) into to[0, n): the sorted prefix grows
// in `to`, so coming from a scratch area the records move once instead of being copied and
// then sorted. `from` is either `to` itself (in place: record i is read before anything at i
// or beyond is written) or a range that does not overlap it. Used for short ranges, for
// ranges whose keys are all equal (already in input order: one comparison per record), and to
// finish a range whose buckets are in order and small (cost: the range plus the inversions
// inside buckets).
template <class Record, class KeyOf>
void insertion_copy(const Record* from, Record* to, std::size_t n, KeyOf& key_of) {
  for (std::size_t i = 0; i < n; ++i) {
    const Record value = from[i];
    const std::uint64_t key = key_of(value);
    std::size_t j = i;
    while (j > 0 && key_of(to[j - 1]) > key) {
      to[j] = to[j - 1];
      --j;
    }
    to[j] = value;
  }
}

template <class Record, class KeyOf>
void insertion_sort(Record* a, std::size_t n, KeyOf& key_of) {
  insertion_copy(a, a, n, key_of);
}

// Sorts a[0, n) by the `bits` low bits of (key - lo) — the higher ones are equal across the
// range — with one stable counting pass on the top digit (sized to the range: ~log2(n) bits,
// at most 11) into `scratch`, then each sub-range recursively. Ranges are small and hot in
// cache after the first level.
template <class Record, class KeyOf>
void msd_sort(Record* a, Record* scratch, std::size_t n, int bits, std::uint64_t lo, KeyOf& key_of) {
  constexpr std::size_t small = 32;
  while (n > small && bits > 0) {
    const int digit_bits = std::min(bits, std::clamp(static_cast<int>(std::bit_width(n)), 4, 11));
    const int shift = bits - digit_bits;
    const std::uint64_t mask = (std::uint64_t{1} << digit_bits) - 1;
    const std::size_t buckets = std::size_t{1} << digit_bits;
    std::array<std::uint32_t, 2049> start;  // n < 2^32
    std::fill(start.begin(), start.begin() + static_cast<std::ptrdiff_t>(buckets) + 1, 0U);
    for (std::size_t i = 0; i < n; ++i) ++start[((key_of(a[i]) - lo) >> shift & mask) + 1];
    bits = shift;
    const std::uint32_t largest =
        *std::max_element(start.begin() + 1, start.begin() + static_cast<std::ptrdiff_t>(buckets) + 1);
    if (largest == n) continue;  // one digit for all: go to the next digit without moving anything
    for (std::size_t b = 1; b <= buckets; ++b) start[b] += start[b - 1];
    std::array<std::uint32_t, 2048> next;
    std::copy(start.begin(), start.begin() + static_cast<std::ptrdiff_t>(buckets), next.begin());
    for (std::size_t i = 0; i < n; ++i) scratch[next[(key_of(a[i]) - lo) >> shift & mask]++] = a[i];
    if (largest <= small) {
      // Every bucket is small: one insertion pass over the whole range moves the records back
      // into `a` in order (the buckets are in order; inversions are only inside buckets).
      insertion_copy(scratch, a, n, key_of);
      return;
    }
    std::copy(scratch, scratch + n, a);
    for (std::size_t b = 0; b < buckets; ++b) {
      const std::size_t size = start[b + 1] - start[b];
      if (size > small) msd_sort(a + start[b], scratch + start[b], size, bits, lo, key_of);
    }
    break;  // the small buckets are left to one insertion pass over the whole range
  }
  insertion_sort(a, n, key_of);
}

}  // namespace detail

// The first pass of the sort below, for callers that distribute records themselves (e.g.
// straight from columns): with keys in [lo, hi], a key's top digit is bucket(key), one of
// 2^top_bits <= top_buckets buckets in key order; `low_bits` bits are left below it.
inline constexpr int top_digit_bits = 12;
inline constexpr std::size_t top_buckets = std::size_t{1} << top_digit_bits;

struct TopDigit {
  std::uint64_t lo = 0;
  int shift = 0;
  int top_bits = 0;

  TopDigit(std::uint64_t lo_key, std::uint64_t hi_key) : lo(lo_key) {
    const int bits = lo_key < hi_key ? static_cast<int>(std::bit_width(hi_key - lo_key)) : 0;
    top_bits = std::min(bits, top_digit_bits);
    shift = bits - top_bits;
  }
  [[nodiscard]] std::uint32_t bucket(std::uint64_t key) const noexcept {
    return static_cast<std::uint32_t>(((key - lo) >> shift) & (top_buckets - 1));
  }
  [[nodiscard]] int low_bits() const noexcept { return shift; }
};

using BucketStarts = std::array<std::uint32_t, top_buckets + 1>;  // bucket b is [start[b], start[b + 1])

namespace detail {

// Sorts n >= 2 distinct integers below 2^total_bits from `from` into `to`: one stable counting
// pass on their top digit (~log2(n) bits), then an insertion pass in which an element moves
// up to two places without a branch (a mispredicted branch per element would cost more than
// the moves); an element that must move further, rare after the counting pass, takes a loop.
inline void sort_distinct(const std::uint64_t* from, std::uint64_t* to, std::size_t n, int total_bits) {
  const int digit_bits = std::min(total_bits, std::clamp(static_cast<int>(std::bit_width(n)), 4, 11));
  const int shift = total_bits - digit_bits;
  const std::size_t buckets = std::size_t{1} << digit_bits;
  std::array<std::uint32_t, 2049> next;
  std::fill(next.begin(), next.begin() + static_cast<std::ptrdiff_t>(buckets) + 1, 0U);
  for (std::size_t i = 0; i < n; ++i) ++next[(from[i] >> shift) + 1];
  for (std::size_t b = 1; b <= buckets; ++b) next[b] += next[b - 1];
  for (std::size_t i = 0; i < n; ++i) to[next[from[i] >> shift]++] = from[i];
  if (to[1] < to[0]) std::swap(to[0], to[1]);
  for (std::size_t i = 2; i < n; ++i) {
    const std::uint64_t v = to[i], p1 = to[i - 1], p2 = to[i - 2];
    const bool above1 = p1 > v, above2 = p2 > v;  // above2 implies above1: to[0, i) is sorted
    if (above2 && i >= 3 && to[i - 3] > v) [[unlikely]] {
      std::size_t j = i;
      for (; j > 0 && to[j - 1] > v; --j) to[j] = to[j - 1];
      to[j] = v;
      continue;
    }
    to[i] = above1 ? p1 : v;
    to[i - 1] = above2 ? p2 : (above1 ? v : p1);
    to[i - 2] = above2 ? v : p2;
  }
}

}  // namespace detail

// Sorts the buckets of `records` (laid out by `start`) by the `top.low_bits()` bits below the
// top digit, one bucket at a time, in cache: all of them (sort_buckets below), or only as far
// as a consumer reads (a cascade that stops early leaves the rest unsorted). A bucket of n
// records whose low key bits and position (log2(n) bits) fit in 64 bits is sorted as those
// integers, (key bits << position bits) | position — distinct, in key order, ties in input
// order — and its records are then gathered by position (8 bytes move through the passes
// instead of a whole record); other buckets go through detail::msd_sort.
template <class Record, class KeyOf>
class BucketSorter {
 public:
  BucketSorter(Record* records, const BucketStarts& start, const TopDigit& top, KeyOf key_of)
      : records_(records), start_(&start), top_(top), key_of_(key_of) {
    std::uint32_t largest = 0;
    for (std::size_t b = 0; b < top_buckets; ++b) largest = std::max(largest, start[b + 1] - start[b]);
    trivial_ = largest < 2 || top.low_bits() == 0;  // single records, or every bucket one key
    if (!trivial_) {
      scratch_ = bulk_vector<Record>(largest);
      packed_ = bulk_vector<std::uint64_t>(largest);
      sorted_ = bulk_vector<std::uint64_t>(largest);
    }
  }

  void sort(std::size_t b) {
    const std::size_t size = (*start_)[b + 1] - (*start_)[b];
    if (trivial_ || size < 2) return;
    const int bits = top_.low_bits();
    Record* const a = records_ + (*start_)[b];
    const int position_bits = static_cast<int>(std::bit_width(size - 1));
    if (size <= 32 || bits + position_bits > 64) {
      detail::msd_sort(a, scratch_.data(), size, bits, top_.lo, key_of_);
      return;
    }
    const std::uint64_t low_mask = (std::uint64_t{1} << bits) - 1;  // bits <= 64 - top digit
    for (std::size_t i = 0; i < size; ++i) {
      packed_[i] = ((key_of_(a[i]) - top_.lo) & low_mask) << position_bits | i;
    }
    detail::sort_distinct(packed_.data(), sorted_.data(), size, bits + position_bits);
    const std::uint64_t position_mask = (std::uint64_t{1} << position_bits) - 1;
    for (std::size_t i = 0; i < size; ++i) scratch_[i] = a[sorted_[i] & position_mask];
    std::copy(scratch_.data(), scratch_.data() + size, a);
  }

 private:
  Record* records_;
  const BucketStarts* start_;
  TopDigit top_;
  KeyOf key_of_;
  bool trivial_ = true;
  bulk_vector<Record> scratch_;
  bulk_vector<std::uint64_t> packed_, sorted_;
};

// Returns false, leaving buckets unsorted, when `cancel` is set (checked every 64 buckets).
template <class Record, class KeyOf>
bool sort_buckets(bulk_vector<Record>& records, const BucketStarts& start, const TopDigit& top,
                  KeyOf key_of, const std::atomic<bool>* cancel = nullptr) {
  BucketSorter<Record, KeyOf> sorter(records.data(), start, top, key_of);
  for (std::size_t b = 0; b < top_buckets; ++b) {
    if ((b & 63) == 0 && cancel != nullptr && cancel->load(std::memory_order_relaxed)) return false;
    sorter.sort(b);
  }
  return true;
}

// Distributes `records` (keys in [lo, hi], lo < hi) into the buckets of `top` = TopDigit(lo,
// hi), in input order within each (one stable counting pass), and returns where they start.
template <class Record, class KeyOf>
BucketStarts distribute(bulk_vector<Record>& records, const TopDigit& top, KeyOf key_of) {
  BucketStarts start{};
  for (const Record& r : records) ++start[top.bucket(key_of(r)) + 1];
  for (std::size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
  bulk_vector<Record> bucketed(records.size());
  std::array<std::uint32_t, top_buckets> next;
  std::copy(start.begin(), start.end() - 1, next.begin());
  for (const Record& r : records) bucketed[next[top.bucket(key_of(r))]++] = r;
  records.swap(bucketed);
  return start;
}

// Sorts `records` by key_of(record) ascending, ties in input order. `lo` and `hi` bound the
// keys (lo <= key_of(r) <= hi for every record; the caller knows them from an earlier pass).
//
// Most-significant-digit radix sort on key - lo: one counting pass over the whole set on the
// top 11 bits (the only pass that goes to memory), then each bucket — a few hundred records
// on real data — sorted in cache the same way on the next bits, down to single records or
// equal keys. Every pass is stable, so ties keep input order. Cost: O(n) passes plus, per
// bucket, O(size) and the inversions left inside its smallest sub-buckets.
template <class Record, class KeyOf>
void stable_sort_records(bulk_vector<Record>& records, std::uint64_t lo, std::uint64_t hi,
                         KeyOf key_of) {
  const std::size_t n = records.size();
  if (n < 2 || lo >= hi) return;  // a constant key: input order is the order
  const TopDigit top(lo, hi);
  const BucketStarts start = distribute(records, top, key_of);
  sort_buckets(records, start, top, key_of);
}

// The permutation that orders `keys` ascending (descending when asked), ties by position — the
// engine's linear-time stable sort over plain keys. InputError naming `keys` for a NaN key or
// more than 4,294,967,294 keys.
std::vector<std::int64_t> stable_order(std::span<const double> keys, bool descending);

}  // namespace cascade_core
