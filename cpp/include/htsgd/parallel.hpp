// Thin OpenMP wrappers: the core builds and runs (single-threaded) without OpenMP.
#pragma once
#include <atomic>
#include <cstdint>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace htsgd {

inline int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline int resolve_threads(int n_threads) { return n_threads > 0 ? n_threads : max_threads(); }

// Set by the caller (Ctrl-C); long loops check it every few thousand steps and return early.
using StopFlag = std::atomic<bool>;

inline bool stop_requested(const StopFlag& stop) { return stop.load(std::memory_order_relaxed); }

}  // namespace htsgd
