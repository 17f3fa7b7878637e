// The study models and the tier table as typed classes: each schema is the C++ struct, bound
// once here (the Python dataclasses hold one of these and pass it on; no dict keys re-typed on
// both sides). validate() is the core's: the range rules exist only there.
#include "pybind.hpp"

#include <cascade_core/margin.hpp>
#include <cascade_core/models.hpp>

namespace cc = cascade_core;

namespace liqcascade_bindings {

void register_models(py::module_& m) {
  py::enum_<cc::MarginBasis>(m, "MarginBasis")
      .value("mark", cc::MarginBasis::mark)
      .value("entry", cc::MarginBasis::entry);
  py::enum_<cc::TierRule>(m, "TierRule")
      .value("liquidation", cc::TierRule::liquidation)
      .value("entry", cc::TierRule::entry);
  py::enum_<cc::LeverageLimit>(m, "LeverageLimit")
      .value("reject", cc::LeverageLimit::reject)
      .value("clip", cc::LeverageLimit::clip)
      .value("ignore", cc::LeverageLimit::ignore);
  py::class_<cc::MarginRule>(m, "MarginRule")
      .def(py::init([](cc::MarginBasis basis, double close_fee) { return cc::MarginRule{basis, close_fee}; }),
           py::arg("basis") = cc::MarginBasis::mark, py::arg("close_fee") = 0.0)
      .def_readwrite("basis", &cc::MarginRule::basis)
      .def_readwrite("close_fee", &cc::MarginRule::close_fee)
      .def("validate", &cc::MarginRule::validate, py::arg("prefix") = "",
           "ValueError naming the field unless the rule is valid.");

  py::class_<cc::TierTable>(m, "TierTable")
      .def(py::init<>())
      .def_readwrite("notional_floor", &cc::TierTable::notional_floor)
      .def_readwrite("mmr", &cc::TierTable::mmr)
      .def_readwrite("maint_amount", &cc::TierTable::maint_amount)
      .def_readwrite("max_leverage", &cc::TierTable::max_leverage)
      .def("validate", &cc::TierTable::validate, py::arg("prefix") = "",
           "ValueError naming the field (after `prefix`) unless the table is valid.")
      .def(
          "tier_of",
          [](const cc::TierTable& table, const py::object& notional_obj) {
            auto notional = column<double>(notional_obj, "notional");
            return to_numpy(table.tiers_of(as_span(notional)));
          },
          py::arg("notional"), "The tier of each notional (a notional on a boundary belongs to the lower tier).")
      .def_static("continuous_maint_amount", &cc::TierTable::continuous_maint_amount, py::arg("notional_floor"),
                  py::arg("mmr"), "The maintenance amounts that keep the requirement continuous across tiers.")
      .def(
          "assign",
          [](const cc::TierTable& table, const py::object& side_obj, const py::object& qty_obj,
             const py::object& entry_obj, const py::object& margin_obj, const cc::MarginRule& rule,
             cc::TierRule tier_rule, cc::LeverageLimit limit) {
            auto side = column<std::int8_t>(side_obj, "side");
            auto qty = column<double>(qty_obj, "qty");
            auto entry = column<double>(entry_obj, "entry_price");
            auto margin = column<double>(margin_obj, "margin");
            const std::size_t n = as_span(side).size();
            py::array_t<double> mmr(static_cast<py::ssize_t>(n)), maint(static_cast<py::ssize_t>(n)),
                out_margin(static_cast<py::ssize_t>(n));
            std::span<double> mmr_out(mmr.mutable_data(), n), maint_out(maint.mutable_data(), n),
                margin_out(out_margin.mutable_data(), n);
            std::size_t clipped = 0;
            {
              py::gil_scoped_release release;
              clipped = cc::assign_tiers(table, as_span(side), as_span(qty), as_span(entry), as_span(margin), rule,
                                         tier_rule, limit, mmr_out, maint_out, margin_out);
            }
            return py::make_tuple(mmr, maint, out_margin, clipped);
          },
          py::arg("side"), py::arg("qty"), py::arg("entry_price"), py::arg("margin"), py::arg("rule"),
          py::arg("tier_rule"), py::arg("leverage_limit"),
          "(mmr, maint_amount, margin, clipped) of each position under the tier and leverage rules.");

  py::class_<cc::PopulationModel> population(m, "PopulationModel");
  py::enum_<cc::PopulationModel::EntryDistribution>(population, "EntryDistribution")
      .value("lognormal", cc::PopulationModel::EntryDistribution::lognormal)
      .value("student_t", cc::PopulationModel::EntryDistribution::student_t)
      .value("uniform", cc::PopulationModel::EntryDistribution::uniform);
  py::enum_<cc::PopulationModel::SizeDistribution>(population, "SizeDistribution")
      .value("pareto", cc::PopulationModel::SizeDistribution::pareto)
      .value("lognormal", cc::PopulationModel::SizeDistribution::lognormal)
      .value("fixed", cc::PopulationModel::SizeDistribution::fixed);
  population.def(py::init<>())
      .def_readwrite("count", &cc::PopulationModel::count)
      .def_readwrite("long_share", &cc::PopulationModel::long_share)
      .def_readwrite("leverage", &cc::PopulationModel::leverage)
      .def_readwrite("leverage_weights", &cc::PopulationModel::leverage_weights)
      .def_readwrite("entry_distribution", &cc::PopulationModel::entry_distribution)
      .def_readwrite("entry_spread", &cc::PopulationModel::entry_spread)
      .def_readwrite("entry_df", &cc::PopulationModel::entry_df)
      .def_readwrite("size_distribution", &cc::PopulationModel::size_distribution)
      .def_readwrite("size_shape", &cc::PopulationModel::size_shape)
      .def_readwrite("open_interest", &cc::PopulationModel::open_interest)
      .def_readwrite("tiers", &cc::PopulationModel::tiers)
      .def_readwrite("mmr", &cc::PopulationModel::mmr)
      .def_readwrite("maint_amount", &cc::PopulationModel::maint_amount)
      .def_readwrite("exclude_underwater", &cc::PopulationModel::exclude_underwater)
      .def_readwrite("margin_rule", &cc::PopulationModel::margin_rule)
      .def_readwrite("tier_rule", &cc::PopulationModel::tier_rule)
      .def_readwrite("leverage_limit", &cc::PopulationModel::leverage_limit)
      .def_readwrite("inverse_size", &cc::PopulationModel::inverse_size)
      .def("validate", &cc::PopulationModel::validate, "ValueError naming the field unless the model is valid.");

  py::class_<cc::BookModel>(m, "BookModel")
      .def(py::init<>())
      .def_readwrite("mid", &cc::BookModel::mid)
      .def_readwrite("tick", &cc::BookModel::tick)
      .def_readwrite("profile_distance", &cc::BookModel::profile_distance)
      .def_readwrite("profile_notional", &cc::BookModel::profile_notional)
      .def_readwrite("thinning", &cc::BookModel::thinning)
      .def_readwrite("level_noise", &cc::BookModel::level_noise)
      .def("validate", &cc::BookModel::validate, "ValueError naming the field unless the model is valid.")
      .def_property_readonly("random", &cc::BookModel::random, "Whether books differ between scenarios.");

  py::class_<cc::ShockModel> shocks(m, "ShockModel");
  py::enum_<cc::ShockModel::Kind>(shocks, "Kind")
      .value("fixed", cc::ShockModel::Kind::fixed)
      .value("normal", cc::ShockModel::Kind::normal)
      .value("student_t", cc::ShockModel::Kind::student_t)
      .value("empirical", cc::ShockModel::Kind::empirical);
  shocks.def(py::init<>())
      .def_readwrite("kind", &cc::ShockModel::kind)
      .def_readwrite("values", &cc::ShockModel::values)
      .def_readwrite("scale", &cc::ShockModel::scale)
      .def_readwrite("df", &cc::ShockModel::df)
      .def("validate", &cc::ShockModel::validate, "ValueError naming the field unless the model is valid.");
}

}  // namespace liqcascade_bindings
