#include "cascade_core/margin.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "cascade_core/errors.hpp"

namespace cascade_core {

std::size_t TierTable::tier_of(double notional) const noexcept {
  const auto it = std::lower_bound(notional_floor.begin(), notional_floor.end(), notional);
  const auto k = static_cast<std::size_t>(it - notional_floor.begin());
  return k == 0 ? 0 : k - 1;
}

std::vector<std::int64_t> TierTable::tiers_of(std::span<const double> notional) const {
  std::vector<std::int64_t> out(notional.size());
  for (std::size_t i = 0; i < notional.size(); ++i) {
    if (!finite_non_negative(notional[i])) {
      throw InputError("notional", static_cast<std::ptrdiff_t>(i), "must be finite and >= 0, got " + format_value(notional[i]));
    }
    out[i] = static_cast<std::int64_t>(tier_of(notional[i]));
  }
  return out;
}

std::vector<double> TierTable::continuous_maint_amount(const std::vector<double>& notional_floor,
                                                       const std::vector<double>& mmr) {
  if (mmr.size() != notional_floor.size()) {
    throw InputError("mmr", "length " + std::to_string(mmr.size()) + " does not match notional_floor length " +
                                std::to_string(notional_floor.size()));
  }
  std::vector<double> maint(notional_floor.size(), 0.0);
  for (std::size_t k = 1; k < maint.size(); ++k) maint[k] = maint[k - 1] + notional_floor[k] * (mmr[k] - mmr[k - 1]);
  return maint;
}

void TierTable::validate(const std::string& prefix) const {
  if (notional_floor.empty()) return;
  const std::string floor_field = prefix + "notional_floor";
  if (mmr.size() != notional_floor.size() || maint_amount.size() != notional_floor.size()) {
    throw InputError(prefix.empty() ? "mmr" : prefix.substr(0, prefix.size() - 1),
                     "notional_floor, mmr and maint_amount must have the same length");
  }
  if (notional_floor[0] != 0.0) {
    throw InputError(floor_field, 0, "the first tier must start at 0, got " + format_value(notional_floor[0]));
  }
  for (std::size_t k = 1; k < notional_floor.size(); ++k) {
    if (!(std::isfinite(notional_floor[k]) && notional_floor[k] > notional_floor[k - 1])) {
      throw InputError(floor_field, static_cast<std::ptrdiff_t>(k),
                       "must be strictly increasing and finite, got " + format_value(notional_floor[k]));
    }
  }
  require_each(mmr, (prefix + "mmr").c_str(), rate, "must be in [0, 1)");
  require_each(maint_amount, (prefix + "maint_amount").c_str(), finite, "must be finite");
}

}  // namespace cascade_core
