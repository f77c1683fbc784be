// Multi-particle simulation for a fixed number of steps: final positions, optional thinned trajectory,
// basin occupancy, and the step at which a particle became non-finite. Particles run in blocks of
// kBlock that stay in cache (and in SIMD lanes where the compiler can) for all steps, and blocks are
// spread over threads; every particle's path is a pure function of (seed, particle id).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "htsgd/dynamics.hpp"
#include "htsgd/landscapes.hpp"
#include "htsgd/parallel.hpp"

namespace htsgd {

struct RunOutputs {
  double* final = nullptr;                 // (n, d)
  double* trajectory = nullptr;            // (n_steps / record_every, n, d) or nullptr
  std::int64_t record_every = 0;
  std::int64_t* occupancy = nullptr;       // (n, n_basins) or nullptr
  std::int64_t* nonfinite_step = nullptr;  // (n): 0 = finite throughout, else first non-finite step
};

// Basin index of a coordinate: the number of interior basin boundaries (sorted) below it.
inline std::size_t basin_index(double x, const std::vector<double>& edges) {
  return static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), x) - edges.begin());
}

constexpr std::size_t kBlock = 64;
constexpr std::int64_t kStopCheckMask = 1023;  // check the stop flag every 1024 steps

template <class L, class S>
void run_1d(const L& landscape, const S& sampler, const Step1D& p, Key key, std::uint32_t first_particle,
            const double* x0, std::size_t n, std::int64_t n_steps, const std::vector<double>& basin_edges,
            const RunOutputs& out, int n_threads, const StopFlag& stop) {
  const std::size_t n_basins = basin_edges.size() + 1;
  const auto n_blocks = static_cast<std::int64_t>((n + kBlock - 1) / kBlock);
#pragma omp parallel for schedule(dynamic, 1) num_threads(resolve_threads(n_threads))
  for (std::int64_t blk = 0; blk < n_blocks; ++blk) {
    if (stop_requested(stop)) continue;  // interrupted: skip the blocks not yet started
    const std::size_t begin = static_cast<std::size_t>(blk) * kBlock;
    const std::size_t count = std::min(kBlock, n - begin);
    double x[kBlock];
    std::int64_t bad[kBlock] = {};
    for (std::size_t l = 0; l < count; ++l) x[l] = x0[begin + l];
    for (std::int64_t k = 1; k <= n_steps; ++k) {
      for (std::size_t l = 0; l < count; ++l)
        x[l] = step_1d(landscape, sampler, p, key, first_particle + static_cast<std::uint32_t>(begin + l),
                       static_cast<std::uint64_t>(k), x[l]);
      for (std::size_t l = 0; l < count; ++l) {
        if (std::isfinite(x[l])) {
          if (out.occupancy) ++out.occupancy[(begin + l) * n_basins + basin_index(x[l], basin_edges)];
        } else if (bad[l] == 0) {
          bad[l] = k;
        }
      }
      if (out.trajectory && k % out.record_every == 0) {
        double* row = out.trajectory + static_cast<std::size_t>(k / out.record_every - 1) * n;
        for (std::size_t l = 0; l < count; ++l) row[begin + l] = x[l];
      }
      if ((k & kStopCheckMask) == 0 && stop_requested(stop)) break;
    }
    for (std::size_t l = 0; l < count; ++l) {
      out.final[begin + l] = x[l];
      out.nonfinite_step[begin + l] = bad[l];
    }
  }
}

// d-dimensional: one particle at a time (the state is a row of d numbers). Occupancy uses the same 1-D
// basin edges in every coordinate (separable landscapes); the basin index is mixed-radix over coordinates.
template <class L, class S>
void run_nd(const L& landscape, const S& sampler, const StepND& p, Key key, std::uint32_t first_particle,
            const double* x0, std::size_t n, std::int64_t n_steps, const std::vector<double>& basin_edges,
            std::size_t n_basins, const RunOutputs& out, int n_threads, const StopFlag& stop) {
  const std::size_t d = p.dim;
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
      out.nonfinite_step[i] = bad;
    }
  }
}

}  // namespace htsgd
