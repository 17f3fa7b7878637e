// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as
// easy as 1, 2, 3", SC11; the generator of Random123), and a small stream over it.
//
// A stream is a pure function of (seed, scenario, purpose, item): its draws never depend on
// which thread runs it, in what order, or how a run is split. Draw k of a stream is word
// k % 4 of block k / 4, the block's counter being {item, purpose << 24 | block, scenario_lo,
// scenario_hi} and its key the seed's two halves.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cmath>
#include <cstdint>

#include "cascade_core/det_math.hpp"

namespace cascade_core {

using PhiloxCounter = std::array<std::uint32_t, 4>;
using PhiloxKey = std::array<std::uint32_t, 2>;

inline PhiloxCounter philox4x32_10(PhiloxCounter ctr, PhiloxKey key) noexcept {
  constexpr std::uint32_t m0 = 0xD2511F53U, m1 = 0xCD9E8D57U;
  constexpr std::uint32_t w0 = 0x9E3779B9U, w1 = 0xBB67AE85U;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += w0;
      key[1] += w1;
    }
    const std::uint64_t p0 = std::uint64_t{m0} * ctr[0];
    const std::uint64_t p1 = std::uint64_t{m1} * ctr[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    ctr = {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
  }
  return ctr;
}

// A seed's Philox key: its low and high halves.
inline PhiloxKey philox_key(std::uint64_t seed) noexcept {
  return {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
}

// What a stream is for; part of its counter, so streams of different purposes never overlap.
// (Values 0-3 and the layout of `position` and `side` are stream layout 2: see models.cpp.)
enum class Purpose : std::uint32_t {
  scenario = 0,   // item 0: the shock; item 1: the book's thinning
  book_bids = 1,  // item k: level k's noise
  book_asks = 2,
  position = 3,   // item j: position j's leverage, size and entry (block a: redraw a)
  side = 4,       // item j / 4, word j % 4: position j's side
  entry = 5,      // item j: position j's Student-t entry draws
  joint_shock = 6,  // item a: attempt a of a scenario's correlated moves (correlated_shocks.cpp)
  venue_trader = 7,    // item a: trader a of a venue population (venue_population.cpp)
  venue_strategy = 8,  // item s: strategy s's factors
  venue_token = 9,     // item t: token t
  venue_fund = 10,     // item f: fund f
  path = 11,           // scenario t: step t's correlated normals of correlated_gbm_paths (venue_simulator.cpp)
  venue_stop = 12,     // item j: traded market j's recent extremes, then its stop clusters
};

// Philox4x32-10 of n counters {item[i], c1, c2, c3} under one key, into word columns w0..w3:
// the batch form of philox4x32_10 (same bits): AVX-512 or AVX2 where the CPU has them, else one by one.
void philox_blocks(std::size_t n, const std::uint32_t* item, std::uint32_t c1, std::uint32_t c2,
                   std::uint32_t c3, PhiloxKey key, std::uint32_t* w0, std::uint32_t* w1,
                   std::uint32_t* w2, std::uint32_t* w3) noexcept;

// How many counters philox_blocks computes at once on this CPU (16 with AVX-512, 8 with AVX2,
// else 1), at most philox_max_width. A caller whose columns have room may round n up to a
// multiple of it (the extra counters' words are computed and ignored): a remainder computed
// one by one costs more than a vector of unused lanes.
inline constexpr std::size_t philox_max_width = 16;
std::size_t philox_width() noexcept;

// Uniforms from raw words, exactly as Stream draws them: 32 bits on [0, 1), and 48 bits
// (a word and 16 bits of another) on the open interval (0, 1). Written with the exponent
// trick instead of an integer conversion, so that batches of them vectorise.
inline double unit_from_u32(std::uint32_t w) noexcept {
  return (std::bit_cast<double>(std::uint64_t{w} | 0x4330000000000000ULL) - 0x1p52) * 0x1.0p-32;
}
inline double open_unit_from_u48(std::uint32_t hi, std::uint32_t lo16) noexcept {
  const std::uint64_t bits = (std::uint64_t{hi} << 16) | (lo16 & 0xFFFFU);
  return (std::bit_cast<double>(bits | 0x4330000000000000ULL) - 0x1p52 + 0.5) * 0x1.0p-48;
}

class Stream {
 public:
  Stream(std::uint64_t seed, std::uint64_t scenario, Purpose purpose, std::uint32_t item) noexcept
      : key_(philox_key(seed)),
        item_(item),
        purpose_(static_cast<std::uint32_t>(purpose) << 24),
        scenario_lo_(static_cast<std::uint32_t>(scenario)),
        scenario_hi_(static_cast<std::uint32_t>(scenario >> 32)) {}

  std::uint32_t next_u32() noexcept {
    if (used_ == 4) {
      words_ = philox4x32_10({item_, purpose_ | block_, scenario_lo_, scenario_hi_}, key_);
      block_ = (block_ + 1) & 0x00FFFFFFU;
      used_ = 0;
    }
    return words_[used_++];
  }

  // Uniform on the open interval (0, 1), 53 bits.
  double uniform() noexcept {
    const std::uint64_t hi = next_u32(), lo = next_u32();
    const std::uint64_t bits = (hi << 21) ^ (lo >> 11);  // 53 bits
    return (static_cast<double>(bits) + 0.5) * 0x1.0p-53;
  }

  // Uniform on [0, 1) with 32 bits: enough for choosing among a few categories.
  double uniform32() noexcept { return unit_from_u32(next_u32()); }

  // Standard normal by inversion of one 53-bit uniform (Acklam's rational approximation,
  // relative error < 1.15e-9; det_math.hpp).
  double normal() noexcept { return inverse_normal_cdf(uniform()); }

  // Student-t with `df` > 0 degrees of freedom (Bailey's polar method).
  double student_t(double df) noexcept {
    for (;;) {
      const double u = 2.0 * uniform() - 1.0, v = 2.0 * uniform() - 1.0;
      const double w = u * u + v * v;
      if (w >= 1.0 || w == 0.0) continue;
      return u * std::sqrt(df * (det_exp(det_log(w) * (-2.0 / df)) - 1.0) / w);
    }
  }

 private:
  PhiloxKey key_;
  std::uint32_t item_, purpose_, scenario_lo_, scenario_hi_;
  std::uint32_t block_ = 0;
  PhiloxCounter words_{};
  int used_ = 4;
};

}  // namespace cascade_core
