#include "cascade_core/positions.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "cascade_core/errors.hpp"
#include "cascade_core/radix_sort.hpp"

namespace cascade_core {

namespace {

void check_length(std::size_t expected, std::size_t actual, const char* field) {
  if (actual != expected) {
    throw InputError(field, "length " + std::to_string(actual) + " does not match side length " +
                                std::to_string(expected));
  }
}

[[noreturn]] void reject(const char* field, std::size_t i, const char* rule, double value) {
  throw InputError(field, static_cast<std::ptrdiff_t>(i),
                   std::string(rule) + ", got " + format_value(value));
}

SortedThresholds sort_side(const std::vector<double>& liq, const PositionColumns& columns,
                           std::int8_t wanted_side, bool descending) {
  std::vector<double> keys;
  std::vector<std::uint32_t> members;
  for (std::size_t i = 0; i < liq.size(); ++i) {
    if (columns.side[i] == wanted_side) {
      keys.push_back(liq[i]);
      members.push_back(static_cast<std::uint32_t>(i));
    }
  }
  SortedThresholds sorted;
  sorted.index = radix_sort_indices(keys, members, descending);
  sorted.threshold.resize(sorted.index.size());
  sorted.qty.resize(sorted.index.size());
  for (std::size_t k = 0; k < sorted.index.size(); ++k) {
    sorted.threshold[k] = liq[sorted.index[k]];
    sorted.qty[k] = columns.qty[sorted.index[k]];
  }
  return sorted;
}

}  // namespace

PositionSet::PositionSet(const PositionColumns& columns) : columns_(columns), side_(columns.side) {
  const std::size_t n = columns.side.size();
  check_length(n, columns.qty.size(), "qty");
  check_length(n, columns.entry_price.size(), "entry_price");
  check_length(n, columns.margin.size(), "margin");
  check_length(n, columns.mmr.size(), "mmr");
  check_length(n, columns.maint_amount.size(), "maint_amount");
  if (n >= std::numeric_limits<std::uint32_t>::max()) {
    throw InputError("side", "at most 4,294,967,294 positions per set, got " + std::to_string(n));
  }
  liq_.resize(n);
  bankrupt_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int side = columns.side[i];
    const double qty = columns.qty[i];
    const double entry = columns.entry_price[i];
    const double margin = columns.margin[i];
    const double mmr = columns.mmr[i];
    const double maint = columns.maint_amount[i];
    if (side != 1 && side != -1) reject("side", i, "must be +1 or -1", side);
    if (!std::isfinite(qty) || qty <= 0.0) reject("qty", i, "must be finite and > 0", qty);
    if (!std::isfinite(entry) || entry <= 0.0) {
      reject("entry_price", i, "must be finite and > 0", entry);
    }
    if (!std::isfinite(margin) || margin < 0.0) reject("margin", i, "must be finite and >= 0", margin);
    if (!std::isfinite(mmr) || mmr < 0.0 || mmr >= 1.0) reject("mmr", i, "must be in [0, 1)", mmr);
    if (!std::isfinite(maint)) reject("maint_amount", i, "must be finite", maint);
    const double liq = cascade_core::liquidation_price(side, qty, entry, margin, mmr, maint);
    const double bankrupt = cascade_core::bankruptcy_price(side, qty, entry, margin);
    if (!std::isfinite(liq) || !std::isfinite(bankrupt)) {
      // Finite inputs can still overflow (e.g. qty*entry beyond 1.8e308).
      reject("qty", i, "liquidation price overflows for this position", qty);
    }
    liq_[i] = liq;
    bankrupt_[i] = bankrupt;
  }
}

void PositionSet::prepare() const {
  std::call_once(prepare_once_, [this] {
    longs_ = sort_side(liq_, columns_, 1, /*descending=*/true);
    shorts_ = sort_side(liq_, columns_, -1, /*descending=*/false);
    prepared_ = true;
  });
}

const SortedThresholds& PositionSet::at_risk(Direction direction) const {
  prepare();
  return direction == Direction::down ? longs_ : shorts_;
}

}  // namespace cascade_core
