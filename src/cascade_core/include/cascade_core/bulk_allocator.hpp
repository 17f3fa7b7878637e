// An allocator for the engine's large working arrays (sorted thresholds, sort scratch, sampled
// positions, result columns).
//
// Two things make it faster than std::allocator for this job:
// - elements are default-initialised, so no zero fill precedes the pass that writes them;
// - blocks of 256 KiB and more are recycled through a process-wide cache instead of going back
//   to the operating system. Fresh memory costs a page fault per 4 KiB on first touch, which
//   on virtual machines is as expensive as the sort that fills it (~0.5 ms per MB measured);
//   a Monte Carlo study or a pipeline that builds position sets in a loop asks for the same
//   sizes again and again, and gets already-mapped pages back.
// The cache holds at most `buffer_cache_limit()` bytes (256 MiB by default; 0 turns it off)
// and `release_cached_buffers()` returns everything it holds to the system.
//
// Transparent huge pages: a block of 2 MiB or more made while a HugePageScope is alive on the
// thread is 2 MiB-aligned and advised MADV_HUGEPAGE (Linux). Its scatters then miss the TLB
// far less (a Monte Carlo scenario of 1M positions: ~5 % faster), but the first touch of a
// huge page can stall for tens of milliseconds while the kernel compacts memory. So only
// studies opt in — each worker's blocks are made once and reused for thousands of scenarios —
// and a one-shot call (a PositionSet, a simulation) keeps ordinary pages.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace cascade_core {

// Raw blocks from the cache (large) or malloc (small). Thread-safe.
void* bulk_allocate(std::size_t bytes);
void bulk_deallocate(void* p, std::size_t bytes) noexcept;

// While alive, large blocks this thread makes are offered transparent huge pages (above).
class HugePageScope {
 public:
  HugePageScope() noexcept;
  ~HugePageScope();
  HugePageScope(const HugePageScope&) = delete;
  HugePageScope& operator=(const HugePageScope&) = delete;

 private:
  bool previous_;
};

// The most bytes of freed blocks the cache keeps; the previous limit is returned. Lowering it
// frees what exceeds the new limit at once.
std::size_t set_buffer_cache_limit(std::size_t bytes) noexcept;
std::size_t buffer_cache_limit() noexcept;
// Bytes the cache holds now (freed blocks waiting for reuse).
std::size_t cached_buffer_bytes() noexcept;
// Frees every cached block; returns how many bytes went back to the system.
std::size_t release_cached_buffers() noexcept;

template <class T>
class BulkAllocator {
 public:
  using value_type = T;

  BulkAllocator() noexcept = default;
  template <class U>
  BulkAllocator(const BulkAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(bulk_allocate(n * sizeof(T)));
  }

  void deallocate(T* p, std::size_t n) noexcept { bulk_deallocate(p, n * sizeof(T)); }

  // Default-initialise instead of value-initialise: trivial types are left as allocated.
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  template <class U>
  bool operator==(const BulkAllocator<U>&) const noexcept { return true; }
};

// A vector for large numeric working arrays.
template <class T>
using bulk_vector = std::vector<T, BulkAllocator<T>>;

}  // namespace cascade_core
