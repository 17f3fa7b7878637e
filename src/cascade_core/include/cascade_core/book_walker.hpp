// Walking one side of a book with market orders, without copying it: levels before `level`
// are gone, `left` is what remains of level `level`. Shared by the static cascade and the
// simulator, so both fill with exactly the same arithmetic.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#include "cascade_core/order_book.hpp"

namespace cascade_core {

class BookWalker {
 public:
  // `bids`: the side is walked by sells (prices fall); otherwise by buys. `track_volume`
  // precomputes cumulative quantities (O(levels)) for consumed()/refill(); the static
  // cascade does without, so it costs only what it touches.
  BookWalker(const BookSide& side, bool bids, bool track_volume = false)
      : price_(side.price.data()), qty_(side.qty.data()), n_(side.size()), bids_(bids),
        left_(n_ > 0 ? qty_[0] : 0.0) {
    if (track_volume) {
      cum_.assign(n_ + 1, 0.0);
      for (std::size_t k = 0; k < n_; ++k) cum_[k + 1] = cum_[k] + qty_[k];
    }
  }

  // A side given as arrays the caller keeps alive (a re-anchored copy of a side's prices:
  // venue_cascade.cpp).
  BookWalker(const double* price, const double* qty, std::size_t n, bool bids)
      : price_(price), qty_(qty), n_(n), bids_(bids), left_(n_ > 0 ? qty_[0] : 0.0) {}

  struct Fill {
    double qty = 0.0;
    double notional = 0.0;
    double unfilled = 0.0;  // what the side could not take (exactly 0 when filled in full)
    double reciprocal = 0.0;  // sum of qty / price: an inverse market's coin value per USD of contract
  };

  // A market order of `qty`; `last` becomes the price of every level it takes from.
  Fill take(double qty, double& last) noexcept {
    if (qty < left_ && level_ < n_) {
      // Within the current level (most liquidations are smaller than a level): the general
      // loop below would compute exactly this.
      const double price = price_[level_];
      last = price;
      left_ -= qty;
      return {qty, qty * price, 0.0, qty / price};
    }
    return take(qty, last, bids_ ? -infinity : infinity, 0.0);
  }

  // The same, filling no worse than `limit` (sells: at >= limit; buys: <= limit), the
  // levels' prices shifted by `shift` (the book's centre has moved). A level shifted to a
  // price <= 0 is gone: no order fills there (only bids can get there: the asks lie above a
  // centre that is > 0).
  Fill take(double qty, double& last, double limit, double shift) noexcept {
    Fill fill;
    double remaining = qty;
    while (remaining > 0.0 && level_ < n_) {
      const double price = price_[level_] + shift;
      if (!(price > 0.0) || (bids_ ? price < limit : price > limit)) break;
      last = price;
      if (remaining >= left_) {
        fill.qty += left_;
        fill.notional += left_ * price;
        fill.reciprocal += left_ / price;
        remaining -= left_;
        next_level();
      } else {
        fill.qty += remaining;
        fill.notional += remaining * price;
        fill.reciprocal += remaining / price;
        left_ -= remaining;
        remaining = 0.0;
      }
    }
    fill.unfilled = remaining;
    return fill;
  }

  // Removes every level priced strictly beyond `target` (above it for bids, below for asks).
  // Binary search: the levels are sorted, so "beyond" holds for a prefix of them.
  void remove_beyond(double target, double shift = 0.0) noexcept {
    const auto beyond = [this, target, shift](double price) {
      return bids_ ? price + shift > target : price + shift < target;
    };
    if (level_ >= n_ || !beyond(price_[level_])) return;
    level_ = static_cast<std::size_t>(std::partition_point(price_ + level_ + 1, price_ + n_, beyond) - price_);
    left_ = level_ < n_ ? qty_[level_] : 0.0;
  }

  // The walker's position and the side's levels, for a loop that keeps the position in
  // registers and walks the levels itself with take()'s arithmetic (cascade.cpp). `left` is 0
  // once the side is used up, so `qty < left` alone decides take()'s in-level fast path.
  struct Cursor {
    std::size_t level;
    double left;
  };
  [[nodiscard]] Cursor cursor() const noexcept { return {level_, left_}; }
  void set_cursor(Cursor cursor) noexcept {
    level_ = cursor.level;
    left_ = cursor.left;
  }
  [[nodiscard]] const double* prices() const noexcept { return price_; }
  [[nodiscard]] const double* quantities() const noexcept { return qty_; }
  [[nodiscard]] std::size_t size() const noexcept { return n_; }

  // Levels traded against or removed so far.
  [[nodiscard]] std::size_t levels_touched() const noexcept {
    return level_ + (level_ < n_ && left_ < qty_[level_] ? 1 : 0);
  }

  // The best remaining price (NaN when the side is used up, or its levels are all shifted to
  // prices <= 0).
  [[nodiscard]] double best(double shift = 0.0) const noexcept {
    const double price = level_ < n_ ? price_[level_] + shift : 0.0;
    return price > 0.0 ? price : std::numeric_limits<double>::quiet_NaN();
  }

  // Volume consumed from the top, and what rests at prices > 0 with the levels shifted by
  // `shift` (needs track_volume).
  [[nodiscard]] double consumed() const noexcept {
    return level_ >= n_ ? cum_.back() : cum_[level_] + (qty_[level_] - left_);
  }
  [[nodiscard]] double remaining(double shift = 0.0) const noexcept {
    // the levels still priced > 0 are a prefix (only bids fall that far: see take())
    const auto alive = static_cast<std::size_t>(
        std::partition_point(price_, price_ + n_, [shift](double p) { return p + shift > 0.0; }) - price_);
    return std::max(0.0, cum_[alive] - consumed());
  }

  // The consumed volume decays by `factor` (Obizhaeva-Wang refill; needs track_volume).
  void refill(double factor) {
    const double target = consumed() * factor;
    const auto it = std::upper_bound(cum_.begin() + 1, cum_.end(), target);
    level_ = static_cast<std::size_t>(it - cum_.begin()) - 1;
    left_ = level_ < n_ ? cum_[level_ + 1] - target : 0.0;
  }

 private:
  static constexpr double infinity = std::numeric_limits<double>::infinity();

  void next_level() noexcept {
    ++level_;
    left_ = level_ < n_ ? qty_[level_] : 0.0;
  }

  const double* price_;
  const double* qty_;
  std::size_t n_;
  bool bids_;
  std::size_t level_ = 0;
  double left_;
  std::vector<double> cum_;
};

}  // namespace cascade_core
