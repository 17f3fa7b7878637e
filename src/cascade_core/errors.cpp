#include "cascade_core/errors.hpp"

#include <charconv>
#include <utility>

namespace cascade_core {

namespace {
std::string compose(const std::string& field, std::ptrdiff_t index, const std::string& reason) {
  std::string message = field;
  if (index >= 0) {
    message += '[' + std::to_string(index) + ']';
  }
  message += ": ";
  message += reason;
  return message;
}
}  // namespace

InputError::InputError(std::string field, std::ptrdiff_t index, const std::string& reason)
    : std::invalid_argument(compose(field, index, reason)), field_(std::move(field)), index_(index) {}

std::string format_value(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return {buffer, result.ptr};
}

}  // namespace cascade_core
