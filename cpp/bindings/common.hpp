// Shared by the register_*.cpp files: array helpers, and running a long
// computation with the GIL released while the calling thread watches for Ctrl-C.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "htsgd/landscapes.hpp"
#include "htsgd/noise.hpp"
#include "htsgd/parallel.hpp"
#include "workers.hpp"

namespace py = pybind11;

namespace htsgd::bindings {

template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

inline std::vector<double> to_vector(const py::handle& obj) {
  const auto a = py::cast<CArray<double>>(obj);
  return std::vector<double>(a.data(), a.data() + a.size());
}

// Runs work(stop) on a long-lived worker thread (workers.hpp; the master of the call's OpenMP team) while
// this thread, without the GIL, polls Python's signal handlers every 50 ms. On
// Ctrl-C the stop flag is set, the worker returns at its next check, this thread waits for it (nothing of
// the call runs after it returns), and the KeyboardInterrupt raised by the handler propagates.
template <class Work>
void run_interruptible(Work&& work) {
  StopFlag stop{false};
  std::exception_ptr error;
  bool interrupted = false;
  {
    py::gil_scoped_release release;
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    submit_to_worker(
        [&] {
          try {
            work(stop);
          } catch (...) {
            error = std::current_exception();
          }
        },
        [&] {
          std::lock_guard<std::mutex> lock(mutex);
          done = true;
          cv.notify_one();
        });
    std::unique_lock<std::mutex> lock(mutex);
    while (!cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return done; })) {
      if (interrupted) continue;  // stop requested: wait for the worker to see it
      lock.unlock();
      {
        py::gil_scoped_acquire acquire;
        if (PyErr_CheckSignals() != 0) {
          interrupted = true;
          stop.store(true);
        }
      }
      lock.lock();
    }
  }
  if (interrupted) throw py::error_already_set();
  if (error) std::rethrow_exception(error);
}

// Runs kernel(landscape, sampler, stop) compiled for the concrete (landscape kind, noise law) pair of a
// landscape variant, with the GIL released and Ctrl-C watched (run_interruptible).
template <class LandscapeVariant, class Kernel>
void dispatch(const LandscapeVariant& landscape, const NoiseLaw& law, Kernel&& kernel) {
  run_interruptible([&](const StopFlag& stop) {
    std::visit([&](const auto& f) { with_sampler(law, [&](const auto& s) { kernel(f, s, stop); }); }, landscape);
  });
}

}  // namespace htsgd::bindings
