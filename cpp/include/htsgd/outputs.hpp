// What the run and exit-time kernels write (1-D lanes, d-dimensional lanes and the scalar paths alike).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "htsgd/parallel.hpp"
#include "htsgd/philox.hpp"

namespace htsgd {

// Particles whose position became non-finite, with the first such step. Rare, so a locked list rather
// than an n-sized array: the memory of a run stays that of its state.
class NonfiniteLog {
 public:
  void add(std::size_t particle, std::int64_t step) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.emplace_back(particle, step);
  }
  // Sorted by particle, so the result does not depend on thread scheduling.
  std::vector<std::pair<std::size_t, std::int64_t>> sorted() const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto out = entries_;
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::size_t, std::int64_t>> entries_;
};

struct RunOutputs {
  double* final = nullptr;            // (n, d); may alias x0 (each particle is read before it is written)
  double* trajectory = nullptr;       // (n_steps / record_every, n, d) or nullptr
  std::int64_t record_every = 0;
  std::int64_t* occupancy = nullptr;  // (n, n_basins) or nullptr; the kernels zero each row before counting
  NonfiniteLog* nonfinite = nullptr;  // particles that became non-finite
};

// Basin index of a coordinate: the number of interior basin boundaries (sorted) below it.
inline std::size_t basin_index(double x, const std::vector<double>& edges) {
  return static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), x) - edges.begin());
}

constexpr std::int64_t kStopCheckMask = 1023;  // run: check the stop flag every 1024 steps

struct ExitOutputs {
  std::int64_t* steps = nullptr;      // (n) exit step, or max_steps if censored, or the non-finite step
  double* position = nullptr;         // (n, d) where it landed (the last position if censored)
  std::uint8_t* exited = nullptr;     // (n)
  std::uint8_t* nonfinite = nullptr;  // (n)
};

constexpr std::int64_t kExitStopCheckMask = 4095;  // exit times: check the stop flag every 4096 iterations

// What the lane kernels of run (RunTaskOf) and exit times (ExitTaskOf) read, 1-D and d-D alike: the model
// (landscape, noise sampler, step: Step1D or StepND), the particles first_particle.. with their starts, the
// horizon or the domain (Bound: double in 1-D, the box's bounds in d-D), the outputs and the stop flag.
template <class L, class S, class Step>
struct RunTaskOf {
  const L& landscape; const S& sampler; const Step& step; Key key;
  std::uint32_t first_particle; const double* x0; std::size_t n;
  std::int64_t n_steps; const std::vector<double>& basin_edges; const RunOutputs& out; const StopFlag& stop;
  std::size_t n_basins = 0;  // d-D: basins per particle (mixed radix over the coordinates)
};

template <class L, class S, class Step, class Bound>
struct ExitTaskOf {
  const L& landscape; const S& sampler; const Step& step; Key key;
  std::uint32_t first_particle; const double* x0; std::size_t n;
  Bound lo, hi; std::int64_t max_steps; const ExitOutputs& out;
  std::atomic<std::size_t>& next;  // the next particle index not yet taken by any lane
  const StopFlag& stop;
};

// After an interruption: particles first..n-1 never started, reported as not exited after 0 steps.
inline void report_unstarted(const ExitOutputs& out, const double* x0, std::size_t first, std::size_t n,
                             std::size_t d) {
  for (std::size_t i = first; i < n; ++i) {
    out.steps[i] = 0;
    std::copy(x0 + i * d, x0 + (i + 1) * d, out.position + i * d);
    out.exited[i] = 0;
    out.nonfinite[i] = 0;
  }
}

}  // namespace htsgd
