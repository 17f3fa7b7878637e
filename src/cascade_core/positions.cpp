#include "cascade_core/positions.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

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

// `side_records` holds one side's positions in index order; returns them in trigger order.
// Sorting 8-byte words and then moving each 32-byte record once keeps the random memory
// traffic to one access per position.
SortedThresholds sort_side(const SortedThresholds& side_records, bool descending) {
  const std::uint64_t flip = descending ? ~std::uint64_t{0} : 0;
  const auto order = stable_order(side_records.size(), [&side_records, flip](std::size_t m) {
    return ordered_key(side_records[m].threshold) ^ flip;
  });
  SortedThresholds sorted(side_records.size());
  for (std::size_t k = 0; k < sorted.size(); ++k) sorted[k] = side_records[order[k]];
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
  // Validate first (branchy, stops at the first bad value), then compute in a loop the
  // compiler can vectorise.
  for (std::size_t i = 0; i < n; ++i) {
    const int side = columns.side[i];
    const double qty = columns.qty[i];
    const double entry = columns.entry_price[i];
    const double margin = columns.margin[i];
    const double mmr = columns.mmr[i];
    const double maint = columns.maint_amount[i];
    const bool ok = (side == 1 || side == -1) && std::isfinite(qty) && qty > 0.0 &&
                    std::isfinite(entry) && entry > 0.0 && std::isfinite(margin) && margin >= 0.0 &&
                    std::isfinite(mmr) && mmr >= 0.0 && mmr < 1.0 && std::isfinite(maint);
    if (ok) continue;
    if (side != 1 && side != -1) reject("side", i, "must be +1 or -1", side);
    if (!std::isfinite(qty) || qty <= 0.0) reject("qty", i, "must be finite and > 0", qty);
    if (!std::isfinite(entry) || entry <= 0.0) {
      reject("entry_price", i, "must be finite and > 0", entry);
    }
    if (!std::isfinite(margin) || margin < 0.0) reject("margin", i, "must be finite and >= 0", margin);
    if (!std::isfinite(mmr) || mmr < 0.0 || mmr >= 1.0) reject("mmr", i, "must be in [0, 1)", mmr);
    reject("maint_amount", i, "must be finite", maint);
  }
  liq_.resize(n);
  bankrupt_.resize(n);
  bool overflow = false;
  for (std::size_t i = 0; i < n; ++i) {
    const int side = columns.side[i];
    const double liq = cascade_core::liquidation_price(side, columns.qty[i], columns.entry_price[i],
                                                       columns.margin[i], columns.mmr[i],
                                                       columns.maint_amount[i]);
    const double bankrupt = cascade_core::bankruptcy_price(side, columns.qty[i],
                                                           columns.entry_price[i], columns.margin[i]);
    liq_[i] = liq;
    bankrupt_[i] = bankrupt;
    overflow |= !(std::isfinite(liq) && std::isfinite(bankrupt));
  }
  if (overflow) {
    // Finite inputs can still overflow (e.g. qty*entry beyond 1.8e308).
    for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(liq_[i]) || !std::isfinite(bankrupt_[i])) {
        reject("qty", i, "liquidation price overflows for this position", columns.qty[i]);
      }
    }
  }
}

void PositionSet::prepare() const {
  std::call_once(prepare_once_, [this] {
    // Split the positions by side without a branch per position (sides are unpredictable).
    // Fresh memory is expensive to touch: size both sides exactly (one extra pass over a
    // byte per position) rather than allocating n for each.
    const std::size_t n = size();
    std::size_t total_long = 0;
    for (std::size_t i = 0; i < n; ++i) total_long += side_[i] > 0 ? 1U : 0U;
    SortedThresholds longs(total_long + 1), shorts(n - total_long + 1);  // +1: branchless slack
    std::size_t n_long = 0, n_short = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const AtRisk record{liq_[i], columns_.qty[i], bankrupt_[i], static_cast<std::uint32_t>(i)};
      const bool is_long = side_[i] > 0;
      longs[n_long] = record;
      shorts[n_short] = record;
      n_long += is_long ? 1U : 0U;
      n_short += is_long ? 0U : 1U;
    }
    longs.resize(n_long);
    shorts.resize(n_short);
    longs_ = sort_side(longs, /*descending=*/true);
    shorts_ = sort_side(shorts, /*descending=*/false);
    prepared_ = true;
  });
}

const SortedThresholds& PositionSet::at_risk(Direction direction) const {
  prepare();
  return direction == Direction::down ? longs_ : shorts_;
}

}  // namespace cascade_core
