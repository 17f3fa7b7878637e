#include "pybind.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "liqcascade's compiled engine (glue over the cascade_core C++ library)";
  liqcascade_bindings::register_book(m);
  liqcascade_bindings::register_models(m);  // (the margin rules, before the position set's defaults)
  liqcascade_bindings::register_positions(m);
  liqcascade_bindings::register_cascade(m);
  liqcascade_bindings::register_monte_carlo(m);
  liqcascade_bindings::register_simulator(m);
  liqcascade_bindings::register_venue(m);
  liqcascade_bindings::register_venue_study(m);
  liqcascade_bindings::register_venue_population(m);
  liqcascade_bindings::register_venue_simulator(m);
}
