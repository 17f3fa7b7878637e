#include "cascade_core/margin.hpp"

#include <algorithm>
#include <cmath>

#include "cascade_core/errors.hpp"

namespace cascade_core {

std::size_t TierTable::tier_of(double notional) const noexcept {
  const auto it = std::lower_bound(notional_floor.begin(), notional_floor.end(), notional);
  const auto k = static_cast<std::size_t>(it - notional_floor.begin());
  return k == 0 ? 0 : k - 1;
}

void TierTable::validate() const {
  if (notional_floor.empty()) return;
  if (mmr.size() != notional_floor.size() || maint_amount.size() != notional_floor.size()) {
    throw InputError("tiers", "notional_floor, mmr and maint_amount must have the same length");
  }
  require(notional_floor[0] == 0.0, "tiers.notional_floor", "must start at 0", notional_floor[0]);
  for (std::size_t k = 1; k < notional_floor.size(); ++k) {
    if (!(std::isfinite(notional_floor[k]) && notional_floor[k] > notional_floor[k - 1])) {
      throw InputError("tiers.notional_floor", static_cast<std::ptrdiff_t>(k),
                       "must be finite and strictly increasing");
    }
  }
  require_each(mmr, "tiers.mmr", rate, "must be in [0, 1)");
  require_each(maint_amount, "tiers.maint_amount", finite, "must be finite");
}

}  // namespace cascade_core
