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
  if (!max_leverage.empty()) {
    if (max_leverage.size() != notional_floor.size()) {
      throw InputError(prefix + "max_leverage", "length " + std::to_string(max_leverage.size()) +
                                                    " does not match notional_floor length " +
                                                    std::to_string(notional_floor.size()));
    }
    require_each(max_leverage, (prefix + "max_leverage").c_str(), finite_positive, "must be finite and > 0");
  }
}

void MarginRule::validate(const std::string& prefix) const {
  if (basis != MarginBasis::mark && basis != MarginBasis::entry) throw InputError(prefix + "basis", "must be mark or entry");
  require(std::isfinite(close_fee) && close_fee >= 0.0 && close_fee < 1.0, (prefix + "close_fee").c_str(),
          "must be in [0, 1)", close_fee);
}

void check_margin_rules(const MarginRule& rule, TierRule tier_rule, std::span<const double> mmr,
                        const std::string& mmr_field) {
  rule.validate();
  if (tier_rule != TierRule::liquidation && tier_rule != TierRule::entry) {
    throw InputError("tier_rule", "must be liquidation or entry");
  }
  if (tier_rule == TierRule::liquidation && rule.basis == MarginBasis::entry) {
    throw InputError("tier_rule", "an entry-basis requirement is fixed at entry, so its tier is the entry "
                                  "notional's: use tier_rule='entry'");
  }
  for (std::size_t k = 0; k < mmr.size(); ++k) {
    if (!(rule.price_rate(mmr[k]) < 1.0)) {
      throw InputError(mmr_field, static_cast<std::ptrdiff_t>(k),
                       "plus close_fee must be < 1, got " + format_value(mmr[k]) + " + " + format_value(rule.close_fee));
    }
  }
}

std::size_t TierTable::tier_at_liquidation(double side, double qty, double entry, double margin,
                                           const MarginRule& rule) const noexcept {
  const std::size_t last = notional_floor.size() - 1;
  std::size_t k = 0;
  for (; k < last; ++k) {
    const double price = liquidation_price(side, qty, entry, margin, mmr[k], maint_amount[k], rule);
    if (qty * price <= notional_floor[k + 1]) break;  // (NaN: on to the next tier, then the last)
  }
  return k;
}

std::size_t TierTable::tier_for(TierRule tier_rule, double side, double qty, double entry, double margin,
                                const MarginRule& rule) const noexcept {
  if (tier_rule == TierRule::liquidation && rule.basis == MarginBasis::mark) {
    return tier_at_liquidation(side, qty, entry, margin, rule);
  }
  return tier_of(qty * entry);
}

std::size_t assign_tiers(const TierTable& table, std::span<const std::int8_t> side, std::span<const double> qty,
                         std::span<const double> entry, std::span<const double> margin, const MarginRule& rule,
                         TierRule tier_rule, LeverageLimit limit, std::span<double> out_mmr,
                         std::span<double> out_maint, std::span<double> out_margin) {
  table.validate();
  check_margin_rules(rule, tier_rule, table.mmr, "tiers.mmr");
  const std::size_t n = side.size();
  if (qty.size() != n || entry.size() != n || margin.size() != n || out_mmr.size() != n || out_maint.size() != n ||
      out_margin.size() != n) {
    throw InputError("qty", "columns of different lengths");
  }
  const bool capped = !table.max_leverage.empty() && limit != LeverageLimit::ignore;
  std::size_t clipped = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double notional = qty[i] * entry[i];
    double m = margin[i];
    if (capped) {
      const std::size_t t = table.tier_of(notional);
      const double cap = table.max_leverage[t];
      if (above_leverage_cap(notional, m, cap)) {
        if (limit == LeverageLimit::reject) {
          throw InputError("leverage", static_cast<std::ptrdiff_t>(i),
                           "position " + std::to_string(i) + " is levered " + format_value(notional / m) +
                               "x on a notional of " + format_value(notional) + ", above its tier's max_leverage " +
                               format_value(cap) + "x (tier " + std::to_string(t) +
                               "); pass leverage_limit='clip' to raise its margin to the limit, or 'ignore'");
        }
        m = notional / cap;
        ++clipped;
      }
    }
    const std::size_t k = table.tier_for(tier_rule, side[i], qty[i], entry[i], m, rule);
    out_mmr[i] = table.mmr[k];
    out_maint[i] = table.maint_amount[k];
    out_margin[i] = m;
  }
  return clipped;
}

}  // namespace cascade_core
