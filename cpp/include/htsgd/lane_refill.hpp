// Which particle each lane of a lane kernel runs, for kernels whose particles end at different steps (exit
// times, rare events): lanes take particles from a counter shared by the threads.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "htsgd/parallel.hpp"
#include "htsgd/vecmath.hpp"

namespace htsgd {

// The refill scheduler of every lane kernel that runs particles to their own end (exit times, rare
// events): which particle each of W lanes runs. Lanes take particles from the shared counter. With
// kSameParity, a lane whose particle ends waits for the next even iteration boundary before it starts the
// next one, so that all lanes keep one step parity (a half-block law then draws two steps per Philox block
// for all of them, StepNoise); without it (lanes that address their own blocks), it starts at once.
template <int W, bool kSameParity = true>
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
  // start their next particle (at step 1); every iteration without kSameParity.
  template <class Start>
  void refill(std::uint64_t iterations, std::atomic<std::size_t>& next, std::size_t n, Start&& start) {
    if (n_waiting == 0 || (kSameParity && (iterations & 1) != 0)) return;
    for (int l = 0; l < W; ++l) {
      if (!waiting[l]) continue;
      waiting[l] = false;
      --n_waiting;
      take(l, next, n, start);
    }
  }
  bool busy() const { return n_active > 0 || n_waiting > 0; }

  // The loop of a kernel whose lanes run particles to their own end. step(iteration) advances every lane
  // one step and returns false when no lane can have ended; then every running lane l with ended(l) is
  // reported (report(l)) and freed, and the free lanes are refilled. Every stop_mask + 1 iterations a stop
  // request ends the loop (the running lanes are reported too when report_running).
  template <class Start, class Step, class Ended, class Report>
  HTSGD_INLINE void run(std::atomic<std::size_t>& next, std::size_t n, const StopFlag& stop, std::uint64_t stop_mask,
                        bool report_running, Start&& start, Step&& step, Ended&& ended, Report&& report) {
    start_all(next, n, start);
    std::uint64_t iter = 0;
    while (busy()) {
      if (step(iter)) {
        for (int l = 0; l < W; ++l) {
          if (!active[l] || !ended(l)) continue;
          report(l);
          finish(l);
        }
      }
      refill(++iter, next, n, start);
      if ((iter & stop_mask) == 0 && stop_requested(stop)) {
        for (int l = 0; l < W && report_running; ++l)  // interrupted: where each running particle is
          if (active[l]) report(l);
        return;
      }
    }
  }
};

}  // namespace htsgd
