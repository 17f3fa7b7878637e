// A venue of many markets (docs/design.md, "Many markets"): markets with their books and margin
// rules, collateral assets with haircuts, isolated positions and cross-margin accounts, indexed
// once (VenueState) so that a static cascade over it costs what it touches.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "cascade_core/bulk_allocator.hpp"
#include "cascade_core/cascade.hpp"
#include "cascade_core/margin.hpp"
#include "cascade_core/order_book.hpp"
#include "cascade_core/venue_agents.hpp"

namespace cascade_core {

// One market: a book, and the rules its positions are margined by. A spot book that only
// collateral sales trade is a market with no positions.
struct VenueMarket {
  std::string name;
  std::shared_ptr<const OrderBook> book;
  std::optional<TierTable> tiers;  // none: each position's own mmr and maint_amount
  MarginRule rule;
  TierRule tier_rule = TierRule::liquidation;  // isolated positions' tier (as PositionSet's)
  std::optional<double> ref_price;             // none: the book's mid
};

// A collateral asset. Asset 0 of a venue is the quote asset (price 1, never sold).
// Its price: index_ratio * last(index_market) when it has an index market (an index that
// follows a market: wBETH on ETH times its conversion rate), else its own market's last price
// (priced_by), else the fixed `price`. A liquidated account's balance is sold into priced_by,
// or not sold when it has none.
struct VenueAsset {
  std::string name;
  std::int64_t priced_by = -1;  // its own market (where it is sold; it prices it without an index); -1: none
  double price = 1.0;           // the fixed price (no market and no index)
  double haircut = 0.0;         // in [0, 1): a positive balance counts at price * (1 - haircut)
  double floor = 0.0;           // > 0: the asset is valued at max(price, floor); 0: no floor
  std::int64_t index_market = -1;  // >= 0: valued at index_ratio * that market's last price
  double index_ratio = 1.0;        // finite and > 0
  // The market its value moves with: the index market, else priced_by; -1: a fixed price.
  [[nodiscard]] std::int64_t valued_on() const noexcept { return index_market >= 0 ? index_market : priced_by; }
  // Its price given each market's last price (the one owner of the valuation rule).
  [[nodiscard]] double price_at(std::span<const double> last) const noexcept;
};

struct Venue {
  std::vector<VenueMarket> markets;
  std::vector<VenueAsset> assets;
  // InputError naming markets[i].field / assets[k].field.
  void validate() const;
};

// Positions of a venue as columns. account == -1: an isolated position (its own margin);
// account >= 0: a cross position of that account (margin 0).
struct VenuePositionColumns {
  std::span<const std::int8_t> side;
  std::span<const double> qty;
  std::span<const double> entry_price;
  std::span<const double> margin;
  std::span<const double> mmr;
  std::span<const double> maint_amount;
  std::span<const std::int64_t> market;
  std::span<const std::int64_t> account;
};

// Per account, a balance of each asset (row-major: account a's balance of asset k is
// collateral[a * n_assets + k]); negative balances are loans.
struct AccountColumns {
  std::size_t n_accounts = 0;
  std::span<const double> collateral;
};

// Positions and balances as owned columns (what a sampler produces): a VenueState takes them
// over without a copy and hands them back when done, so that a study's worker reuses them.
struct VenueColumnBuffers {
  bulk_vector<std::int8_t> side;
  bulk_vector<double> qty, entry_price, margin, mmr, maint_amount;
  bulk_vector<std::int64_t> market, account;
  std::size_t n_accounts = 0;
  bulk_vector<double> collateral;  // n_accounts x n_assets, row-major
  [[nodiscard]] VenuePositionColumns positions() const noexcept {
    return {side, qty, entry_price, margin, mmr, maint_amount, market, account};
  }
};

// An account's equity and maintenance at some prices (docs/design.md, "Many markets").
struct AccountHealth {
  double equity = 0.0;
  double maintenance = 0.0;
  double scale = 0.0;  // sum of the terms' magnitudes (the rounding bound's scale)
  [[nodiscard]] bool triggered() const noexcept { return equity <= maintenance; }
};

// An account triggered at some prices, with its health there.
struct TriggeredAccount {
  std::uint32_t account;
  double equity, maintenance;
};

// The order triggered accounts are liquidated in (docs/design.md, "Static cascade over a
// venue", rule 4; the simulator's too): equity <= 0 first, by index; then by margin ratio
// MM / Equity, highest first; ties by index.
inline bool liquidated_before(const TriggeredAccount& x, const TriggeredAccount& y) noexcept {
  const bool xb = !(x.equity > 0.0), yb = !(y.equity > 0.0);
  if (xb != yb) return xb;
  if (xb) return x.account < y.account;
  const double rx = x.maintenance / x.equity, ry = y.maintenance / y.equity;
  if (rx != ry) return rx > ry;
  return x.account < y.account;
}

// The venue, its positions and accounts, validated and indexed once; cascades read it only
// (thread-safe to share).
class VenueState {
 public:
  VenueState(std::shared_ptr<const Venue> venue, const VenuePositionColumns& positions,
             const AccountColumns& accounts, const std::atomic<bool>* cancel = nullptr);
  // The same state from columns it takes over (validated in place; no copy).
  VenueState(std::shared_ptr<const Venue> venue, VenueColumnBuffers&& columns,
             const std::atomic<bool>* cancel = nullptr);
  // Hands the columns back (mmr and maint_amount as assigned from the tiers); the state must
  // not be used afterwards.
  [[nodiscard]] VenueColumnBuffers release_columns() noexcept;

  [[nodiscard]] const Venue& venue() const noexcept { return *venue_; }
  [[nodiscard]] std::size_t n_markets() const noexcept { return venue_->markets.size(); }
  [[nodiscard]] std::size_t n_assets() const noexcept { return venue_->assets.size(); }
  [[nodiscard]] std::size_t n_positions() const noexcept { return side_.size(); }
  [[nodiscard]] std::size_t n_accounts() const noexcept { return n_accounts_; }
  [[nodiscard]] const std::vector<double>& ref_price() const noexcept { return ref_price_; }

  // Per position (mmr and maint_amount as assigned from the market's tiers where it has
  // some; liquidation and bankruptcy prices of isolated positions, NaN for cross ones).
  [[nodiscard]] std::span<const std::int8_t> side() const noexcept { return side_; }
  [[nodiscard]] std::span<const std::int64_t> market() const noexcept { return market_; }
  [[nodiscard]] std::span<const double> mmr() const noexcept { return mmr_; }
  [[nodiscard]] std::span<const double> maint_amount() const noexcept { return maint_; }
  [[nodiscard]] std::span<const double> liquidation_price() const noexcept { return liq_; }
  [[nodiscard]] std::span<const double> bankruptcy_price() const noexcept { return bankrupt_; }
  // Per account at the reference prices.
  [[nodiscard]] std::span<const double> equity_ref() const noexcept { return equity_ref_; }
  [[nodiscard]] std::span<const double> maintenance_ref() const noexcept { return maint_ref_; }

  // The price each asset is valued at, given each market's last price.
  [[nodiscard]] std::vector<double> asset_prices(std::span<const double> last) const;
  // Account a's equity and maintenance at these prices (in the order the reference model adds them).
  [[nodiscard]] AccountHealth health(std::size_t a, std::span<const double> last,
                                     std::span<const double> asset_price) const noexcept;
  // Every account's equity at these market prices (O(accounts + positions)).
  [[nodiscard]] std::vector<double> equity_at(std::span<const double> last) const;
  // A cross position's maintenance at its market's price p.
  [[nodiscard]] double position_maintenance(std::size_t i, double p) const noexcept;

  // Each cross account's trigger prices, market by market (docs/design.md, "Liquidation map of
  // a venue"): for every (account, market) pair it is exposed to, the highest price at or
  // below the reference (`down`) and the lowest at or above it (`up`) at which
  // Equity <= MM with that market alone moved and every other market at its reference;
  // NaN where it never does (a down trigger must be > 0). An account already past its
  // trigger at the reference has both at the reference. Accounts without positions are left out.
  struct TriggerPrices {
    std::vector<std::int64_t> account, market;
    std::vector<double> down, up;
  };
  [[nodiscard]] TriggerPrices account_trigger_prices(const std::atomic<bool>* cancel = nullptr) const;

  // Account a's next bounds from its health `h` at market prices `price` (docs/design.md, "Cost:
  // what is touched"): emit(market, down, bound) for each market it is exposed to, `down` when
  // a fall to `bound` may first trigger it, else a rise. An account within rounding of its
  // trigger gets the next representable price each way (re-read whenever a price it depends on
  // moves).
  template <class Emit>
  void account_bounds(std::uint32_t a, const AccountHealth& h, std::span<const double> price, Emit&& emit) const {
    const double slack = account_slack(a, h);
    if (!(slack > 0.0)) {
      for (std::uint32_t e = exposure_offset_[a]; e < exposure_offset_[a + 1]; ++e) {
        const std::uint32_t m = exposure_market_[e];
        emit(m, true, std::nextafter(price[m], 0.0));
        emit(m, false, std::nextafter(price[m], std::numeric_limits<double>::infinity()));
      }
      return;
    }
    bounds_from_slack(a, slack, price, std::forward<Emit>(emit));
  }

  // Account a's room before its trigger at health `h`: Equity - MM less the rounding tolerance.
  [[nodiscard]] double account_slack(std::size_t a, const AccountHealth& h) const noexcept {
    return h.equity - h.maintenance - (1e-9 * h.scale + tolerance_extra_[a]);
  }

  // The bounds of account_bounds for an account with `slack` > 0 of room at `price` (the state's
  // reference index is built from them too).
  template <class Emit>
  void bounds_from_slack(std::uint32_t a, double slack, std::span<const double> price, Emit&& emit) const {
    constexpr double eps = std::numeric_limits<double>::epsilon();
    constexpr double infinity = std::numeric_limits<double>::infinity();
    const std::uint32_t from = exposure_offset_[a], to = exposure_offset_[a + 1];
    std::size_t pairs = 0;
    for (std::uint32_t e = from; e < to; ++e) pairs += (exposure_down_[e] > 0.0) || (exposure_up_[e] > 0.0);
    for (std::uint32_t e = from; e < to; ++e) {
      const std::uint32_t m = exposure_market_[e];
      const double p = price[m];
      if (exposure_down_[e] > 0.0) {
        const double bound = std::min((p - slack / (static_cast<double>(pairs) * exposure_down_[e])) * (1.0 + 4 * eps),
                                      std::nextafter(p, 0.0));
        if (bound > 0.0) emit(m, true, bound);
      }
      if (exposure_up_[e] > 0.0) {
        const double bound = std::max((p + slack / (static_cast<double>(pairs) * exposure_up_[e])) * (1.0 - 4 * eps),
                                      std::nextafter(p, infinity));
        if (bound < infinity) emit(m, false, bound);
      }
    }
  }

 private:
  friend class VenueCascade;
  friend class VenueSimulation;
  friend class AccountWatch;
  struct Bound {
    double price;
    std::uint32_t account;
  };

  void check_venue(std::span<const double> collateral);
  void check_lengths(const VenuePositionColumns& c) const;
  template <class Row>
  void validate_positions(const VenuePositionColumns& c, Row&& row) const;
  void copy_positions(const VenuePositionColumns& c);
  void build(const std::atomic<bool>* cancel);
  void assign_margins();
  void index_isolated();
  void index_accounts(const std::atomic<bool>* cancel);

  std::shared_ptr<const Venue> venue_;
  std::size_t n_accounts_ = 0;
  std::vector<double> ref_price_;
  std::vector<double> one_minus_haircut_;
  // positions (own copies; large arrays in bulk vectors: a state rebuilt per scenario gets
  // already-mapped pages back from the buffer cache)
  bulk_vector<std::int8_t> side_;
  bulk_vector<double> qty_, entry_, margin_, mmr_, maint_, liq_, bankrupt_;
  bulk_vector<std::int64_t> market_, account_;
  std::vector<std::uint8_t> dynamic_tier_;  // per market: cross positions take the tier of qty * price
  std::vector<double> tier_jump_;           // per market: the requirement's largest total jump across tiers
  std::vector<double> max_tier_mmr_;        // per market with tiers: the largest mmr (0 without)
  // isolated positions at risk, per market, in trigger order (longs: down, shorts: up)
  std::vector<bulk_vector<AtRisk>> isolated_down_, isolated_up_;
  // accounts
  bulk_vector<double> collateral_;
  bulk_vector<std::uint32_t> account_offset_, account_position_;  // CSR: each account's positions, by index
  bulk_vector<std::uint32_t> exposure_offset_;                    // CSR: each account's (market, direction) rates
  bulk_vector<std::uint32_t> exposure_market_;
  bulk_vector<double> exposure_down_, exposure_up_;
  bulk_vector<double> tolerance_extra_;  // per account: the tiers' jumps its positions can cross
  bulk_vector<double> equity_ref_, maint_ref_;
  // accounts indexed by when they can next trigger: per market, the price at which a fall
  // (down) or a rise (up) may first bring them to their maintenance, sorted in reach order
  std::vector<bulk_vector<Bound>> bound_down_, bound_up_;
  // per market: accounts exposed to it that are within rounding of their trigger at the
  // reference prices (evaluated when the market first moves)
  std::vector<std::vector<std::uint32_t>> near_trigger_;
};

struct VenueMarketResult {
  double ref_price = 0.0, shock_price = 0.0, final_price = 0.0;
  std::int64_t n_liquidated = 0;   // positions closed in this market
  double liquidated_qty = 0.0, liquidated_notional = 0.0, unfilled_qty = 0.0;
  double sold_qty = 0.0, sold_notional = 0.0, sale_unfilled_qty = 0.0;  // collateral sales
  double crossed_qty = 0.0;        // matched at round start prices, buys against sells
  double exogenous_filled_qty = 0.0, exogenous_unfilled_qty = 0.0;
  double bad_debt = 0.0;           // isolated positions' (accounts' is per account)
  bool book_exhausted = false;
  std::int64_t levels_touched = 0;
  // what the orders took from the book (conservation: sells - buys = bids taken - asks taken)
  double bid_qty_taken = 0.0, bid_notional_taken = 0.0, ask_qty_taken = 0.0, ask_notional_taken = 0.0;
  // agents' orders (docs/design.md, "Agents"): per kind, how many orders, what filled (sells,
  // buys), its value, what found no book
  struct Agent {
    std::int64_t orders = 0;
    double sold_qty = 0.0, bought_qty = 0.0, notional = 0.0, unfilled_qty = 0.0;
  };
  Agent stops, tokens, funds;
  // what the market's wiped-out tokens owe at the end: sum of max(0, -NAV) (their issuers'
  // shortfall, not the venue's: not in bad_debt)
  double token_bad_debt = 0.0;
};

struct VenueTraceRow {
  std::int64_t round;
  std::int64_t market;
  double start_price;
  std::int64_t count;   // positions closed in the market this round
  double qty;           // their quantity (sells and buys)
  double sale_qty;      // collateral sold into it
  double crossed_qty;
  double end_price = 0.0;  // the market's last price after the round's orders
  double stop_qty = 0.0, token_qty = 0.0, fund_qty = 0.0;  // agents' orders (sells and buys)
};

struct VenueResult {
  std::vector<VenueMarketResult> markets;
  std::int64_t rounds = 0;
  double bad_debt = 0.0;
  std::vector<VenueTraceRow> trace;
  // per liquidated position, in processing order
  std::vector<std::int64_t> liquidated_index;
  std::vector<double> filled_qty, fill_price;
  // per liquidated account, in liquidation order
  std::vector<std::int64_t> account_index, account_round;
  std::vector<double> account_equity, account_maintenance;  // at the round's start prices
  std::vector<double> account_equity_after, account_bad_debt;
  // agents (docs/design.md, "Agents"): per stop fired, in firing order
  std::vector<std::int64_t> stop_index, stop_round;
  std::vector<double> stop_filled_qty, stop_fill_price;
  // per token rebalance, in order: the round's start price, the return since the token's last
  // rebalance, the order (signed: + buys), what filled, its value, the NAV after its cost
  std::vector<std::int64_t> token_index, token_round;
  std::vector<double> token_price, token_return, token_order_qty, token_filled_qty, token_notional, token_nav_after;
  std::vector<double> token_nav;  // per token: its NAV at the end (as given if it never rebalanced)
  double token_bad_debt = 0.0;    // sum over tokens of max(0, -token_nav): the issuers' shortfall
  // per fund sale, in order: at the round's start prices, its assets, equity, the fraction of
  // every holding it sells and that value; then what its orders fetched
  std::vector<std::int64_t> fund_index, fund_round;
  std::vector<double> fund_assets, fund_equity, fund_fraction, fund_sale_value, fund_notional;
  std::vector<double> fund_debt_after, fund_equity_after;  // per fund, at the final prices
  std::vector<double> fund_holdings_after;                  // per fund and market (row-major)
  std::vector<double> final_prices() const;
};

// One static cascade over the venue: shocks[m] for market m (Shock::relative(0) for none).
// Throws InputError naming shocks[m] for a bad shock.
VenueResult venue_cascade(const VenueState& state, std::span<const Shock> shocks,
                          const std::atomic<bool>* cancel = nullptr);
// The same with agents (their orders cross and walk with the liquidations, docs/design.md,
// "Agents"); `agents` must have been built for this state's venue.
VenueResult venue_cascade(const VenueState& state, std::span<const Shock> shocks, const VenueAgents& agents,
                          const std::atomic<bool>* cancel = nullptr);

}  // namespace cascade_core
