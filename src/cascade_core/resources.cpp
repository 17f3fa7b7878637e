#include "cascade_core/resources.hpp"

#include <cstdio>
#include <string>

#include "cascade_core/errors.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace cascade_core {

std::uint64_t physical_memory_bytes() noexcept {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
#endif
  return 0;
}

void require_memory(const char* field, double bytes, const char* what) {
  const std::uint64_t available = physical_memory_bytes();
  if (available == 0 || bytes <= static_cast<double>(available)) return;
  constexpr double gib = 1024.0 * 1024.0 * 1024.0;
  char text[160];
  std::snprintf(text, sizeof(text), "%s would need %.1f GiB of memory, this machine has %.1f GiB", what,
                bytes / gib, static_cast<double>(available) / gib);
  throw InputError(field, text);
}

}  // namespace cascade_core
