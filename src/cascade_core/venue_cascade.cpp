// The static cascade over a venue (docs/design.md, "Many markets", "Static cascade over a
// venue"): rounds in which every newly triggered isolated position and cross account closes
// its positions (and sells its collateral); in each market the round's orders cross each other
// at the round's start price and only the imbalance walks the book.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "cascade_core/account_watch.hpp"
#include "cascade_core/bad_debt.hpp"
#include "cascade_core/book_walker.hpp"
#include "cascade_core/errors.hpp"
#include "cascade_core/venue.hpp"

namespace cascade_core {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();
constexpr double eps = std::numeric_limits<double>::epsilon();

enum class OrderKind : std::uint8_t { isolated, account_position, sale, stop, token, fund };

struct Order {
  double qty;
  std::uint32_t ref;   // the position (isolated, account_position), the account (sale), the agent
  std::uint32_t item;  // account_position: its row in fills; sale: its row in sales; token, fund: the event's row
  OrderKind kind;
};

struct Fill {
  double qty = 0.0, notional = 0.0, unfilled = 0.0;
};

using Triggered = TriggeredAccount;


struct FundTriggered {
  std::uint32_t fund;
  FundHealth health;
};

}  // namespace

class VenueCascade {
 public:
  VenueCascade(const VenueState& state, std::span<const Shock> shocks, const VenueAgents& agents,
               const std::atomic<bool>* cancel)
      : s_(state), g_(agents), cancel_(cancel), markets_(state.n_markets()), watch_(state), agent_watch_(agents) {
    if (shocks.size() != markets_) {
      throw InputError("shocks", "expected one per market (" + std::to_string(markets_) + "), got " +
                                     std::to_string(shocks.size()));
    }
    if (!g_.empty() && g_.n_markets() != markets_) {
      throw InputError("agents", "built for a venue of " + std::to_string(g_.n_markets()) + " markets, not " +
                                     std::to_string(markets_));
    }
    init_agents();
    result_.markets.resize(markets_);
    last_.resize(markets_);
    down_.assign(markets_, 0);
    up_.assign(markets_, 0);
    isolated_cursor_down_.assign(markets_, 0);
    isolated_cursor_up_.assign(markets_, 0);
    sells_.resize(markets_);
    buys_.resize(markets_);
    reanchor_.assign(markets_, 0.0);
    reanchor_side_.assign(markets_, no_side);
    reanchored_.resize(markets_);
    for (std::size_t m = 0; m < markets_; ++m) {
      const VenueMarket& market = s_.venue().markets[m];
      bids_.emplace_back(market.book->bids(), true);
      asks_.emplace_back(market.book->asks(), false);
      VenueMarketResult& r = result_.markets[m];
      r.ref_price = r.shock_price = last_[m] = s_.ref_price()[m];
      const Shock& shock = shocks[m];
      if (shock.kind == Shock::Kind::relative && shock.value == 0.0) continue;  // (0: no shock)
      CascadeStart start = [&] {
        try {
          return start_cascade(*market.book, shock, market.ref_price);
        } catch (const InputError& e) {
          throw InputError("shocks", static_cast<std::ptrdiff_t>(m), "('" + market.name + "') " + e.what());
        }
      }();
      const bool down = start.result.direction == Direction::down;
      (down ? bids_ : asks_)[m] = start.walker;
      if (shock.kind != Shock::Kind::quantity) {
        // A move of the price (not an order) moves the whole market: the side opposite the move
        // is re-anchored at the target (its prices times target / ref), made when first walked.
        reanchor_[m] = start.result.shock_price / start.result.ref_price;
        reanchor_side_[m] = down ? asks_side : bids_side;
      }
      r.shock_price = last_[m] = start.result.shock_price;
      r.exogenous_filled_qty = start.result.exogenous_filled_qty;
      r.exogenous_unfilled_qty = start.result.exogenous_unfilled_qty;
      r.book_exhausted = start.result.book_exhausted;
      (down ? down_ : up_)[m] = 1;
    }
    prev_last_ = s_.ref_price();
    prev_down_.assign(markets_, 0);
    prev_up_.assign(markets_, 0);
  }

  VenueResult run() {
    for (std::int64_t round = 1;; ++round) {
      if (cancel_ != nullptr && cancel_->load(std::memory_order_relaxed)) throw Cancelled();
      if (!collect()) break;
      result_.rounds = round;
      trade(round);
    }
    settle();
    settle_agents();
    for (std::size_t m = 0; m < markets_; ++m) {
      VenueMarketResult& r = result_.markets[m];
      r.final_price = last_[m];
      r.levels_touched = static_cast<std::int64_t>(bids_[m].levels_touched() + asks_[m].levels_touched());
    }
    double bad_debt = 0.0;
    for (const auto& r : result_.markets) bad_debt += r.bad_debt;
    for (const double d : result_.account_bad_debt) bad_debt += d;
    result_.bad_debt = bad_debt;
    return std::move(result_);
  }

 private:
  [[nodiscard]] bool moved(std::size_t m) const noexcept { return down_[m] || up_[m]; }

  // The round's triggered set at its start prices: isolated positions each market's last has
  // reached on a side it has moved to, and the accounts the index says may have triggered,
  // evaluated exactly. Returns whether anything was triggered.
  bool collect() {
    iso_down_.assign(markets_, {0, 0});
    iso_up_.assign(markets_, {0, 0});
    bool any = false;
    for (std::size_t m = 0; m < markets_; ++m) {
      const double last = last_[m];
      if (down_[m]) {
        const auto& sorted = s_.isolated_down_[m];
        std::size_t& k = isolated_cursor_down_[m];
        const std::size_t from = k;
        while (k < sorted.size() && last <= sorted[k].threshold) ++k;
        iso_down_[m] = {from, k};
        any |= k > from;
      }
      if (up_[m]) {
        const auto& sorted = s_.isolated_up_[m];
        std::size_t& k = isolated_cursor_up_[m];
        const std::size_t from = k;
        while (k < sorted.size() && last >= sorted[k].threshold) ++k;
        iso_up_[m] = {from, k};
        any |= k > from;
      }
    }
    // accounts
    watch_.begin();
    for (std::size_t m = 0; m < markets_; ++m) {
      if (moved(m)) watch_.collect(m, last_[m], true);
    }
    any |= collect_agents();
    triggered_.clear();
    watch_.evaluate(last_, triggered_, cancel_);
    return any || !triggered_.empty();
  }

  // The round's orders, per market, in priority order: isolated positions in trigger order,
  // then accounts (non-positive equity first, by index; then by margin ratio MM / equity,
  // highest first, ties by index), each account's positions by index and then its sales.
  void trade(std::int64_t round) {
    for (std::size_t m = 0; m < markets_; ++m) {
      sells_[m].clear();
      buys_[m].clear();
      for (std::size_t k = iso_down_[m].first; k < iso_down_[m].second; ++k) {
        const AtRisk& p = s_.isolated_down_[m][k];
        sells_[m].push_back({p.qty, p.index, 0, OrderKind::isolated});
      }
      for (std::size_t k = iso_up_[m].first; k < iso_up_[m].second; ++k) {
        const AtRisk& p = s_.isolated_up_[m][k];
        buys_[m].push_back({p.qty, p.index, 0, OrderKind::isolated});
      }
    }
    std::sort(triggered_.begin(), triggered_.end(), liquidated_before);
    const std::size_t assets = s_.n_assets();
    for (const Triggered& t : triggered_) {
      const std::uint32_t a = t.account;
      result_.account_index.push_back(a);
      result_.account_round.push_back(round);
      result_.account_equity.push_back(t.equity);
      result_.account_maintenance.push_back(t.maintenance);
      fills_base_.push_back(static_cast<std::uint32_t>(fills_.size()));
      for (std::uint32_t j = s_.account_offset_[a]; j < s_.account_offset_[a + 1]; ++j) {
        const std::uint32_t i = s_.account_position_[j];
        const auto m = static_cast<std::size_t>(s_.market_[i]);
        const auto item = static_cast<std::uint32_t>(fills_.size());
        fills_.emplace_back();
        (s_.side_[i] > 0 ? sells_ : buys_)[m].push_back({s_.qty_[i], i, item, OrderKind::account_position});
      }
      for (std::size_t k = 0; k < assets; ++k) {
        const auto item = static_cast<std::uint32_t>(sales_.size());
        sales_.emplace_back();
        const VenueAsset& asset = s_.venue().assets[k];
        const double b = s_.collateral_[a * assets + k];
        if (k == 0 || asset.priced_by < 0 || !(b > 0.0)) continue;
        sells_[static_cast<std::size_t>(asset.priced_by)].push_back({b, a, item, OrderKind::sale});
      }
    }
    agent_orders(round);
    for (std::size_t m = 0; m < markets_; ++m) trade_market(round, m);
  }

  void trade_market(std::int64_t round, std::size_t m) {
    auto& sells = sells_[m];
    auto& buys = buys_[m];
    if (sells.empty() && buys.empty()) return;
    const double start = last_[m];
    double sell_total = 0.0, buy_total = 0.0;
    for (const Order& o : sells) sell_total += o.qty;
    for (const Order& o : buys) buy_total += o.qty;
    const double crossed = std::min(sell_total, buy_total);
    VenueMarketResult& r = result_.markets[m];
    r.crossed_qty += crossed;
    VenueTraceRow row{round, static_cast<std::int64_t>(m), start, 0, 0.0, 0.0, crossed};
    double last = start;
    const auto side = [&](std::vector<Order>& orders, bool sell, bool heavy) {
      BookWalker& walker = walker_of(m, sell);
      double to_cross = crossed;  // the heavy side's first orders, in priority order, cross
      for (const Order& o : orders) {
        double cross = o.qty;
        if (heavy) {
          cross = std::min(o.qty, to_cross);
          to_cross -= cross;
        }
        const double walk = o.qty - cross;
        Fill f;
        f.qty = cross;
        f.notional = cross * start;
        if (walk > 0.0) {
          const BookWalker::Fill w = walker.take(walk, last);
          f.qty = cross + w.qty;
          f.notional = cross * start + w.notional;
          f.unfilled = w.unfilled;
          (sell ? r.bid_qty_taken : r.ask_qty_taken) += w.qty;
          (sell ? r.bid_notional_taken : r.ask_notional_taken) += w.notional;
          if (w.unfilled > 0.0) r.book_exhausted = true;
          (sell ? down_ : up_)[m] = 1;
        }
        record(o, f, r, row, sell, start);
      }
    };
    side(sells, true, sell_total > buy_total);
    side(buys, false, buy_total > sell_total);
    last_[m] = last;
    row.end_price = last;
    result_.trace.push_back(row);
  }

  // The walker of market m's bids (`sell`) or asks. The side opposite a relative or target
  // shock walks a copy of its levels with each price times target / ref (docs/design.md, "Many
  // markets", rule 1), made the first time that side is walked: O(its levels), once per
  // market and cascade, and nothing for a cascade that never walks it.
  BookWalker& walker_of(std::size_t m, bool sell) {
    BookWalker& walker = sell ? bids_[m] : asks_[m];
    if (reanchor_side_[m] != (sell ? bids_side : asks_side)) return walker;
    reanchor_side_[m] = no_side;  // (made once: from here on the walker walks the copy)
    const double factor = reanchor_[m];
    const BookSide& side = sell ? s_.venue().markets[m].book->bids() : s_.venue().markets[m].book->asks();
    std::vector<double>& price = reanchored_[m];
    price.resize(side.size());
    for (std::size_t k = 0; k < side.size(); ++k) price[k] = side.price[k] * factor;
    walker = BookWalker(price.data(), side.qty.data(), side.size(), sell);
    return walker;
  }

  void record(const Order& o, const Fill& f, VenueMarketResult& r, VenueTraceRow& row, bool sell, double start) {
    if (o.kind == OrderKind::stop || o.kind == OrderKind::token || o.kind == OrderKind::fund) {
      record_agent(o, f, r, row, sell, start);
      return;
    }
    if (o.kind == OrderKind::sale) {
      r.sold_qty += f.qty;
      r.sold_notional += f.notional;
      r.sale_unfilled_qty += f.unfilled;
      row.sale_qty += o.qty;
      sales_[o.item] = f;
      return;
    }
    const std::uint32_t i = o.ref;
    ++r.n_liquidated;
    ++row.count;
    row.qty += o.qty;
    r.liquidated_qty += f.qty;
    r.liquidated_notional += f.notional;
    r.unfilled_qty += f.unfilled;
    result_.liquidated_index.push_back(i);
    result_.filled_qty.push_back(f.qty);
    result_.fill_price.push_back(f.qty > 0.0 ? f.notional / f.qty : nan);
    if (o.kind == OrderKind::isolated) {
      const double bankruptcy = s_.bankrupt_[i];
      r.bad_debt += positive_part(s_.side_[i] > 0 ? shortfall<true>(bankruptcy, f.qty, f.notional)
                                                  : shortfall<false>(bankruptcy, f.qty, f.notional));
    } else {
      fills_[o.item] = f;
    }
  }

  // What each liquidated account is left with: its quote balance, what its sales fetched (what
  // they could not sell, and balances not sold, at the final prices, without haircut), its
  // positions' realised PnL, and what its orders could not close marked at the final prices.
  void settle() {
    const std::vector<double> price = s_.asset_prices(last_);
    const std::size_t assets = s_.n_assets();
    for (std::size_t slot = 0; slot < result_.account_index.size(); ++slot) {
      const auto a = static_cast<std::size_t>(result_.account_index[slot]);
      double equity = 0.0;
      for (std::size_t k = 0; k < assets; ++k) {
        const double b = s_.collateral_[a * assets + k];
        if (b == 0.0) continue;
        const VenueAsset& asset = s_.venue().assets[k];
        if (k != 0 && asset.priced_by >= 0 && b > 0.0) {
          const Fill& f = sales_[slot * assets + k];
          equity += f.notional + f.unfilled * price[k];
        } else {
          equity += b * price[k];
        }
      }
      std::uint32_t item = fills_base_[slot];
      for (std::uint32_t j = s_.account_offset_[a]; j < s_.account_offset_[a + 1]; ++j, ++item) {
        const std::uint32_t i = s_.account_position_[j];
        const Fill& f = fills_[item];
        const double side = s_.side_[i];
        equity += side * (f.notional - s_.entry_[i] * f.qty);
        if (f.unfilled > 0.0) equity += side * f.unfilled * (last_[static_cast<std::size_t>(s_.market_[i])] - s_.entry_[i]);
      }
      result_.account_equity_after.push_back(equity);
      result_.account_bad_debt.push_back(equity < 0.0 ? -equity : 0.0);
    }
  }

  // -- agents (docs/design.md, "Agents") ---------------------------------------------------------

  void init_agents() {
    stop_cursor_sell_.assign(markets_, 0);
    stop_cursor_buy_.assign(markets_, 0);
    stop_range_sell_.assign(markets_, {0, 0});
    stop_range_buy_.assign(markets_, {0, 0});
    token_nav_ = g_.token_nav_;
    token_price_ = g_.token_price_;
    fund_debt_.assign(g_.fund_debt_.begin(), g_.fund_debt_.end());
    holdings_ = g_.holdings_;
    fresh_.assign(markets_, 0);
  }

  // The agents the round's start prices trigger: stops each market's last has reached on a side
  // it has moved to (a cursor, as isolated positions), tokens whose rebalance price it has
  // reached (heaps), and funds holding a market that is fresh this round (its last or its moved
  // flags differ from the previous round's start), read exactly. Returns whether any.
  bool collect_agents() {
    bool any = false;
    for (std::size_t m = 0; m < markets_; ++m) {
      fresh_[m] = moved(m) && (last_[m] != prev_last_[m] || down_[m] != prev_down_[m] || up_[m] != prev_up_[m]);
      prev_last_[m] = last_[m];
      prev_down_[m] = down_[m];
      prev_up_[m] = up_[m];
    }
    if (g_.empty()) return false;
    tokens_triggered_.clear();
    const auto take_token = [&](std::uint32_t t) {
      agent_watch_.stale(t);  // its other entry is stale now
      tokens_triggered_.push_back(t);
      return true;
    };
    for (std::size_t m = 0; m < markets_; ++m) {
      const double last = last_[m];
      stop_range_sell_[m] = {stop_cursor_sell_[m], stop_cursor_sell_[m]};
      stop_range_buy_[m] = {stop_cursor_buy_[m], stop_cursor_buy_[m]};
      if (down_[m]) {
        const auto& sorted = g_.sell_stops_[m];
        std::size_t& k = stop_cursor_sell_[m];
        while (k < sorted.size() && last <= sorted[k].price) ++k;
        stop_range_sell_[m].second = k;
        any |= stop_range_sell_[m].second > stop_range_sell_[m].first;
        agent_watch_.reached(m, last, true, take_token);
      }
      if (up_[m]) {
        const auto& sorted = g_.buy_stops_[m];
        std::size_t& k = stop_cursor_buy_[m];
        while (k < sorted.size() && last >= sorted[k].price) ++k;
        stop_range_buy_[m].second = k;
        any |= stop_range_buy_[m].second > stop_range_buy_[m].first;
        agent_watch_.reached(m, last, false, take_token);
      }
    }
    std::sort(tokens_triggered_.begin(), tokens_triggered_.end());
    any |= !tokens_triggered_.empty();
    // funds
    funds_triggered_.clear();
    agent_watch_.begin_funds();
    for (std::size_t m = 0; m < markets_; ++m) {
      if (fresh_[m]) agent_watch_.funds_of(m, [](std::uint32_t) { return false; });
    }
    for (const std::uint32_t f : agent_watch_.funds()) {
      const FundHealth h = fund_health_now(f);
      if (h.triggered) funds_triggered_.push_back({f, h});
    }
    any |= !funds_triggered_.empty();
    return any;
  }

  [[nodiscard]] FundHealth fund_health_now(std::uint32_t f) const noexcept {
    double assets = 0.0;
    for (std::uint32_t j = g_.fund_offset_[f]; j < g_.fund_offset_[f + 1]; ++j) {
      const std::uint32_t m = g_.fund_market_[j];
      assets += holdings_[f * markets_ + m] * last_[m];
    }
    return fund_health(assets, fund_debt_[f], g_.fund_target_[f], g_.fund_max_[f]);
  }

  // The agents' orders, after the liquidations' in each market and side: stops in trigger
  // order, then tokens by index, then funds by index (each fund's orders by market).
  void agent_orders(std::int64_t round) {
    for (std::size_t m = 0; m < markets_; ++m) {
      for (std::size_t k = stop_range_sell_[m].first; k < stop_range_sell_[m].second; ++k) {
        const auto& e = g_.sell_stops_[m][k];
        sells_[m].push_back({e.qty, e.index, 0, OrderKind::stop});
      }
      for (std::size_t k = stop_range_buy_[m].first; k < stop_range_buy_[m].second; ++k) {
        const auto& e = g_.buy_stops_[m][k];
        buys_[m].push_back({e.qty, e.index, 0, OrderKind::stop});
      }
    }
    for (const std::uint32_t t : tokens_triggered_) {
      const auto m = static_cast<std::size_t>(g_.token_market_[t]);
      const double p = last_[m];
      const TokenRebalance rb = token_rebalance(g_.token_leverage_[t], token_nav_[t], token_price_[t], p);
      const double qty = std::abs(rb.notional) / p;
      const auto item = static_cast<std::uint32_t>(result_.token_index.size());
      result_.token_index.push_back(t);
      result_.token_round.push_back(round);
      result_.token_price.push_back(p);
      result_.token_return.push_back(rb.ret);
      result_.token_order_qty.push_back(rb.notional > 0.0 ? qty : -qty);
      result_.token_filled_qty.push_back(0.0);
      result_.token_notional.push_back(0.0);
      result_.token_nav_after.push_back(rb.nav_marked);  // less the order's cost once it fills
      token_wiped_.push_back(rb.wiped_out ? 1 : 0);
      token_nav_[t] = rb.nav_marked;
      token_price_[t] = p;
      if (qty > 0.0) {
        (rb.notional > 0.0 ? buys_ : sells_)[m].push_back({qty, t, item, OrderKind::token});
      } else {
        finish_token(t, item);
      }
    }
    for (const FundTriggered& ft : funds_triggered_) {
      const std::uint32_t f = ft.fund;
      const auto item = static_cast<std::uint32_t>(result_.fund_index.size());
      result_.fund_index.push_back(f);
      result_.fund_round.push_back(round);
      result_.fund_assets.push_back(ft.health.assets);
      result_.fund_equity.push_back(ft.health.equity);
      result_.fund_fraction.push_back(ft.health.fraction);
      result_.fund_sale_value.push_back(ft.health.fraction * ft.health.assets);
      result_.fund_notional.push_back(0.0);
      for (std::uint32_t j = g_.fund_offset_[f]; j < g_.fund_offset_[f + 1]; ++j) {
        const std::uint32_t m = g_.fund_market_[j];
        const double qty = ft.health.fraction * holdings_[f * markets_ + m];
        if (qty > 0.0) sells_[m].push_back({qty, f, item, OrderKind::fund});
      }
    }
  }

  // A token's rebalance done: its new NAV (marked, less its order's cost) and, unless it is
  // wiped out, its next rebalance prices.
  void finish_token(std::uint32_t t, std::uint32_t item) {
    const double nav = result_.token_nav_after[item];
    token_nav_[t] = nav;
    if (!token_wiped_[item] && nav > 0.0) agent_watch_.push(t, token_price_[t]);
  }

  void record_agent(const Order& o, const Fill& f, VenueMarketResult& r, VenueTraceRow& row, bool sell,
                    double start) {
    VenueMarketResult::Agent& kind = o.kind == OrderKind::stop ? r.stops : o.kind == OrderKind::token ? r.tokens : r.funds;
    ++kind.orders;
    (sell ? kind.sold_qty : kind.bought_qty) += f.qty;
    kind.notional += f.notional;
    kind.unfilled_qty += f.unfilled;
    (o.kind == OrderKind::stop ? row.stop_qty : o.kind == OrderKind::token ? row.token_qty : row.fund_qty) += o.qty;
    if (o.kind == OrderKind::stop) {
      result_.stop_index.push_back(o.ref);
      result_.stop_round.push_back(row.round);
      result_.stop_filled_qty.push_back(f.qty);
      result_.stop_fill_price.push_back(f.qty > 0.0 ? f.notional / f.qty : nan);
    } else if (o.kind == OrderKind::token) {
      // the order's cost against the round's start price: what a sell fetched below it, what a buy paid above it
      const double cost = sell ? f.qty * start - f.notional : f.notional - f.qty * start;
      result_.token_filled_qty[o.item] = f.qty;
      result_.token_notional[o.item] = f.notional;
      result_.token_nav_after[o.item] -= cost;
      finish_token(o.ref, o.item);
    } else {
      const std::size_t m = static_cast<std::size_t>(row.market);
      result_.fund_notional[o.item] += f.notional;
      fund_debt_[o.ref] -= f.notional;
      // what the fills' rounding leaves of a holding sold whole is dust (below 1e-12 of what the
      // fund held at the start): none, so a fund that sold everything is done
      double& held = holdings_[o.ref * markets_ + m];
      held -= f.qty;
      if (held <= 1e-12 * g_.holdings_[o.ref * markets_ + m]) held = 0.0;
    }
  }

  void settle_agents() {
    result_.token_nav = token_nav_;
    // a token wiped out past zero owes what its NAV is below it (in token order)
    for (std::size_t t = 0; t < token_nav_.size(); ++t) {
      if (!(token_nav_[t] < 0.0)) continue;
      result_.markets[static_cast<std::size_t>(g_.token_market_[t])].token_bad_debt -= token_nav_[t];
      result_.token_bad_debt -= token_nav_[t];
    }
    result_.fund_debt_after = fund_debt_;
    result_.fund_holdings_after = holdings_;
    result_.fund_equity_after.resize(g_.n_funds());
    for (std::size_t f = 0; f < g_.n_funds(); ++f) {
      double assets = 0.0;
      for (std::uint32_t j = g_.fund_offset_[f]; j < g_.fund_offset_[f + 1]; ++j) {
        const std::uint32_t m = g_.fund_market_[j];
        assets += holdings_[f * markets_ + m] * last_[m];
      }
      result_.fund_equity_after[f] = assets - fund_debt_[f];
    }
  }

  const VenueState& s_;
  const VenueAgents& g_;
  const std::atomic<bool>* cancel_;
  std::size_t markets_;
  VenueResult result_;
  std::vector<double> last_;
  std::vector<std::uint8_t> down_, up_;  // the market has moved down / up
  std::vector<BookWalker> bids_, asks_;
  static constexpr std::uint8_t no_side = 0, bids_side = 1, asks_side = 2;
  std::vector<double> reanchor_;  // per market: target / ref of a relative or target shock
  std::vector<std::uint8_t> reanchor_side_;  // the side still to re-anchor (opposite the shock) or no_side
  std::vector<std::vector<double>> reanchored_;  // the opposite side's prices times reanchor_, once walked
  std::vector<std::size_t> isolated_cursor_down_, isolated_cursor_up_;
  std::vector<std::pair<std::size_t, std::size_t>> iso_down_, iso_up_;  // this round's isolated triggers
  AccountWatch watch_;  // the accounts the round's start prices may trigger
  std::vector<Triggered> triggered_;
  std::vector<std::vector<Order>> sells_, buys_;
  std::vector<Fill> fills_, sales_;      // per liquidated account's positions / assets
  std::vector<std::uint32_t> fills_base_;
  // agents
  std::vector<double> prev_last_;
  std::vector<std::uint8_t> prev_down_, prev_up_, fresh_;
  std::vector<std::size_t> stop_cursor_sell_, stop_cursor_buy_;
  std::vector<std::pair<std::size_t, std::size_t>> stop_range_sell_, stop_range_buy_;
  std::vector<double> token_nav_, token_price_;
  std::vector<std::uint8_t> token_wiped_;  // per rebalance
  AgentWatch agent_watch_;  // tokens' rebalance prices, funds' freshness
  std::vector<std::uint32_t> tokens_triggered_;
  std::vector<double> fund_debt_, holdings_;
  std::vector<FundTriggered> funds_triggered_;
};

VenueResult venue_cascade(const VenueState& state, std::span<const Shock> shocks, const std::atomic<bool>* cancel) {
  VenueCascade run(state, shocks, VenueAgents::none(), cancel);
  return run.run();
}

VenueResult venue_cascade(const VenueState& state, std::span<const Shock> shocks, const VenueAgents& agents,
                          const std::atomic<bool>* cancel) {
  VenueCascade run(state, shocks, agents, cancel);
  return run.run();
}

}  // namespace cascade_core
