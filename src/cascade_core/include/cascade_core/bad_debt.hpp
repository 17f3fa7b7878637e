// The bad-debt term of one liquidated position (docs/design.md, "Static cascade", Results),
// shared by the walk (cascade.cpp) and the aggregate path (aggregate_cascade.cpp) so that
// both compute it with the same operations.
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cascade_core {

// (0 < x) ? x : 0, as one instruction where there is one (a branch here mispredicts
// whenever bad debt comes and goes).
inline double positive_part(double x) noexcept {
#if defined(__SSE2__)
  return _mm_cvtsd_f64(_mm_max_sd(_mm_set_sd(x), _mm_setzero_pd()));  // x > 0 ? x : 0
#else
  return 0.0 < x ? x : 0.0;
#endif
}

// Shortfall of a position's fills against its bankruptcy price, over the filled quantity
// (zero when nothing filled); only its positive part is bad debt.
template <bool Down>
double shortfall(double bankruptcy, double fill_qty, double fill_notional) noexcept {
  return Down ? bankruptcy * fill_qty - fill_notional : fill_notional - bankruptcy * fill_qty;
}

}  // namespace cascade_core
