// Limits of the machine a run must fit in: a call whose working set cannot fit is refused up
// front, with the memory it would need, instead of ending in an out-of-memory kill.
#pragma once

#include <cstdint>

namespace cascade_core {

// Physical memory of this machine in bytes (0 when unknown: then nothing is refused).
std::uint64_t physical_memory_bytes() noexcept;

// Throws InputError(field, "... would need X GiB of memory, this machine has Y GiB") when
// `bytes` exceeds the machine's physical memory. `what` says what the memory is for.
void require_memory(const char* field, double bytes, const char* what);

}  // namespace cascade_core
