#include "pybind.hpp"
#include "interruptible.hpp"

#include <cascade_core/monte_carlo.hpp>
#include <cascade_core/rng.hpp>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

namespace cc = cascade_core;

namespace liqcascade_bindings {

namespace {

py::dict columns_to_dict(cc::ScenarioColumns&& c) {
  py::dict d;
  d["scenario"] = to_numpy(std::move(c.scenario));
  d["shock"] = to_numpy(std::move(c.shock));
  d["final_price"] = to_numpy(std::move(c.final_price));
  d["final_move"] = to_numpy(std::move(c.final_move));
  d["amplification"] = to_numpy(std::move(c.amplification));
  d["liquidated_notional_long"] = to_numpy(std::move(c.liquidated_notional_long));
  d["liquidated_notional_short"] = to_numpy(std::move(c.liquidated_notional_short));
  d["n_liquidated"] = to_numpy(std::move(c.n_liquidated));
  d["rounds"] = to_numpy(std::move(c.rounds));
  d["bad_debt"] = to_numpy(std::move(c.bad_debt));
  d["book_exhausted"] = to_numpy(std::move(c.book_exhausted));
  return d;
}

}  // namespace

void register_monte_carlo(py::module_& m) {
  m.def("default_threads", &cc::default_threads, "Threads used when none are asked for: every core.");

  m.def(
      "run_monte_carlo",
      [](const cc::PopulationModel& pop, const cc::BookModel& book_model, const cc::ShockModel& shock_model,
         std::uint64_t seed, std::uint64_t first, std::size_t count, unsigned threads,
         const py::object& progress) {
        cc::RunControl control;
        auto columns = run_interruptible(
            [&] { return cc::run_monte_carlo(pop, book_model, shock_model, seed, first, count, threads, control); },
            control, progress);
        return columns_to_dict(std::move(columns));
      },
      py::arg("population"), py::arg("book"), py::arg("shocks"), py::arg("seed"), py::arg("first"),
      py::arg("count"), py::arg("threads") = 0, py::arg("progress") = py::none());

  m.def(
      "sample_scenario",
      [](const cc::PopulationModel& pop, const cc::BookModel& book_model, const cc::ShockModel& shock_model,
         std::uint64_t seed, std::uint64_t scenario, const std::string& scenario_field) {
        cc::RunControl control;
        auto [sampled_book, sample, shock] = run_interruptible(
            [&] { return cc::sample_scenario(pop, book_model, shock_model, seed, scenario, &control.cancel,
                                          scenario_field.c_str()); },
            control, py::none());
        py::dict positions;
        positions["side"] = to_numpy(std::move(sample.side));
        positions["qty"] = to_numpy(std::move(sample.qty));
        positions["entry_price"] = to_numpy(std::move(sample.entry_price));
        positions["margin"] = to_numpy(std::move(sample.margin));
        positions["mmr"] = to_numpy(std::move(sample.mmr));
        positions["maint_amount"] = to_numpy(std::move(sample.maint_amount));
        return py::make_tuple(py::cast(std::move(sampled_book)), positions, shock);
      },
      py::arg("population"), py::arg("book"), py::arg("shocks"), py::arg("seed"), py::arg("scenario"),
      py::arg("scenario_field") = "index");

  m.def(
      "sample_book",
      [](const cc::BookModel& model, std::uint64_t seed, std::uint64_t scenario) {
        model.validate();
        py::gil_scoped_release release;
        return cc::sample_book(model, seed, scenario);
      },
      py::arg("book"), py::arg("seed") = 0, py::arg("scenario") = 0);

  m.def(
      "cascade_many",
      [](const py::object& book_obj, const py::object& positions_obj, const py::object& shocks_obj,
         std::optional<double> ref_price, unsigned threads, const py::object& progress, bool detail) {
        const cc::OrderBook& book = order_book(book_obj, "book");
        const cc::PositionSet& positions = position_set(positions_obj, "positions");
        auto shocks = column<double>(shocks_obj, "shocks");
        cc::RunControl control;
        auto columns = run_interruptible(
            [&] { return cc::cascade_many(book, positions, as_span(shocks), ref_price, threads, control, detail); },
            control, progress);
        return columns_to_dict(std::move(columns));
      },
      py::arg("book"), py::arg("positions"), py::arg("shocks"), py::arg("ref_price") = py::none(),
      py::arg("threads") = 0, py::arg("progress") = py::none(), py::arg("detail") = false);

  m.def("philox4x32_10", [](std::array<std::uint32_t, 4> counter, std::array<std::uint32_t, 2> key) {
    return cc::philox4x32_10(counter, key);
  }, py::arg("counter"), py::arg("key"), "The raw Philox4x32-10 block function (for tests).");
}

}  // namespace liqcascade_bindings
