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

// How the maintenance requirement is valued (docs/design.md, "Margin"):
//   MM(p) = mmr * qty * p_basis - maint_amount + close_fee * qty * p,
// with p_basis = p (`mark`: Binance, Hyperliquid, OKX) or the entry price (`entry`: Bybit's
// isolated USDT contracts, BitMEX), and close_fee the taker rate of the closing order on venues
// that count it in maintenance (OKX, Gate, Bybit's unified account; 0 elsewhere).
enum class MarginBasis : std::uint8_t { mark = 0, entry = 1 };

struct MarginRule {
  MarginBasis basis = MarginBasis::mark;
  double close_fee = 0.0;  // in [0, 1)
  // The rate of the requirement that moves with the price: mmr (at mark) plus the close fee.
  [[nodiscard]] double price_rate(double mmr) const noexcept {
    return (basis == MarginBasis::mark ? mmr : 0.0) + close_fee;
  }
  // The part fixed at entry: mmr * notional at entry (entry basis), else 0.
  [[nodiscard]] double entry_term(double mmr, double qty, double entry) const noexcept {
    return basis == MarginBasis::entry ? mmr * (qty * entry) : 0.0;
  }
  // InputError naming `prefix` + close_fee.
  void validate(const std::string& prefix = "") const;
};

// Which tier's (mmr, maint_amount) a position takes: that of its notional at its liquidation
// price (Binance, Hyperliquid: the venue rule, the default at mark basis) or at entry (the rule
// of an entry-basis requirement, and selectable for mark basis).
enum class TierRule : std::uint8_t { liquidation = 0, entry = 1 };

// What a position levered above its tier's max_leverage does: an InputError naming `leverage`,
// its margin raised to the limit, or nothing.
enum class LeverageLimit : std::uint8_t { reject = 0, clip = 1, ignore = 2 };

// Maintenance tiers by notional: tier k covers (floor[k], floor[k+1]], floor[0] == 0.
struct TierTable {
  std::vector<double> notional_floor;
  std::vector<double> mmr;
  std::vector<double> maint_amount;
  std::vector<double> max_leverage;  // per tier, > 0; empty: no limit
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
  // The tier whose (mmr, maint_amount) a position takes under `tier_rule` (see tier_at_liquidation).
  [[nodiscard]] std::size_t tier_for(TierRule tier_rule, double side, double qty, double entry, double margin,
                                     const MarginRule& rule) const noexcept;
  // The tier of a position's notional at its own liquidation price: the lowest tier k whose
  // liquidation notional qty * p_liq(k) is at most the tier's cap notional_floor[k+1] (the last
  // tier has no cap). With a continuous table (maint_amount as continuous_maint_amount gives)
  // this is the unique tier whose liquidation notional lies in its own range: equity minus
  // requirement is monotone in the price, and tier k's line equals the requirement at its cap,
  // so every lower tier's candidate lies above its cap. O(tier + 1). Mark basis only (at entry
  // basis the requirement does not depend on the price: tier_for uses the entry notional).
  [[nodiscard]] std::size_t tier_at_liquidation(double side, double qty, double entry, double margin,
                                                const MarginRule& rule) const noexcept;
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

// The same under a margin rule: equity margin + side*qty*(p - entry) equals
// MM = mmr*qty*p_basis - maint_amount + close_fee*qty*p, i.e.
//   p_liq = (qty*entry - side*(margin + maint_amount - E)) / (qty*(1 - side*R)),
// R = mmr + close_fee at mark basis (close_fee at entry basis), E = mmr*qty*entry at entry basis
// (0 at mark basis). At mark basis without a fee, R = mmr + 0 and E = 0 are exact: the same bits
// as the six-argument form. Entry basis without a fee: entry - side*(margin - MM)/qty (Bybit).
inline double liquidation_price(double side, double qty, double entry, double margin, double mmr,
                                double maint_amount, const MarginRule& rule) noexcept {
  return (qty * entry - side * (margin + maint_amount - rule.entry_term(mmr, qty, entry))) /
         (qty * (1.0 - side * rule.price_rate(mmr)));
}

// The maintenance requirement of a position of `qty` at price p under a rule.
inline double maintenance_requirement(double qty, double entry, double price, double mmr, double maint_amount,
                                      const MarginRule& rule) noexcept {
  const double basis = rule.basis == MarginBasis::mark ? price : entry;
  return mmr * qty * basis - maint_amount + rule.close_fee * qty * price;
}

// Price at which the position's equity is zero: entry -/+ margin/qty.
inline double bankruptcy_price(double side, double qty, double entry, double margin) noexcept {
  return entry - side * (margin / qty);
}

// InputError naming tier_rule when it cannot apply to the rule (liquidation with an entry basis),
// and naming `mmr_field` when a rate of `mmr` plus the close fee reaches 1.
void check_margin_rules(const MarginRule& rule, TierRule tier_rule, std::span<const double> mmr,
                        const std::string& mmr_field);

// A margin within a leverage cap: notional / margin above `cap` (by more than a relative 1e-9, so
// that a margin computed as notional / cap is within it; a margin of 0 is infinitely levered).
inline bool above_leverage_cap(double notional, double margin, double cap) noexcept {
  return notional > margin * cap * (1.0 + 1e-9);
}

// Gives each position of a set its tier's (mmr, maint_amount) under `tier_rule`, and applies the
// table's max_leverage to its leverage qty*entry/margin at entry (the tier of its entry notional,
// as venues cap the leverage of a new position): `reject` throws InputError naming `leverage`
// and the first such position, `clip` raises its margin to qty*entry/max_leverage, `ignore`
// leaves it. TierRule::liquidation with an entry-basis rule is an InputError naming tier_rule.
// Rows that are not valid positions get some tier; PositionSet names their bad value. Returns
// how many margins were clipped.
std::size_t assign_tiers(const TierTable& table, std::span<const std::int8_t> side, std::span<const double> qty,
                         std::span<const double> entry, std::span<const double> margin, const MarginRule& rule,
                         TierRule tier_rule, LeverageLimit limit, std::span<double> out_mmr,
                         std::span<double> out_maint, std::span<double> out_margin);

// The largest quantity, and notional plus margin, a position of a set of n may have: n of them
// sum to at most half the largest double, so no total over the set (quantities, fill value, bad
// debt) can overflow.
inline double sum_bound(std::size_t n) noexcept {
  return std::numeric_limits<double>::max() / 2.0 / static_cast<double>(n > 0 ? n : 1);
}

// Whether a position, with its liquidation and bankruptcy prices, is one the engine accepts in a
// set whose sum_bound is `share`: side +-1, qty and entry finite and > 0, margin finite and >= 0,
// mmr in [0, 1) and the rule's moving rate (mmr + close_fee at mark basis) below 1, maint_amount
// finite, both prices finite, qty and notional plus margin within the share. Written as range
// checks that are false for NaN, without a branch, so that the loops calling it vectorise;
// PositionSet reports the first failing rule by field.
inline bool position_in_domain(double side, double qty, double entry, double margin, double mmr,
                               double maint_amount, double liquidation, double bankruptcy,
                               double share, const MarginRule& rule = {}) noexcept {
  constexpr double max = std::numeric_limits<double>::max();
  return ((side == 1.0) | (side == -1.0)) & (qty > 0.0) & (qty <= max) & (entry > 0.0) & (entry <= max) &
         (margin >= 0.0) & (margin <= max) & (mmr >= 0.0) & (mmr < 1.0) & (rule.price_rate(mmr) < 1.0) &
         (std::abs(maint_amount) <= max) &
         (std::abs(liquidation) <= max) & (std::abs(bankruptcy) <= max) & (qty <= share) &
         (qty * entry + margin <= share);
}

}  // namespace cascade_core
