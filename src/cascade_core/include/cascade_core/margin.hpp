// Margin of one position (docs/design.md, "Margin"): the tier table that gives its maintenance
// rate and amount, its liquidation and bankruptcy prices, and the domain of values the engine
// accepts — each written once, here; the vectorised loops (PositionSet's construction, the
// study sampler) call these inline functions, so every path computes the same bits.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace cascade_core {

// Maintenance tiers by notional: tier k covers (floor[k], floor[k+1]], floor[0] == 0.
struct TierTable {
  std::vector<double> notional_floor;
  std::vector<double> mmr;
  std::vector<double> maint_amount;
  // The tier of a notional; a notional on a boundary belongs to the lower tier.
  [[nodiscard]] std::size_t tier_of(double notional) const noexcept;
  // The tier of each notional (InputError naming `notional` and its index unless finite and >= 0).
  [[nodiscard]] std::vector<std::int64_t> tiers_of(std::span<const double> notional) const;
  // InputError naming the field, as `prefix` + its name ("tiers." inside a model or policy).
  void validate(const std::string& prefix = "tiers.") const;
  // The maintenance amounts ("cum") that keep the requirement mmr * notional - maint_amount
  // continuous across the boundaries: maint[0] = 0, maint[k] = maint[k-1] + floor[k] * (mmr[k] - mmr[k-1]).
  static std::vector<double> continuous_maint_amount(const std::vector<double>& notional_floor,
                                                     const std::vector<double>& mmr);
};

// Liquidation price of one position (docs/design.md): equity margin + side*qty*(p - entry) equals
// the maintenance requirement mmr*qty*p - maint_amount, i.e.
//   long:  (qty*entry - (margin + maint_amount)) / (qty*(1 - mmr))
//   short: (qty*entry + (margin + maint_amount)) / (qty*(1 + mmr)).
// Written with side = +-1 as a factor (exact) so that the loop over a set has no branch; the
// reference model uses this exact operation order, so both agree to the bit.
inline double liquidation_price(double side, double qty, double entry, double margin, double mmr,
                                double maint_amount) noexcept {
  return (qty * entry - side * (margin + maint_amount)) / (qty * (1.0 - side * mmr));
}

// Price at which the position's equity is zero: entry -/+ margin/qty.
inline double bankruptcy_price(double side, double qty, double entry, double margin) noexcept {
  return entry - side * (margin / qty);
}

// The largest quantity, and notional plus margin, a position of a set of n may have: n of them
// sum to at most half the largest double, so no total over the set (quantities, fill value, bad
// debt) can overflow.
inline double sum_bound(std::size_t n) noexcept {
  return std::numeric_limits<double>::max() / 2.0 / static_cast<double>(n > 0 ? n : 1);
}

// Whether a position, with its liquidation and bankruptcy prices, is one the engine accepts in a
// set whose sum_bound is `share`: side +-1, qty and entry finite and > 0, margin finite and >= 0,
// mmr in [0, 1), maint_amount finite, both prices finite, qty and notional plus margin within
// the share. Written as range checks that are false for NaN, without a branch, so that the
// loops calling it vectorise; PositionSet reports the first failing rule by field.
inline bool position_in_domain(double side, double qty, double entry, double margin, double mmr,
                               double maint_amount, double liquidation, double bankruptcy,
                               double share) noexcept {
  constexpr double max = std::numeric_limits<double>::max();
  return ((side == 1.0) | (side == -1.0)) & (qty > 0.0) & (qty <= max) & (entry > 0.0) & (entry <= max) &
         (margin >= 0.0) & (margin <= max) & (mmr >= 0.0) & (mmr < 1.0) & (std::abs(maint_amount) <= max) &
         (std::abs(liquidation) <= max) & (std::abs(bankruptcy) <= max) & (qty <= share) &
         (qty * entry + margin <= share);
}

}  // namespace cascade_core
