#include "cascade_core/correlated_shocks.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "cascade_core/det_math.hpp"
#include "cascade_core/errors.hpp"
#include "cascade_core/models.hpp"
#include "cascade_core/rng.hpp"

namespace cascade_core {

namespace {

// How far a correlation matrix may be from symmetric, or its diagonal from 1 (a matrix from
// np.corrcoef is symmetric and unit-diagonal only to rounding).
constexpr double shape_tolerance = 1e-9;
// A Cholesky pivot at or below this is a zero pivot (a singular but semi-definite matrix, such
// as a correlation of exactly 1); below minus this the matrix is not semi-definite.
constexpr double pivot_tolerance = 1e-12;
// Below a zero pivot, what is left of a row must be zero to within this, or the matrix is not
// semi-definite.
constexpr double residual_tolerance = 1e-7;

std::string row_col(std::size_t i, std::size_t j) {
  return "[" + std::to_string(i) + "][" + std::to_string(j) + "]";
}

}  // namespace

void CorrelatedShockModel::validate() const {
  if (dimension == 0) throw InputError("dimension", "at least one market must be shocked");
  const std::size_t k = dimension;
  switch (kind) {
    case Kind::student_t:
      require(finite_positive(df), "df", "must be finite and > 0", df);
      [[fallthrough]];
    case Kind::normal: {
      if (scale.size() != k) {
        throw InputError("scale", "expected one scale per shocked market (" + std::to_string(k) + "), got " +
                                      std::to_string(scale.size()));
      }
      require_each(scale, "scale", finite_non_negative, "must be finite and >= 0");
      if (correlation.size() != k * k) {
        throw InputError("correlation", "expected a " + std::to_string(k) + " x " + std::to_string(k) +
                                            " matrix (" + std::to_string(k * k) + " values), got " +
                                            std::to_string(correlation.size()) + " values");
      }
      for (std::size_t i = 0; i < k; ++i) {
        for (std::size_t j = 0; j < k; ++j) {
          const double r = correlation[i * k + j];
          if (!(std::isfinite(r) && r >= -1.0 - shape_tolerance && r <= 1.0 + shape_tolerance)) {
            throw InputError("correlation", static_cast<std::ptrdiff_t>(i),
                             "entry " + row_col(i, j) + " must be finite and in [-1, 1], got " + format_value(r));
          }
          if (i == j && std::abs(r - 1.0) > shape_tolerance) {
            throw InputError("correlation", static_cast<std::ptrdiff_t>(i),
                             "the diagonal must be 1, got " + row_col(i, i) + " = " + format_value(r));
          }
          if (j < i && std::abs(r - correlation[j * k + i]) > shape_tolerance) {
            throw InputError("correlation", static_cast<std::ptrdiff_t>(i),
                             "must be symmetric, got " + row_col(i, j) + " = " + format_value(r) + " and " +
                                 row_col(j, i) + " = " + format_value(correlation[j * k + i]));
          }
        }
      }
      (void)cholesky_factor(correlation, k);  // throws naming the row where it fails
      break;
    }
    case Kind::historical:
    case Kind::fixed: {
      if (moves.empty() || moves.size() % k != 0) {
        throw InputError("moves", "expected rows of " + std::to_string(k) + " moves (one per shocked market), got " +
                                      std::to_string(moves.size()) + " values");
      }
      for (std::size_t i = 0; i < moves.size(); ++i) {
        if (!(std::isfinite(moves[i]) && moves[i] > -1.0)) {
          throw InputError("moves", static_cast<std::ptrdiff_t>(i / k),
                           "column " + std::to_string(i % k) + " must be finite and > -1, got " +
                               format_value(moves[i]));
        }
      }
      break;
    }
  }
}

// Cholesky–Banachiewicz on the lower triangle, the diagonal taken as 1. A pivot within
// pivot_tolerance of 0 is a zero pivot (its column of L is 0, and the rest of each row below
// must then vanish): semi-definite matrices factor, a correlation of exactly ±1 included.
std::vector<double> cholesky_factor(const std::vector<double>& correlation, std::size_t k) {
  std::vector<double> l(k * k, 0.0);
  for (std::size_t j = 0; j < k; ++j) {
    double pivot = 1.0;
    for (std::size_t p = 0; p < j; ++p) pivot -= l[j * k + p] * l[j * k + p];
    if (pivot < -pivot_tolerance) {
      throw InputError("correlation", static_cast<std::ptrdiff_t>(j),
                       "is not positive semi-definite: the Cholesky factorisation fails at this row (pivot " +
                           format_value(pivot) + ")");
    }
    const double diagonal = pivot > pivot_tolerance ? std::sqrt(pivot) : 0.0;
    l[j * k + j] = diagonal;
    for (std::size_t i = j + 1; i < k; ++i) {
      double s = correlation[i * k + j];
      for (std::size_t p = 0; p < j; ++p) s -= l[i * k + p] * l[j * k + p];
      if (diagonal > 0.0) {
        l[i * k + j] = s / diagonal;
      } else if (std::abs(s) > residual_tolerance) {
        throw InputError("correlation", static_cast<std::ptrdiff_t>(i),
                         "is not positive semi-definite: the Cholesky factorisation fails at this row (row " +
                             std::to_string(j) + " has a zero pivot, leaving " + format_value(s) + " at " +
                             row_col(i, j) + ")");
      }
    }
  }
  return l;
}

std::vector<double> CorrelatedShockModel::cholesky() const {
  validate();
  if (kind != Kind::normal && kind != Kind::student_t) return {};
  return cholesky_factor(correlation, dimension);
}

CorrelatedShockSampler::CorrelatedShockSampler(CorrelatedShockModel model)
    : model_(std::move(model)), factor_(model_.cholesky()) {}

double gamma_variate(Stream& stream, double shape) noexcept {
  if (shape < 1.0) {
    // Gamma(a) = Gamma(a + 1) · U^(1/a) (Marsaglia and Tsang, section 6)
    const double g = gamma_variate(stream, shape + 1.0);
    return g * det_exp(det_log(stream.uniform()) / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = 0.0, v = 0.0;
    do {
      x = stream.normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = stream.uniform();
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v;
    if (det_log(u) < 0.5 * x2 + d * (1.0 - v + det_log(v))) return d * v;
  }
}

void CorrelatedShockSampler::sample(std::uint64_t seed, std::uint64_t scenario, std::span<double> out) const noexcept {
  const std::size_t k = model_.dimension;
  using Kind = CorrelatedShockModel::Kind;
  if (model_.kind == Kind::fixed || model_.kind == Kind::historical) {
    const std::size_t rows = model_.rows();
    std::size_t row = static_cast<std::size_t>(scenario % rows);
    if (model_.kind == Kind::historical) {
      Stream stream(seed, scenario, Purpose::joint_shock, 0);
      row = std::min(static_cast<std::size_t>(stream.uniform() * static_cast<double>(rows)), rows - 1);
    }
    std::copy_n(model_.moves.begin() + static_cast<std::ptrdiff_t>(row * k), k, out.begin());
    return;
  }
  // A vector with a move <= -100 % (or one that is not finite: a Student-t of a tiny df) is
  // not a set of prices: redraw the whole vector (its law stays the truncated joint law), a
  // fixed number of times, then clamp such moves to -99 %.
  for (std::uint64_t attempt = 0; attempt < max_scenario_draws; ++attempt) {
    Stream stream(seed, scenario, Purpose::joint_shock, static_cast<std::uint32_t>(attempt));
    for (std::size_t j = 0; j < k; ++j) out[j] = stream.normal();
    double mix = 1.0;
    if (model_.kind == Kind::student_t) {
      const double chi_square = 2.0 * gamma_variate(stream, 0.5 * model_.df);
      mix = std::sqrt(model_.df / chi_square);
    }
    // y = L z in place, last row first (row i reads z_0..z_i, which rows above it leave alone)
    bool valid = true;
    for (std::size_t i = k; i-- > 0;) {
      double y = 0.0;
      for (std::size_t j = 0; j <= i; ++j) y += factor_[i * k + j] * out[j];
      out[i] = model_.scale[i] == 0.0 ? 0.0 : model_.scale[i] * (y * mix);  // (0: not shocked)
    }
    for (std::size_t i = 0; i < k; ++i) valid = valid && out[i] > -1.0 && std::isfinite(out[i]);
    if (valid) return;
  }
  for (std::size_t i = 0; i < k; ++i) {
    if (!(out[i] > -1.0 && std::isfinite(out[i]))) out[i] = -0.99;
  }
}

}  // namespace cascade_core
