#include "cascade_core/position_sampler.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "cascade_core/det_math.hpp"
#include "cascade_core/errors.hpp"
#include "cascade_core/radix_sort.hpp"
#include "cascade_core/rng.hpp"
#include "simd_clones.hpp"

namespace cascade_core {

void PositionSample::clear() noexcept { resize(0); }

void PositionSample::resize(std::size_t n) {
  side.resize(n);
  qty.resize(n);
  entry_price.resize(n);
  margin.resize(n);
  mmr.resize(n);
  maint_amount.resize(n);
}

void PositionSample::reserve(std::size_t n) {
  side.reserve(n);
  qty.reserve(n);
  entry_price.reserve(n);
  margin.reserve(n);
  mmr.reserve(n);
  maint_amount.reserve(n);
}

// ---- positions: stream layout 2 -----------------------------------------------------------
//
// Position j of a scenario:
//  - side: word j % 4 of the block {j / 4, side << 24, scenario} — long when that word's
//    uniform32 < long_share (four positions per block: most of a study's positions are only
//    asked their side).
//  - the block {j, position << 24 | a, scenario} for attempt a = 0, 1, ... (an attempt is
//    redrawn while exclude_underwater finds the position past its liquidation price at the
//    reference, up to 64 times): word 0 chooses the leverage (uniform32 against the
//    cumulative weights); 48-bit uniforms U_size = (w1, high half of w3) and
//    U_entry = (w2, low half of w3). The size is drawn on attempt 0 only:
//    Pareto size_scale * U_size^(-1/shape) (as exp(log U * -1/shape)), lognormal
//    size_scale * exp(shape * Phi^-1(U_size) - shape^2/2), or fixed; the tier follows from it.
//    The entry is ref * exp(spread * Phi^-1(U_entry)) (lognormal) or
//    ref * (1 + spread * (2 U_entry - 1)) (uniform); a Student-t entry draws
//    ref * exp(spread * T) from the stream {j, entry << 24, scenario} instead, attempts one
//    after the other.
// Every exp/log is det_math's, so the draws are the same bits everywhere; the batch sampler
// below computes exactly this for many positions at once (tests/cpp checks it against
// sample_position, the one-at-a-time form).

namespace {

struct Sizing {
  double size_scale;       // expected notional per position, over the size law's mean
  double neg_inv_shape;    // Pareto: -1/shape
  double lognormal_shift;  // -shape^2/2
  std::vector<double> cumulative;  // leverage weights, cumulated
  // The leverage choice in integers: uniform32(w) = w 2^-32 >= cumulative[t] exactly when
  // w >= ceil(cumulative[t] 2^32) (the scaling is exact); weights that no w reaches are left out.
  std::vector<std::uint32_t> leverage_floor;

  explicit Sizing(const PopulationModel& model) {
    using Size = PopulationModel::SizeDistribution;
    size_scale = model.open_interest / static_cast<double>(model.count == 0 ? 1 : model.count);
    if (model.size_distribution == Size::pareto) {
      size_scale *= (model.size_shape - 1.0) / model.size_shape;  // mean of U^(-1/a) is a/(a-1)
    }
    neg_inv_shape = -1.0 / model.size_shape;
    lognormal_shift = -0.5 * model.size_shape * model.size_shape;
    cumulative.resize(model.leverage_weights.size());
    double running = 0.0;
    for (std::size_t k = 0; k < cumulative.size(); ++k) cumulative[k] = running += model.leverage_weights[k];
    for (std::size_t t = 0; t + 1 < cumulative.size(); ++t) {
      const double w = std::ceil(cumulative[t] * 0x1p32);
      if (!(w <= 4294967295.0)) break;  // cumulative weights never decrease: the rest are out too
      leverage_floor.push_back(static_cast<std::uint32_t>(w));
    }
  }
};

// The leverage bucket of a uniform32: how many cumulative weights (but the last) it reaches.
std::size_t leverage_choice(double u, const std::vector<double>& cumulative) noexcept {
  std::size_t k = 0;
  for (std::size_t t = 0; t + 1 < cumulative.size(); ++t) k += u >= cumulative[t] ? 1 : 0;
  return k;
}

double size_of(const PopulationModel& model, const Sizing& sizing, double u_size) noexcept {
  using Size = PopulationModel::SizeDistribution;
  switch (model.size_distribution) {
    case Size::pareto: return sizing.size_scale * det_exp(det_log(u_size) * sizing.neg_inv_shape);
    case Size::lognormal:
      return sizing.size_scale *
             det_exp(model.size_shape * inverse_normal_cdf(u_size) + sizing.lognormal_shift);
    case Size::fixed: break;
  }
  return sizing.size_scale;
}

// Whether a population's positions take the tier of their notional at the liquidation price.
bool resolves_at_liquidation(const PopulationModel& model) noexcept {
  return !model.tiers.notional_floor.empty() && model.tier_rule == TierRule::liquidation &&
         model.margin_rule.basis == MarginBasis::mark;
}

// A drawn margin raised to its tier's max_leverage when above it.
double capped_margin(const TierTable& tiers, double notional, double margin, std::size_t tier) noexcept {
  const double cap = tiers.max_leverage[tier];
  return above_leverage_cap(notional, margin, cap) ? notional / cap : margin;
}

bool live(int side, double liq, double ref_price) noexcept {
  return side > 0 ? liq < ref_price : liq > ref_price;
}

// An inverse population's positions live in the reciprocal market (inverse.hpp): the side a
// formula reads (the contract's, flipped) and the reference price there (1 / p_ref).
double formula_side(const PopulationModel& model, double side) noexcept {
  return model.inverse_size != 0.0 ? -side : side;
}
double formula_ref(const PopulationModel& model, double ref_price) noexcept {
  return model.inverse_size != 0.0 ? 1.0 / ref_price : ref_price;
}

// A drawn linear position (qty = notional / entry, margin = notional / leverage) as an inverse
// market's, in the reciprocal market's terms and with the operations Positions(contract=
// "inverse") applies to the contract columns the sampler emits (notional / size contracts, the
// entry): qty (notional / size) * size, entry 1 / entry, margin the coin notional / leverage.
void to_reciprocal(double size, double notional, double leverage, double& qty, double& entry, double& margin) noexcept {
  qty = (notional / size) * size;
  entry = 1.0 / entry;
  margin = qty * entry / leverage;
}

PositionDraw draw_position(const PopulationModel& model, const Sizing& sizing, double ref_price,
                           std::uint64_t seed, std::uint64_t scenario, std::uint32_t j, int side) {
  using Entry = PopulationModel::EntryDistribution;
  const PhiloxKey key = philox_key(seed);
  const auto sc_lo = static_cast<std::uint32_t>(scenario), sc_hi = static_cast<std::uint32_t>(scenario >> 32);
  const std::uint32_t purpose = static_cast<std::uint32_t>(Purpose::position) << 24;
  PositionDraw d;
  d.side = side;
  double notional = 0.0;
  std::size_t entry_tier = 0;
  std::optional<Stream> t_stream;
  if (model.entry_distribution == Entry::student_t) t_stream.emplace(seed, scenario, Purpose::entry, j);
  for (std::uint32_t attempt = 0; attempt < max_scenario_draws; ++attempt) {
    const PhiloxCounter w = philox4x32_10({j, purpose | attempt, sc_lo, sc_hi}, key);
    if (attempt == 0) {
      notional = size_of(model, sizing, open_unit_from_u48(w[1], w[3] >> 16));
      d.mmr = model.mmr;
      d.maint_amount = model.maint_amount;
      if (!model.tiers.notional_floor.empty()) {
        entry_tier = model.tiers.tier_of(notional);
        d.mmr = model.tiers.mmr[entry_tier];
        d.maint_amount = model.tiers.maint_amount[entry_tier];
      }
    }
    const double leverage = model.leverage[leverage_choice(unit_from_u32(w[0]), sizing.cumulative)];
    const double u_entry = open_unit_from_u48(w[2], w[3]);
    switch (model.entry_distribution) {
      case Entry::lognormal: d.entry_price = ref_price * det_exp(model.entry_spread * inverse_normal_cdf(u_entry)); break;
      case Entry::uniform: d.entry_price = ref_price * (1.0 + model.entry_spread * (2.0 * u_entry - 1.0)); break;
      case Entry::student_t:
        d.entry_price = ref_price * det_exp(model.entry_spread * t_stream->student_t(model.entry_df));
        break;
    }
    d.qty = notional / d.entry_price;
    d.margin = notional / leverage;
    d.quote_entry = d.entry_price;
    double tier_notional = notional;
    std::size_t tier = entry_tier;
    if (model.inverse_size != 0.0) {  // the reciprocal market's terms; tiers on the coin notional
      to_reciprocal(model.inverse_size, notional, leverage, d.qty, d.entry_price, d.margin);
      if (!model.tiers.notional_floor.empty()) {
        tier_notional = d.qty * d.entry_price;
        tier = model.tiers.tier_of(tier_notional);
        d.mmr = model.tiers.mmr[tier];
        d.maint_amount = model.tiers.maint_amount[tier];
      }
    }
    const double fs = formula_side(model, side);
    if (!model.tiers.max_leverage.empty() && model.leverage_limit == LeverageLimit::clip) {
      d.margin = capped_margin(model.tiers, tier_notional, d.margin, tier);
    }
    if (resolves_at_liquidation(model)) {
      const std::size_t k = model.tiers.tier_at_liquidation(fs, d.qty, d.entry_price, d.margin, model.margin_rule);
      d.mmr = model.tiers.mmr[k];
      d.maint_amount = model.tiers.maint_amount[k];
    }
    if (!model.exclude_underwater) break;
    if (live(static_cast<int>(fs),
             liquidation_price(fs, d.qty, d.entry_price, d.margin, d.mmr, d.maint_amount, model.margin_rule),
             formula_ref(model, ref_price))) {
      break;
    }
  }
  return d;
}

constexpr std::size_t batch = 256;  // positions per batch
static_assert(batch % (4 * philox_max_width) == 0, "a batch's position and side counters fill whole Philox vectors");

// A batch of positions in columns. Every kernel below computes, lane by lane, exactly what
// draw_position computes (same operations in the same order), without a branch, so that
// its loops vectorise.
struct BatchColumns {
  std::array<std::uint32_t, batch + 8> item;  // (select_items writes up to 8 past the last)
  std::array<std::uint32_t, batch> w0, w1, w2, w3;
  std::array<double, batch + 8> side;  // (as item)
  std::array<double, batch> notional, leverage, entry, qty, margin, mmr, maint, liq;
  std::array<std::uint32_t, batch> tier;  // the tier of the drawn notional (with tiers)
  std::array<double, batch> quote_entry;  // the drawn entry price (an inverse population's `entry` is 1 / it)
  std::array<double, batch> u, z;  // scratch: uniforms and their normal quantiles
};

// Standard normal quantiles of u[0, m) into z: the central form vectorised over all, then
// the tail form where needed (about 5 % of draws), one at a time.
CASCADE_CORE_SIMD_CLONES
void normal_quantiles(std::size_t m, const double* __restrict u, double* __restrict z) noexcept {
  for (std::size_t i = 0; i < m; ++i) z[i] = inverse_normal_central(u[i]);
  for (std::size_t i = 0; i < m; ++i) {
    if (normal_tail(u[i])) z[i] = inverse_normal_tail(u[i]);
  }
}

// Attempt 0's size and maintenance terms (w1, w3 -> notional, mmr, maint).
CASCADE_CORE_SIMD_CLONES
void draw_sizes(std::size_t m, const PopulationModel& model, const Sizing& sizing, BatchColumns& b) {
  using Size = PopulationModel::SizeDistribution;
  std::array<double, batch>& u = b.u;
  for (std::size_t i = 0; i < m; ++i) u[i] = open_unit_from_u48(b.w1[i], b.w3[i] >> 16);
  const double scale = sizing.size_scale;
  if (model.size_distribution == Size::pareto) {
    const double e = sizing.neg_inv_shape;
    for (std::size_t i = 0; i < m; ++i) b.notional[i] = scale * det_exp(det_log(u[i]) * e);
  } else if (model.size_distribution == Size::lognormal) {
    std::array<double, batch>& z = b.z;
    normal_quantiles(m, u.data(), z.data());
    const double shape = model.size_shape, shift = sizing.lognormal_shift;
    for (std::size_t i = 0; i < m; ++i) b.notional[i] = scale * det_exp(shape * z[i] + shift);
  } else {
    for (std::size_t i = 0; i < m; ++i) b.notional[i] = scale;
  }
  if (model.tiers.notional_floor.empty()) {
    for (std::size_t i = 0; i < m; ++i) {
      b.mmr[i] = model.mmr;
      b.maint[i] = model.maint_amount;
    }
    return;
  }
  // k = how many floors a notional is above (its tier is k - 1, or 0). Floors increase, so
  // once none of the batch is above one, none is above the next: stop there (sizes are
  // heavy-tailed, and most batches need the first two floors only).
  std::array<std::uint32_t, batch> k{};
  const std::vector<double>& floors = model.tiers.notional_floor;
  std::size_t used = 0;
  for (; used < floors.size(); ++used) {
    const double f = floors[used];
    std::uint32_t any = 0;
    for (std::size_t i = 0; i < m; ++i) {
      const std::uint32_t above = f < b.notional[i] ? 1U : 0U;
      k[i] += above;
      any |= above;
    }
    if (any == 0) break;
  }
  // tier k - 1 (or 0) without a gather: each tier that occurs overwrites the lower ones
  const double* const tier_mmr = model.tiers.mmr.data();
  const double* const tier_maint = model.tiers.maint_amount.data();
  for (std::size_t i = 0; i < m; ++i) {
    b.mmr[i] = tier_mmr[0];
    b.maint[i] = tier_maint[0];
    b.tier[i] = k[i] > 0 ? k[i] - 1 : 0;
  }
  for (std::size_t t = 1; t < used; ++t) {
    const double r = tier_mmr[t], a = tier_maint[t];
    for (std::size_t i = 0; i < m; ++i) {
      b.mmr[i] = k[i] > t ? r : b.mmr[i];
      b.maint[i] = k[i] > t ? a : b.maint[i];
    }
  }
}

// A drawn position's margin within its tier's max_leverage (clip), its tier at the liquidation
// price (TierRule::liquidation, mark basis) and its liquidation price: what draw_position does
// for one position, for a batch (the same operations in the same order).
CASCADE_CORE_SIMD_CLONES
void apply_margin_rules(std::size_t m, const PopulationModel& model, BatchColumns& b) {
  const TierTable& tiers = model.tiers;
  const MarginRule rule = model.margin_rule;
  const double sign = model.inverse_size != 0.0 ? -1.0 : 1.0;  // formula_side, hoisted
  for (std::size_t i = 0; i < m; ++i) b.quote_entry[i] = b.entry[i];
  // an inverse population: the reciprocal market's terms, tiers on the coin notional at entry
  std::array<double, batch> tier_notional;
  for (std::size_t i = 0; i < m; ++i) tier_notional[i] = b.notional[i];
  if (model.inverse_size != 0.0) {
    for (std::size_t i = 0; i < m; ++i) {
      to_reciprocal(model.inverse_size, b.notional[i], b.leverage[i], b.qty[i], b.entry[i], b.margin[i]);
      tier_notional[i] = b.qty[i] * b.entry[i];
    }
    if (!tiers.notional_floor.empty()) {
      for (std::size_t i = 0; i < m; ++i) {
        const std::size_t k = tiers.tier_of(tier_notional[i]);
        b.tier[i] = static_cast<std::uint32_t>(k);
        b.mmr[i] = tiers.mmr[k];
        b.maint[i] = tiers.maint_amount[k];
      }
    }
  }
  if (!tiers.max_leverage.empty() && model.leverage_limit == LeverageLimit::clip) {
    for (std::size_t i = 0; i < m; ++i) b.margin[i] = capped_margin(tiers, tier_notional[i], b.margin[i], b.tier[i]);
  }
  if (resolves_at_liquidation(model)) {
    // TierTable::tier_at_liquidation, its first step for every lane at once (most positions are
    // in the first tier: the same operations, vectorised), the scan from there for the rest
    const double r0 = tiers.mmr[0], a0 = tiers.maint_amount[0];
    const double cap0 = tiers.notional_floor.size() > 1 ? tiers.notional_floor[1]
                                                         : std::numeric_limits<double>::infinity();
    std::array<std::uint8_t, batch> beyond;
    for (std::size_t i = 0; i < m; ++i) {
      const double p = liquidation_price(sign * b.side[i], b.qty[i], b.entry[i], b.margin[i], r0, a0, rule);
      b.mmr[i] = r0;
      b.maint[i] = a0;
      beyond[i] = b.qty[i] * p <= cap0 ? 0 : 1;
    }
    for (std::size_t i = 0; i < m; ++i) {
      if (beyond[i] == 0) continue;
      const std::size_t k = tiers.tier_at_liquidation(sign * b.side[i], b.qty[i], b.entry[i], b.margin[i], rule);
      b.mmr[i] = tiers.mmr[k];
      b.maint[i] = tiers.maint_amount[k];
    }
  }
  for (std::size_t i = 0; i < m; ++i) {
    b.liq[i] = liquidation_price(sign * b.side[i], b.qty[i], b.entry[i], b.margin[i], b.mmr[i], b.maint[i], rule);
  }
}

// One attempt's leverage and entry (w0, w2, w3) and the resulting position and liquidation
// price, for a lognormal or uniform entry.
CASCADE_CORE_SIMD_CLONES
void draw_terms(std::size_t m, const PopulationModel& model, const Sizing& sizing, double ref_price,
                BatchColumns& b) {
  using Entry = PopulationModel::EntryDistribution;
  std::array<double, batch>& u = b.u;
  std::array<std::uint32_t, batch> k{};
  for (const std::uint32_t f : sizing.leverage_floor) {  // leverage_choice, in integers
    for (std::size_t i = 0; i < m; ++i) k[i] += b.w0[i] >= f ? 1U : 0U;
  }
  const double* const leverage = model.leverage.data();
  for (std::size_t i = 0; i < m; ++i) b.leverage[i] = leverage[k[i]];
  for (std::size_t i = 0; i < m; ++i) u[i] = open_unit_from_u48(b.w2[i], b.w3[i]);
  const double spread = model.entry_spread;
  if (model.entry_distribution == Entry::uniform) {
    for (std::size_t i = 0; i < m; ++i) b.entry[i] = ref_price * (1.0 + spread * (2.0 * u[i] - 1.0));
  } else {
    std::array<double, batch>& z = b.z;
    normal_quantiles(m, u.data(), z.data());
    for (std::size_t i = 0; i < m; ++i) b.entry[i] = ref_price * det_exp(spread * z[i]);
  }
  for (std::size_t i = 0; i < m; ++i) {
    b.qty[i] = b.notional[i] / b.entry[i];
    b.margin[i] = b.notional[i] / b.leverage[i];
  }
  apply_margin_rules(m, model, b);
}

// For each byte, the positions of its set bits, lowest first (the rest 0).
constexpr std::array<std::array<std::uint8_t, 8>, 256> set_bit_positions = [] {
  std::array<std::array<std::uint8_t, 8>, 256> table{};
  for (std::size_t byte = 0; byte < 256; ++byte) {
    std::size_t k = 0;
    for (std::uint8_t bit = 0; bit < 8; ++bit) {
      if ((byte >> bit & 1U) != 0) table[byte][k++] = bit;
    }
  }
  return table;
}();

// The positions of the side asked for (only_side +1 or -1; 0: all) among items j0 .. j0 + n - 1,
// in index order, with their sides: item j is long when word j % 4 of side block j / 4 (in
// columns s0..s3) is below long_threshold (w * 2^-32 < long_share exactly then). 64 items at a
// time: their long bits in one word, then eight at a time, the kept ones' positions from a
// table: eight items written, as many kept as the byte has bits — no branch on a side (they
// are unpredictable). Writes up to 8 items past the last kept one. Returns how many were kept.
CASCADE_CORE_SIMD_CLONES
std::size_t select_items(std::size_t n, std::uint64_t j0, const std::uint32_t* s0, const std::uint32_t* s1,
                         const std::uint32_t* s2, const std::uint32_t* s3, std::uint64_t long_threshold,
                         int only_side, std::uint32_t* __restrict item, double* __restrict side) noexcept {
  std::size_t m = 0;
  for (std::size_t q0 = 0; 4 * q0 < n; q0 += 16) {
    std::uint64_t longs = 0;
    for (std::size_t q = 0; q < 16; ++q) {
      const std::uint64_t bits = std::uint64_t{s0[q0 + q] < long_threshold} |
                                 std::uint64_t{s1[q0 + q] < long_threshold} << 1 |
                                 std::uint64_t{s2[q0 + q] < long_threshold} << 2 |
                                 std::uint64_t{s3[q0 + q] < long_threshold} << 3;
      longs |= bits << (4 * q);
    }
    const std::size_t in_group = std::min<std::size_t>(64, n - 4 * q0);
    const std::uint64_t valid = in_group == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << in_group) - 1;
    const std::uint64_t keep = (only_side > 0 ? longs : (only_side < 0 ? ~longs : ~std::uint64_t{0})) & valid;
    const auto base = static_cast<std::uint32_t>(j0 + 4 * q0);
    for (std::uint32_t at = 0; at < 64; at += 8) {
      const auto byte = static_cast<std::size_t>(keep >> at & 0xFFU);
      const std::array<std::uint8_t, 8>& offset = set_bit_positions[byte];
      for (std::size_t t = 0; t < 8; ++t) item[m + t] = base + at + offset[t];
      if (only_side == 0) {
        for (std::size_t t = 0; t < 8; ++t) side[m + t] = (longs >> (at + offset[t]) & 1U) != 0 ? 1.0 : -1.0;
      }
      m += static_cast<std::size_t>(std::popcount(byte));
    }
  }
  if (only_side != 0) std::fill(side, side + m, only_side > 0 ? 1.0 : -1.0);
  return m;
}

}  // namespace

PositionDraw sample_position(const PopulationModel& model, double ref_price, std::uint64_t seed,
                             std::uint64_t scenario, std::uint32_t j) {
  const Sizing sizing(model);
  const std::uint32_t purpose = static_cast<std::uint32_t>(Purpose::side) << 24;
  const PhiloxCounter w = philox4x32_10({j >> 2, purpose, static_cast<std::uint32_t>(scenario),
                                         static_cast<std::uint32_t>(scenario >> 32)},
                                        philox_key(seed));
  const int side = unit_from_u32(w[j & 3]) < model.long_share ? 1 : -1;
  return draw_position(model, sizing, ref_price, seed, scenario, j, side);
}

namespace {

// The batch loop of sample_positions and sample_triggers: the kept positions of `only_side`
// (0: all), a batch at a time, in index order; for each batch, `emit(m, b)` gets the final
// draws of its m positions in b's columns (side, qty, entry, margin, mmr, maint, liq). Stops
// early when cancelled.
template <class Emit>
void sample_batches(const PopulationModel& model, double ref_price, std::uint64_t seed,
                    std::uint64_t scenario, int only_side, const std::atomic<bool>* cancel,
                    Emit&& emit) {
  const Sizing sizing(model);
  const PhiloxKey key = philox_key(seed);
  const auto sc_lo = static_cast<std::uint32_t>(scenario), sc_hi = static_cast<std::uint32_t>(scenario >> 32);
  const std::uint32_t side_purpose = static_cast<std::uint32_t>(Purpose::side) << 24;
  const std::uint32_t position_purpose = static_cast<std::uint32_t>(Purpose::position) << 24;
  const bool student = model.entry_distribution == PopulationModel::EntryDistribution::student_t;
  const auto long_threshold = static_cast<std::uint64_t>(std::ceil(model.long_share * 0x1p32));
  // r: the positions being redrawn, compacted. Zeroed once: Philox runs over whole vectors
  // (`padded`), so items past the last one are read (and their words ignored).
  BatchColumns b{}, r{};
  const std::size_t width = philox_width();
  const auto padded = [width](std::size_t count) { return (count + width - 1) / width * width; };
  std::array<std::uint32_t, batch> lane;
  std::array<std::uint32_t, batch / 4> side_item{};
  std::array<std::uint32_t, batch / 4> s0{}, s1{}, s2{}, s3{};  // (select_items reads whole groups of 16)
  for (std::uint64_t j0 = 0; j0 < model.count; j0 += batch) {
    if (cancel != nullptr && (j0 & 0xFFFF) == 0 && cancel->load(std::memory_order_relaxed)) return;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(batch, model.count - j0));
    // sides, four per block
    const std::size_t blocks = (n + 3) / 4;
    for (std::size_t q = 0; q < blocks; ++q) side_item[q] = static_cast<std::uint32_t>((j0 >> 2) + q);
    philox_blocks(padded(blocks), side_item.data(), side_purpose, sc_lo, sc_hi, key, s0.data(), s1.data(),
                  s2.data(), s3.data());
    const std::size_t m = select_items(n, j0, s0.data(), s1.data(), s2.data(), s3.data(),
                                       long_threshold, only_side, b.item.data(), b.side.data());
    if (m == 0) continue;
    philox_blocks(padded(m), b.item.data(), position_purpose, sc_lo, sc_hi, key, b.w0.data(), b.w1.data(),
                  b.w2.data(), b.w3.data());
    draw_sizes(m, model, sizing, b);
    if (student) {
      // Student-t entries: one position at a time (a rejection method draws them)
      for (std::size_t i = 0; i < m; ++i) {
        const int side = static_cast<int>(b.side[i]);
        const PositionDraw d = draw_position(model, sizing, ref_price, seed, scenario, b.item[i], side);
        b.qty[i] = d.qty;
        b.entry[i] = d.entry_price;
        b.margin[i] = d.margin;
        b.mmr[i] = d.mmr;
        b.maint[i] = d.maint_amount;
        b.quote_entry[i] = d.quote_entry;
        b.liq[i] = liquidation_price(formula_side(model, side), d.qty, d.entry_price, d.margin, d.mmr, d.maint_amount,
                                     model.margin_rule);
      }
    } else {
      draw_terms(m, model, sizing, ref_price, b);
      // Positions already past their liquidation price at the reference: the next attempt,
      // for those only (compacted into `r`), until none is left or 64 attempts are made.
      if (model.exclude_underwater) {
        std::size_t left = 0;
        for (std::size_t i = 0; i < m; ++i) {
          const bool dead = !live(static_cast<int>(formula_side(model, b.side[i])), b.liq[i], formula_ref(model, ref_price));
          lane[left] = static_cast<std::uint32_t>(i);
          left += dead ? 1 : 0;
        }
        for (std::uint32_t attempt = 1; left > 0 && attempt < max_scenario_draws; ++attempt) {
          for (std::size_t q = 0; q < left; ++q) {
            const std::uint32_t i = lane[q];
            r.item[q] = b.item[i];
            r.side[q] = b.side[i];
            r.notional[q] = b.notional[i];
            r.mmr[q] = b.mmr[i];
            r.maint[q] = b.maint[i];
            r.tier[q] = b.tier[i];
          }
          philox_blocks(padded(left), r.item.data(), position_purpose | attempt, sc_lo, sc_hi, key,
                        r.w0.data(), r.w1.data(), r.w2.data(), r.w3.data());
          draw_terms(left, model, sizing, ref_price, r);
          std::size_t still = 0;
          for (std::size_t q = 0; q < left; ++q) {
            const std::uint32_t i = lane[q];
            b.qty[i] = r.qty[q];
            b.entry[i] = r.entry[q];
            b.margin[i] = r.margin[q];
            b.mmr[i] = r.mmr[q];
            b.maint[i] = r.maint[q];
            b.liq[i] = r.liq[q];
            b.quote_entry[i] = r.quote_entry[q];
            b.tier[i] = r.tier[q];
            lane[still] = i;
            still += live(static_cast<int>(formula_side(model, r.side[q])), r.liq[q], formula_ref(model, ref_price)) ? 0 : 1;
          }
          left = still;
        }
      }
    }
    emit(m, static_cast<const BatchColumns&>(b));
  }
}

// Expected output size: the side's share of the count, and a little more.
std::size_t expected_size(const PopulationModel& model, int only_side) noexcept {
  const double share = only_side == 0 ? 1.0 : (only_side > 0 ? model.long_share : 1.0 - model.long_share);
  return static_cast<std::size_t>(static_cast<double>(model.count) * share * 1.01) + batch;
}

// A batch's trigger records into `out` (what PositionSet's construction and sort compute from
// the columns: margin.hpp's prices, -0.0 stored as +0.0, keys as its sort's), widening [lo, hi]
// to their keys. Returns whether every position is one PositionSet accepts in a set of the
// population's count (position_in_domain with that set's `share`).
CASCADE_CORE_SIMD_CLONES
bool append_triggers(std::size_t m, const BatchColumns& b, const TriggerOrderKey& key, double share,
                     const MarginRule& rule, double side_sign, Trigger* __restrict out, std::uint64_t& lo,
                     std::uint64_t& hi) noexcept {
  std::array<double, batch> bankrupt;
  std::uint64_t key_lo = lo, key_hi = hi;
  int bad = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const double s = side_sign * b.side[i], q = b.qty[i], e = b.entry[i], g = b.margin[i], price = b.liq[i];
    const double bk = bankruptcy_price(s, q, e, g);
    bad |= position_in_domain(s, q, e, g, b.mmr[i], b.maint[i], price, bk, share, rule) ? 0 : 1;
    bankrupt[i] = bk;
    const std::uint64_t k = key.of(price);
    key_lo = std::min(key_lo, k);
    key_hi = std::max(key_hi, k);
  }
  for (std::size_t i = 0; i < m; ++i) out[i] = {b.liq[i] + 0.0, b.qty[i], bankrupt[i]};
  lo = key_lo;
  hi = key_hi;
  return bad == 0;
}

}  // namespace

void sample_positions(const PopulationModel& model, double ref_price, std::uint64_t seed,
                      std::uint64_t scenario, int only_side, PositionSample& out,
                      const std::atomic<bool>* cancel) {
  out.clear();
  out.reserve(expected_size(model, only_side));
  const double size = model.inverse_size;
  sample_batches(model, ref_price, seed, scenario, only_side, cancel,
                 [&out, size](std::size_t m, const BatchColumns& b) {
                   const std::size_t at = out.side.size();
                   out.resize(at + m);
                   std::int8_t* __restrict const side = out.side.data() + at;
                   double* __restrict const qty = out.qty.data() + at;
                   double* __restrict const entry = out.entry_price.data() + at;
                   double* __restrict const margin = out.margin.data() + at;
                   double* __restrict const mmr = out.mmr.data() + at;
                   double* __restrict const maint = out.maint_amount.data() + at;
                   for (std::size_t i = 0; i < m; ++i) {
                     side[i] = static_cast<std::int8_t>(b.side[i]);
                     qty[i] = b.qty[i];
                     entry[i] = b.entry[i];
                     margin[i] = b.margin[i];
                     mmr[i] = b.mmr[i];
                     maint[i] = b.maint[i];
                   }
                   if (size != 0.0) {  // an inverse market's columns: contracts and the USD entry
                     for (std::size_t i = 0; i < m; ++i) {
                       qty[i] = b.notional[i] / size;
                       entry[i] = b.quote_entry[i];
                     }
                   }
                 });
}

void sample_triggers(const PopulationModel& model, double ref_price, std::uint64_t seed,
                     std::uint64_t scenario, Direction direction, TriggerSample& out,
                     const std::atomic<bool>* cancel) {
  const int only_side = direction == Direction::down ? 1 : -1;  // the contract's side at risk
  out.records.clear();
  out.records.reserve(expected_size(model, only_side));
  out.key_lo = ~std::uint64_t{0};
  out.key_hi = 0;
  // an inverse population's records are the reciprocal market's, triggered the other way
  const bool inverse = model.inverse_size != 0.0;
  const Direction records_direction = inverse ? (direction == Direction::down ? Direction::up : Direction::down)
                                              : direction;
  out.direction = records_direction;
  out.valid = true;
  const TriggerOrderKey key(records_direction);
  const double side_sign = inverse ? -1.0 : 1.0;
  const double share = sum_bound(static_cast<std::size_t>(model.count));  // as for sample_scenario's set
  sample_batches(model, ref_price, seed, scenario, only_side, cancel,
                 [&out, &key, share, &model, side_sign](std::size_t m, const BatchColumns& b) {
                   const std::size_t at = out.records.size();
                   out.records.resize(at + m);
                   if (!append_triggers(m, b, key, share, model.margin_rule, side_sign, out.records.data() + at,
                                        out.key_lo, out.key_hi)) {
                     out.valid = false;
                   }
                 });
  if (out.records.empty()) out.key_lo = out.key_hi = 0;
}

}  // namespace cascade_core
