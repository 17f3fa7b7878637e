// Correlated shocks across markets for venue studies (docs/design.md, "Monte Carlo",
// "Correlated shocks"): one relative move per shocked market per scenario, drawn from a
// multivariate normal or Student-t with a correlation matrix and per-market scales, or a row
// of past joint moves resampled (or taken in turn). Every draw comes from the scenario's
// counter-based stream (Purpose::joint_shock), so a scenario's moves are a pure function of
// (seed, scenario) and bit-identical for any thread count, split or machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cascade_core {

struct CorrelatedShockModel {
  enum class Kind { normal, student_t, historical, fixed };
  Kind kind = Kind::normal;
  std::size_t dimension = 0;         // the number of markets shocked
  std::vector<double> correlation;   // normal, student_t: dimension x dimension, row-major
  std::vector<double> scale;         // normal, student_t: per market, finite and >= 0
  double df = 3.0;                   // student_t: degrees of freedom of the shared chi-square
  std::vector<double> moves;         // historical, fixed: rows x dimension, row-major

  // InputError naming the field (correlation[row], scale[i], df, moves[row]) unless the model
  // is valid: a correlation matrix must be symmetric with a unit diagonal (each within 1e-9)
  // and positive semi-definite (its Cholesky factorisation must not fail).
  void validate() const;
  // The lower-triangular Cholesky factor L (row-major, R = L Lᵀ) of a normal or Student-t
  // model's correlation matrix; validates the model first.
  [[nodiscard]] std::vector<double> cholesky() const;
  [[nodiscard]] std::size_t rows() const noexcept { return dimension == 0 ? 0 : moves.size() / dimension; }
};

// The lower-triangular Cholesky factor (row-major) of a k x k correlation matrix, from its lower
// triangle with the diagonal taken as 1; zero pivots allowed (semi-definite). InputError naming
// correlation[row] at the row where the factorisation fails.
std::vector<double> cholesky_factor(const std::vector<double>& correlation, std::size_t k);

// A validated model with its factor, shared read-only by the threads of a study.
class CorrelatedShockSampler {
 public:
  explicit CorrelatedShockSampler(CorrelatedShockModel model);
  [[nodiscard]] std::size_t dimension() const noexcept { return model_.dimension; }
  [[nodiscard]] const CorrelatedShockModel& model() const noexcept { return model_; }
  // Scenario `scenario`'s moves, one per shocked market, into `out` (dimension() values).
  void sample(std::uint64_t seed, std::uint64_t scenario, std::span<double> out) const noexcept;

 private:
  CorrelatedShockModel model_;
  std::vector<double> factor_;  // normal, student_t: the Cholesky factor
};

// A Gamma(shape, 1) variate from `stream`'s draws (Marsaglia and Tsang's method; below shape 1,
// Gamma(shape + 1) · U^(1/shape)), with the engine's own exp and log (det_math.hpp).
class Stream;
double gamma_variate(Stream& stream, double shape) noexcept;

}  // namespace cascade_core
