// Linear-time stable ordering of float64 keys (liquidation thresholds).
//
// Each key is mapped to an order-preserving uint64 (ordered_key), then to 32 bits relative
// to the keys' range; (digits << 32 | position) words are sorted on their high half with a
// stable least-significant-digit radix sort (three passes of 11 bits over 8-byte words, a
// pass with a constant digit skipped). Keys that share all 32 digits — true ties, or keys
// closer than range / 2^32 — are then put in exact order by insertion over their (typically
// one-element) runs, which keeps ties in input order. Cost: O(n), plus the runs of
// near-equal keys.
#pragma once

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

// Returns the permutation that orders `n` keys ascending, ties in input order: key_of(m) is
// the m-th key (m < 2^32). The result's m-th entry is the input position of the m-th smallest.
template <class KeyOf>
bulk_vector<std::uint32_t> stable_order(std::size_t n, KeyOf key_of) {
  bulk_vector<std::uint32_t> order(n);
  if (n == 0) return order;
  std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
  for (std::size_t m = 0; m < n; ++m) {
    const std::uint64_t k = key_of(m);
    lo = k < lo ? k : lo;
    hi = k > hi ? k : hi;
  }
  if (lo == hi) {
    for (std::size_t m = 0; m < n; ++m) order[m] = static_cast<std::uint32_t>(m);
    return order;
  }
  const int width = static_cast<int>(std::bit_width(hi - lo));
  const int shift = width > 32 ? width - 32 : 0;
  bulk_vector<std::uint64_t> word(n), tmp(n);
  for (std::size_t m = 0; m < n; ++m) word[m] = ((key_of(m) - lo) >> shift) << 32 | m;
  // LSD on bits 32..63: passes of 11, 11 and 10 bits; a pass whose digit is constant is skipped.
  constexpr int digit_bits[3] = {11, 11, 10};
  int bit = 32;
  std::vector<std::size_t> count;
  for (const int bits : digit_bits) {
    const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
    count.assign((std::size_t{1} << bits) + 1, 0);
    for (const std::uint64_t w : word) ++count[((w >> bit) & mask) + 1];
    if (count[((word[0] >> bit) & mask) + 1] != n) {
      for (std::size_t b = 1; b < count.size(); ++b) count[b] += count[b - 1];
      for (const std::uint64_t w : word) tmp[count[(w >> bit) & mask]++] = w;
      word.swap(tmp);
    }
    bit += bits;
  }
  for (std::size_t m = 0; m < n; ++m) order[m] = static_cast<std::uint32_t>(word[m]);
  // Exact order within runs of equal digits (insertion by the full key, strict: stable).
  std::size_t run = 0;
  for (std::size_t m = 1; m <= n; ++m) {
    if (m < n && (word[m] >> 32) == (word[run] >> 32)) continue;
    for (std::size_t a = run + 1; a < m; ++a) {
      const std::uint32_t value = order[a];
      const std::uint64_t key = key_of(value);
      std::size_t b = a;
      while (b > run && key_of(order[b - 1]) > key) {
        order[b] = order[b - 1];
        --b;
      }
      order[b] = value;
    }
    run = m;
  }
  return order;
}

}  // namespace cascade_core
