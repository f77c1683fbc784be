// Multi-particle simulation for a fixed number of steps: final positions, optional thinned trajectory,
// basin occupancy, and the step at which a particle became non-finite. 1-D: chunks of kBlock particles are
// spread over threads; within a chunk, groups of lanes::kLanes particles sit in SIMD lanes and run all
// steps with their state in registers/L1 (lanes.hpp, dispatched per ISA by simd.hpp). Every particle's
// path is a pure function of (seed, particle id).
#pragma once
#include <algorithm>
#include <cfloat>
#include <climits>
#include <cstring>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "htsgd/dynamics.hpp"
#include "htsgd/landscapes.hpp"
#include "htsgd/lanes.hpp"
#include "htsgd/lanes_nd.hpp"
#include "htsgd/outputs.hpp"
#include "htsgd/parallel.hpp"
#include "htsgd/simd.hpp"

namespace htsgd {

constexpr std::size_t kBlock = 64;

namespace lanes {

template <class L, class S>
using RunTask = RunTaskOf<L, S, Step1D>;

// Lane bookkeeping of one step, N lanes at a time. bad: min over steps of (k if x_k is non-finite, else
// kNever), i.e. the first non-finite step. cnt[0]: finite steps; cnt[1 + e]: finite steps with x >= edges[e]
// (edges sorted), from which the basin counts follow (basin b = edges[b-1] <= x < edges[b]).
constexpr std::int64_t kNever = INT64_MAX;

template <int W, int N>
HTSGD_INLINE void bookkeep_lanes(const double* x, std::int64_t k, std::int64_t* bad, const double* edges,
                                 std::size_t n_edges, std::int64_t (*cnt)[W]) {
  using vd = typename Vec<N>::d;
  using vi = typename Vec<N>::i;
  // Comparisons only as ?: conditions: materialised vector booleans would be lowered lane by lane.
  const vd zero_d{}, ones_d = as_d<N>(splat_u<N>(~std::uint64_t{0}));
  const vi never = vi{} + kNever, kv = vi{} + k;
  for (int v = 0; v < W; v += N) {
    vd xv;
    vi bv;
    std::memcpy(&xv, x + v, sizeof xv);
    std::memcpy(&bv, bad + v, sizeof bv);
    const vd absx = as_d<N>(as_u<N>(xv) & 0x7FFFFFFFFFFFFFFFull);
    const vi cand = absx <= DBL_MAX ? never : kv;  // NaN and +-inf: k
    bv = cand < bv ? cand : bv;
    std::memcpy(bad + v, &bv, sizeof bv);
    if (cnt) {
      const vd fin = absx <= DBL_MAX ? ones_d : zero_d;  // all-ones where finite
      vi c;
      std::memcpy(&c, cnt[0] + v, sizeof c);
      c -= reinterpret_cast<vi>(fin);
      std::memcpy(cnt[0] + v, &c, sizeof c);
      for (std::size_t e = 0; e < n_edges; ++e) {
        std::memcpy(&c, cnt[1 + e] + v, sizeof c);
        c -= reinterpret_cast<vi>(xv >= edges[e] ? fin : zero_d);
        std::memcpy(cnt[1 + e] + v, &c, sizeof c);
      }
    }
  }
}

// Particles [begin, begin + count), count <= W, for all steps; N doubles per SIMD register.
template <int W, int N, class L, class S>
HTSGD_INLINE void run_group(const RunTask<L, S>& t, std::size_t begin, std::size_t count) {
  const RunOutputs& out = t.out;
  const std::size_t n_edges = t.basin_edges.size(), n_basins = n_edges + 1;
  const double* edges = t.basin_edges.data();
  const bool lane_occupancy = out.occupancy != nullptr && n_basins <= kLaneBasins;
  alignas(64) double x[W], g[W];
  alignas(64) std::uint64_t particle[W], step[W];
  StepNoise<W, N, S> noise;
  alignas(64) std::int64_t bad[W], cnt[kLaneBasins][W];
  if (out.occupancy) std::fill(out.occupancy + begin * n_basins, out.occupancy + (begin + count) * n_basins, 0);
  for (int l = 0; l < W; ++l) {
    const std::size_t i = begin + std::min<std::size_t>(static_cast<std::size_t>(l), count - 1);
    x[l] = t.x0[i];  // padding lanes repeat the last particle and are never written back
    particle[l] = static_cast<std::uint32_t>(t.first_particle + static_cast<std::uint32_t>(begin + static_cast<std::size_t>(l)));
    bad[l] = kNever;
    for (std::size_t b = 0; b < kLaneBasins; ++b) cnt[b][l] = 0;
  }
  for (std::int64_t k = 1; k <= t.n_steps; ++k) {
    for (int l = 0; l < W; ++l) step[l] = static_cast<std::uint64_t>(k);
    const double* z = noise.draw(t.sampler, t.key, particle, step, (k & 1) != 0);
    typename Vec<N>::i nonfinite{};
    for (int v = 0; v < W; v += N) {  // one vector at a time: its gradient stays in a register
      grad_lanes<N, N>(t.landscape, x + v, g + v);
      update_lanes<N, N>(t.step, z + v, g + v, x + v);
      const auto absx = as_d<N>(as_u<N>(load<typename Vec<N>::d>(x + v)) & 0x7FFFFFFFFFFFFFFFull);
      nonfinite |= absx <= DBL_MAX ? typename Vec<N>::i{} : typename Vec<N>::i{} - 1;
    }
    // without lane occupancy only a non-finite lane has anything to record
    if (lane_occupancy || any_lane<N>(nonfinite))
      bookkeep_lanes<W, N>(x, k, bad, edges, n_edges, lane_occupancy ? cnt : nullptr);
    if (out.occupancy && !lane_occupancy) {
      for (std::size_t l = 0; l < count; ++l)
        if (std::isfinite(x[l])) ++out.occupancy[(begin + l) * n_basins + basin_index(x[l], t.basin_edges)];
    }
    if (out.trajectory && k % out.record_every == 0) {
      double* row = out.trajectory + static_cast<std::size_t>(k / out.record_every - 1) * t.n;
      for (std::size_t l = 0; l < count; ++l) row[begin + l] = x[l];
    }
    if ((k & kStopCheckMask) == 0 && stop_requested(t.stop)) break;
  }
  for (std::size_t l = 0; l < count; ++l) {
    out.final[begin + l] = x[l];
    if (bad[l] != kNever) out.nonfinite->add(begin + l, bad[l]);
    if (lane_occupancy) {
      std::int64_t* row = out.occupancy + (begin + l) * n_basins;
      for (std::size_t b = 0; b < n_basins; ++b)  // finite steps in [edges[b-1], edges[b])
        row[b] += cnt[b][l] - (b < n_edges ? cnt[b + 1][l] : 0);
    }
  }
}

// Particles [begin, begin + count) in groups of kLanes; instantiated per ISA by run_chunk_for.
struct RunChunk {
  template <int N, class L, class S>
  static HTSGD_INLINE void run(const RunTask<L, S>& t, std::size_t begin, std::size_t count) {
    for (std::size_t g = 0; g < count; g += kLanes)
      run_group<kLanes, N>(t, begin + g, std::min<std::size_t>(kLanes, count - g));
  }
};

template <class L, class S>
IsaEntry<const RunTask<L, S>&, std::size_t, std::size_t> run_chunk_for(Isa isa) {
  return isa_entry<RunChunk, const RunTask<L, S>&, std::size_t, std::size_t>(isa);
}

}  // namespace lanes

template <class L, class S>
void run_1d(const L& landscape, const S& sampler, const Step1D& p, Key key, std::uint32_t first_particle,
            const double* x0, std::size_t n, std::int64_t n_steps, const std::vector<double>& basin_edges,
            const RunOutputs& out, int n_threads, const StopFlag& stop, Isa isa = active_isa()) {
  const lanes::RunTask<L, S> task{landscape, sampler, p, key, first_particle, x0, n, n_steps, basin_edges, out, stop};
  const auto kernel = lanes::run_chunk_for<L, S>(isa);
  const auto n_blocks = static_cast<std::int64_t>((n + kBlock - 1) / kBlock);
  // Threads take about 1e5 particle-steps at a time, so that handing out a chunk costs nothing next to
  // it, but at least 8 chunks per thread, so that the threads finish together.
  const int threads = resolve_threads(n_threads);
  const std::int64_t by_work = 100000 / (static_cast<std::int64_t>(kBlock) * std::max<std::int64_t>(n_steps, 1));
  const std::int64_t by_balance = n_blocks / (8 * static_cast<std::int64_t>(threads));
  const int per_take = static_cast<int>(std::clamp<std::int64_t>(std::min(by_work, by_balance), 1, 64));
#pragma omp parallel for schedule(dynamic, per_take) num_threads(threads)
  for (std::int64_t blk = 0; blk < n_blocks; ++blk) {
    if (stop_requested(stop)) continue;  // interrupted: the remaining chunks are skipped (results discarded)
    const std::size_t begin = static_cast<std::size_t>(blk) * kBlock;
    kernel(task, begin, std::min(kBlock, n - begin));
  }
}

// d-dimensional. Occupancy uses the same 1-D basin edges in every coordinate (separable landscapes); the
// basin index is mixed-radix over coordinates, coordinate 0 fastest. Up to lanes_nd::kMaxDim coordinates
// the particles run in SIMD lanes (lanes_nd.hpp); above it, or with scalar_reference, one particle at a
// time through step_nd (the reference the lanes are tested against: the same bits).
template <class L, class S>
void run_nd(const L& landscape, const S& sampler, const StepND& p, Key key, std::uint32_t first_particle,
            const double* x0, std::size_t n, std::int64_t n_steps, const std::vector<double>& basin_edges,
            std::size_t n_basins, const RunOutputs& out, int n_threads, const StopFlag& stop,
            bool scalar_reference = false, Isa isa = active_isa()) {
  const std::size_t d = p.dim;
#if HTSGD_ND_LANES
  if (!scalar_reference && d <= lanes_nd::kMaxDim) {
    const lanes_nd::RunTask<L, S> task{landscape, sampler, p, key, first_particle, x0, n, n_steps, basin_edges,
                                       out, stop, n_basins};
    const auto kernel = isa_entry<lanes_nd::RunChunk, const lanes_nd::RunTask<L, S>&, std::size_t, std::size_t>(isa);
    constexpr std::size_t chunk = 4 * lanes_nd::kLanes;
    const auto n_chunks = static_cast<std::int64_t>((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(dynamic, 1) num_threads(resolve_threads(n_threads))
    for (std::int64_t c = 0; c < n_chunks; ++c) {
      if (stop_requested(stop)) continue;
      const std::size_t begin = static_cast<std::size_t>(c) * chunk;
      kernel(task, begin, std::min(chunk, n - begin));
    }
    return;
  }
#endif
  (void)scalar_reference, (void)isa;
  const std::size_t radix = basin_edges.size() + 1;
#pragma omp parallel num_threads(resolve_threads(n_threads))
  {
    ScratchND scratch(d);
    std::vector<double> x(d);
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t ii = 0; ii < static_cast<std::int64_t>(n); ++ii) {
      if (stop_requested(stop)) continue;
      const auto i = static_cast<std::size_t>(ii);
      std::copy(x0 + i * d, x0 + (i + 1) * d, x.begin());
      if (out.occupancy) std::fill(out.occupancy + i * n_basins, out.occupancy + (i + 1) * n_basins, 0);
      std::int64_t bad = 0;
      for (std::int64_t k = 1; k <= n_steps; ++k) {
        step_nd(landscape, sampler, p, key, first_particle + static_cast<std::uint32_t>(i),
                static_cast<std::uint64_t>(k), x.data(), scratch);
        if (all_finite(x.data(), d)) {
          if (out.occupancy) {
            std::size_t b = 0;
            for (std::size_t j = d; j-- > 0;) b = b * radix + basin_index(x[j], basin_edges);
            ++out.occupancy[i * n_basins + b];
          }
        } else if (bad == 0) {
          bad = k;
        }
        if (out.trajectory && k % out.record_every == 0)
          std::copy(x.begin(), x.end(), out.trajectory + (static_cast<std::size_t>(k / out.record_every - 1) * n + i) * d);
        if ((k & kStopCheckMask) == 0 && stop_requested(stop)) break;
      }
      std::copy(x.begin(), x.end(), out.final + i * d);
      if (bad != 0) out.nonfinite->add(i, bad);
    }
  }
}

}  // namespace htsgd
