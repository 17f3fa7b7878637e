// The venue's watch over who the prices may trigger (docs/design.md, "Many markets", "Cost:
// what is touched"; "Agents"): the one owner of the account index's walk (VenueState's sorted
// bounds, the accounts near their trigger, the per-market heaps of re-valued accounts) and of
// the agents' (tokens' rebalance ladders, funds' freshness), read by the static cascade over a
// venue (VenueCascade) and the venue simulator (VenueSimulation) alike.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <queue>
#include <span>
#include <vector>

#include "cascade_core/venue.hpp"
#include "cascade_core/venue_agents.hpp"

namespace cascade_core {

// Zeroed memory whose pages the system maps on first touch: per-account flags over millions
// of accounts cost what a cascade touches, not their count.
template <class T>
struct LazyZeroed {
  explicit LazyZeroed(std::size_t n) : data(static_cast<T*>(std::calloc(n > 0 ? n : 1, sizeof(T)))) {
    if (data == nullptr) throw std::bad_alloc();
  }
  ~LazyZeroed() { std::free(data); }
  LazyZeroed(const LazyZeroed&) = delete;
  LazyZeroed& operator=(const LazyZeroed&) = delete;
  T& operator[](std::size_t i) noexcept { return data[i]; }
  const T& operator[](std::size_t i) const noexcept { return data[i]; }
  T* data;
};

// The cross accounts a venue's prices may have triggered. Each account starts indexed by its
// reference bounds (a cursor per market and direction over VenueState's sorted bounds; the
// accounts within rounding of their trigger are read once, when their market first moves);
// once evaluated and found alive it is re-indexed by its next bounds (heaps per market and
// direction, whose entries carry the account's version: older ones are stale); a liquidated
// account is never a candidate again. A pass collects, once each, every account some market's
// price has reached, and evaluates them exactly, by index.
class AccountWatch {
 public:
  explicit AccountWatch(const VenueState& state);

  // A new pass: no candidates yet.
  void begin() noexcept {
    candidates_.clear();
    ++pass_;
  }
  // Market m's accounts its price has reached: the ones near their trigger (the first time
  // `moved` holds: the market has left its reference price), then the sorted bounds, then the
  // heaps' live entries; each account once a pass, never a liquidated one.
  void collect(std::size_t m, double price, bool moved);
  [[nodiscard]] bool empty() const noexcept { return candidates_.empty(); }
  // The pass's candidates, by index, valued exactly at market prices `price`: a triggered one
  // is marked liquidated and appended to `triggered`, a survivor re-indexed there. The cancel
  // flag is read every 65536 accounts (stopping early). Returns how many were evaluated.
  std::size_t evaluate(std::span<const double> price, std::vector<TriggeredAccount>& triggered,
                       const std::atomic<bool>* cancel);
  // Stale heap entries are dropped once they could be half of a heap (a heap holds at most one
  // live entry per re-indexed account).
  void compact();

 private:
  struct Entry {
    double price;
    std::uint32_t account;
    std::uint32_t version;
  };
  struct FallsFirst {  // down heaps: the highest bound is reached first
    bool operator()(const Entry& x, const Entry& y) const noexcept { return x.price < y.price; }
  };
  struct RisesFirst {  // up heaps: the lowest bound first
    bool operator()(const Entry& x, const Entry& y) const noexcept { return x.price > y.price; }
  };
  using DownHeap = std::priority_queue<Entry, std::vector<Entry>, FallsFirst>;
  using UpHeap = std::priority_queue<Entry, std::vector<Entry>, RisesFirst>;
  static constexpr std::uint32_t liquidated = 0xFFFFFFFFu;

  void consider(std::uint32_t a) {
    if (stamp_[a] == pass_ || version_[a] == liquidated) return;
    stamp_[a] = pass_;
    candidates_.push_back(a);
  }
  // A surviving account's next bounds, from its health at market prices `price`.
  void reindex(std::uint32_t a, const AccountHealth& h, std::span<const double> price);
  template <class Heap>
  void drop_stale(Heap& heap);

  const VenueState& s_;
  std::size_t markets_;
  LazyZeroed<std::uint32_t> version_;  // per account: 0 as indexed; +1 per re-evaluation; `liquidated`
  LazyZeroed<std::uint32_t> stamp_;    // per account: the last pass it was a candidate in
  std::uint32_t pass_ = 0;
  std::size_t reindexed_ = 0;  // accounts not liquidated whose bounds are in the heaps
  std::vector<std::size_t> cursor_down_, cursor_up_;
  std::vector<std::uint8_t> near_done_;  // per market: its near list has been read
  std::vector<DownHeap> heap_down_;
  std::vector<UpHeap> heap_up_;
  std::vector<std::uint32_t> candidates_;
};

// The agents a venue's prices may have triggered: each leveraged token's next rebalance prices
// P (1 - theta) below and P (1 + theta) above the price P it last rebalanced at (heaps per
// market, entries versioned as the accounts'), and the funds holding a market that is fresh.
class AgentWatch {
 public:
  explicit AgentWatch(const VenueAgents& agents);  // (heaps for agents.n_markets() markets)

  // Token t's next rebalance prices from price p (its older entries must be stale).
  void push(std::uint32_t t, double p);
  // Token t's entries are stale (it is rebalancing).
  void stale(std::uint32_t t) noexcept { ++version_[t]; }
  // Each live token entry market m's price has reached below (`down`) or above it, in reach
  // order (ties by token): take(t) says whether the entry is used up; one it keeps (false)
  // stays in its heap.
  template <class Take>
  void reached(std::size_t m, double price, bool down, Take&& take) {
    if (down) {
      walk(token_down_[m], [price](double bound) { return price <= bound; }, take);
    } else {
      walk(token_up_[m], [price](double bound) { return price >= bound; }, take);
    }
  }

  // A new pass over the funds: none yet.
  void begin_funds() noexcept {
    funds_.clear();
    ++fund_pass_;
  }
  // The funds holding market m (which is fresh), once each a pass, but those `skip(f)` refuses.
  template <class Skip>
  void funds_of(std::size_t m, Skip&& skip) {
    for (std::uint32_t j = g_.market_fund_offset_[m]; j < g_.market_fund_offset_[m + 1]; ++j) {
      const std::uint32_t f = g_.market_fund_[j];
      if (fund_stamp_[f] == fund_pass_ || skip(f)) continue;
      fund_stamp_[f] = fund_pass_;
      funds_.push_back(f);
    }
  }
  // The pass's funds, by index.
  [[nodiscard]] std::span<const std::uint32_t> funds();

 private:
  using DownHeap = std::priority_queue<TokenEntry, std::vector<TokenEntry>, TokenFallsFirst>;
  using UpHeap = std::priority_queue<TokenEntry, std::vector<TokenEntry>, TokenRisesFirst>;

  template <class Heap, class Reached, class Take>
  void walk(Heap& heap, Reached reached_at, Take& take) {
    kept_.clear();
    while (!heap.empty() && reached_at(heap.top().price)) {
      const TokenEntry e = heap.top();
      heap.pop();
      if (version_[e.token] != e.version) continue;
      if (!take(e.token)) kept_.push_back(e);
    }
    for (const TokenEntry& e : kept_) heap.push(e);
  }

  const VenueAgents& g_;
  std::vector<std::uint32_t> version_;
  std::vector<DownHeap> token_down_;
  std::vector<UpHeap> token_up_;
  std::vector<TokenEntry> kept_;
  std::vector<std::uint32_t> fund_stamp_, funds_;
  std::uint32_t fund_pass_ = 0;
};

}  // namespace cascade_core
