#include "cascade_core/positions.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
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

constexpr double infinity = std::numeric_limits<double>::infinity();

}  // namespace

PositionSet::PositionSet(const PositionColumns& columns) : columns_(columns) {
  const std::size_t n = columns.side.size();
  check_length(n, columns.qty.size(), "qty");
  check_length(n, columns.entry_price.size(), "entry_price");
  check_length(n, columns.margin.size(), "margin");
  check_length(n, columns.mmr.size(), "mmr");
  check_length(n, columns.maint_amount.size(), "maint_amount");
  if (n >= std::numeric_limits<std::uint32_t>::max()) {
    throw InputError("side", "at most 4,294,967,294 positions per set, got " + std::to_string(n));
  }
  // One pass: compute both prices, check every rule without a branch (a bad value only
  // clears `all_ok`; the first one is found afterwards), and append the record to its side
  // (written to both, kept by one: sides are unpredictable). Both sides are sized exactly
  // (one extra pass over a byte per position): fresh memory is expensive to touch.
  const std::int8_t* side = columns.side.data();
  std::size_t total_long = 0;
  for (std::size_t i = 0; i < n; ++i) total_long += side[i] > 0 ? 1U : 0U;
  SortedThresholds longs(total_long + 1), shorts(n - total_long + 1);  // +1: branchless slack
  std::size_t n_long = 0, n_short = 0;
  bool all_ok = true;
  double long_min = infinity, long_max = -infinity, short_min = infinity, short_max = -infinity;
  for (std::size_t i = 0; i < n; ++i) {
    const int s = side[i];
    const double qty = columns.qty[i], entry = columns.entry_price[i], margin = columns.margin[i];
    const double mmr = columns.mmr[i], maint = columns.maint_amount[i];
    const double liq = cascade_core::liquidation_price(s, qty, entry, margin, mmr, maint);
    const double bankrupt = cascade_core::bankruptcy_price(s, qty, entry, margin);
    // Finite, positive qty and entry, ... written as range checks that are false for NaN.
    const bool ok = ((s == 1) | (s == -1)) & (qty > 0.0) & (qty <= std::numeric_limits<double>::max()) &
                    (entry > 0.0) & (entry <= std::numeric_limits<double>::max()) &
                    (margin >= 0.0) & (margin <= std::numeric_limits<double>::max()) &
                    (mmr >= 0.0) & (mmr < 1.0) & (std::abs(maint) <= std::numeric_limits<double>::max()) &
                    (std::abs(liq) <= std::numeric_limits<double>::max()) &
                    (std::abs(bankrupt) <= std::numeric_limits<double>::max());
    all_ok &= ok;
    const AtRisk record{liq, qty, bankrupt, static_cast<std::uint32_t>(i)};
    const bool is_long = s > 0;
    longs[n_long] = record;
    shorts[n_short] = record;
    n_long += is_long ? 1U : 0U;
    n_short += is_long ? 0U : 1U;
    long_min = std::min(long_min, is_long ? liq : infinity);
    long_max = std::max(long_max, is_long ? liq : -infinity);
    short_min = std::min(short_min, is_long ? infinity : liq);
    short_max = std::max(short_max, is_long ? -infinity : liq);
  }
  if (!all_ok) validate_and_report(n);
  longs.resize(n_long);
  shorts.resize(n_short);
  longs_.records = std::move(longs);
  shorts_.records = std::move(shorts);
  longs_.min_threshold = long_min;
  longs_.max_threshold = long_max;
  shorts_.min_threshold = short_min;
  shorts_.max_threshold = short_max;
}

// Finds the first bad value (the fused pass only knows there is one) and throws.
void PositionSet::validate_and_report(std::size_t n) const {
  const PositionColumns& c = columns_;
  for (std::size_t i = 0; i < n; ++i) {
    const int side = c.side[i];
    const double qty = c.qty[i], entry = c.entry_price[i], margin = c.margin[i];
    const double mmr = c.mmr[i], maint = c.maint_amount[i];
    if (side != 1 && side != -1) reject("side", i, "must be +1 or -1", side);
    if (!std::isfinite(qty) || qty <= 0.0) reject("qty", i, "must be finite and > 0", qty);
    if (!std::isfinite(entry) || entry <= 0.0) reject("entry_price", i, "must be finite and > 0", entry);
    if (!std::isfinite(margin) || margin < 0.0) reject("margin", i, "must be finite and >= 0", margin);
    if (!std::isfinite(mmr) || mmr < 0.0 || mmr >= 1.0) reject("mmr", i, "must be in [0, 1)", mmr);
    if (!std::isfinite(maint)) reject("maint_amount", i, "must be finite", maint);
  }
  // Every value is in its domain, so some price overflowed (e.g. qty*entry beyond 1.8e308).
  for (std::size_t i = 0; i < n; ++i) {
    const int side = c.side[i];
    const double liq = cascade_core::liquidation_price(side, c.qty[i], c.entry_price[i], c.margin[i],
                                                       c.mmr[i], c.maint_amount[i]);
    const double bankrupt = cascade_core::bankruptcy_price(side, c.qty[i], c.entry_price[i], c.margin[i]);
    if (!std::isfinite(liq) || !std::isfinite(bankrupt)) {
      reject("qty", i, "liquidation price overflows for this position", c.qty[i]);
    }
  }
  throw std::logic_error("PositionSet: a bad value was flagged but not found");
}

std::span<const double> PositionSet::liquidation_price() const {
  std::call_once(prices_once_, [this] {
    const std::size_t n = size();
    const PositionColumns& c = columns_;
    liq_.resize(n);
    bankrupt_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      liq_[i] = cascade_core::liquidation_price(c.side[i], c.qty[i], c.entry_price[i], c.margin[i],
                                                c.mmr[i], c.maint_amount[i]);
      bankrupt_[i] = cascade_core::bankruptcy_price(c.side[i], c.qty[i], c.entry_price[i], c.margin[i]);
    }
  });
  return liq_;
}

std::span<const double> PositionSet::bankruptcy_price() const {
  (void)liquidation_price();
  return bankrupt_;
}

void PositionSet::prepare(Direction direction) const {
  const Side& s = side_of(direction);
  std::call_once(s.sort_once, [&s, direction] {
    // Longs trigger by liquidation price descending, shorts ascending; ties by index (the
    // records are in index order and the sort is stable).
    const bool descending = direction == Direction::down;
    const std::uint64_t flip = descending ? ~std::uint64_t{0} : 0;
    if (!s.records.empty()) {
      const std::uint64_t a = ordered_key(s.min_threshold) ^ flip;
      const std::uint64_t b = ordered_key(s.max_threshold) ^ flip;
      stable_sort_records(s.records, std::min(a, b), std::max(a, b),
                          [flip](const AtRisk& r) { return ordered_key(r.threshold) ^ flip; });
    }
    s.sorted.store(true, std::memory_order_release);
  });
}

void PositionSet::prepare() const {
  prepare(Direction::down);
  prepare(Direction::up);
}

bool PositionSet::prepared(Direction direction) const noexcept {
  return side_of(direction).sorted.load(std::memory_order_acquire);
}

const SortedThresholds& PositionSet::at_risk(Direction direction) const {
  prepare(direction);
  return side_of(direction).records;
}

}  // namespace cascade_core
