#include "cascade_core/positions.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <limits>
#include <string>
#include <utility>

#include "cascade_core/errors.hpp"
#include "cascade_core/inverse.hpp"
#include "cascade_core/radix_sort.hpp"
#include "simd_clones.hpp"

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


// Rows [at, at + m) of every column.
PositionColumns rows(const PositionColumns& c, std::size_t at, std::size_t m) {
  return {c.side.subspan(at, m),   c.qty.subspan(at, m), c.entry_price.subspan(at, m),
          c.margin.subspan(at, m), c.mmr.subspan(at, m), c.maint_amount.subspan(at, m)};
}

// Where a block of the set's own copy of the columns goes (copy_columns).
struct ColumnCopy {
  std::int8_t* __restrict side;
  double* __restrict qty;
  double* __restrict entry;
  double* __restrict margin;
  double* __restrict mmr;
  double* __restrict maint;
};

CASCADE_CORE_SIMD_CLONES
void copy_columns(std::size_t n, const PositionColumns& columns, const ColumnCopy& out) {
  const std::int8_t* __restrict side = columns.side.data();
  const double* __restrict qty = columns.qty.data();
  const double* __restrict entry = columns.entry_price.data();
  const double* __restrict margin = columns.margin.data();
  const double* __restrict mmr = columns.mmr.data();
  const double* __restrict maint = columns.maint_amount.data();
  for (std::size_t i = 0; i < n; ++i) {
    out.side[i] = side[i];
    out.qty[i] = qty[i];
    out.entry[i] = entry[i];
    out.margin[i] = margin[i];
    out.mmr[i] = mmr[i];
    out.maint[i] = maint[i];
  }
}

// Liquidation and bankruptcy prices into `liq` and `bankruptcy`, and whether every position
// is valid: every rule is checked without a branch (written as range checks that are false for
// NaN), so the loop vectorises; the first bad value is found afterwards by the slow path.
CASCADE_CORE_SIMD_CLONES
bool compute_prices(std::size_t n, const PositionColumns& columns, double share, const MarginRule& set_rule,
                    double* __restrict liq, double* __restrict bankruptcy) {
  const MarginRule rule = set_rule;  // (a local: loop-invariant for the vectoriser)
  const std::int8_t* __restrict side = columns.side.data();
  const double* __restrict qty = columns.qty.data();
  const double* __restrict entry = columns.entry_price.data();
  const double* __restrict margin = columns.margin.data();
  const double* __restrict mmr = columns.mmr.data();
  const double* __restrict maint = columns.maint_amount.data();
  int bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double s = side[i];
    const double q = qty[i], e = entry[i], m = margin[i], r = mmr[i], a = maint[i];
    const double price = liquidation_price(s, q, e, m, r, a, rule);
    const double bankrupt = bankruptcy_price(s, q, e, m);
    bad |= position_in_domain(s, q, e, m, r, a, price, bankrupt, share, rule) ? 0 : 1;
    liq[i] = price;
    bankruptcy[i] = bankrupt;
  }
  return bad == 0;
}

}  // namespace

PositionSet::PositionSet(const PositionColumns& columns, bool copy, const MarginRule& rule, double inverse_size)
    : columns_(columns), rule_(rule), inverse_size_(inverse_size) {
  rule.validate();
  if (inverse_size != 0.0) Contract{true, inverse_size}.validate();
  const std::size_t n = columns.side.size();
  check_length(n, columns.qty.size(), "qty");
  check_length(n, columns.entry_price.size(), "entry_price");
  check_length(n, columns.margin.size(), "margin");
  check_length(n, columns.mmr.size(), "mmr");
  check_length(n, columns.maint_amount.size(), "maint_amount");
  if (n >= std::numeric_limits<std::uint32_t>::max()) {
    throw InputError("side", "at most 4,294,967,294 positions per set, got " + std::to_string(n));
  }
  if (copy) {
    // the set's own columns, in recycled buffers, copied in blocks that stay in cache for the
    // pass that computes the prices from them
    own_side_.resize(n);
    for (auto& column : own_) column.resize(n);
    columns_ = {own_side_, own_[0], own_[1], own_[2], own_[3], own_[4]};
  }
  liq_.resize(n);
  bankrupt_.resize(n);
  bool all_ok = true;
  constexpr std::size_t block = 4096;
  for (std::size_t at = 0; at < n; at += block) {
    const std::size_t m = std::min(block, n - at);
    if (copy) {
      copy_columns(m, rows(columns, at, m), {own_side_.data() + at, own_[0].data() + at, own_[1].data() + at,
                                             own_[2].data() + at, own_[3].data() + at, own_[4].data() + at});
    }
    // the set's columns: with copy, the block just written, still in cache
    all_ok &= compute_prices(m, rows(columns_, at, m), sum_bound(n), rule_, liq_.data() + at, bankrupt_.data() + at);
  }
  if (!all_ok) validate_and_report(n);
  // Each side's positions, for its sort: without a branch (sides are unpredictable), every
  // index is written to both lists and kept by one.
  bulk_vector<std::uint32_t> long_index(n + 1), short_index(n + 1);
  std::size_t n_long = 0, n_short = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t is_long = columns.side[i] > 0 ? 1U : 0U;
    long_index[n_long] = static_cast<std::uint32_t>(i);
    short_index[n_short] = static_cast<std::uint32_t>(i);
    n_long += is_long;
    n_short += 1 - is_long;
  }
  long_index.resize(n_long);
  short_index.resize(n_short);
  longs_.index = std::move(long_index);
  shorts_.index = std::move(short_index);
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
    if (!(rule_.price_rate(mmr) < 1.0)) reject("mmr", i, "plus close_fee must be < 1", mmr);
    if (!std::isfinite(maint)) reject("maint_amount", i, "must be finite", maint);
  }
  const double share = sum_bound(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!(c.qty[i] <= share)) {
      reject("qty", i, ("must be <= " + format_value(share) + " (so that sums over the set stay finite)").c_str(), c.qty[i]);
    }
    if (!(c.qty[i] * c.entry_price[i] + c.margin[i] <= share)) {
      reject("qty", i, ("qty * entry_price + margin must be <= " + format_value(share) +
                        " (so that sums over the set stay finite)").c_str(), c.qty[i]);
    }
  }
  // Every value is in its domain, so some price overflowed (e.g. qty*entry beyond 1.8e308).
  for (std::size_t i = 0; i < n; ++i) {
    const int side = c.side[i];
    const double liq = cascade_core::liquidation_price(side, c.qty[i], c.entry_price[i], c.margin[i],
                                                       c.mmr[i], c.maint_amount[i], rule_);
    const double bankrupt = cascade_core::bankruptcy_price(side, c.qty[i], c.entry_price[i], c.margin[i]);
    if (!std::isfinite(liq) || !std::isfinite(bankrupt)) {
      reject("qty", i, "liquidation price overflows for this position", c.qty[i]);
    }
  }
  throw std::logic_error("PositionSet: a bad value was flagged but not found");
}

void PositionSet::distribute(const Side& s, Direction direction) const {
  std::call_once(s.distribute_once, [this, &s, direction] {
    // Longs trigger by liquidation price descending, shorts ascending; ties by index. The
    // side's records are written straight from the columns into their top-digit buckets, in
    // index order; sort_until() then sorts each bucket in cache (radix_sort.hpp).
    const TriggerOrderKey key(direction);
    const std::size_t count = s.index.size();
    SortedThresholds records(count);
    auto start = std::make_unique<BucketStarts>();
    TopDigit top(0, 0);
    if (count > 0) {
      const std::uint32_t* index = s.index.data();
      std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
      for (std::size_t m = 0; m < count; ++m) {
        const std::uint64_t k = key.of(liq_[index[m]]);
        lo = std::min(lo, k);
        hi = std::max(hi, k);
      }
      top = TopDigit(lo, hi);
      std::array<std::uint32_t, top_buckets + 1> per_bucket{};
      for (std::size_t m = 0; m < count; ++m) ++per_bucket[top.bucket(key.of(liq_[index[m]])) + 1];
      BucketStarts& first = *start;
      first[0] = 0;
      for (std::size_t b = 1; b < first.size(); ++b) first[b] = first[b - 1] + per_bucket[b];
      std::array<std::uint32_t, top_buckets> next;
      std::copy(first.begin(), first.end() - 1, next.begin());
      for (std::size_t m = 0; m < count; ++m) {
        const std::uint32_t i = index[m];
        const double liq = liq_[i];
        // liq + 0.0: a -0.0 threshold is kept as +0.0 (the same value), so that the bucket
        // sorts below and the cascade (cascade.cpp, reached()) may read thresholds as bit
        // patterns without folding -0.0 each time.
        records[next[top.bucket(key.of(liq))]++] = {liq + 0.0, columns_.qty[i], bankrupt_[i], i};
      }
    } else {
      start->fill(0);
    }
    s.index = bulk_vector<std::uint32_t>();  // not needed any more
    s.records = std::move(records);
    s.sorter = std::make_unique<BucketSorter<AtRisk, TriggerOrderKey>>(s.records.data(), *start, top, key);
    s.start = std::move(start);
    s.next_bucket = 0;
    s.sorted_count.store(0, std::memory_order_release);
  });
}

std::size_t PositionSet::sort_until(const Side& s, std::size_t want, const std::atomic<bool>* cancel) const {
  const std::lock_guard lock(s.sort_mutex);
  const BucketStarts& start = *s.start;
  std::size_t done = start[s.next_bucket];
  std::size_t step = 0;
  while (s.next_bucket < top_buckets && done < want) {
    if ((step++ & 63) == 0 && cancel != nullptr && cancel->load(std::memory_order_relaxed)) throw Cancelled();
    s.sorter->sort(s.next_bucket);
    ++s.next_bucket;
    done = start[s.next_bucket];
    // published bucket by bucket: a reader may go on as soon as its records are in order
    s.sorted_count.store(done, std::memory_order_release);
  }
  if (s.next_bucket == top_buckets && !s.sorted.load(std::memory_order_relaxed)) {
    s.sorter.reset();  // its scratch buffers are not needed any more
    s.sorted.store(true, std::memory_order_release);
  }
  return done;
}

void PositionSet::prepare(Direction direction, const std::atomic<bool>* cancel) const {
  const Side& s = side_of(direction);
  if (s.sorted.load(std::memory_order_acquire)) return;
  distribute(s, direction);
  // (Cancelled leaves the buckets sorted so far sorted: a later call goes on from there)
  sort_until(s, std::numeric_limits<std::size_t>::max(), cancel);
}

void PositionSet::prepare(const std::atomic<bool>* cancel) const {
  prepare(Direction::down, cancel);
  prepare(Direction::up, cancel);
}

bool PositionSet::prepared(Direction direction) const noexcept {
  return side_of(direction).sorted.load(std::memory_order_acquire);
}

const SortedThresholds& PositionSet::at_risk(Direction direction) const {
  prepare(direction);
  return side_of(direction).records;
}

PositionSet::LazyAtRisk::LazyAtRisk(const PositionSet& set, Direction direction, const std::atomic<bool>* cancel)
    : set_(&set), direction_(direction), cancel_(cancel) {
  set.distribute(set.side_of(direction), direction);
}

std::span<const AtRisk> PositionSet::LazyAtRisk::records() const noexcept {
  const SortedThresholds& records = set_->side_of(direction_).records;
  return {records.data(), records.size()};
}

std::size_t PositionSet::LazyAtRisk::sorted() const noexcept {
  return set_->side_of(direction_).sorted_count.load(std::memory_order_acquire);
}

std::size_t PositionSet::LazyAtRisk::extend() {
  // a few buckets at a time (at least one record, unless none is left): each is sorted in
  // cache right before the cascade reads it
  constexpr std::size_t chunk = 1024;
  const Side& s = set_->side_of(direction_);
  const std::size_t have = s.sorted_count.load(std::memory_order_acquire);
  if (have >= s.records.size()) return have;
  return set_->sort_until(s, have + chunk, cancel_);
}

std::shared_ptr<const void> PositionSet::side_index(
    Direction direction, const std::function<std::shared_ptr<const void>()>& build) const {
  const Side& s = side_of(direction);
  const std::lock_guard lock(s.index_mutex);
  if (!s.derived) s.derived = build();
  return s.derived;
}

Direction PositionSet::stored_direction(Direction direction) const noexcept {
  // an inverse set holds the reciprocal market's positions: a move of the price is the other
  // way for 1/price
  if (inverse_size_ == 0.0) return direction;
  return direction == Direction::down ? Direction::up : Direction::down;
}

std::size_t PositionSet::at_risk_count(Direction direction) const {
  return at_risk(stored_direction(direction)).size();
}

std::size_t PositionSet::past_liquidation(Direction direction, double price) const {
  if (inverse_size_ != 0.0) price = 1.0 / price;  // the reciprocal market's price
  direction = stored_direction(direction);
  const SortedThresholds& records = at_risk(direction);
  // in trigger order: a long is past when price <= its threshold (descending), a short when
  // price >= it (ascending): a prefix either way
  const auto past = [direction, price](const AtRisk& r) {
    return direction == Direction::down ? price <= r.threshold : price >= r.threshold;
  };
  return static_cast<std::size_t>(std::partition_point(records.begin(), records.end(), past) - records.begin());
}

void PositionSet::at_price(double price, const TierTable* tiers, std::span<double> maintenance,
                           std::span<double> equity) const {
  require(std::isfinite(price) && price > 0.0, "price", "must be finite and > 0", price);
  const std::size_t n = size();
  if (maintenance.size() != n || equity.size() != n) throw InputError("price", "output columns of the wrong length");
  const double p = inverse_size_ != 0.0 ? 1.0 / price : price;  // the set's own terms
  const PositionColumns& c = columns_;
  for (std::size_t i = 0; i < n; ++i) {
    const double side = c.side[i], q = c.qty[i], e = c.entry_price[i];
    double mmr = c.mmr[i], maint = c.maint_amount[i];
    if (tiers != nullptr) {
      const std::size_t k = tiers->tier_of(q * p);
      mmr = tiers->mmr[k];
      maint = tiers->maint_amount[k];
    }
    maintenance[i] = maintenance_requirement(q, e, p, mmr, maint, rule_);
    equity[i] = c.margin[i] + side * q * (p - e);
  }
}

}  // namespace cascade_core
