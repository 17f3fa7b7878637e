#include "cascade_core/inverse.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cascade_core/errors.hpp"

namespace cascade_core {

void Contract::validate() const {
  require(std::isfinite(size) && size > 0.0, "contract_size", "must be finite and > 0", size);
}

void reciprocal_positions(std::span<const std::int8_t> side, std::span<const double> qty,
                          std::span<const double> entry, double size, std::span<std::int8_t> out_side,
                          std::span<double> out_qty, std::span<double> out_entry) {
  Contract{true, size}.validate();
  const std::size_t n = side.size();
  if (qty.size() != n || entry.size() != n || out_side.size() != n || out_qty.size() != n || out_entry.size() != n) {
    throw InputError("qty", "columns of different lengths");
  }
  // A value that is not valid is carried unchanged, so that PositionSet names it as the user gave it.
  const auto valid = [](double v) { return std::isfinite(v) && v > 0.0; };
  for (std::size_t i = 0; i < n; ++i) {
    out_side[i] = side[i] == 1 || side[i] == -1 ? static_cast<std::int8_t>(-side[i]) : side[i];
    out_qty[i] = valid(qty[i]) ? qty[i] * size : qty[i];
    out_entry[i] = valid(entry[i]) ? 1.0 / entry[i] : entry[i];
    if (valid(qty[i]) && !std::isfinite(out_qty[i])) {
      throw InputError("qty", static_cast<std::ptrdiff_t>(i),
                       "qty * contract_size overflows, got " + format_value(qty[i]));
    }
    // a valid entry whose reciprocal is not a price (a denormal entry): name entry_price here
    if (valid(entry[i]) && !valid(out_entry[i])) {
      throw InputError("entry_price", static_cast<std::ptrdiff_t>(i),
                       "its reciprocal 1/entry_price is not a finite price > 0, got " + format_value(entry[i]));
    }
  }
}

void quote_prices(std::span<const double> reciprocal, std::span<double> out) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < reciprocal.size(); ++i) out[i] = reciprocal[i] > 0.0 ? 1.0 / reciprocal[i] : inf;
}

namespace {

// One side of the reciprocal book: levels in the same order (best first), price 1/p, qty * size.
void reciprocal_side(const BookSide& side, double size, std::vector<double>& price, std::vector<double>& qty) {
  price.resize(side.price.size());
  qty.resize(side.qty.size());
  for (std::size_t k = 0; k < side.price.size(); ++k) {
    price[k] = 1.0 / side.price[k];
    qty[k] = side.qty[k] * size;
  }
}

}  // namespace

OrderBook contract_book(const OrderBook& book, double size) {
  Contract{true, size}.validate();
  const auto side_in_contracts = [size](const BookSide& side) {
    std::vector<double> qty(side.qty.size());
    for (std::size_t k = 0; k < qty.size(); ++k) qty[k] = side.qty[k] * side.price[k] / size;
    return qty;
  };
  const std::vector<double> bid_qty = side_in_contracts(book.bids()), ask_qty = side_in_contracts(book.asks());
  return OrderBook(book.bids().price, bid_qty, book.asks().price, ask_qty);
}

OrderBook reciprocal_book(const OrderBook& book, double size) {
  Contract{true, size}.validate();
  std::vector<double> bid_price, bid_qty, ask_price, ask_qty;
  // the best bid (highest p) becomes the best ask (lowest 1/p): the order is kept
  reciprocal_side(book.bids(), size, ask_price, ask_qty);
  reciprocal_side(book.asks(), size, bid_price, bid_qty);
  for (const double q : ask_qty) {
    if (!std::isfinite(q)) throw InputError("contract_size", "bid_qty * contract_size overflows");
  }
  for (const double q : bid_qty) {
    if (!std::isfinite(q)) throw InputError("contract_size", "ask_qty * contract_size overflows");
  }
  return OrderBook(bid_price, bid_qty, ask_price, ask_qty);
}

ReciprocalShock reciprocal_shock(const OrderBook& book, const Shock& shock, std::optional<double> ref_price,
                                 double size) {
  // the contract-priced book's checks and messages (shock, ref_price, the side it needs)
  const CascadeStart start = start_cascade(book, shock, ref_price);
  ReciprocalShock out;
  out.quote_ref = start.result.ref_price;
  out.ref = 1.0 / out.quote_ref;
  if (!(std::isfinite(out.ref) && out.ref > 0.0)) {
    throw InputError("ref_price", "its reciprocal is not a finite price > 0, got " + format_value(out.quote_ref));
  }
  out.identity = start.identity;
  if (shock.kind == Shock::Kind::relative) {
    // the contract book's target, as the linear engine computes it, carried over exactly: a level
    // at that price is kept in both markets (1/p of the same doubles)
    out.quote_shock_price = start.result.shock_price;
    out.shock = shock.value == 0.0
                    ? Shock::relative(0.0)
                    : Shock::to_price(1.0 / start.result.shock_price,
                                      shock.moves() == Direction::down ? Direction::up : Direction::down);
  } else if (shock.kind == Shock::Kind::target) {
    out.quote_shock_price = shock.value;
    out.shock = Shock::to_price(1.0 / shock.value, shock.direction == Direction::down ? Direction::up : Direction::down);
  } else {
    const double usd = shock.value * size;
    if (!std::isfinite(usd)) throw InputError("contract_size", "the order's size in USD overflows");
    out.shock = shock.direction == Direction::down ? Shock::buy(usd) : Shock::sell(usd);
  }
  return out;
}

CascadeResult to_contract_terms(CascadeResult&& r, const ReciprocalShock& shock, double size, const OrderBook& book) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  // a zero move is the identity: no side moves (the linear engine calls it down)
  r.direction = shock.identity ? Direction::down : (r.direction == Direction::down ? Direction::up : Direction::down);
  // Prices the cascade stopped at are the target or book levels: give them back exactly, the
  // level's own price (not 1/(1/p), which may differ in the last bit) — found by a binary search
  // of the side consumed, whose reciprocals are sorted the other way.
  const BookSide& side = book.side_consumed(r.direction);
  const bool bids = r.direction == Direction::down;  // bids: p falling, so 1/p rising
  const double shock_x = r.shock_price;
  const auto price = [&](double x) {
    if (!(x > 0.0)) return inf;
    if (shock.quote_shock_price > 0.0 && x == shock_x) return shock.quote_shock_price;
    const auto at = std::partition_point(side.price.begin(), side.price.end(),
                                         [&](double p) { return bids ? 1.0 / p < x : 1.0 / p > x; });
    return at != side.price.end() && 1.0 / *at == x ? *at : 1.0 / x;
  };
  r.ref_price = shock.quote_ref;
  r.shock_price = shock.quote_shock_price > 0.0 ? shock.quote_shock_price : price(r.shock_price);
  r.final_price = price(r.final_price);
  r.liquidated_qty /= size;
  r.unfilled_qty /= size;
  r.exogenous_filled_qty /= size;
  r.exogenous_unfilled_qty /= size;
  for (auto& round : r.trace) {
    round.start_price = price(round.start_price);
    round.qty /= size;
  }
  for (auto& q : r.filled_qty) q /= size;
  for (auto& p : r.fill_price) p = std::isnan(p) ? p : (p > 0.0 ? 1.0 / p : inf);  // harmonic means, not levels
  return std::move(r);
}

}  // namespace cascade_core
