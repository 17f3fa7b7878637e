// Typed exceptions of the engine. Every rejection names the offending field and, where the
// field is an array, the first offending index, so the Python layer can pass it on verbatim.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

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

}  // namespace cascade_core
