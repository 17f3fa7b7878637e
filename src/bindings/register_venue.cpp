#include "pybind.hpp"
#include "interruptible.hpp"

#include <cascade_core/venue.hpp>

#include <memory>
#include <optional>
#include <string>

namespace cc = cascade_core;

namespace liqcascade_bindings {

namespace {

cc::Shock venue_shock(const std::string& kind, double value, std::size_t m) {
  if (kind == "relative") return cc::Shock::relative(value);
  if (kind == "sell") return cc::Shock::sell(value);
  if (kind == "buy") return cc::Shock::buy(value);
  throw py::value_error("shocks[" + std::to_string(m) + "]: kind must be 'relative', 'sell' or 'buy', got '" + kind + "'");
}

template <class T>
py::array_t<T> owned(std::vector<T>&& v) {
  return to_numpy(std::move(v));
}

py::dict result_to_dict(cc::VenueResult&& r) {
  py::dict d;
  const std::size_t markets = r.markets.size();
  std::vector<double> ref(markets), shock(markets), final_(markets), liq_qty(markets), liq_notional(markets),
      unfilled(markets), sold(markets), sold_notional(markets), sale_unfilled(markets), crossed(markets),
      exo_filled(markets), exo_unfilled(markets), bad_debt(markets), bid_qty(markets), bid_notional(markets),
      ask_qty(markets), ask_notional(markets), token_bad_debt(markets);
  std::vector<std::int64_t> n_liq(markets), levels(markets);
  // agents' columns per kind: orders, sold_qty, bought_qty, notional, unfilled_qty
  const char* kinds[] = {"stop", "token", "fund"};
  std::vector<std::int64_t> agent_orders[3];
  std::vector<double> agent_sold[3], agent_bought[3], agent_notional[3], agent_unfilled[3];
  for (std::size_t m = 0; m < markets; ++m) {
    const cc::VenueMarketResult::Agent* per[] = {&r.markets[m].stops, &r.markets[m].tokens, &r.markets[m].funds};
    for (int k = 0; k < 3; ++k) {
      agent_orders[k].push_back(per[k]->orders);
      agent_sold[k].push_back(per[k]->sold_qty);
      agent_bought[k].push_back(per[k]->bought_qty);
      agent_notional[k].push_back(per[k]->notional);
      agent_unfilled[k].push_back(per[k]->unfilled_qty);
    }
  }
  std::vector<std::uint8_t> exhausted(markets);
  for (std::size_t m = 0; m < markets; ++m) {
    const auto& x = r.markets[m];
    ref[m] = x.ref_price;
    shock[m] = x.shock_price;
    final_[m] = x.final_price;
    n_liq[m] = x.n_liquidated;
    liq_qty[m] = x.liquidated_qty;
    liq_notional[m] = x.liquidated_notional;
    unfilled[m] = x.unfilled_qty;
    sold[m] = x.sold_qty;
    sold_notional[m] = x.sold_notional;
    sale_unfilled[m] = x.sale_unfilled_qty;
    crossed[m] = x.crossed_qty;
    exo_filled[m] = x.exogenous_filled_qty;
    exo_unfilled[m] = x.exogenous_unfilled_qty;
    bad_debt[m] = x.bad_debt;
    exhausted[m] = x.book_exhausted ? 1 : 0;
    levels[m] = x.levels_touched;
    bid_qty[m] = x.bid_qty_taken;
    bid_notional[m] = x.bid_notional_taken;
    ask_qty[m] = x.ask_qty_taken;
    ask_notional[m] = x.ask_notional_taken;
    token_bad_debt[m] = x.token_bad_debt;
  }
  py::dict mk;
  mk["ref_price"] = owned(std::move(ref));
  mk["shock_price"] = owned(std::move(shock));
  mk["final_price"] = owned(std::move(final_));
  mk["n_liquidated"] = owned(std::move(n_liq));
  mk["liquidated_qty"] = owned(std::move(liq_qty));
  mk["liquidated_notional"] = owned(std::move(liq_notional));
  mk["unfilled_qty"] = owned(std::move(unfilled));
  mk["sold_qty"] = owned(std::move(sold));
  mk["sold_notional"] = owned(std::move(sold_notional));
  mk["sale_unfilled_qty"] = owned(std::move(sale_unfilled));
  mk["crossed_qty"] = owned(std::move(crossed));
  mk["exogenous_filled_qty"] = owned(std::move(exo_filled));
  mk["exogenous_unfilled_qty"] = owned(std::move(exo_unfilled));
  mk["bad_debt"] = owned(std::move(bad_debt));
  mk["book_exhausted"] = owned(std::move(exhausted)).attr("astype")("bool");
  mk["levels_touched"] = owned(std::move(levels));
  mk["bid_qty_taken"] = owned(std::move(bid_qty));
  mk["bid_notional_taken"] = owned(std::move(bid_notional));
  mk["ask_qty_taken"] = owned(std::move(ask_qty));
  mk["ask_notional_taken"] = owned(std::move(ask_notional));
  for (int k = 0; k < 3; ++k) {
    const std::string kind = kinds[k];
    mk[(kind + "_orders").c_str()] = owned(std::move(agent_orders[k]));
    mk[(kind + "_sold_qty").c_str()] = owned(std::move(agent_sold[k]));
    mk[(kind + "_bought_qty").c_str()] = owned(std::move(agent_bought[k]));
    mk[(kind + "_notional").c_str()] = owned(std::move(agent_notional[k]));
    mk[(kind + "_unfilled_qty").c_str()] = owned(std::move(agent_unfilled[k]));
  }
  mk["token_bad_debt"] = owned(std::move(token_bad_debt));
  d["markets"] = mk;
  d["rounds"] = r.rounds;
  d["token_bad_debt"] = r.token_bad_debt;
  d["bad_debt"] = r.bad_debt;
  std::vector<std::int64_t> t_round, t_market, t_count;
  std::vector<double> t_price, t_qty, t_sale, t_crossed, t_end, t_stop, t_token, t_fund;
  for (const auto& row : r.trace) {
    t_round.push_back(row.round);
    t_market.push_back(row.market);
    t_price.push_back(row.start_price);
    t_count.push_back(row.count);
    t_qty.push_back(row.qty);
    t_sale.push_back(row.sale_qty);
    t_crossed.push_back(row.crossed_qty);
    t_end.push_back(row.end_price);
    t_stop.push_back(row.stop_qty);
    t_token.push_back(row.token_qty);
    t_fund.push_back(row.fund_qty);
  }
  py::dict trace;
  trace["round"] = owned(std::move(t_round));
  trace["market"] = owned(std::move(t_market));
  trace["start_price"] = owned(std::move(t_price));
  trace["count"] = owned(std::move(t_count));
  trace["qty"] = owned(std::move(t_qty));
  trace["sale_qty"] = owned(std::move(t_sale));
  trace["crossed_qty"] = owned(std::move(t_crossed));
  trace["end_price"] = owned(std::move(t_end));
  trace["stop_qty"] = owned(std::move(t_stop));
  trace["token_qty"] = owned(std::move(t_token));
  trace["fund_qty"] = owned(std::move(t_fund));
  d["trace"] = trace;
  d["liquidated_index"] = owned(std::move(r.liquidated_index));
  d["filled_qty"] = owned(std::move(r.filled_qty));
  d["fill_price"] = owned(std::move(r.fill_price));
  d["account_index"] = owned(std::move(r.account_index));
  d["account_round"] = owned(std::move(r.account_round));
  d["account_equity"] = owned(std::move(r.account_equity));
  d["account_maintenance"] = owned(std::move(r.account_maintenance));
  d["account_equity_after"] = owned(std::move(r.account_equity_after));
  d["account_bad_debt"] = owned(std::move(r.account_bad_debt));
  d["stop_index"] = owned(std::move(r.stop_index));
  d["stop_round"] = owned(std::move(r.stop_round));
  d["stop_filled_qty"] = owned(std::move(r.stop_filled_qty));
  d["stop_fill_price"] = owned(std::move(r.stop_fill_price));
  d["token_index"] = owned(std::move(r.token_index));
  d["token_round"] = owned(std::move(r.token_round));
  d["token_price"] = owned(std::move(r.token_price));
  d["token_return"] = owned(std::move(r.token_return));
  d["token_order_qty"] = owned(std::move(r.token_order_qty));
  d["token_filled_qty"] = owned(std::move(r.token_filled_qty));
  d["token_notional"] = owned(std::move(r.token_notional));
  d["token_nav_after"] = owned(std::move(r.token_nav_after));
  d["token_nav"] = owned(std::move(r.token_nav));
  d["fund_index"] = owned(std::move(r.fund_index));
  d["fund_round"] = owned(std::move(r.fund_round));
  d["fund_assets"] = owned(std::move(r.fund_assets));
  d["fund_equity"] = owned(std::move(r.fund_equity));
  d["fund_fraction"] = owned(std::move(r.fund_fraction));
  d["fund_sale_value"] = owned(std::move(r.fund_sale_value));
  d["fund_notional"] = owned(std::move(r.fund_notional));
  d["fund_debt_after"] = owned(std::move(r.fund_debt_after));
  d["fund_equity_after"] = owned(std::move(r.fund_equity_after));
  d["fund_holdings_after"] = owned(std::move(r.fund_holdings_after));
  return d;
}

template <class T>
py::array_t<T> copy_out(std::span<const T> data) {
  return to_numpy(std::vector<T>(data.begin(), data.end()));
}

}  // namespace

void register_venue(py::module_& m) {
  py::class_<cc::VenueMarket>(m, "VenueMarket")
      .def(py::init([](const std::string& name, const py::object& book, std::optional<cc::TierTable> tiers,
                       const cc::MarginRule& rule, cc::TierRule tier_rule, std::optional<double> ref_price) {
             cc::VenueMarket market;
             market.name = name;
             market.book = std::make_shared<const cc::OrderBook>(order_book(book, "book"));
             market.tiers = std::move(tiers);
             market.rule = rule;
             market.tier_rule = tier_rule;
             market.ref_price = ref_price;
             return market;
           }),
           py::arg("name"), py::arg("book"), py::arg("tiers") = py::none(), py::arg("rule") = cc::MarginRule{},
           py::arg("tier_rule") = cc::TierRule::liquidation, py::arg("ref_price") = py::none())
      .def_readonly("name", &cc::VenueMarket::name);

  py::class_<cc::VenueAsset>(m, "VenueAsset")
      .def(py::init([](const std::string& name, std::int64_t priced_by, double price, double haircut, double floor,
                       std::int64_t index_market, double index_ratio) {
             return cc::VenueAsset{name, priced_by, price, haircut, floor, index_market, index_ratio};
           }),
           py::arg("name"), py::arg("priced_by") = -1, py::arg("price") = 1.0, py::arg("haircut") = 0.0,
           py::arg("floor") = 0.0, py::arg("index_market") = -1, py::arg("index_ratio") = 1.0)
      .def_readonly("name", &cc::VenueAsset::name)
      .def_readonly("priced_by", &cc::VenueAsset::priced_by);

  py::class_<cc::Venue, std::shared_ptr<cc::Venue>>(m, "Venue")
      .def(py::init([](std::vector<cc::VenueMarket> markets, std::vector<cc::VenueAsset> assets) {
             auto venue = std::make_shared<cc::Venue>();
             venue->markets = std::move(markets);
             venue->assets = std::move(assets);
             venue->validate();
             return venue;
           }),
           py::arg("markets"), py::arg("assets"))
      .def_property_readonly("n_markets", [](const cc::Venue& v) { return v.markets.size(); })
      .def_property_readonly("n_assets", [](const cc::Venue& v) { return v.assets.size(); });

  py::class_<cc::VenueState, std::shared_ptr<cc::VenueState>>(m, "VenueState")
      .def(py::init([](std::shared_ptr<cc::Venue> venue, const py::object& side, const py::object& qty,
                       const py::object& entry_price, const py::object& margin, const py::object& mmr,
                       const py::object& maint_amount, const py::object& market, const py::object& account,
                       std::size_t n_accounts, const py::object& collateral) {
             auto s = column<std::int8_t>(side, "side");
             auto q = column<double>(qty, "qty");
             auto e = column<double>(entry_price, "entry_price");
             auto mg = column<double>(margin, "margin");
             auto r = column<double>(mmr, "mmr");
             auto ma = column<double>(maint_amount, "maint_amount");
             auto mk = column<std::int64_t>(market, "market");
             auto ac = column<std::int64_t>(account, "account");
             auto co = column<double>(collateral, "collateral");  // flattened, row-major
             const cc::VenuePositionColumns cols{as_span(s), as_span(q), as_span(e), as_span(mg),
                                                 as_span(r), as_span(ma), as_span(mk), as_span(ac)};
             const cc::AccountColumns accounts{n_accounts, as_span(co)};
             cc::RunControl control;
             return run_interruptible(
                 [&] {
                   return std::make_shared<cc::VenueState>(std::shared_ptr<const cc::Venue>(venue), cols, accounts,
                                                           &control.cancel);
                 },
                 control, py::none());
           }),
           py::arg("venue"), py::arg("side"), py::arg("qty"), py::arg("entry_price"), py::arg("margin"),
           py::arg("mmr"), py::arg("maint_amount"), py::arg("market"), py::arg("account"), py::arg("n_accounts"),
           py::arg("collateral"))
      .def_property_readonly("ref_price", [](const cc::VenueState& s) { return copy_out<double>(s.ref_price()); })
      .def_property_readonly("mmr", [](const cc::VenueState& s) { return copy_out(s.mmr()); })
      .def_property_readonly("maint_amount", [](const cc::VenueState& s) { return copy_out(s.maint_amount()); })
      .def_property_readonly("liquidation_price", [](const cc::VenueState& s) { return copy_out(s.liquidation_price()); })
      .def_property_readonly("bankruptcy_price", [](const cc::VenueState& s) { return copy_out(s.bankruptcy_price()); })
      .def_property_readonly("equity_ref", [](const cc::VenueState& s) { return copy_out(s.equity_ref()); })
      .def_property_readonly("maintenance_ref", [](const cc::VenueState& s) { return copy_out(s.maintenance_ref()); })
      .def(
          "equity_at",
          [](const cc::VenueState& s, const py::object& last_obj) {
            auto last = column<double>(last_obj, "last");
            if (static_cast<std::size_t>(last.size()) != s.n_markets()) {
              throw py::value_error("last: expected one price per market");
            }
            std::vector<double> out;
            {
              py::gil_scoped_release release;
              out = s.equity_at(as_span(last));
            }
            return to_numpy(std::move(out));
          },
          py::arg("last"), "Every account's equity at these market prices.")
      .def(
          "maintenance_at",
          [](const cc::VenueState& s, const py::object& last_obj) {
            auto last = column<double>(last_obj, "last");
            if (static_cast<std::size_t>(last.size()) != s.n_markets()) {
              throw py::value_error("last: expected one price per market");
            }
            std::vector<double> out(s.n_accounts());
            {
              py::gil_scoped_release release;
              const auto price = s.asset_prices(as_span(last));
              for (std::size_t a = 0; a < out.size(); ++a) out[a] = s.health(a, as_span(last), price).maintenance;
            }
            return to_numpy(std::move(out));
          },
          py::arg("last"), "Every account's maintenance requirement at these market prices.")
      .def(
          "account_trigger_prices",
          [](const cc::VenueState& s) {
            cc::RunControl control;
            cc::VenueState::TriggerPrices t =
                run_interruptible([&] { return s.account_trigger_prices(&control.cancel); }, control, py::none());
            py::dict d;
            d["account"] = to_numpy(std::move(t.account));
            d["market"] = to_numpy(std::move(t.market));
            d["down"] = to_numpy(std::move(t.down));
            d["up"] = to_numpy(std::move(t.up));
            return d;
          },
          "Per (account, market) it is exposed to: the market's price at which the account first triggers, "
          "that market alone moved down / up from the reference (NaN: never).");

  py::class_<cc::VenueAgents, std::shared_ptr<cc::VenueAgents>>(m, "VenueAgents")
      .def(py::init([](const std::shared_ptr<cc::VenueState>& state, const py::object& stop_market,
                       const py::object& stop_side, const py::object& stop_qty, const py::object& stop_price,
                       const py::object& token_market, const py::object& token_leverage, const py::object& token_nav,
                       const py::object& token_threshold, const py::object& token_rebalance_price,
                       std::size_t n_funds, const py::object& fund_equity, const py::object& fund_target,
                       const py::object& fund_max, const py::object& fund_holdings) {
             auto sm = column<std::int64_t>(stop_market, "stops.market");
             auto ss = column<std::int8_t>(stop_side, "stops.side");
             auto sq = column<double>(stop_qty, "stops.qty");
             auto sp = column<double>(stop_price, "stops.price");
             auto tm = column<std::int64_t>(token_market, "tokens.market");
             auto tl = column<double>(token_leverage, "tokens.leverage");
             auto tn = column<double>(token_nav, "tokens.nav");
             auto tt = column<double>(token_threshold, "tokens.threshold");
             auto tp = column<double>(token_rebalance_price, "tokens.rebalance_price");
             auto fe = column<double>(fund_equity, "funds.equity");
             auto ft = column<double>(fund_target, "funds.target_leverage");
             auto fm = column<double>(fund_max, "funds.max_leverage");
             auto fh = column<double>(fund_holdings, "funds.holdings");  // flattened, row-major
             const cc::StopColumns stops{as_span(sm), as_span(ss), as_span(sq), as_span(sp)};
             const cc::TokenColumns tokens{as_span(tm), as_span(tl), as_span(tn), as_span(tt), as_span(tp)};
             const cc::FundColumns funds{n_funds, as_span(fe), as_span(ft), as_span(fm), as_span(fh)};
             py::gil_scoped_release release;
             return std::make_shared<cc::VenueAgents>(*state, stops, tokens, funds);
           }),
           py::arg("state"), py::arg("stop_market"), py::arg("stop_side"), py::arg("stop_qty"), py::arg("stop_price"),
           py::arg("token_market"), py::arg("token_leverage"), py::arg("token_nav"), py::arg("token_threshold"),
           py::arg("token_rebalance_price"), py::arg("n_funds"), py::arg("fund_equity"), py::arg("fund_target"),
           py::arg("fund_max"), py::arg("fund_holdings"))
      .def_property_readonly("n_stops", &cc::VenueAgents::n_stops)
      .def_property_readonly("n_tokens", &cc::VenueAgents::n_tokens)
      .def_property_readonly("n_funds", &cc::VenueAgents::n_funds)
      .def_property_readonly("fund_debt", [](const cc::VenueAgents& a) { return copy_out(a.fund_debt()); });

  m.def(
      "token_rebalance",
      [](double leverage, double nav, double rebalance_price, double price) {
        const cc::TokenRebalance r = cc::token_rebalance(leverage, nav, rebalance_price, price);
        return py::make_tuple(r.ret, r.nav_marked, r.notional, r.wiped_out);
      },
      py::arg("leverage"), py::arg("nav"), py::arg("rebalance_price"), py::arg("price"),
      "A leveraged token's rebalance at `price` (the engine's rule): (return, marked NAV, signed notional, "
      "wiped out).");
  m.def(
      "fund_health",
      [](double assets, double debt, double target, double max_leverage) {
        const cc::FundHealth h = cc::fund_health(assets, debt, target, max_leverage);
        return py::make_tuple(h.equity, h.triggered, h.fraction);
      },
      py::arg("assets"), py::arg("debt"), py::arg("target_leverage"), py::arg("max_leverage"),
      "A fund's equity, whether it deleverages, and the fraction of every holding it sells (the engine's rule).");

  m.def(
      "venue_cascade",
      [](const std::shared_ptr<cc::VenueState>& state, const std::vector<std::string>& kinds,
         const std::vector<double>& values, const std::shared_ptr<cc::VenueAgents>& agents) {
        if (kinds.size() != values.size()) throw py::value_error("shocks: kinds and values of different lengths");
        std::vector<cc::Shock> shocks;
        for (std::size_t i = 0; i < kinds.size(); ++i) shocks.push_back(venue_shock(kinds[i], values[i], i));
        cc::RunControl control;
        cc::VenueResult result = run_interruptible(
            [&] {
              return agents ? cc::venue_cascade(*state, shocks, *agents, &control.cancel)
                            : cc::venue_cascade(*state, shocks, &control.cancel);
            },
            control, py::none());
        return result_to_dict(std::move(result));
      },
      py::arg("state"), py::arg("kinds"), py::arg("values"), py::arg("agents") = py::none(),
      "One static cascade over a venue: one shock per market (kind 'relative', 'sell' or 'buy'; "
      "a relative 0 for none). Returns a dict of arrays.");
}

}  // namespace liqcascade_bindings
