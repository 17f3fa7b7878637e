// Typed exceptions of the engine. Every rejection names the offending field and, where the
// field is an array, the first offending index, so the Python layer can pass it on verbatim.
#pragma once

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace cascade_core {

// Invalid input: a value outside its domain, mismatched lengths, an unsorted book, ...
// Derives from std::invalid_argument so that any binding maps it to ValueError.
class InputError : public std::invalid_argument {
 public:
  static constexpr std::ptrdiff_t no_index = -1;

  InputError(std::string field, std::ptrdiff_t index, const std::string& reason);
  InputError(std::string field, const std::string& reason)
      : InputError(std::move(field), no_index, reason) {}

  [[nodiscard]] const std::string& field() const noexcept { return field_; }
  [[nodiscard]] std::ptrdiff_t index() const noexcept { return index_; }

 private:
  std::string field_;
  std::ptrdiff_t index_;
};

// A run stopped by its cancel flag before it finished (the caller asked for it: Ctrl-C).
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

// Formats a double the way the messages show it (shortest round-trip form).
std::string format_value(double value);

// Throws InputError("field: rule, got value") unless `ok`.
inline void require(bool ok, const char* field, const std::string& rule, double value) {
  if (!ok) throw InputError(field, rule + ", got " + format_value(value));
}

// The range predicates validation is written with (each false for NaN).
inline bool finite(double v) noexcept { return std::isfinite(v); }
inline bool finite_positive(double v) noexcept { return std::isfinite(v) && v > 0.0; }
inline bool finite_non_negative(double v) noexcept { return std::isfinite(v) && v >= 0.0; }
inline bool rate(double v) noexcept { return std::isfinite(v) && v >= 0.0 && v < 1.0; }  // [0, 1)

// Throws InputError("field[i]: rule, got value") for the first value that is not `ok`.
inline void require_each(const std::vector<double>& values, const char* field, bool (*ok)(double) noexcept,
                         const char* rule) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!ok(values[i])) {
      throw InputError(field, static_cast<std::ptrdiff_t>(i), std::string(rule) + ", got " + format_value(values[i]));
    }
  }
}

}  // namespace cascade_core
