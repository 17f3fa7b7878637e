#include "pybind.hpp"
#include "interruptible.hpp"

#include <cascade_core/resources.hpp>
#include <cascade_core/simulator.hpp>

namespace cc = cascade_core;

namespace liqcascade_bindings {


// A simulation's result as the dict simulate() returns (timeline, events, final state): one
// market's, and each market's of a venue (register_venue_simulator.cpp).
py::dict simulation_dict(cc::SimulationResult&& r) {
  py::dict timeline;
  timeline["time"] = to_numpy(std::move(r.time));
  timeline["price"] = to_numpy(std::move(r.price));
  timeline["mark_price"] = to_numpy(std::move(r.mark_price));
  timeline["fundamental"] = to_numpy(std::move(r.fundamental));
  timeline["liquidated_qty"] = to_numpy(std::move(r.liquidated_qty));
  timeline["liquidated_notional"] = to_numpy(std::move(r.liquidated_notional));
  timeline["insurance_fund"] = to_numpy(std::move(r.insurance_fund));
  timeline["fund_inventory"] = to_numpy(std::move(r.fund_inventory));
  timeline["adl_qty"] = to_numpy(std::move(r.adl_qty));
  timeline["halted"] = to_numpy(std::move(r.halted));
  timeline["queued"] = to_numpy(std::move(r.queued));
  timeline["bid_depth"] = to_numpy(std::move(r.bid_depth));
  timeline["ask_depth"] = to_numpy(std::move(r.ask_depth));
  timeline["best_bid"] = to_numpy(std::move(r.best_bid));
  timeline["best_ask"] = to_numpy(std::move(r.best_ask));
  timeline["funding_rate"] = to_numpy(std::move(r.funding_rate));
  timeline["funding_long"] = to_numpy(std::move(r.funding_long));
  timeline["funding_short"] = to_numpy(std::move(r.funding_short));
  timeline["taker_fees"] = to_numpy(std::move(r.taker_fees));
  timeline["margin_deposits"] = to_numpy(std::move(r.margin_deposits));
  py::dict events;
  events["step"] = to_numpy(std::move(r.event_step));
  events["position"] = to_numpy(std::move(r.event_position));
  events["kind"] = to_numpy(std::move(r.event_kind));
  events["counterparty"] = to_numpy(std::move(r.event_counterparty));
  events["fund"] = to_numpy(std::move(r.event_fund));
  events["qty"] = to_numpy(std::move(r.event_qty));
  events["price"] = to_numpy(std::move(r.event_price));
  events["fee"] = to_numpy(std::move(r.event_fee));
  events["loss"] = to_numpy(std::move(r.event_loss));
  py::dict out;
  out["timeline"] = timeline;
  out["events"] = events;
  out["final_qty"] = to_numpy(std::move(r.final_qty));
  out["liquidated"] = to_numpy(std::move(r.liquidated));
  out["exogenous_filled"] = r.exogenous_filled;
  return out;
}

void register_simulator(py::module_& m) {
  // The policy and the run's configuration as typed classes (the schema is the C++ struct).
  py::class_<cc::LiquidationPolicy> policy(m, "LiquidationPolicy");
  py::enum_<cc::LiquidationPolicy::AdlRanking>(policy, "AdlRanking")
      .value("pnl_leverage", cc::LiquidationPolicy::AdlRanking::pnl_leverage)
      .value("binance", cc::LiquidationPolicy::AdlRanking::binance);
  policy.def(py::init<>())
      .def_readwrite("fee_rate", &cc::LiquidationPolicy::fee_rate)
      .def_readwrite("limit_at_bankruptcy", &cc::LiquidationPolicy::limit_at_bankruptcy)
      .def_readwrite("takeover", &cc::LiquidationPolicy::takeover)
      .def_readwrite("adl", &cc::LiquidationPolicy::adl)
      .def_readwrite("max_orders_per_step", &cc::LiquidationPolicy::max_orders_per_step)
      .def_readwrite("max_notional_per_step", &cc::LiquidationPolicy::max_notional_per_step)
      .def_readwrite("unwind_per_step", &cc::LiquidationPolicy::unwind_per_step)
      .def_readwrite("partial_tiers", &cc::LiquidationPolicy::partial_tiers)
      .def_readwrite("tiers", &cc::LiquidationPolicy::tiers)
      .def_readwrite("backstop_fraction", &cc::LiquidationPolicy::backstop_fraction)
      .def_readwrite("slice_above", &cc::LiquidationPolicy::slice_above)
      .def_readwrite("slice_fraction", &cc::LiquidationPolicy::slice_fraction)
      .def_readwrite("slice_cooldown", &cc::LiquidationPolicy::slice_cooldown)
      .def_readwrite("adl_ranking", &cc::LiquidationPolicy::adl_ranking)
      .def_readwrite("taker_fee", &cc::LiquidationPolicy::taker_fee)
      .def_readwrite("latency", &cc::LiquidationPolicy::latency)
      .def_readwrite("margin_call_grace", &cc::LiquidationPolicy::margin_call_grace)
      .def_readwrite("margin_call_met", &cc::LiquidationPolicy::margin_call_met)
      .def_readwrite("margin_call_seed", &cc::LiquidationPolicy::margin_call_seed)
      .def("validate", &cc::LiquidationPolicy::validate, "ValueError naming the field unless the policy is valid.");
  py::class_<cc::CircuitBreaker>(m, "CircuitBreaker")
      .def(py::init([](double move, std::int64_t window, std::int64_t halt) {
             return cc::CircuitBreaker{move, window, halt};
           }),
           py::arg("move"), py::arg("window"), py::arg("halt"))
      .def_readwrite("move", &cc::CircuitBreaker::move)
      .def_readwrite("window", &cc::CircuitBreaker::window)
      .def_readwrite("halt", &cc::CircuitBreaker::halt);
  py::class_<cc::SimulationConfig> config(m, "SimulationConfig");
  py::enum_<cc::SimulationConfig::Mark>(config, "Mark")
      .value("last", cc::SimulationConfig::Mark::last)
      .value("ema", cc::SimulationConfig::Mark::ema)
      .value("index", cc::SimulationConfig::Mark::index);
  config.def(py::init<>())
      .def_readwrite("steps", &cc::SimulationConfig::steps)
      .def_readwrite("dt", &cc::SimulationConfig::dt)
      .def_readwrite("resilience", &cc::SimulationConfig::resilience)
      .def_readwrite("path", &cc::SimulationConfig::path)
      .def_readwrite("flow", &cc::SimulationConfig::flow)
      .def_readwrite("shock", &cc::SimulationConfig::shock)
      .def_readwrite("mark", &cc::SimulationConfig::mark)
      .def_readwrite("mark_halflife", &cc::SimulationConfig::mark_halflife)
      .def_readwrite("basis", &cc::SimulationConfig::basis)
      .def_readwrite("band", &cc::SimulationConfig::band)
      .def_readwrite("breakers", &cc::SimulationConfig::breakers)
      .def_readwrite("insurance_fund", &cc::SimulationConfig::insurance_fund)
      .def_readwrite("funding_interval", &cc::SimulationConfig::funding_interval)
      .def_readwrite("funding_rate", &cc::SimulationConfig::funding_rate)
      .def_readwrite("funding_interest", &cc::SimulationConfig::funding_interest)
      .def_readwrite("funding_clamp", &cc::SimulationConfig::funding_clamp)
      .def_readwrite("funding_cap", &cc::SimulationConfig::funding_cap)
      .def_readwrite("policy", &cc::SimulationConfig::policy);

  m.def(
      "require_memory",
      [](const std::string& field, double bytes, const std::string& what) {
        cc::require_memory(field.c_str(), bytes, what.c_str());
      },
      py::arg("field"), py::arg("bytes"), py::arg("what"),
      "ValueError naming `field` when `bytes` exceed this machine's physical memory.");

  m.def(
      "simulate",
      [](const py::object& book_obj, const py::object& positions_obj, const cc::SimulationConfig& config) {
        const cc::OrderBook& book = order_book(book_obj, "book");
        const cc::PositionSet& positions = position_set(positions_obj, "positions");
        cc::RunControl control;
        auto r = run_interruptible([&] { return cc::simulate(book, positions, config, &control.cancel); },
                                   control, py::none());
        return simulation_dict(std::move(r));
      },
      py::arg("book"), py::arg("positions"), py::arg("config"),
      "Run the time-stepped simulation; returns timeline, events and final state as arrays.");
}

}  // namespace liqcascade_bindings
