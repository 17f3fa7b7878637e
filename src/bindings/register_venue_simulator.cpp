// Many markets through time: the venue simulator and correlated fundamental paths (glue only:
// the rules and checks are the core's, venue_simulator.hpp).
#include "pybind.hpp"
#include "interruptible.hpp"

#include <cascade_core/venue_simulator.hpp>

namespace cc = cascade_core;

namespace liqcascade_bindings {

void register_venue_simulator(py::module_& m) {
  py::class_<cc::VenueSimulationConfig>(m, "VenueSimulationConfig")
      .def(py::init<>())
      .def_readwrite("common", &cc::VenueSimulationConfig::common)
      .def_readwrite("paths", &cc::VenueSimulationConfig::paths)
      .def_readwrite("flows", &cc::VenueSimulationConfig::flows)
      .def_readwrite("shocks", &cc::VenueSimulationConfig::shocks)
      .def_readwrite("resilience", &cc::VenueSimulationConfig::resilience)
      .def_readwrite("fund_group", &cc::VenueSimulationConfig::fund_group)
      .def_readwrite("insurance_fund", &cc::VenueSimulationConfig::insurance_fund)
      .def_readwrite("token_rebalance_interval", &cc::VenueSimulationConfig::token_rebalance_interval);

  m.def(
      "simulate_venue",
      [](const std::shared_ptr<cc::VenueState>& state, const cc::VenueSimulationConfig& config,
         const std::shared_ptr<cc::VenueAgents>& agents) {
        cc::RunControl control;
        cc::VenueSimulationResult r = run_interruptible(
            [&] {
              return agents ? cc::simulate_venue(*state, config, *agents, &control.cancel)
                            : cc::simulate_venue(*state, config, &control.cancel);
            },
            control, py::none());
        py::list markets;
        for (std::size_t k = 0; k < r.markets.size(); ++k) {
          py::dict market = simulation_dict(std::move(r.markets[k]));
          py::dict timeline = market["timeline"];
          timeline["account_qty"] = to_numpy(std::move(r.account_qty[k]));
          timeline["account_notional"] = to_numpy(std::move(r.account_notional[k]));
          timeline["sale_qty"] = to_numpy(std::move(r.sale_qty[k]));
          timeline["sale_notional"] = to_numpy(std::move(r.sale_notional[k]));
          timeline["accounts_liquidated"] = to_numpy(std::move(r.accounts_liquidated[k]));
          timeline["stop_qty"] = to_numpy(std::move(r.stop_qty[k]));
          timeline["token_qty"] = to_numpy(std::move(r.token_qty[k]));
          timeline["fund_qty"] = to_numpy(std::move(r.fund_qty[k]));
          market["isolated_index"] = to_numpy(std::move(r.isolated_index[k]));
          markets.append(market);
        }
        py::dict orders;
        orders["step"] = to_numpy(std::move(r.order_step));
        orders["market"] = to_numpy(std::move(r.order_market));
        orders["account"] = to_numpy(std::move(r.order_account));
        orders["kind"] = to_numpy(std::move(r.order_kind));
        orders["item"] = to_numpy(std::move(r.order_item));
        orders["qty"] = to_numpy(std::move(r.order_qty));
        orders["price"] = to_numpy(std::move(r.order_price));
        orders["unfilled"] = to_numpy(std::move(r.order_unfilled));
        orders["absorbed"] = to_numpy(std::move(r.order_absorbed));
        py::dict accounts;
        accounts["account"] = to_numpy(std::move(r.account_index));
        accounts["step"] = to_numpy(std::move(r.account_step));
        accounts["settled_step"] = to_numpy(std::move(r.account_settled_step));
        accounts["equity"] = to_numpy(std::move(r.account_equity));
        accounts["maintenance"] = to_numpy(std::move(r.account_maintenance));
        accounts["equity_after"] = to_numpy(std::move(r.account_equity_after));
        accounts["bad_debt"] = to_numpy(std::move(r.account_bad_debt));
        py::dict stops;
        stops["stop"] = to_numpy(std::move(r.stop_index));
        stops["step"] = to_numpy(std::move(r.stop_step));
        stops["filled_qty"] = to_numpy(std::move(r.stop_filled_qty));
        stops["fill_price"] = to_numpy(std::move(r.stop_fill_price));
        py::dict tokens;
        tokens["token"] = to_numpy(std::move(r.token_index));
        tokens["step"] = to_numpy(std::move(r.token_step));
        tokens["scheduled"] = to_numpy(std::move(r.token_scheduled));
        tokens["price"] = to_numpy(std::move(r.token_price));
        tokens["return"] = to_numpy(std::move(r.token_return));
        tokens["order_qty"] = to_numpy(std::move(r.token_order_qty));
        tokens["filled_qty"] = to_numpy(std::move(r.token_filled_qty));
        tokens["notional"] = to_numpy(std::move(r.token_notional));
        tokens["nav_after"] = to_numpy(std::move(r.token_nav_after));
        py::dict fund_sales;
        fund_sales["fund"] = to_numpy(std::move(r.fund_index));
        fund_sales["step"] = to_numpy(std::move(r.fund_step));
        fund_sales["assets"] = to_numpy(std::move(r.fund_assets));
        fund_sales["equity"] = to_numpy(std::move(r.fund_equity));
        fund_sales["fraction"] = to_numpy(std::move(r.fund_fraction));
        fund_sales["notional"] = to_numpy(std::move(r.fund_notional));
        py::dict out;
        out["stops"] = stops;
        out["token_rebalances"] = tokens;
        out["fund_sales"] = fund_sales;
        out["token_nav"] = to_numpy(std::move(r.token_nav));
        out["fund_debt_after"] = to_numpy(std::move(r.fund_debt_after));
        out["fund_holdings_after"] = to_numpy(std::move(r.fund_holdings_after));
        out["markets"] = markets;
        out["orders"] = orders;
        out["accounts"] = accounts;
        out["fund_final"] = to_numpy(std::move(r.fund_final));
        out["accounts_evaluated"] = r.accounts_evaluated;
        return out;
      },
      py::arg("state"), py::arg("config"), py::arg("agents") = py::none(),
      "Run a venue through time; returns per-market simulation dicts, account orders and accounts.");

  m.def(
      "correlated_gbm_paths",
      [](const std::vector<double>& correlation, const std::vector<double>& sigma, const std::vector<double>& mu,
         const std::vector<double>& start, std::int64_t steps, double dt, std::uint64_t seed) {
        std::vector<double> path;
        {
          py::gil_scoped_release release;
          path = cc::correlated_gbm_paths(correlation, sigma, mu, start, steps, dt, seed);
        }
        auto out = to_numpy(std::move(path));
        return out.reshape({static_cast<py::ssize_t>(steps), static_cast<py::ssize_t>(sigma.size())});
      },
      py::arg("correlation"), py::arg("sigma"), py::arg("mu"), py::arg("start"), py::arg("steps"), py::arg("dt"),
      py::arg("seed"), "Correlated GBM paths, steps x markets (the core's counter-based draws).");
}

}  // namespace liqcascade_bindings
