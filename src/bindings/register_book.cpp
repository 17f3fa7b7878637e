#include "pybind.hpp"

#include <cascade_core/order_book.hpp>

namespace cc = cascade_core;

namespace liqcascade_bindings {

const cc::OrderBook& order_book(const py::handle& obj, const char* field) {
  if (!py::isinstance<cc::OrderBook>(obj)) {
    throw py::type_error(std::string(field) + ": expected a liqcascade._core.OrderBook, got " +
                         py::str(py::type::of(obj)).cast<std::string>());
  }
  return obj.cast<const cc::OrderBook&>();
}

void register_book(py::module_& m) {
  py::class_<cc::OrderBook>(m, "OrderBook")
      .def(py::init([](const py::object& bid_price, const py::object& bid_qty,
                       const py::object& ask_price, const py::object& ask_qty) {
             auto bp = column<double>(bid_price, "bid_price");
             auto bq = column<double>(bid_qty, "bid_qty");
             auto ap = column<double>(ask_price, "ask_price");
             auto aq = column<double>(ask_qty, "ask_qty");
             return cc::OrderBook(as_span(bp), as_span(bq), as_span(ap), as_span(aq));
           }),
           py::arg("bid_price"), py::arg("bid_qty"), py::arg("ask_price"), py::arg("ask_qty"))
      .def_property_readonly("bid_price", [](const py::object& self) {
        return readonly_view<double>(self.cast<const cc::OrderBook&>().bids().price, self);
      })
      .def_property_readonly("bid_qty", [](const py::object& self) {
        return readonly_view<double>(self.cast<const cc::OrderBook&>().bids().qty, self);
      })
      .def_property_readonly("ask_price", [](const py::object& self) {
        return readonly_view<double>(self.cast<const cc::OrderBook&>().asks().price, self);
      })
      .def_property_readonly("ask_qty", [](const py::object& self) {
        return readonly_view<double>(self.cast<const cc::OrderBook&>().asks().qty, self);
      })
      .def_property_readonly("best_bid", &cc::OrderBook::best_bid)
      .def_property_readonly("best_ask", &cc::OrderBook::best_ask)
      .def_property_readonly("mid", &cc::OrderBook::mid);
}

}  // namespace liqcascade_bindings
