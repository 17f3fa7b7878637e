// Running long engine calls from Python: on a thread of their own, with the GIL released,
// Ctrl-C delivered and progress reported.
#pragma once

#include "pybind.hpp"

#include <cascade_core/monte_carlo.hpp>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

namespace liqcascade_bindings {

namespace cc = cascade_core;

// Runs `body` on a thread of its own while this (Python) thread waits with the GIL released,
// waking every 100 ms to deliver Ctrl-C (which cancels the run, joins every thread and
// re-raises) and to report progress.
template <class Body>
auto run_interruptible(Body body, cc::RunControl& control, const py::object& progress) {
  std::optional<decltype(body())> result;
  std::exception_ptr failure;
  bool finished = false;
  std::mutex mutex;
  std::condition_variable wake;
  std::thread runner([&] {
    try {
      result.emplace(body());
    } catch (...) {
      failure = std::current_exception();
    }
    std::lock_guard lock(mutex);
    finished = true;
    wake.notify_all();
  });
  auto cancel_and_join = [&] {
    control.cancel.store(true);
    py::gil_scoped_release release;
    runner.join();
  };
  for (;;) {
    bool done;
    {
      py::gil_scoped_release release;
      std::unique_lock lock(mutex);
      done = wake.wait_for(lock, std::chrono::milliseconds(100), [&] { return finished; });
    }
    if (PyErr_CheckSignals() != 0) {
      cancel_and_join();
      throw py::error_already_set();
    }
    if (!progress.is_none()) {
      try {
        progress(control.done.load());
      } catch (...) {
        cancel_and_join();
        throw;
      }
    }
    if (done) break;
  }
  runner.join();
  if (failure) std::rethrow_exception(failure);
  return std::move(*result);
}


}  // namespace liqcascade_bindings
