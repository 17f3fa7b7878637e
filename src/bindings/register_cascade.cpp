#include "pybind.hpp"
#include "interruptible.hpp"

#include <cascade_core/aggregate_cascade.hpp>
#include <cascade_core/cascade.hpp>

#include <cmath>
#include <limits>

namespace cc = cascade_core;

namespace liqcascade_bindings {

namespace {

py::dict result_to_dict(cc::CascadeResult&& r) {
  std::vector<double> trace_price, trace_qty;
  std::vector<std::int64_t> trace_count;
  trace_price.reserve(r.trace.size());
  trace_qty.reserve(r.trace.size());
  trace_count.reserve(r.trace.size());
  for (const auto& round : r.trace) {
    trace_price.push_back(round.start_price);
    trace_count.push_back(round.count);
    trace_qty.push_back(round.qty);
  }


  py::dict d;
  d["direction"] = r.direction == cc::Direction::down ? -1 : 1;
  d["ref_price"] = r.ref_price;
  d["shock_price"] = r.shock_price;
  d["final_price"] = r.final_price;
  d["amplification"] = r.amplification();
  d["n_liquidated"] = r.n_liquidated;
  d["liquidated_qty"] = r.liquidated_qty;
  d["liquidated_notional"] = r.liquidated_notional;
  d["unfilled_qty"] = r.unfilled_qty;
  d["exogenous_filled_qty"] = r.exogenous_filled_qty;
  d["exogenous_unfilled_qty"] = r.exogenous_unfilled_qty;
  d["rounds"] = r.rounds;
  d["book_exhausted"] = r.book_exhausted;
  d["bad_debt"] = r.bad_debt;
  d["levels_touched"] = r.levels_touched;
  d["trace_start_price"] = to_numpy(std::move(trace_price));
  d["trace_count"] = to_numpy(std::move(trace_count));
  d["trace_qty"] = to_numpy(std::move(trace_qty));
  d["liquidated_index"] = to_numpy(std::move(r.liquidated_index));
  d["filled_qty"] = to_numpy(std::move(r.filled_qty));
  d["fill_price"] = to_numpy(std::move(r.fill_price));
  return d;
}

cc::Shock shock_of(const std::string& kind, double value) {
  if (kind == "relative") return cc::Shock::relative(value);
  if (kind == "sell") return cc::Shock::sell(value);
  if (kind == "buy") return cc::Shock::buy(value);
  throw py::value_error("kind: expected 'relative', 'sell' or 'buy', got '" + kind + "'");
}

}  // namespace

void register_cascade(py::module_& m) {
  m.def(
      "cascade",
      [](const py::object& book_obj, const py::object& positions_obj, const std::string& kind,
         double value, std::optional<double> ref_price) {
        const cc::OrderBook& book = order_book(book_obj, "book");
        const cc::PositionSet& positions = position_set(positions_obj, "positions");
        const cc::Shock shock = shock_of(kind, value);
        // A set's first cascade in a direction sorts that side as far as it reaches: on a large
        // set, interruptibly.
        cc::CascadeResult result;
        if (!positions.prepared(shock.moves()) && positions.size() >= (std::size_t{1} << 20)) {
          cc::RunControl control;
          result = run_interruptible(
              [&] { return cc::cascade(book, positions, shock, ref_price, true, &control.cancel); }, control,
              py::none());
        } else {
          py::gil_scoped_release release;
          result = cc::cascade(book, positions, shock, ref_price);
        }
        return result_to_dict(std::move(result));
      },
      py::arg("book"), py::arg("positions"), py::arg("kind"), py::arg("value"),
      py::arg("ref_price") = py::none(),
      "One static cascade. kind: 'relative' (value = move s > -1), 'sell' or 'buy' (value = "
      "exogenous market order quantity). Returns a dict of scalars and arrays.");

  m.def(
      "cascade_aggregate",
      [](const py::object& book_obj, const py::object& positions_obj, const std::string& kind, double value,
         std::optional<double> ref_price) {
        const cc::OrderBook& book = order_book(book_obj, "book");
        const cc::PositionSet& positions = position_set(positions_obj, "positions");
        const cc::Shock shock = shock_of(kind, value);
        const bool down = shock.moves() == cc::Direction::down;
        cc::RunControl control;
        auto [result, fallbacks] = run_interruptible(
            [&] {
              const cc::AggregateCascade aggregate(book, positions, down, !down, &control.cancel);
              cc::CascadeResult r = aggregate.run(shock, ref_price);
              return std::pair{std::move(r), aggregate.fallbacks()};
            },
            control, py::none());
        py::dict d = result_to_dict(std::move(result));
        d["fallbacks"] = fallbacks;
        return d;
      },
      py::arg("book"), py::arg("positions"), py::arg("kind"), py::arg("value"),
      py::arg("ref_price") = py::none(),
      "One cascade by the aggregate path (cascade_many's default), indexing the set and the book "
      "for this one shock: cascade()'s dict without per-position arrays, and 'fallbacks' (1 when "
      "a round ended within rounding of a level boundary and cascade() decided it).");
}

}  // namespace liqcascade_bindings
