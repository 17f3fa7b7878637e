// The one pybind11 header every binding file includes first, and the small glue helpers they
// share: checked column conversion in, owned or viewed arrays out.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace cascade_core {
class PositionSet;
class OrderBook;
struct SimulationResult;
}  // namespace cascade_core

namespace liqcascade_bindings {

template <class T>
const char* dtype_name() {
  if constexpr (std::is_same_v<T, double>) return "float64";
  if constexpr (std::is_same_v<T, std::int8_t>) return "int8";
  return "?";
}

// A 1-D, C-contiguous array of exactly T (a non-contiguous one is copied, never read strided).
// Wrong dtype is a TypeError, wrong dimension a ValueError, both naming the field.
template <class T>
py::array_t<T, py::array::c_style> column(const py::handle& obj, const char* field) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(field) + ": expected a numpy array of " + dtype_name<T>());
  }
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().equal(py::dtype::of<T>())) {  // (equal, not the same object: a dtype through pickle is another)
    throw py::type_error(std::string(field) + ": expected dtype " + dtype_name<T>() + ", got " +
                         py::str(arr.dtype()).cast<std::string>());
  }
  if (arr.ndim() != 1) {
    throw py::value_error(std::string(field) + ": expected a 1-D array, got " +
                          std::to_string(arr.ndim()) + " dimensions");
  }
  // A misaligned or non-contiguous array (a float64 view at an odd address, a strided slice)
  // is copied into an aligned contiguous one: the core reads columns as aligned T.
  constexpr int required = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ | py::detail::npy_api::NPY_ARRAY_ALIGNED_;
  if ((py::detail::array_proxy(arr.ptr())->flags & required) != required) {
    auto copy = py::array_t<T, py::array::c_style>(arr.request().shape);
    copy[py::ellipsis()] = arr;
    return copy;
  }
  return py::array_t<T, py::array::c_style>::ensure(arr);
}

template <class T>
std::span<const T> as_span(const py::array_t<T, py::array::c_style>& arr) {
  return {arr.data(), static_cast<std::size_t>(arr.size())};
}

// `d[key]` as T; a missing key is a ValueError naming it.
template <class T>
T dict_item(const py::dict& d, const char* key) {
  if (!d.contains(key)) throw py::value_error(std::string(key) + ": missing");
  return d[key].cast<T>();
}

// A read-only view of memory owned by `owner` (kept alive as the array's base).
template <class T>
py::array_t<T> readonly_view(std::span<const T> data, const py::object& owner) {
  py::array_t<T> arr(static_cast<py::ssize_t>(data.size()), data.data(), owner);
  py::detail::array_proxy(arr.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return arr;
}

// Hands a vector to NumPy without copying it.
template <class T, class Alloc>
py::array_t<T> to_numpy(std::vector<T, Alloc>&& values) {
  using Vector = std::vector<T, Alloc>;
  auto* heap = new Vector(std::move(values));
  py::capsule owner(heap, [](void* p) { delete static_cast<Vector*>(p); });
  return py::array_t<T>(static_cast<py::ssize_t>(heap->size()), heap->data(), owner);
}

// The C++ objects behind `_core.OrderBook` / `_core.PositionSet` arguments (TypeError naming
// `field` for anything else).
const cascade_core::PositionSet& position_set(const py::handle& obj, const char* field);
const cascade_core::OrderBook& order_book(const py::handle& obj, const char* field);

void register_book(py::module_& m);
void register_positions(py::module_& m);
void register_cascade(py::module_& m);
void register_models(py::module_& m);
void register_monte_carlo(py::module_& m);
void register_simulator(py::module_& m);
void register_venue(py::module_& m);
void register_venue_study(py::module_& m);
void register_venue_population(py::module_& m);
void register_venue_simulator(py::module_& m);

py::dict simulation_dict(cascade_core::SimulationResult&& result);

}  // namespace liqcascade_bindings
