#include "cascade_core/radix_sort.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "cascade_core/errors.hpp"

namespace cascade_core {

std::vector<std::int64_t> stable_order(std::span<const double> keys, bool descending) {
  const std::size_t n = keys.size();
  if (n >= std::numeric_limits<std::uint32_t>::max()) throw InputError("keys", "at most 4,294,967,294 keys");
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isnan(keys[i])) throw InputError("keys", static_cast<std::ptrdiff_t>(i), "must not be NaN");
  }
  const std::uint64_t flip = descending ? ~std::uint64_t{0} : 0;
  struct KeyIndex {
    std::uint64_t key;
    std::uint32_t index;
  };
  bulk_vector<KeyIndex> order(n);
  std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t key = ordered_key(keys[i]) ^ flip;
    order[i] = {key, static_cast<std::uint32_t>(i)};
    lo = std::min(lo, key);
    hi = std::max(hi, key);
  }
  stable_sort_records(order, lo, hi, [](const KeyIndex& r) { return r.key; });
  std::vector<std::int64_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = order[i].index;
  return out;
}

}  // namespace cascade_core
