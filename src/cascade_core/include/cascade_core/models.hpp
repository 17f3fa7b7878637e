// Population, book and shock models of a Monte Carlo study, and their samplers. Every draw
// comes from a counter-based stream (rng.hpp), so scenario i of a study is a pure function of
// (seed, i).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "cascade_core/bulk_allocator.hpp"
#include "cascade_core/cascade.hpp"
#include "cascade_core/order_book.hpp"
#include "cascade_core/positions.hpp"
#include "cascade_core/radix_sort.hpp"

namespace cascade_core {

// Maintenance tiers by notional: tier k covers (floor[k], floor[k+1]], floor[0] == 0.
struct TierTable {
  std::vector<double> notional_floor;
  std::vector<double> mmr;
  std::vector<double> maint_amount;
  // The tier of a notional; a notional on a boundary belongs to the lower tier.
  [[nodiscard]] std::size_t tier_of(double notional) const noexcept;
  void validate() const;  // InputError naming the field
};

struct PopulationModel {
  enum class EntryDistribution { lognormal, student_t, uniform };
  enum class SizeDistribution { pareto, lognormal, fixed };

  std::uint64_t count = 0;
  double long_share = 0.5;
  std::vector<double> leverage;          // values, > 0
  std::vector<double> leverage_weight;   // same length, sum to 1
  EntryDistribution entry_distribution = EntryDistribution::lognormal;
  double entry_spread = 0.0;             // lognormal/student_t: scale of log(entry/ref); uniform: half-width
  double entry_df = 4.0;                 // student_t degrees of freedom
  SizeDistribution size_distribution = SizeDistribution::pareto;
  double size_shape = 1.5;               // pareto tail index (> 1) or lognormal sigma
  double open_interest = 0.0;            // expected total notional
  TierTable tiers;                       // used when non-empty
  double mmr = 0.005;                    // otherwise these
  double maint_amount = 0.0;
  bool exclude_underwater = true;        // redraw positions already past liquidation at ref

  void validate() const;
};

struct BookModel {
  double mid = 0.0;
  double tick = 0.0;
  std::vector<double> profile_distance;   // starts at 0, increasing
  std::vector<double> profile_notional;   // cumulative notional per side, non-decreasing
  double thinning = 0.0;                  // per scenario: depth * (1 - U(0, thinning)), in [0, 1)
  double level_noise = 0.0;               // per level: * exp(sigma Z - sigma^2/2)

  void validate() const;
  [[nodiscard]] bool random() const noexcept { return thinning > 0.0 || level_noise > 0.0; }
};

struct ShockModel {
  enum class Kind { fixed, normal, student_t, empirical };
  Kind kind = Kind::fixed;
  std::vector<double> values;   // fixed (scenario i takes values[i % n]) or empirical (resampled)
  double scale = 0.0;           // normal / student_t
  double df = 3.0;              // student_t

  void validate() const;
};

// Owned columns of a sampled position set (bulk vectors: growing one does not zero-fill what
// the sampler is about to write).
struct PositionSample {
  bulk_vector<std::int8_t> side;
  bulk_vector<double> qty, entry_price, margin, mmr, maint_amount;

  void clear() noexcept;
  void resize(std::size_t n);  // new rows are not initialised
  void reserve(std::size_t n);
  [[nodiscard]] PositionColumns columns() const noexcept {
    return {side, qty, entry_price, margin, mmr, maint_amount};
  }
};

// One sampled position (the row sample_positions would write for it).
struct PositionDraw {
  int side = 1;
  double qty = 0.0, entry_price = 0.0, margin = 0.0, mmr = 0.0, maint_amount = 0.0;
};

double sample_shock(const ShockModel& model, std::uint64_t seed, std::uint64_t scenario);

OrderBook sample_book(const BookModel& model, std::uint64_t seed, std::uint64_t scenario);

// Samples the population of `scenario` into `out` (cleared first). With `only_side` = +1 or
// -1 only the positions of that side are kept (the others are drawn no further: a one-sided
// cascade never reads them); 0 keeps all. Position j's draws depend only on (seed, scenario,
// j), so a one-sided sample is exactly the subset of the full one. `cancel`, when set, stops
// the loop early (the sample is then incomplete).
void sample_positions(const PopulationModel& model, double ref_price, std::uint64_t seed,
                      std::uint64_t scenario, int only_side, PositionSample& out,
                      const std::atomic<bool>* cancel = nullptr);

// The side of a sampled position set that a move in `direction` triggers (longs for down,
// shorts for up), as a study's cascade reads it: per position, in index order until sorted,
// its liquidation price (never -0.0), quantity and bankruptcy price — the values PositionSet
// computes from sample_positions' columns, to the bit — and the range of their
// TriggerOrderKey. `valid` is false when some position is one PositionSet would reject (e.g.
// a price that overflows); the records are then not to be used.
struct TriggerSample {
  bulk_vector<Trigger> records;
  Direction direction = Direction::down;
  std::uint64_t key_lo = 0, key_hi = 0;
  bool valid = true;
};

// sample_positions for the side a move in `direction` triggers, straight into trigger
// records: no columns, no PositionSet. Same draws, same values.
void sample_triggers(const PopulationModel& model, double ref_price, std::uint64_t seed,
                     std::uint64_t scenario, Direction direction, TriggerSample& out,
                     const std::atomic<bool>* cancel = nullptr);

// Sorts the records into trigger order (PositionSet's order for that side: stable, linear time).
void sort_triggers(TriggerSample& sample);

// The same order, put in place as a cascade reaches it (cascade(book, LazyTriggers&, ...)):
// the records are distributed into top-digit buckets (one pass over all), and a bucket is
// sorted in cache when the cascade first needs one of its records; a cascade that stops
// early leaves the buckets beyond it unsorted. `sample` must outlive this and not change.
class TriggerOrder final : public LazyTriggers {
 public:
  explicit TriggerOrder(TriggerSample& sample);
  TriggerOrder(const TriggerOrder&) = delete;  // the sorter points into this object's buckets
  TriggerOrder& operator=(const TriggerOrder&) = delete;
  ~TriggerOrder() = default;
  [[nodiscard]] std::span<const Trigger> records() const noexcept override;
  [[nodiscard]] std::size_t sorted() const noexcept override { return sorted_; }
  std::size_t extend() override;

 private:
  TriggerSample* sample_;
  TopDigit top_{0, 0};
  BucketStarts start_{};
  std::optional<BucketSorter<Trigger, TriggerOrderKey>> sorter_;
  std::size_t next_bucket_ = 0;
  std::size_t sorted_ = 0;
};

// Position j of `scenario`, drawn on its own: the literal form of the layout that
// sample_positions computes in vectorised batches (and what a test checks it against).
PositionDraw sample_position(const PopulationModel& model, double ref_price, std::uint64_t seed,
                             std::uint64_t scenario, std::uint32_t j);

}  // namespace cascade_core
