// The venue's watch over who the prices may trigger (account_watch.hpp).
#include "cascade_core/account_watch.hpp"

#include <algorithm>

namespace cascade_core {

AccountWatch::AccountWatch(const VenueState& state)
    : s_(state), markets_(state.n_markets()), version_(state.n_accounts()), stamp_(state.n_accounts()),
      cursor_down_(markets_, 0), cursor_up_(markets_, 0), near_done_(markets_, 0), heap_down_(markets_),
      heap_up_(markets_) {}

void AccountWatch::collect(std::size_t m, double price, bool moved) {
  if (!near_done_[m] && moved) {
    near_done_[m] = 1;
    for (const std::uint32_t a : s_.near_trigger_[m]) {
      if (version_[a] == 0) consider(a);
    }
  }
  const auto& down = s_.bound_down_[m];
  for (std::size_t& k = cursor_down_[m]; k < down.size() && price <= down[k].price; ++k) {
    if (version_[down[k].account] == 0) consider(down[k].account);
  }
  const auto& up = s_.bound_up_[m];
  for (std::size_t& k = cursor_up_[m]; k < up.size() && price >= up[k].price; ++k) {
    if (version_[up[k].account] == 0) consider(up[k].account);
  }
  auto& heap_down = heap_down_[m];
  while (!heap_down.empty() && price <= heap_down.top().price) {
    const Entry e = heap_down.top();
    heap_down.pop();
    if (version_[e.account] == e.version) consider(e.account);
  }
  auto& heap_up = heap_up_[m];
  while (!heap_up.empty() && price >= heap_up.top().price) {
    const Entry e = heap_up.top();
    heap_up.pop();
    if (version_[e.account] == e.version) consider(e.account);
  }
}

std::size_t AccountWatch::evaluate(std::span<const double> price, std::vector<TriggeredAccount>& triggered,
                                   const std::atomic<bool>* cancel) {
  if (candidates_.empty()) return 0;
  std::sort(candidates_.begin(), candidates_.end());  // (any order gives the same set)
  const std::vector<double> asset_price = s_.asset_prices(price);
  std::size_t done = 0;
  for (const std::uint32_t a : candidates_) {
    if ((done & 0xFFFF) == 0xFFFF && cancel != nullptr && cancel->load(std::memory_order_relaxed)) break;
    ++done;
    const AccountHealth h = s_.health(a, price, asset_price);
    if (h.triggered()) {
      if (version_[a] > 0) --reindexed_;
      version_[a] = liquidated;
      triggered.push_back({a, h.equity, h.maintenance});
    } else {
      reindex(a, h, price);
    }
  }
  return done;
}

void AccountWatch::reindex(std::uint32_t a, const AccountHealth& h, std::span<const double> price) {
  if (version_[a] == 0) ++reindexed_;
  const std::uint32_t version = ++version_[a];
  s_.account_bounds(a, h, price, [&](std::uint32_t m, bool down, double bound) {
    if (down) {
      heap_down_[m].push({bound, a, version});
    } else {
      heap_up_[m].push({bound, a, version});
    }
  });
}

template <class Heap>
void AccountWatch::drop_stale(Heap& heap) {
  // rebuilt from its live entries (accounts re-valued or liquidated since are stale)
  std::vector<Entry> live;
  while (!heap.empty()) {
    if (version_[heap.top().account] == heap.top().version) live.push_back(heap.top());
    heap.pop();
  }
  for (const Entry& e : live) heap.push(e);
}

void AccountWatch::compact() {
  const std::size_t limit = 2 * reindexed_ + 1024;
  for (std::size_t m = 0; m < markets_; ++m) {
    if (heap_down_[m].size() > limit) drop_stale(heap_down_[m]);
    if (heap_up_[m].size() > limit) drop_stale(heap_up_[m]);
  }
}

AgentWatch::AgentWatch(const VenueAgents& agents)
    : g_(agents), version_(agents.n_tokens(), 0), token_down_(agents.n_markets()), token_up_(agents.n_markets()),
      fund_stamp_(agents.n_funds(), 0) {
  for (std::size_t t = 0; t < g_.n_tokens(); ++t) push(static_cast<std::uint32_t>(t), g_.token_price_[t]);
}

void AgentWatch::push(std::uint32_t t, double p) {
  const auto m = static_cast<std::size_t>(g_.token_market_[t]);
  const double theta = g_.token_threshold_[t];
  token_down_[m].push({p * (1.0 - theta), t, version_[t]});
  token_up_[m].push({p * (1.0 + theta), t, version_[t]});
}

std::span<const std::uint32_t> AgentWatch::funds() {
  std::sort(funds_.begin(), funds_.end());
  return funds_;
}

}  // namespace cascade_core
