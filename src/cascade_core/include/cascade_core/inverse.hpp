// Inverse (coin-margined) contracts (docs/design.md, "Inverse contracts").
//
// A position of n contracts of c USD each, entry price e (USD per coin), margin m in coin, has
// PnL in coin side * n*c * (1/e - 1/p) and maintenance in coin mmr * n*c / p - maint_amount: in
// the reciprocal price x = 1/p that is exactly a linear position of the opposite side, of
// quantity N = n*c (USD), entry 1/e, margin m — PnL -side * N * (x - 1/e), requirement
// mmr * N * x - maint_amount. A bid of q contracts at p is an ask of q*c at 1/p, and an ask a bid.
// So an inverse market is the linear engine run on the reciprocal market; this file owns the
// transform both ways, and nothing else differs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "cascade_core/cascade.hpp"
#include "cascade_core/order_book.hpp"

namespace cascade_core {

// A position set's contract: linear (quantity in base units) or inverse (quantity in contracts
// of `size` USD each; the set holds the reciprocal market's linear positions).
struct Contract {
  bool inverse = false;
  double size = 1.0;  // USD per contract (inverse), finite and > 0
  void validate() const;  // InputError naming contract_size
};

// The reciprocal market's positions: side -> -side, qty (contracts) -> qty * size (USD),
// entry -> 1 / entry. Margin, mmr and maint_amount (in coin) carry over. Rows that are not valid
// positions are carried so that PositionSet names the field (a bad entry stays bad).
void reciprocal_positions(std::span<const std::int8_t> side, std::span<const double> qty,
                          std::span<const double> entry, double size, std::span<std::int8_t> out_side,
                          std::span<double> out_qty, std::span<double> out_entry);

// Prices of the reciprocal market back in USD: 1 / x, and +inf where x <= 0 (a price the
// reciprocal long can never reach: the inverse short is never liquidated / never bankrupt).
void quote_prices(std::span<const double> reciprocal, std::span<double> out);

// A book of base quantities (a BookModel's: its profile is USD notional) in contracts of `size`
// USD: each level's qty * price / size — an inverse population's study book.
OrderBook contract_book(const OrderBook& book, double size);

// The reciprocal book: bids at p with q contracts become asks at 1/p with q * size, asks bids.
OrderBook reciprocal_book(const OrderBook& book, double size);

// One shock on an inverse market, in the reciprocal market's terms: a relative move's target
// p_t = p_ref * (1 + s) is computed in USD as for a linear book and carried over as the target
// 1/p_t, so the levels it removes are the same in both markets. Validates the shock and the
// reference price against the contract-priced book (InputError naming shock, ref_price,
// bid_price/ask_price or sell_qty/buy_qty, as cascade() does for a linear book).
struct ReciprocalShock {
  Shock shock;                    // the move of 1/p to 1/p_t (p_t as the linear engine computes it), or the order in USD
  double ref = 0.0;               // 1 / p_ref
  double quote_ref = 0.0;         // p_ref
  double quote_shock_price = 0.0; // p_t of a move (0 for an order)
  bool identity = false;          // a zero move
};
ReciprocalShock reciprocal_shock(const OrderBook& book, const Shock& shock, std::optional<double> ref_price,
                                 double size);

// A cascade of the reciprocal market in the inverse market's terms: direction flipped; prices
// 1/x (ref_price the p_ref asked); quantities in contracts (/ size); liquidated_notional and
// bad_debt stay in coin; per position, filled contracts and the fill price 1 / VWAP(x) (the
// contract-weighted harmonic mean of the fill prices, as venues report an inverse fill).
// `book` is the contract-priced book: the prices the cascade stopped at (the target, a level)
// are given back exactly.
CascadeResult to_contract_terms(CascadeResult&& reciprocal, const ReciprocalShock& shock, double size,
                                const OrderBook& book);

}  // namespace cascade_core
