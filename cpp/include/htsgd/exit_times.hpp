// First exit from an open interval / box: tau = min{k >= 1 : x_k outside the domain}, censored at
// max_steps. Each particle runs until it exits; particles are handed to threads dynamically because
// their run lengths differ by orders of magnitude.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <vector>

#include "htsgd/dynamics.hpp"
#include "htsgd/lanes.hpp"
#include "htsgd/lane_refill.hpp"
#include "htsgd/lanes_nd.hpp"
#include "htsgd/outputs.hpp"
#include "htsgd/parallel.hpp"
#include "htsgd/simd.hpp"

namespace htsgd {

namespace lanes {

template <class L, class S>
using ExitTask = ExitTaskOf<L, S, Step1D, double>;

template <class L, class S>
inline void write_exit(const ExitTask<L, S>& t, std::size_t i, std::uint64_t steps, double x) {
  const bool left = left_interval(x, t.lo, t.hi);  // an overflow through a finite end is an exit
  t.out.steps[i] = static_cast<std::int64_t>(steps);
  t.out.position[i] = x;
  t.out.exited[i] = left;
  t.out.nonfinite[i] = !left && !std::isfinite(x);
}

// One thread's lanes: each lane runs a particle until it exits (or max_steps), writes its result and
// takes the next particle from the shared counter (LaneRefill: all lanes keep one step parity); the thread
// returns when no particle is left.
template <int W, int N, class L, class S>
HTSGD_INLINE void exit_group(const ExitTask<L, S>& t) {
  alignas(64) double x[W], g[W];
  alignas(64) std::uint64_t particle[W], step[W], done[W];
  StepNoise<W, N, S> noise;
  LaneRefill<W> assign;
  const std::uint64_t max_steps = static_cast<std::uint64_t>(t.max_steps);
  const double lo = t.lo, hi = t.hi;
  auto start = [&](int l, std::size_t i) {
    x[l] = t.x0[i];
    particle[l] = static_cast<std::uint32_t>(t.first_particle + static_cast<std::uint32_t>(i));
    step[l] = 0;
  };
  for (int l = 0; l < W; ++l) {  // idle lanes compute on this state, never reported
    x[l] = t.x0[0];
    particle[l] = 0;
    step[l] = 0;
  }
  auto advance = [&](std::uint64_t iter) HTSGD_INLINE_LAMBDA {
    for (int l = 0; l < W; ++l) ++step[l];
    const double* z = noise.draw(t.sampler, t.key, particle, step, (iter & 1) == 0);
    grad_lanes<W, N>(t.landscape, x, g);
    update_lanes<W, N>(t.step, z, g, x);
    std::uint64_t any = 0;
#if HTSGD_VECTOR_EXT
    using vd = typename Vec<N>::d;
    using vu = typename Vec<N>::u;
    vu any_v{};
    for (int v = 0; v < W; v += N) {
      const vd xv = load<vd>(x + v);
      // Comparisons only as ?: conditions: materialised vector booleans would be lowered lane by lane.
      const vd zero{}, ones = as_d<N>(splat_u<N>(~std::uint64_t{0}));
      const vu zero_u{}, ones_u = zero_u + ~std::uint64_t{0};
      const vu below = as_u<N>(xv > lo ? zero : ones), above = as_u<N>(xv < hi ? zero : ones);
      const vu dv = (below | above | (load<vu>(step + v) >= max_steps ? ones_u : zero_u)) & load<vu>(assign.active + v);
      store(done + v, dv);
      any_v |= dv;
    }
    any = any_lane<N>(reinterpret_cast<typename Vec<N>::i>(any_v)) ? 1 : 0;
#else
    for (int l = 0; l < W; ++l) {
      done[l] = ((!(x[l] > lo && x[l] < hi) || step[l] >= max_steps) ? ~0ull : 0ull) & assign.active[l];
      any |= done[l];
    }
#endif
    return any != 0;
  };
  assign.run(t.next, t.n, t.stop, kExitStopCheckMask, true, start, advance, [&](int l) { return done[l] != 0; },
             [&](int l) { write_exit(t, assign.index[l], step[l], x[l]); });
}

struct ExitLanes {
  template <int N, class L, class S>
  static HTSGD_INLINE void run(const ExitTask<L, S>& t) {
    exit_group<kLanes, N>(t);
  }
};


}  // namespace lanes

template <class L, class S>
void exit_times_1d(const L& landscape, const S& sampler, const Step1D& p, Key key, std::uint32_t first_particle,
                   const double* x0, std::size_t n, double lo, double hi, std::int64_t max_steps,
                   const ExitOutputs& out, int n_threads, const StopFlag& stop, Isa isa = active_isa()) {
  std::atomic<std::size_t> next{0};
  const lanes::ExitTask<L, S> task{landscape, sampler, p, key, first_particle, x0, n, lo, hi, max_steps, out, next, stop};
  const auto kernel = isa_entry<lanes::ExitLanes, const lanes::ExitTask<L, S>&>(isa);
  // Each thread runs kLanes particles side by side and refills a lane from the shared counter when its
  // particle exits; fewer particles than lanes * threads just leave lanes idle.
  const int threads = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(n_threads)),
                                                             (n + lanes::kLanes - 1) / lanes::kLanes));
#pragma omp parallel num_threads(threads)
  kernel(task);
  if (stop_requested(stop)) report_unstarted(out, x0, next.load(), n, 1);
}

inline bool inside_box(const double* x, const std::vector<double>& lo, const std::vector<double>& hi) {
  for (std::size_t j = 0; j < lo.size(); ++j)
    if (!(x[j] > lo[j] && x[j] < hi[j])) return false;
  return true;
}

// d-dimensional: SIMD lanes up to lanes_nd::kMaxDim coordinates (lanes_nd.hpp), else (or with
// scalar_reference) one particle at a time through step_nd, with the same bits.
template <class L, class S>
void exit_times_nd(const L& landscape, const S& sampler, const StepND& p, Key key, std::uint32_t first_particle,
                   const double* x0, std::size_t n, const std::vector<double>& lo, const std::vector<double>& hi,
                   std::int64_t max_steps, const ExitOutputs& out, int n_threads, const StopFlag& stop,
                   bool scalar_reference = false, Isa isa = active_isa()) {
  const std::size_t d = p.dim;
#if HTSGD_ND_LANES
  if (!scalar_reference && d <= lanes_nd::kMaxDim) {
    std::atomic<std::size_t> next{0};
    const lanes_nd::ExitTask<L, S> task{landscape, sampler, p, key, first_particle, x0, n, lo, hi, max_steps, out, next, stop};
    const auto kernel = isa_entry<lanes_nd::ExitLanes, const lanes_nd::ExitTask<L, S>&>(isa);
    const int threads = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(n_threads)),
                                                               (n + lanes_nd::kLanes - 1) / lanes_nd::kLanes));
#pragma omp parallel num_threads(threads)
    kernel(task);
    if (stop_requested(stop)) report_unstarted(out, x0, next.load(), n, d);
    return;
  }
#endif
  (void)scalar_reference, (void)isa;
#pragma omp parallel num_threads(resolve_threads(n_threads))
  {
    ScratchND scratch(d);
    std::vector<double> x(d);
#pragma omp for schedule(dynamic, 4)
    for (std::int64_t ii = 0; ii < static_cast<std::int64_t>(n); ++ii) {
      if (stop_requested(stop)) continue;
      const auto i = static_cast<std::size_t>(ii);
      std::copy(x0 + i * d, x0 + (i + 1) * d, x.begin());
      std::int64_t k = 0;
      bool inside = true;
      while (k < max_steps) {
        ++k;
        step_nd(landscape, sampler, p, key, first_particle + static_cast<std::uint32_t>(i),
                static_cast<std::uint64_t>(k), x.data(), scratch);
        if (!inside_box(x.data(), lo, hi)) {
          inside = false;
          break;
        }
        if ((k & kExitStopCheckMask) == 0 && stop_requested(stop)) break;
      }
      const bool left = !inside && left_box(x.data(), lo.data(), hi.data(), d);
      out.steps[i] = k;
      std::copy(x.begin(), x.end(), out.position + i * d);
      out.exited[i] = left;
      out.nonfinite[i] = !left && !all_finite(x.data(), d);
    }
  }
}

}  // namespace htsgd
