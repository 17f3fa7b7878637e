// The models of a Monte Carlo study — the population of positions, the book and the shock —
// their validation, and the shock and book samplers. Every draw comes from a counter-based
// stream (rng.hpp), so scenario i of a study is a pure function of (seed, i). The position
// sampler is position_sampler.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cascade_core/margin.hpp"
#include "cascade_core/order_book.hpp"

namespace cascade_core {

// Redraws of a shock <= -1, and of a position already past its liquidation price.
inline constexpr std::uint64_t max_scenario_draws = 64;

struct PopulationModel {
  enum class EntryDistribution { lognormal, student_t, uniform };
  enum class SizeDistribution { pareto, lognormal, fixed };

  std::uint64_t count = 0;
  double long_share = 0.5;
  std::vector<double> leverage;          // values, > 0
  std::vector<double> leverage_weights;   // same length, sum to 1
  EntryDistribution entry_distribution = EntryDistribution::lognormal;
  double entry_spread = 0.0;             // lognormal/student_t: scale of log(entry/ref); uniform: half-width
  double entry_df = 4.0;                 // student_t degrees of freedom
  SizeDistribution size_distribution = SizeDistribution::pareto;
  double size_shape = 1.5;               // pareto tail index (> 1) or lognormal sigma
  double open_interest = 0.0;            // expected total notional
  TierTable tiers;                       // used when non-empty
  double mmr = 0.005;                    // otherwise these
  double maint_amount = 0.0;
  MarginRule margin_rule;                // basis and close fee of every position's requirement
  TierRule tier_rule = TierRule::liquidation;  // (entry basis: always the entry notional's tier)
  // Positions drawn above their tier's max_leverage (tiers.max_leverage) are drawn at it (clip)
  // or kept (ignore); reject is not a sampling rule.
  LeverageLimit leverage_limit = LeverageLimit::clip;
  // 0: linear positions; > 0: an inverse market's, in contracts of this many USD (inverse.hpp):
  // the same draws (side, USD notional, leverage, entry), each position n = notional / size
  // contracts with notional / entry / leverage of coin margin; tiers on the coin notional.
  double inverse_size = 0.0;
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

double sample_shock(const ShockModel& model, std::uint64_t seed, std::uint64_t scenario);

OrderBook sample_book(const BookModel& model, std::uint64_t seed, std::uint64_t scenario);

}  // namespace cascade_core
