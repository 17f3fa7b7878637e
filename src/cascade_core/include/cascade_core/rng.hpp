// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as
// easy as 1, 2, 3", SC11; the generator of Random123), and a small stream over it.
//
// A stream is a pure function of (seed, scenario, purpose, item): its draws never depend on
// which thread runs it, in what order, or how a run is split. Draw k of a stream is word
// k % 4 of block k / 4, the block's counter being {item, purpose << 24 | block, scenario_lo,
// scenario_hi} and its key the seed's two halves.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

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

// What a stream is for; part of its counter, so streams of different purposes never overlap.
enum class Purpose : std::uint32_t { scenario = 0, book_bids = 1, book_asks = 2, position = 3 };

class Stream {
 public:
  Stream(std::uint64_t seed, std::uint64_t scenario, Purpose purpose, std::uint32_t item) noexcept
      : key_{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)},
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
  double uniform32() noexcept { return static_cast<double>(next_u32()) * 0x1.0p-32; }

  // Standard normal by inversion of one 53-bit uniform (Acklam's rational approximation,
  // relative error < 1.2e-9): no transcendental call for the central 95 % of draws.
  double normal() noexcept { return inverse_normal_cdf(uniform()); }

  static double inverse_normal_cdf(double p) noexcept {
    constexpr double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    constexpr double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
    constexpr double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    constexpr double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
    constexpr double p_low = 0.02425;
    if (p < p_low || p > 1.0 - p_low) {
      const double q = std::sqrt(-2.0 * std::log(p < p_low ? p : 1.0 - p));
      const double x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
      return p < p_low ? x : -x;
    }
    const double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
  }

  // Student-t with `df` > 0 degrees of freedom (Bailey's polar method).
  double student_t(double df) noexcept {
    for (;;) {
      const double u = 2.0 * uniform() - 1.0, v = 2.0 * uniform() - 1.0;
      const double w = u * u + v * v;
      if (w >= 1.0 || w == 0.0) continue;
      return u * std::sqrt(df * (std::pow(w, -2.0 / df) - 1.0) / w);
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
