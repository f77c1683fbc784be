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

// Ends the OpenMP team of the calling thread (its threads exit; the next parallel region starts a new one).
// Other libraries in the process may share this OpenMP runtime (torch's wheel ships libgomp.so.1): while our
// team exists, the runtime counts more threads than cores and makes every team, theirs too, stop spinning
// between regions, which slowed torch's small ops about 3x after one htsgd call.
inline void release_threads() {
#ifdef _OPENMP
  omp_pause_resource(omp_pause_soft, omp_get_initial_device());
#endif
}

// Set by the caller (Ctrl-C); long loops check it every few thousand steps and return early.
using StopFlag = std::atomic<bool>;

inline bool stop_requested(const StopFlag& stop) { return stop.load(std::memory_order_relaxed); }

}  // namespace htsgd
