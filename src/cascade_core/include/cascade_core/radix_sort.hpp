// Stable least-significant-digit radix sort of float64 keys carrying a uint32 index payload.
// Linear in the number of keys: 8 passes of 8 bits at most, passes where every key shares the
// digit are skipped (thresholds of one market share their exponent bytes).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <span>
#include <vector>

namespace cascade_core {

// Maps a double to an unsigned integer with the same order (-0.0 is folded onto +0.0 so that
// equal values tie, as they compare equal). NaN must not reach here.
inline std::uint64_t ordered_key(double value) noexcept {
  if (value == 0.0) value = 0.0;
  const auto bits = std::bit_cast<std::uint64_t>(value);
  return (bits & 0x8000000000000000ULL) ? ~bits : (bits | 0x8000000000000000ULL);
}

// Returns the permutation that sorts `keys` ascending (or descending), ties kept in the order
// of `index` as given. `index[i]` is the payload of `keys[i]`.
inline std::vector<std::uint32_t> radix_sort_indices(std::span<const double> keys,
                                                     std::span<const std::uint32_t> index,
                                                     bool descending) {
  const std::size_t n = keys.size();
  std::vector<std::uint64_t> key(n), key_tmp(n);
  std::vector<std::uint32_t> idx(index.begin(), index.end()), idx_tmp(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t k = ordered_key(keys[i]);
    key[i] = descending ? ~k : k;
  }
  std::array<std::array<std::size_t, 256>, 8> count{};
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t k = key[i];
    for (int d = 0; d < 8; ++d) ++count[static_cast<std::size_t>(d)][(k >> (8 * d)) & 0xFFU];
  }
  for (int d = 0; d < 8; ++d) {
    auto& c = count[static_cast<std::size_t>(d)];
    const int shift = 8 * d;
    if (n == 0 || c[(key[0] >> shift) & 0xFFU] == n) continue;  // every key shares this digit
    std::size_t offset = 0;
    for (auto& bucket : c) {
      const std::size_t here = bucket;
      bucket = offset;
      offset += here;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t slot = c[(key[i] >> shift) & 0xFFU]++;
      key_tmp[slot] = key[i];
      idx_tmp[slot] = idx[i];
    }
    key.swap(key_tmp);
    idx.swap(idx_tmp);
  }
  return idx;
}

}  // namespace cascade_core
