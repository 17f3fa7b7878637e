// Linear-time stable sorting on float64 keys (liquidation thresholds).
//
// Each key is mapped to an order-preserving uint64 (ordered_key), then to 32 bits relative
// to the keys' range; a stable least-significant-digit radix sort orders by those 32 bits
// (three passes of 11 bits, every digit's histogram counted in one pass, a pass whose digit
// is constant skipped). Keys that share all 32 digits — true ties, or keys closer than
// range / 2^32 — are then put in exact order by insertion over their (typically
// one-element) runs, which keeps ties in input order. Cost: O(n), plus the runs of
// near-equal keys.
//
// The records themselves move through the passes: on large sets that is cheaper than sorting
// indices and then gathering the records from random places.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cascade_core/bulk_allocator.hpp"

namespace cascade_core {

// Maps a double to an unsigned integer with the same order (-0.0 is folded onto +0.0 so that
// equal values tie, as they compare equal). NaN must not reach here.
inline std::uint64_t ordered_key(double value) noexcept {
  if (value == 0.0) value = 0.0;
  const auto bits = std::bit_cast<std::uint64_t>(value);
  return (bits & 0x8000000000000000ULL) ? ~bits : (bits | 0x8000000000000000ULL);
}

// Sorts `records` by key_of(record) ascending, ties in input order. `lo` and `hi` bound the
// keys (lo <= key_of(r) <= hi for every record; the caller knows them from an earlier pass).
template <class Record, class KeyOf>
void stable_sort_records(bulk_vector<Record>& records, std::uint64_t lo, std::uint64_t hi,
                         KeyOf key_of) {
  const std::size_t n = records.size();
  if (n < 2 || lo >= hi) return;  // a constant key: input order is the order
  const int width = static_cast<int>(std::bit_width(hi - lo));
  const int shift = width > 32 ? width - 32 : 0;
  const auto digits = [&](const Record& r) {
    return static_cast<std::uint32_t>((key_of(r) - lo) >> shift);
  };
  constexpr int pass_bits[3] = {11, 11, 10};
  constexpr int pass_shift[3] = {0, 11, 22};
  std::array<std::array<std::size_t, 2048>, 3> count{};
  for (const Record& r : records) {
    const std::uint32_t d = digits(r);
    ++count[0][d & 0x7FF];
    ++count[1][(d >> 11) & 0x7FF];
    ++count[2][d >> 22];
  }
  bulk_vector<Record> other(n);
  bulk_vector<std::uint32_t> sorted_digits(n);  // the digits in final order, for the tie pass
  int last_pass = -1;
  for (int p = 0; p < 3; ++p) {
    if (*std::max_element(count[p].begin(), count[p].end()) != n) last_pass = p;
  }
  for (int p = 0; p <= last_pass; ++p) {
    auto& c = count[p];
    if (*std::max_element(c.begin(), c.end()) == n) continue;  // constant digit
    std::size_t running = 0;
    for (std::size_t b = 0; b < (std::size_t{1} << pass_bits[p]); ++b) {
      const std::size_t here = c[b];
      c[b] = running;
      running += here;
    }
    const std::uint32_t mask = (1U << pass_bits[p]) - 1;
    if (p == last_pass) {
      for (const Record& r : records) {
        const std::uint32_t d = digits(r);
        const std::size_t at = c[(d >> pass_shift[p]) & mask]++;
        other[at] = r;
        sorted_digits[at] = d;
      }
    } else {
      for (const Record& r : records) other[c[(digits(r) >> pass_shift[p]) & mask]++] = r;
    }
    records.swap(other);
  }
  if (last_pass < 0) return;  // unreachable: lo < hi makes some digit vary
  other = bulk_vector<Record>();
  // Exact order within runs of equal digits (insertion by the full key, strict: stable).
  std::size_t run = 0;
  for (std::size_t m = 1; m <= n; ++m) {
    if (m < n && sorted_digits[m] == sorted_digits[run]) continue;
    for (std::size_t a = run + 1; a < m; ++a) {
      const Record value = records[a];
      const std::uint64_t key = key_of(value);
      std::size_t b = a;
      while (b > run && key_of(records[b - 1]) > key) {
        records[b] = records[b - 1];
        --b;
      }
      records[b] = value;
    }
    run = m;
  }
}

}  // namespace cascade_core
