// An allocator for the engine's large working arrays (sorted thresholds, scratch, per-position
// prices): elements are default-initialised, so no zero fill precedes the pass that writes
// them. (Advising transparent huge pages was measured too: faster on a quiet machine, much
// slower when the kernel has to compact memory first, so it is not done.)
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>


namespace cascade_core {

template <class T>
class BulkAllocator {
 public:
  using value_type = T;

  BulkAllocator() noexcept = default;
  template <class U>
  BulkAllocator(const BulkAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    void* p = std::malloc(n == 0 ? 1 : n * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }

  void deallocate(T* p, std::size_t) noexcept { std::free(p); }

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
