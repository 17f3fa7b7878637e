// Sampling a study's positions: the population of a scenario as columns (sample_positions),
// or only the side a move triggers straight into trigger records (sample_triggers), in batches
// whose kernels vectorise; sample_position is the one-at-a-time literal form of the stream
// layout, which the batch form is tested against bit for bit.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "cascade_core/bulk_allocator.hpp"
#include "cascade_core/models.hpp"
#include "cascade_core/order_book.hpp"
#include "cascade_core/positions.hpp"

namespace cascade_core {

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
// One drawn position in the engine's terms (an inverse population's: the reciprocal market's
// qty, entry and margin; `side` and `quote_entry` are the contract's side and USD entry).
struct PositionDraw {
  int side = 1;
  double qty = 0.0, entry_price = 0.0, margin = 0.0, mmr = 0.0, maint_amount = 0.0;
  double quote_entry = 0.0;
};

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

// Position j of `scenario`, drawn on its own: the literal form of the layout that
// sample_positions computes in vectorised batches (and what a test checks it against).
PositionDraw sample_position(const PopulationModel& model, double ref_price, std::uint64_t seed,
                             std::uint64_t scenario, std::uint32_t j);

}  // namespace cascade_core
