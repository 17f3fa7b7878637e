#include "cascade_core/bulk_allocator.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace cascade_core {

namespace {

constexpr std::size_t large_block = std::size_t{256} << 10;  // below this, plain malloc

// Large requests are rounded up to one of 8 size classes per doubling (at most 12.5 % slack),
// so that requests of nearly the same size (a position count that varies by scenario) share
// blocks.
std::size_t size_class(std::size_t bytes) noexcept {
  const auto top = static_cast<int>(std::bit_width(bytes)) - 1;  // 2^top <= bytes
  const std::size_t step = std::size_t{1} << (top - 3);
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mutex;
  std::vector<std::pair<std::size_t, void*>> blocks;  // (size class, block), oldest first
  std::size_t bytes = 0;
  std::size_t limit = std::size_t{256} << 20;

  // Frees the oldest blocks until at most `keep` bytes remain; the caller holds the mutex.
  std::size_t shrink_to(std::size_t keep) noexcept {
    std::size_t freed = 0, k = 0;
    while (bytes > keep && k < blocks.size()) {
      std::free(blocks[k].second);
      bytes -= blocks[k].first;
      freed += blocks[k].first;
      ++k;
    }
    blocks.erase(blocks.begin(), blocks.begin() + static_cast<std::ptrdiff_t>(k));
    return freed;
  }
};

Cache& cache() {
  static Cache* instance = new Cache;  // never destroyed: blocks may be freed during exit
  return *instance;
}

void* checked_malloc(std::size_t bytes) {
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

thread_local bool huge_pages = false;  // set by HugePageScope

// A new large block: within a HugePageScope and from 2 MiB on, whole 2 MiB pages, aligned,
// advised MADV_HUGEPAGE (a hint, honoured when the system's THP mode is "madvise" or "always").
void* new_block(std::size_t bytes) {
  constexpr std::size_t huge_page = std::size_t{2} << 20;
  if (!huge_pages || bytes < huge_page) return checked_malloc(bytes);
  const std::size_t whole = (bytes + huge_page - 1) / huge_page * huge_page;
  void* p = std::aligned_alloc(huge_page, whole);
  if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  ::madvise(p, whole, MADV_HUGEPAGE);  // a hint: nothing to do if it is refused
#endif
  return p;
}

}  // namespace

void* bulk_allocate(std::size_t bytes) {
  if (bytes < large_block) return checked_malloc(bytes);
  const std::size_t cls = size_class(bytes);
  {
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    // The most recently freed block of the class: its pages are the likeliest to be warm.
    for (auto it = c.blocks.rbegin(); it != c.blocks.rend(); ++it) {
      if (it->first == cls) {
        void* p = it->second;
        c.bytes -= cls;
        c.blocks.erase(std::next(it).base());
        return p;
      }
    }
  }
  return new_block(cls);
}

void bulk_deallocate(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes < large_block) {
    std::free(p);
    return;
  }
  const std::size_t cls = size_class(bytes);
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  if (cls > c.limit) {
    std::free(p);
    return;
  }
  c.shrink_to(c.limit - cls);
  try {
    c.blocks.emplace_back(cls, p);
    c.bytes += cls;
  } catch (...) {  // no memory for the bookkeeping: give the block back instead
    std::free(p);
  }
}

HugePageScope::HugePageScope() noexcept : previous_(huge_pages) { huge_pages = true; }
HugePageScope::~HugePageScope() { huge_pages = previous_; }

std::size_t set_buffer_cache_limit(std::size_t bytes) noexcept {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  const std::size_t previous = c.limit;
  c.limit = bytes;
  c.shrink_to(bytes);
  return previous;
}

std::size_t buffer_cache_limit() noexcept {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return c.limit;
}

std::size_t cached_buffer_bytes() noexcept {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return c.bytes;
}

std::size_t release_cached_buffers() noexcept {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return c.shrink_to(0);
}

}  // namespace cascade_core
