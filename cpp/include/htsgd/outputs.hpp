// What the run and exit-time kernels write (1-D lanes, d-dimensional lanes and the scalar paths alike).
#pragma once
#include <algorithm>
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

}  // namespace htsgd
