// What the run and exit-time kernels write (1-D lanes, d-dimensional lanes and the scalar paths alike).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

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

// Which particle each of W exit-time lanes runs. Lanes take particles from the shared counter; a lane whose
// particle ends waits for the next even iteration boundary before it starts the next one, so that all lanes
// keep one step parity (a half-block law then draws two steps per Philox block for all of them, StepNoise).
template <int W>
struct LaneRefill {
  std::uint64_t active[W];  // all-ones while the lane runs a particle (a lane mask), else 0
  std::size_t index[W];     // the particle it runs
  bool waiting[W];          // finished, waiting for the boundary
  std::size_t n_active = 0, n_waiting = 0;

  // start(l, i): load particle i into lane l. Lanes left without a particle idle (never reported).
  template <class Start>
  void take(int l, std::atomic<std::size_t>& next, std::size_t n, Start&& start) {
    const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
    active[l] = i < n ? ~std::uint64_t{0} : 0;
    if (i >= n) return;
    index[l] = i;
    start(l, i);
    ++n_active;
  }
  template <class Start>
  void start_all(std::atomic<std::size_t>& next, std::size_t n, Start&& start) {
    for (int l = 0; l < W; ++l) {
      waiting[l] = false;
      take(l, next, n, start);
    }
  }
  void finish(int l) {
    active[l] = 0;
    waiting[l] = true;
    --n_active;
    ++n_waiting;
  }
  // After `iterations` iterations: at an even count the running lanes' next step is odd, so waiting lanes
  // start their next particle (at step 1).
  template <class Start>
  void refill(std::uint64_t iterations, std::atomic<std::size_t>& next, std::size_t n, Start&& start) {
    if (n_waiting == 0 || (iterations & 1) != 0) return;
    for (int l = 0; l < W; ++l) {
      if (!waiting[l]) continue;
      waiting[l] = false;
      --n_waiting;
      take(l, next, n, start);
    }
  }
  bool busy() const { return n_active > 0 || n_waiting > 0; }
};

}  // namespace htsgd
