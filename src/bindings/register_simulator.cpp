#include "pybind.hpp"
#include "interruptible.hpp"

#include <cascade_core/resources.hpp>
#include <cascade_core/simulator.hpp>

namespace cc = cascade_core;

namespace liqcascade_bindings {

namespace {

cc::SimulationConfig config_from(const py::dict& d) {
  cc::SimulationConfig c;
  c.steps = dict_item<std::int64_t>(d, "steps");
  c.dt = dict_item<double>(d, "dt");
  c.resilience = dict_item<double>(d, "resilience");
  c.path = dict_item<std::vector<double>>(d, "path");
  c.flow = dict_item<std::vector<double>>(d, "flow");
  c.shock = dict_item<double>(d, "shock");
  const auto mark = dict_item<std::string>(d, "mark");
  if (mark == "last") c.mark = cc::SimulationConfig::Mark::last;
  else if (mark == "ema") c.mark = cc::SimulationConfig::Mark::ema;
  else if (mark == "index") c.mark = cc::SimulationConfig::Mark::index;
  else throw py::value_error("mark: expected 'last', 'ema' or 'index', got '" + mark + "'");
  c.mark_halflife = dict_item<double>(d, "mark_halflife");
  c.basis = dict_item<double>(d, "basis");
  c.band = dict_item<double>(d, "band");
  for (const auto& b : dict_item<std::vector<std::tuple<double, std::int64_t, std::int64_t>>>(d, "breakers")) {
    c.breakers.push_back({std::get<0>(b), std::get<1>(b), std::get<2>(b)});
  }
  c.insurance_fund = dict_item<double>(d, "insurance_fund");
  c.policy.fee_rate = dict_item<double>(d, "fee_rate");
  c.policy.limit_at_bankruptcy = dict_item<bool>(d, "limit_at_bankruptcy");
  c.policy.takeover = dict_item<bool>(d, "takeover");
  c.policy.adl = dict_item<bool>(d, "adl");
  c.policy.max_orders_per_step = dict_item<std::int64_t>(d, "max_orders_per_step");
  c.policy.unwind_per_step = dict_item<double>(d, "unwind_per_step");
  c.policy.max_notional_per_step = dict_item<double>(d, "max_notional_per_step");
  c.policy.partial_tiers = dict_item<bool>(d, "partial_tiers");
  c.policy.tiers.notional_floor = dict_item<std::vector<double>>(d, "tier_notional_floor");
  c.policy.tiers.mmr = dict_item<std::vector<double>>(d, "tier_mmr");
  c.policy.tiers.maint_amount = dict_item<std::vector<double>>(d, "tier_maint_amount");
  c.policy.backstop_fraction = dict_item<double>(d, "backstop_fraction");
  return c;
}

}  // namespace

void register_simulator(py::module_& m) {
  m.def(
      "require_memory",
      [](const std::string& field, double bytes, const std::string& what) {
        cc::require_memory(field.c_str(), bytes, what.c_str());
      },
      py::arg("field"), py::arg("bytes"), py::arg("what"),
      "ValueError naming `field` when `bytes` exceed this machine's physical memory.");

  m.def(
      "simulate",
      [](const py::object& book_obj, const py::object& positions_obj, const py::dict& config_dict) {
        const cc::OrderBook& book = order_book(book_obj, "book");
        const cc::PositionSet& positions = position_set(positions_obj, "positions");
        const auto config = config_from(config_dict);
        cc::RunControl control;
        auto r = run_interruptible([&] { return cc::simulate(book, positions, config, &control.cancel); },
                                   control, py::none());
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
      },
      py::arg("book"), py::arg("positions"), py::arg("config"),
      "Run the time-stepped simulation; returns timeline, events and final state as arrays.");
}

}  // namespace liqcascade_bindings
