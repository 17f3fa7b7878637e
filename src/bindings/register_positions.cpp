#include "pybind.hpp"
#include "interruptible.hpp"

#include <cascade_core/inverse.hpp>
#include <cascade_core/margin.hpp>
#include <cascade_core/positions.hpp>
#include <cascade_core/radix_sort.hpp>

#include <algorithm>
#include <cmath>

#include <limits>
#include <array>
#include <memory>
#include <string>

namespace cc = cascade_core;

namespace liqcascade_bindings {

namespace {

// The columns the C++ set views: copies of its own (`copy`: in the engine's recycled buffers,
// so a pipeline building sets in a loop reuses mapped pages instead of faulting fresh ones), or
// the caller's arrays, kept alive.
struct PositionSetHolder {
  py::array_t<std::int8_t, py::array::c_style> side;
  py::array_t<double, py::array::c_style> qty, entry_price, margin, mmr, maint_amount;
  std::unique_ptr<cc::PositionSet> set;
};

}  // namespace

void register_positions(py::module_& m) {
  m.def(
      "stable_order",
      [](const py::object& keys_obj, bool descending) {
        auto keys = column<double>(keys_obj, "keys");
        std::vector<std::int64_t> out;
        {
          py::gil_scoped_release release;
          out = cc::stable_order(as_span(keys), descending);
        }
        return to_numpy(std::move(out));
      },
      py::arg("keys"), py::arg("descending") = false,
      "The engine's linear-time stable sort: the permutation ordering `keys` (float64, no NaN) "
      "ascending (or descending), ties by position. Exposed for testing and reuse.");

  m.def(
      "buffer_cache",
      [](const py::object& limit) {
        if (!limit.is_none()) {
          const auto value = limit.cast<py::int_>();
          if (value.cast<long long>() < 0) throw py::value_error("limit: must be >= 0 bytes");
          cc::set_buffer_cache_limit(value.cast<std::size_t>());
        }
        py::dict d;
        d["limit"] = cc::buffer_cache_limit();
        d["cached"] = cc::cached_buffer_bytes();
        return d;
      },
      py::arg("limit") = py::none(),
      "The engine's cache of freed large buffers: set its limit in bytes (None: unchanged) "
      "and return {'limit', 'cached'}.");
  m.def("release_buffers", &cc::release_cached_buffers,
        "Return every cached buffer to the system; the number of bytes freed.");

  m.def(
      "reciprocal_positions",
      [](const py::object& side_obj, const py::object& qty_obj, const py::object& entry_obj, double size) {
        auto side = column<std::int8_t>(side_obj, "side");
        auto qty = column<double>(qty_obj, "qty");
        auto entry = column<double>(entry_obj, "entry_price");
        const std::size_t n = as_span(side).size();
        py::array_t<std::int8_t> out_side(static_cast<py::ssize_t>(n));
        py::array_t<double> out_qty(static_cast<py::ssize_t>(n)), out_entry(static_cast<py::ssize_t>(n));
        cc::reciprocal_positions(as_span(side), as_span(qty), as_span(entry), size,
                                 std::span<std::int8_t>(out_side.mutable_data(), n),
                                 std::span<double>(out_qty.mutable_data(), n),
                                 std::span<double>(out_entry.mutable_data(), n));
        return py::make_tuple(out_side, out_qty, out_entry);
      },
      py::arg("side"), py::arg("qty"), py::arg("entry_price"), py::arg("contract_size"),
      "An inverse market's positions as its reciprocal market's linear ones: (side, qty, entry_price).");
  m.def(
      "quote_prices",
      [](const py::object& prices_obj) {
        auto prices = column<double>(prices_obj, "prices");
        const auto in = as_span(prices);
        py::array_t<double> out(static_cast<py::ssize_t>(in.size()));
        cc::quote_prices(in, std::span<double>(out.mutable_data(), in.size()));
        return out;
      },
      py::arg("prices"), "Reciprocal-market prices back in USD: 1/x (inf where x <= 0).");

  py::class_<PositionSetHolder>(m, "PositionSet")
      .def(py::init([](const py::object& side, const py::object& qty, const py::object& entry_price,
                       const py::object& margin, const py::object& mmr,
                       const py::object& maint_amount, bool copy, const cc::MarginRule& rule, double inverse_size) {
             auto holder = std::make_unique<PositionSetHolder>();
             holder->side = column<std::int8_t>(side, "side");
             holder->qty = column<double>(qty, "qty");
             holder->entry_price = column<double>(entry_price, "entry_price");
             holder->margin = column<double>(margin, "margin");
             holder->mmr = column<double>(mmr, "mmr");
             holder->maint_amount = column<double>(maint_amount, "maint_amount");
             {
               py::gil_scoped_release release;
               auto& h = *holder;
               h.set = std::make_unique<cc::PositionSet>(
                   cc::PositionColumns{as_span(h.side), as_span(h.qty), as_span(h.entry_price), as_span(h.margin),
                                       as_span(h.mmr), as_span(h.maint_amount)},
                   copy, rule, inverse_size);
             }
             if (copy) {  // the caller's arrays are not needed any more
               holder->side = {};
               holder->qty = holder->entry_price = holder->margin = holder->mmr = holder->maint_amount = {};
             }
             return holder;
           }),
           py::arg("side"), py::arg("qty"), py::arg("entry_price"), py::arg("margin"),
           py::arg("mmr"), py::arg("maint_amount"), py::arg("copy") = true, py::arg("rule") = cc::MarginRule{},
           py::arg("inverse_size") = 0.0)
      .def_property_readonly("rule", [](const PositionSetHolder& h) { return h.set->rule(); })
      .def_property_readonly("inverse_size", [](const PositionSetHolder& h) { return h.set->inverse_size(); })
      .def(
          "at_price",
          [](const PositionSetHolder& h, double price, const cc::TierTable* tiers) {
            const std::size_t n = h.set->size();
            py::array_t<double> maintenance(static_cast<py::ssize_t>(n)), equity(static_cast<py::ssize_t>(n));
            std::span<double> mm(maintenance.mutable_data(), n), eq(equity.mutable_data(), n);
            {
              py::gil_scoped_release release;
              h.set->at_price(price, tiers, mm, eq);
            }
            return py::make_tuple(maintenance, equity);
          },
          py::arg("price"), py::arg("tiers") = py::none(),
          "(maintenance, equity) of each position at `price`, with the tier of its notional there "
          "when `tiers` is given.")
      .def(
          "past_liquidation",
          [](const PositionSetHolder& h, int direction, double price) {
            const auto d = direction < 0 ? cc::Direction::down : cc::Direction::up;
            std::size_t past = 0, total = 0;
            {
              py::gil_scoped_release release;  // (may sort the side)
              past = h.set->past_liquidation(d, price);
              total = h.set->at_risk_count(d);
            }
            return py::make_tuple(past, total);
          },
          py::arg("direction"), py::arg("price"),
          "(past, total): of the positions a move down (< 0) or up (> 0) puts at risk, how many are "
          "already at or past their liquidation price at `price`, and how many there are.")
      .def(
          "column",
          [](const py::object& self, const std::string& name) -> py::array {
            const auto& c = self.cast<const PositionSetHolder&>().set->columns();
            if (name == "side") return readonly_view<std::int8_t>(c.side, self);
            if (name == "qty") return readonly_view<double>(c.qty, self);
            if (name == "entry_price") return readonly_view<double>(c.entry_price, self);
            if (name == "margin") return readonly_view<double>(c.margin, self);
            if (name == "mmr") return readonly_view<double>(c.mmr, self);
            if (name == "maint_amount") return readonly_view<double>(c.maint_amount, self);
            throw py::value_error("name: expected a column of the set, got '" + name + "'");
          },
          py::arg("name"), "A read-only view of one of the set's columns (its own copy, or the caller's array).")
      .def("__len__", [](const PositionSetHolder& h) { return h.set->size(); })
      .def(
          "prepare",
          [](const PositionSetHolder& h) {
            cc::RunControl control;  // Ctrl-C stops a long sort
            run_interruptible([&] { h.set->prepare(&control.cancel); return true; }, control, py::none());
          },
          "Sort both sides' liquidation thresholds now (otherwise done by the first cascade).")
      .def_property_readonly("prepared",
                             [](const PositionSetHolder& h) { return h.set->prepared(); })
      .def(
          "prepared_side",
          [](const PositionSetHolder& h, int direction) {
            return h.set->prepared(direction < 0 ? cc::Direction::down : cc::Direction::up);
          },
          py::arg("direction"), "Whether the longs (direction < 0) or shorts (> 0) are sorted.")
      .def_property_readonly("liquidation_price",
                             [](const py::object& self) {
                               const auto& h = self.cast<const PositionSetHolder&>();
                               std::span<const double> prices;
                               {
                                 py::gil_scoped_release release;
                                 prices = h.set->liquidation_price();
                               }
                               return readonly_view<double>(prices, self);
                             })
      .def_property_readonly("bankruptcy_price", [](const py::object& self) {
        const auto& h = self.cast<const PositionSetHolder&>();
        std::span<const double> prices;
        {
          py::gil_scoped_release release;
          prices = h.set->bankruptcy_price();
        }
        return readonly_view<double>(prices, self);
      });
}

const cc::PositionSet& position_set(const py::handle& obj, const char* field) {
  if (!py::isinstance<PositionSetHolder>(obj)) {
    throw py::type_error(std::string(field) + ": expected a liqcascade._core.PositionSet, got " +
                         py::str(py::type::of(obj)).cast<std::string>());
  }
  return *obj.cast<const PositionSetHolder&>().set;
}

}  // namespace liqcascade_bindings
