#include "cascade_core/inverse.hpp"

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
  for (std::size_t i = 0; i < n; ++i) {
    out_side[i] = static_cast<std::int8_t>(-side[i]);  // (a bad side stays bad: +-1 only maps to -+1)
    out_qty[i] = qty[i] * size;
    out_entry[i] = 1.0 / entry[i];
    // a valid entry whose reciprocal is not a price (a denormal entry): name entry_price here
    if (std::isfinite(entry[i]) && entry[i] > 0.0 && !(std::isfinite(out_entry[i]) && out_entry[i] > 0.0)) {
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

CascadeResult to_contract_terms(CascadeResult&& r, const ReciprocalShock& shock, double size) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  const auto price = [](double x) { return x > 0.0 ? 1.0 / x : inf; };
  r.direction = r.direction == Direction::down ? Direction::up : Direction::down;
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
  for (auto& p : r.fill_price) p = std::isnan(p) ? p : price(p);
  return std::move(r);
}

}  // namespace cascade_core
