// A limit order book snapshot: two sides of price levels, best first.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "cascade_core/bulk_allocator.hpp"

namespace cascade_core {

// Which way a market order or a shock goes. A sell consumes bids and moves the price down.
enum class Direction { down, up };

// One side of a book: prices best first (bids strictly decreasing, asks strictly increasing),
// quantities in base units. Both finite and > 0.
struct BookSide {
  bulk_vector<double> price;  // (recycled blocks: a study or pipeline building books in a loop
  bulk_vector<double> qty;    // gets mapped pages back instead of fresh ones)

  [[nodiscard]] std::size_t size() const noexcept { return price.size(); }
  [[nodiscard]] bool empty() const noexcept { return price.empty(); }
};

class OrderBook {
 public:
  // Validates and copies. Either side may be empty (an operation that needs it then throws);
  // a crossed book (best bid >= best ask) is rejected.
  OrderBook(std::span<const double> bid_price, std::span<const double> bid_qty,
            std::span<const double> ask_price, std::span<const double> ask_qty);
  // The same checks, taking the sides' vectors instead of copying them.
  OrderBook(BookSide bids, BookSide asks);
  // A copy has its own levels, so its own derived indexes (they view the levels); a move keeps them.
  OrderBook(const OrderBook& other) : bids_(other.bids_), asks_(other.asks_) {}
  OrderBook& operator=(const OrderBook& other) {
    if (this != &other) {
      bids_ = other.bids_;
      asks_ = other.asks_;
      derived_ = std::make_shared<Derived>();
    }
    return *this;
  }
  OrderBook(OrderBook&&) noexcept = default;
  OrderBook& operator=(OrderBook&&) noexcept = default;
  ~OrderBook() = default;

  [[nodiscard]] const BookSide& bids() const noexcept { return bids_; }
  [[nodiscard]] const BookSide& asks() const noexcept { return asks_; }
  // The side a market order in `direction` consumes: bids for down (a sell), asks for up.
  [[nodiscard]] const BookSide& side_consumed(Direction direction) const noexcept {
    return direction == Direction::down ? bids_ : asks_;
  }

  // Throw InputError naming the empty side.
  [[nodiscard]] double best_bid() const;
  [[nodiscard]] double best_ask() const;
  [[nodiscard]] double mid() const;

  // An index derived from the side a move in `direction` consumes (the aggregate path's prefix
  // sums), built once by `build` on first use and kept with the book: a book never changes, so
  // neither does it (copies of a book share it). Thread-safe; a `build` that throws leaves
  // nothing cached.
  [[nodiscard]] std::shared_ptr<const void> side_index(
      Direction direction, const std::function<std::shared_ptr<const void>()>& build) const;

 private:
  BookSide bids_;
  BookSide asks_;
  struct Derived {
    std::mutex mutex;
    std::shared_ptr<const void> down, up;
  };
  std::shared_ptr<Derived> derived_ = std::make_shared<Derived>();
};

}  // namespace cascade_core
