// Correlated shock models (a typed class, as ShockModel) and the Monte Carlo study over a venue.
#include "pybind.hpp"
#include "interruptible.hpp"

#include <cascade_core/correlated_shocks.hpp>
#include <cascade_core/venue_study.hpp>

#include <memory>
#include <vector>

namespace cc = cascade_core;

namespace liqcascade_bindings {

namespace {

// A market-major column (markets x rows) as a 2-D array: each market's row is contiguous.
template <class T>
py::object by_market(std::vector<T>&& values, std::size_t markets, std::size_t rows) {
  return to_numpy(std::move(values)).attr("reshape")(markets, rows);
}

}  // namespace

// (also the rows of a study with a population: register_venue_population.cpp)
py::dict study_to_dict(cc::VenueStudyColumns&& c) {
  const std::size_t m = c.markets, n = c.rows;
  py::dict d;
  d["scenario"] = to_numpy(std::move(c.scenario));
  d["rounds"] = to_numpy(std::move(c.rounds));
  d["n_liquidated"] = to_numpy(std::move(c.n_liquidated));
  d["accounts_liquidated"] = to_numpy(std::move(c.accounts_liquidated));
  d["liquidated_notional"] = to_numpy(std::move(c.liquidated_notional));
  d["sold_notional"] = to_numpy(std::move(c.sold_notional));
  d["bad_debt"] = to_numpy(std::move(c.bad_debt));
  d["account_bad_debt"] = to_numpy(std::move(c.account_bad_debt));
  d["token_bad_debt"] = to_numpy(std::move(c.token_bad_debt));
  d["book_exhausted"] = to_numpy(std::move(c.book_exhausted));
  py::dict per;
  per["shock"] = by_market(std::move(c.shock), m, n);
  per["shock_price"] = by_market(std::move(c.shock_price), m, n);
  per["final_price"] = by_market(std::move(c.final_price), m, n);
  per["final_move"] = by_market(std::move(c.final_move), m, n);
  per["amplification"] = by_market(std::move(c.amplification), m, n);
  per["liquidated_notional_long"] = by_market(std::move(c.liquidated_notional_long), m, n);
  per["liquidated_notional_short"] = by_market(std::move(c.liquidated_notional_short), m, n);
  per["n_liquidated"] = by_market(std::move(c.market_n_liquidated), m, n);
  per["sold_notional"] = by_market(std::move(c.market_sold_notional), m, n);
  per["bad_debt"] = by_market(std::move(c.market_bad_debt), m, n);
  per["book_exhausted"] = by_market(std::move(c.market_book_exhausted), m, n);
  per["token_notional"] = by_market(std::move(c.token_notional), m, n);
  per["fund_notional"] = by_market(std::move(c.fund_notional), m, n);
  per["token_bad_debt"] = by_market(std::move(c.market_token_bad_debt), m, n);
  d["markets"] = per;
  return d;
}

void register_venue_study(py::module_& m) {
  py::class_<cc::CorrelatedShockModel> model(m, "CorrelatedShockModel");
  py::enum_<cc::CorrelatedShockModel::Kind>(model, "Kind")
      .value("normal", cc::CorrelatedShockModel::Kind::normal)
      .value("student_t", cc::CorrelatedShockModel::Kind::student_t)
      .value("historical", cc::CorrelatedShockModel::Kind::historical)
      .value("fixed", cc::CorrelatedShockModel::Kind::fixed);
  model.def(py::init<>())
      .def_readwrite("kind", &cc::CorrelatedShockModel::kind)
      .def_readwrite("dimension", &cc::CorrelatedShockModel::dimension)
      .def_readwrite("correlation", &cc::CorrelatedShockModel::correlation)
      .def_readwrite("scale", &cc::CorrelatedShockModel::scale)
      .def_readwrite("df", &cc::CorrelatedShockModel::df)
      .def_readwrite("moves", &cc::CorrelatedShockModel::moves)
      .def("validate", &cc::CorrelatedShockModel::validate, "ValueError naming the field unless the model is valid.")
      .def(
          "cholesky",
          [](const cc::CorrelatedShockModel& self) {
            auto factor = self.cholesky();
            const auto k = static_cast<py::ssize_t>(self.dimension);
            if (factor.empty()) return py::object(py::array_t<double>(0));
            return to_numpy(std::move(factor)).attr("reshape")(k, k);
          },
          "The lower-triangular Cholesky factor of the correlation matrix (empty for historical or fixed moves).");

  m.def(
      "sample_correlated_shocks",
      [](const cc::CorrelatedShockModel& model, std::uint64_t seed, std::uint64_t first, std::size_t count) {
        const cc::CorrelatedShockSampler sampler(model);
        cc::check_scenario_range(first, count);
        const std::size_t k = sampler.dimension();
        std::vector<double> out(count * k);
        {
          py::gil_scoped_release release;
          for (std::size_t i = 0; i < count; ++i) {
            sampler.sample(seed, first + i, std::span<double>(out.data() + i * k, k));
          }
        }
        return to_numpy(std::move(out)).attr("reshape")(count, k);
      },
      py::arg("model"), py::arg("seed"), py::arg("first"), py::arg("count"),
      "Scenarios [first, first + count)'s moves as a (count, dimension) array.");

  m.def(
      "run_venue_study",
      [](const std::shared_ptr<cc::VenueState>& state, const cc::CorrelatedShockModel& model,
         const std::vector<std::size_t>& shocked, std::uint64_t seed, std::uint64_t first, std::size_t count,
         unsigned threads, const py::object& progress, const std::shared_ptr<cc::VenueAgents>& agents) {
        const cc::CorrelatedShockSampler sampler(model);
        cc::RunControl control;
        auto columns = run_interruptible(
            [&] {
              return cc::run_venue_study(*state, sampler, shocked, seed, first, count, threads, control, agents.get());
            },
            control, progress);
        return study_to_dict(std::move(columns));
      },
      py::arg("state"), py::arg("model"), py::arg("markets"), py::arg("seed"), py::arg("first"), py::arg("count"),
      py::arg("threads") = 0, py::arg("progress") = py::none(), py::arg("agents") = py::none());
}

}  // namespace liqcascade_bindings
