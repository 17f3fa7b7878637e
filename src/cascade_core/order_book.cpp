#include "cascade_core/order_book.hpp"

#include <cmath>
#include <string>
#include <utility>

#include "cascade_core/errors.hpp"

namespace cascade_core {

namespace {

void validate_side(std::span<const double> price, std::span<const double> qty,
                   const std::string& price_field, const std::string& qty_field, bool decreasing) {
  if (price.size() != qty.size()) {
    throw InputError(qty_field, "length " + std::to_string(qty.size()) + " does not match " +
                                    price_field + " length " + std::to_string(price.size()));
  }
  double total_qty = 0.0, notional = 0.0;  // the side's totals bound every sum of fills against it
  for (std::size_t i = 0; i < price.size(); ++i) {
    const auto index = static_cast<std::ptrdiff_t>(i);
    if (!std::isfinite(price[i]) || price[i] <= 0.0) {
      throw InputError(price_field, index, "must be finite and > 0, got " + format_value(price[i]));
    }
    if (!std::isfinite(qty[i]) || qty[i] <= 0.0) {
      throw InputError(qty_field, index, "must be finite and > 0, got " + format_value(qty[i]));
    }
    if (i > 0) {
      const bool ordered = decreasing ? price[i] < price[i - 1] : price[i] > price[i - 1];
      if (!ordered) {
        throw InputError(price_field, index,
                         std::string(decreasing ? "bids must be strictly decreasing"
                                                : "asks must be strictly increasing") +
                             " (duplicated or unsorted level): " + format_value(price[i]) +
                             " after " + format_value(price[i - 1]));
      }
    }
    total_qty += qty[i];
    notional += price[i] * qty[i];
    if (!(std::isfinite(total_qty) && std::isfinite(notional))) {
      throw InputError(qty_field, index, "the side's total quantity or notional (price * qty summed) overflows");
    }
  }
}

BookSide make_side(std::span<const double> price, std::span<const double> qty,
                   const std::string& price_field, const std::string& qty_field, bool decreasing) {
  validate_side(price, qty, price_field, qty_field, decreasing);
  return BookSide{{price.begin(), price.end()}, {qty.begin(), qty.end()}};
}

void check_not_crossed(const BookSide& bids, const BookSide& asks) {
  if (!bids.empty() && !asks.empty() && bids.price.front() >= asks.price.front()) {
    throw InputError("bid_price", 0,
                     "crossed book: best bid " + format_value(bids.price.front()) +
                         " >= best ask " + format_value(asks.price.front()));
  }
}

}  // namespace

OrderBook::OrderBook(std::span<const double> bid_price, std::span<const double> bid_qty,
                     std::span<const double> ask_price, std::span<const double> ask_qty)
    : bids_(make_side(bid_price, bid_qty, "bid_price", "bid_qty", true)),
      asks_(make_side(ask_price, ask_qty, "ask_price", "ask_qty", false)) {
  check_not_crossed(bids_, asks_);
}

OrderBook::OrderBook(BookSide bids, BookSide asks) : bids_(std::move(bids)), asks_(std::move(asks)) {
  validate_side(bids_.price, bids_.qty, "bid_price", "bid_qty", true);
  validate_side(asks_.price, asks_.qty, "ask_price", "ask_qty", false);
  check_not_crossed(bids_, asks_);
}

double OrderBook::best_bid() const {
  if (bids_.empty()) throw InputError("bid_price", "the bid side is empty");
  return bids_.price.front();
}

double OrderBook::best_ask() const {
  if (asks_.empty()) throw InputError("ask_price", "the ask side is empty");
  return asks_.price.front();
}

double OrderBook::mid() const {
  const double bid = best_bid(), ask = best_ask();
  const double sum = bid + ask;  // halves for prices near the largest double (same value otherwise)
  return std::isfinite(sum) ? sum / 2.0 : bid / 2.0 + ask / 2.0;
}

std::shared_ptr<const void> OrderBook::side_index(
    Direction direction, const std::function<std::shared_ptr<const void>()>& build) const {
  const std::lock_guard lock(derived_->mutex);
  std::shared_ptr<const void>& slot = direction == Direction::down ? derived_->down : derived_->up;
  if (!slot) slot = build();
  return slot;
}

}  // namespace cascade_core
