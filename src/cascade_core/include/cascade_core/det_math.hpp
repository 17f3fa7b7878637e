// exp, log and the inverse normal CDF for the samplers: plain IEEE-754 arithmetic with fixed
// polynomials, no table, no branch and no C-library call, so that
//  - a loop over arrays that calls them vectorises (the samplers draw positions in batches),
//  - a scalar call and a vectorised lane give the same bits (same operations, no FMA: the
//    core is built with -ffp-contract=off), and
//  - the same seed gives the same bytes on every platform and C library (libm's exp/pow
//    differ in the last bit between versions and between their FMA and non-FMA variants).
// Accuracy: det_exp and det_log within 2 ulp on the ranges documented below (tested against
// the C library over millions of points); inverse_normal_cdf is Acklam's approximation
// (relative error < 1.15e-9), as before.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace cascade_core {

// e^x. Exact reduction x = k ln2 + r (Cody-Waite, |r| <= ln2/2), degree-13 Taylor polynomial
// for e^r (truncation < 5e-18), then r's result scaled by 2^k through the exponent bits.
// Results below 2^-1022 (x < -708) are flushed to 0; x > 709.78 gives +inf, NaN gives NaN.
inline double det_exp(double x) noexcept {
  constexpr double inv_ln2 = 0x1.71547652b82fep0;
  constexpr double ln2_hi = 0x1.62e42fee00000p-1;  // 32 significant bits: k * ln2_hi is exact
  constexpr double ln2_lo = 0x1.a39ef35793c76p-33;
  constexpr double shifter = 0x1.8p52;              // adding it rounds to an integer
  constexpr double lo = -708.0, hi = 709.79;
  const double xc = x < lo ? lo : (x > hi ? hi : x);
  const double t = xc * inv_ln2 + shifter;
  const double k = t - shifter;  // round(x / ln2), in [-1022, 1024]
  const double r = (xc - k * ln2_hi) - k * ln2_lo;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^(k-1) from the integer k held in t's low mantissa bits, then * 2 (exact or overflow to
  // inf): k - 1 stays a normal exponent over the whole clamped range.
  const std::uint64_t k_bits = std::bit_cast<std::uint64_t>(t) - std::bit_cast<std::uint64_t>(shifter);
  const double scale = std::bit_cast<double>((k_bits + 1022) << 52);
  const double y = p * scale * 2.0;
  const double out = x < lo ? 0.0 : (x > hi ? std::numeric_limits<double>::infinity() : y);
  return x != x ? x : out;
}

// Natural log of a positive, normal x (the samplers pass uniforms in (0, 1) and other
// positive values). x = 2^k m with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s) with
// s = (m - 1)/(m + 1), |s| < 0.1716, as a degree-21 odd series (truncation < 2e-18).
// Zero, negative, subnormal, infinite and NaN inputs are not handled (callers never pass them).
inline double det_log(double x) noexcept {
  constexpr std::uint64_t sqrt_half = 0x3fe6a09e667f3bcdULL;  // bits of sqrt(1/2)
  constexpr double ln2_hi = 0x1.62e42fee00000p-1;
  constexpr double ln2_lo = 0x1.a39ef35793c76p-33;
  const std::uint64_t ix = std::bit_cast<std::uint64_t>(x) + (0x3ff0000000000000ULL - sqrt_half);
  // k + 1023 as a double, exactly: the small integer placed in the mantissa of 2^52
  const double k = std::bit_cast<double>((ix >> 52) | 0x4330000000000000ULL) - (0x1p52 + 1023.0);
  const double m = std::bit_cast<double>((ix & 0x000fffffffffffffULL) + sqrt_half);
  const double f = m - 1.0;  // exact
  const double s = f / (2.0 + f);
  const double z = s * s;
  double q = 2.0 / 21.0;
  q = q * z + 2.0 / 19.0;
  q = q * z + 2.0 / 17.0;
  q = q * z + 2.0 / 15.0;
  q = q * z + 2.0 / 13.0;
  q = q * z + 2.0 / 11.0;
  q = q * z + 2.0 / 9.0;
  q = q * z + 2.0 / 7.0;
  q = q * z + 2.0 / 5.0;
  q = q * z + 2.0 / 3.0;
  // log m = 2s + s z q, written around f so that the small terms carry the rounding:
  // 2s = f - s f (since s (2 + f) = f).
  const double log_m = (f - s * f) + s * (z * q);
  return k * ln2_hi + (log_m + k * ln2_lo);
}

// Standard normal quantile by Acklam's rational approximation, p in (0, 1): a central form
// for p in [0.02425, 1 - 0.02425] and a tail form outside. inverse_normal_cdf selects
// between them without a branch; a batch may also evaluate the central form for every p
// and the tail form only where normal_tail(p) (same bits either way).
inline bool normal_tail(double p) noexcept {
  constexpr double p_low = 0.02425;
  return (p < p_low) | (p > 1.0 - p_low);
}

inline double inverse_normal_central(double p) noexcept {
  constexpr double a0 = -3.969683028665376e+01, a1 = 2.209460984245205e+02,
                   a2 = -2.759285104469687e+02, a3 = 1.383577518672690e+02,
                   a4 = -3.066479806614716e+01, a5 = 2.506628277459239e+00;
  constexpr double b0 = -5.447609879822406e+01, b1 = 1.615858368580409e+02,
                   b2 = -1.556989798598866e+02, b3 = 6.680131188771972e+01,
                   b4 = -1.328068155288572e+01;
  const double q = p - 0.5, r = q * q;
  return (((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q /
         (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1.0);
}

// The tail form; on a central p it is finite and unused.
inline double inverse_normal_tail(double p) noexcept {
  constexpr double c0 = -7.784894002430293e-03, c1 = -3.223964580411365e-01,
                   c2 = -2.400758277161838e+00, c3 = -2.549732539343734e+00,
                   c4 = 4.374664141464968e+00, c5 = 2.938163982698783e+00;
  constexpr double d0 = 7.784695709041462e-03, d1 = 3.224671290700398e-01,
                   d2 = 2.445134137142996e+00, d3 = 3.754408661907416e+00;
  const bool low = p < 0.5;
  const double q = std::sqrt(-2.0 * det_log(low ? p : 1.0 - p));
  const double x = (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
                   ((((d0 * q + d1) * q + d2) * q + d3) * q + 1.0);
  return low ? x : -x;
}

inline double inverse_normal_cdf(double p) noexcept {
  const double tail = inverse_normal_tail(p);
  const double central = inverse_normal_central(p);
  return normal_tail(p) ? tail : central;
}

}  // namespace cascade_core
