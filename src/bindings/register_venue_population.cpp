// The population of a venue (a typed class, as PopulationModel), a scenario's sample of it, and
// the study over a venue that resamples it per scenario.
#include "pybind.hpp"
#include "interruptible.hpp"

#include <cascade_core/venue_population.hpp>

#include <memory>
#include <vector>

namespace cc = cascade_core;

namespace liqcascade_bindings {

py::dict study_to_dict(cc::VenueStudyColumns&& c);  // register_venue_study.cpp

namespace {

py::dict sample_to_dict(cc::VenuePopulationSample&& s, std::size_t assets, std::size_t markets, std::size_t k) {
  py::dict d;
  d["side"] = to_numpy(std::move(s.side));
  d["qty"] = to_numpy(std::move(s.qty));
  d["entry_price"] = to_numpy(std::move(s.entry_price));
  d["margin"] = to_numpy(std::move(s.margin));
  d["mmr"] = to_numpy(std::move(s.mmr));
  d["maint_amount"] = to_numpy(std::move(s.maint_amount));
  d["market"] = to_numpy(std::move(s.market));
  d["account"] = to_numpy(std::move(s.account));
  d["trader"] = to_numpy(std::move(s.trader));
  d["cross"] = to_numpy(std::move(s.cross));
  d["strategy"] = to_numpy(std::move(s.strategy));
  d["basket"] = to_numpy(std::move(s.basket));
  d["n_markets"] = to_numpy(std::move(s.n_held));
  d["leverage"] = to_numpy(std::move(s.leverage));
  d["size"] = to_numpy(std::move(s.size));
  const auto accounts = static_cast<py::ssize_t>(s.n_accounts);
  d["collateral"] = to_numpy(std::move(s.collateral)).attr("reshape")(accounts, static_cast<py::ssize_t>(assets));
  d["token_market"] = to_numpy(std::move(s.token_market));
  d["token_leverage"] = to_numpy(std::move(s.token_leverage));
  d["token_nav"] = to_numpy(std::move(s.token_nav));
  d["token_threshold"] = to_numpy(std::move(s.token_threshold));
  const auto funds = static_cast<py::ssize_t>(s.fund_equity.size());
  d["fund_equity"] = to_numpy(std::move(s.fund_equity));
  d["fund_target"] = to_numpy(std::move(s.fund_target));
  d["fund_max"] = to_numpy(std::move(s.fund_max));
  d["fund_holdings"] = to_numpy(std::move(s.fund_holdings)).attr("reshape")(funds, static_cast<py::ssize_t>(markets));
  const auto strategies = static_cast<py::ssize_t>(k == 0 ? 0 : s.strategy_factor.size() / k);
  d["stop_market"] = to_numpy(std::move(s.stop_market));
  d["stop_side"] = to_numpy(std::move(s.stop_side));
  d["stop_qty"] = to_numpy(std::move(s.stop_qty));
  d["stop_price"] = to_numpy(std::move(s.stop_price));
  d["stop_step"] = to_numpy(std::move(s.stop_step));
  d["recent_low"] = to_numpy(std::move(s.recent_low));
  d["recent_high"] = to_numpy(std::move(s.recent_high));
  d["strategy_factor"] =
      to_numpy(std::move(s.strategy_factor)).attr("reshape")(strategies, static_cast<py::ssize_t>(k));
  return d;
}

}  // namespace

void register_venue_population(py::module_& m) {
  using Model = cc::VenuePopulationModel;
  py::class_<Model>(m, "VenuePopulationModel")
      .def(py::init<>())
      .def_readwrite("traders", &Model::traders)
      .def_readwrite("cross_share", &Model::cross_share)
      .def_readwrite("markets", &Model::markets)
      .def_readwrite("open_interest", &Model::open_interest)
      .def_readwrite("markets_per_trader", &Model::markets_per_trader)
      .def_readwrite("long_share", &Model::long_share)
      .def_readwrite("strategies", &Model::strategies)
      .def_readwrite("strategy_loading", &Model::strategy_loading)
      .def_readwrite("strategy_market_correlation", &Model::strategy_market_correlation)
      .def_readwrite("leverage", &Model::leverage)
      .def_readwrite("leverage_weights", &Model::leverage_weights)
      .def_readwrite("entry_spread", &Model::entry_spread)
      .def_readwrite("size_distribution", &Model::size_distribution)
      .def_readwrite("size_shape", &Model::size_shape)
      .def_readwrite("mmr", &Model::mmr)
      .def_readwrite("maint_amount", &Model::maint_amount)
      .def_readwrite("baskets", &Model::baskets)
      .def_readwrite("basket_weights", &Model::basket_weights)
      .def_readwrite("tokens", &Model::tokens)
      .def_readwrite("token_leverage", &Model::token_leverage)
      .def_readwrite("token_leverage_weights", &Model::token_leverage_weights)
      .def_readwrite("token_threshold", &Model::token_threshold)
      .def_readwrite("token_threshold_weights", &Model::token_threshold_weights)
      .def_readwrite("token_nav", &Model::token_nav)
      .def_readwrite("funds", &Model::funds)
      .def_readwrite("fund_markets", &Model::fund_markets)
      .def_readwrite("fund_assets", &Model::fund_assets)
      .def_readwrite("fund_target", &Model::fund_target)
      .def_readwrite("fund_target_weights", &Model::fund_target_weights)
      .def_readwrite("fund_buffer_min", &Model::fund_buffer_min)
      .def_readwrite("fund_buffer_max", &Model::fund_buffer_max)
      .def_readwrite("agent_size_sigma", &Model::agent_size_sigma)
      .def_readwrite("stop_notional", &Model::stop_notional)
      .def_readwrite("stop_clusters", &Model::stop_clusters)
      .def_readwrite("stop_round_step", &Model::stop_round_step)
      .def_readwrite("stops_per_cluster", &Model::stops_per_cluster)
      .def_readwrite("stop_width", &Model::stop_width)
      .def_readwrite("stop_extreme_share", &Model::stop_extreme_share)
      .def_readwrite("stop_range", &Model::stop_range)
      .def("validate", py::overload_cast<>(&Model::validate, py::const_),
           "ValueError naming the field unless the model is valid on its own.")
      .def("validate_for", py::overload_cast<const cc::Venue&>(&Model::validate, py::const_), py::arg("venue"),
           "ValueError naming the field unless the model is valid for this venue.");

  m.def("round_number_step", &cc::round_number_step, py::arg("ref_price"),
        "The largest 1, 2 or 5 times a power of ten at most 5 % of ref_price.");
  m.def(
      "round_number_levels",
      [](double ref_price, double step, std::size_t count, bool below) {
        return to_numpy(cc::round_number_levels(ref_price, step, count, below));
      },
      py::arg("ref_price"), py::arg("step"), py::arg("count"), py::arg("below"),
      "The count multiples of step nearest ref_price strictly below (or above) it, nearest first (> 0).");

  m.def(
      "sample_venue_population",
      [](const std::shared_ptr<cc::Venue>& venue, const Model& model, std::uint64_t seed, std::uint64_t scenario) {
        if (!venue) throw py::value_error("venue: missing");
        cc::check_scenario_range(scenario, 1, "index");
        cc::VenuePopulationSample sample;
        {
          py::gil_scoped_release release;
          cc::sample_venue_population(model, *venue, seed, scenario, sample);
        }
        return sample_to_dict(std::move(sample), venue->assets.size(), venue->markets.size(), model.markets.size());
      },
      py::arg("venue"), py::arg("model"), py::arg("seed"), py::arg("scenario"),
      "Scenario `scenario`'s population over `venue`, as columns.");

  m.def(
      "run_venue_population_study",
      [](const std::shared_ptr<cc::Venue>& venue, const Model& model, const cc::CorrelatedShockModel& shock_model,
         const std::vector<std::size_t>& shocked, std::uint64_t seed, std::uint64_t first, std::size_t count,
         unsigned threads, const py::object& progress) {
        const cc::CorrelatedShockSampler sampler(shock_model);
        cc::RunControl control;
        auto columns = run_interruptible(
            [&] {
              return cc::run_venue_population_study(venue, model, sampler, shocked, seed, first, count, threads,
                                                    control);
            },
            control, progress);
        return study_to_dict(std::move(columns));
      },
      py::arg("venue"), py::arg("model"), py::arg("shocks"), py::arg("markets"), py::arg("seed"), py::arg("first"),
      py::arg("count"), py::arg("threads") = 0, py::arg("progress") = py::none());
}

}  // namespace liqcascade_bindings
