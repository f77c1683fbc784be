// Rare exits of 1-D truncated heavy-tailed SGD: p = P(tau <= T) by big-jump importance sampling
// (defensive mixture Q = w P + (1 - w) P(. | B), B = "at least l* big noises among the T steps"; Wang & Rhee,
// Chen, Blanchet, Rhee & Zwart) or by crude Monte Carlo (w = 1: the plain dynamics). A sample and its
// weight: rare_sample.hpp; the samples in SIMD lanes: rare_lanes.hpp; here, runs of samples in chunks.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "htsgd/conditioned.hpp"
#include "htsgd/noise.hpp"
#include "htsgd/parallel.hpp"
#include "htsgd/philox.hpp"
#include "htsgd/rare_lanes.hpp"
#include "htsgd/rare_sample.hpp"
#include "htsgd/simd.hpp"

namespace htsgd {

// Per-sample outputs (for tests), arrays of n: weight Y, flags, the step the sample ended at (its exit step,
// else T) and its position there, so that crude sample i can be compared with particle i of exit_times.
struct RareExitRecord {
  double* y;
  std::uint8_t* flags;
  std::int64_t* steps;
  double* position;
};

// Samples first .. first + n - 1 (ids < 2^32), accumulated into `tally` in index order; returns P(B) (1 for
// crude Monte Carlo). Importance sampling needs Pareto noise; crude Monte Carlo takes any law. Pareto noise
// runs in the SIMD lanes unless `scalar_reference` (a test: the scalar path, rare_exit_sample, same bits).
template <class L, class S>
double rare_exit_run(const L& f, const S& sampler, const NoiseLaw& law, const RareExitParams& p, Key key,
                     std::uint64_t first, std::uint64_t n, RareExitTally& tally, int n_threads, const StopFlag& stop,
                     const RareExitRecord* record = nullptr, bool scalar_reference = false) {
  std::unique_ptr<ParetoConditioned> cond;
  std::unique_ptr<BinomialTail> tail;
  std::unique_ptr<ConditionedCount> count;
  double p_big = 1.0;
  if (!p.crude) {
    if (law.kind != NoiseKind::Pareto)
      throw std::invalid_argument("importance sampling needs Pareto noise (closed-form conditioned laws)");
    cond = std::make_unique<ParetoConditioned>(law, p.gamma / p.step.lr, p.side);
    const double pe = big_probability(*cond);
    tail = std::make_unique<BinomialTail>(pe, p.l_star, p.horizon);
    p_big = (*tail)(static_cast<std::size_t>(p.l_star), static_cast<std::size_t>(p.horizon));
    if (!(p_big > 0.0)) throw std::invalid_argument("P(B) is 0: horizon < l* or gamma too large");
    count = std::make_unique<ConditionedCount>(pe, p.l_star, p.horizon);
  }
  constexpr std::uint64_t kChunk = std::uint64_t{1} << 16;
  std::vector<double> y(static_cast<std::size_t>(std::min(n, kChunk)));
  std::vector<std::uint8_t> fl(y.size());
  std::vector<std::int64_t> end_step(y.size());
  std::vector<double> end_x(y.size());
  auto add_chunk = [&](std::uint64_t start, std::int64_t m) {
    for (std::int64_t j = 0; j < m; ++j) tally.add(y[static_cast<std::size_t>(j)], fl[static_cast<std::size_t>(j)]);
    if (!record) return;
    std::copy(y.begin(), y.begin() + m, record->y + start);
    std::copy(fl.begin(), fl.begin() + m, record->flags + start);
    std::copy(end_step.begin(), end_step.begin() + m, record->steps + start);
    std::copy(end_x.begin(), end_x.begin() + m, record->position + start);
  };
  std::unique_ptr<ParetoConditioned> plain;  // crude Monte Carlo with Pareto noise: the lanes' plain law
  if (!cond && law.kind == NoiseKind::Pareto) plain = std::make_unique<ParetoConditioned>(law, 1.0, 0);
  const ParetoConditioned* lane_law = cond ? cond.get() : plain.get();
  for (std::uint64_t start = 0; start < n; start += kChunk) {
    if (stop_requested(stop)) break;
    const auto m = static_cast<std::int64_t>(std::min(kChunk, n - start));
#if HTSGD_RARE_LANES
    if (lane_law && !scalar_reference) {
      std::atomic<std::size_t> next{0};
      const rare_lanes::RareTask<L> task{f, *lane_law, tail.get(), count.get(), p_big, p, key, first + start,
                                         static_cast<std::size_t>(m),
                                         y.data(), fl.data(), end_step.data(), end_x.data(), next, stop};
      const auto kernel = rare_lanes::kernel_for<L>(active_isa());
      const int threads = static_cast<int>(std::min<std::int64_t>(resolve_threads(n_threads),
                                                                  (m + rare_lanes::kLanes - 1) / rare_lanes::kLanes));
#pragma omp parallel num_threads(threads)
      kernel(task);
      add_chunk(start, m);
      continue;
    }
#endif
    (void)lane_law, (void)scalar_reference;
#pragma omp parallel num_threads(resolve_threads(n_threads))
    {
      std::vector<std::int64_t> pos;
#pragma omp for schedule(dynamic, 8)
      for (std::int64_t j = 0; j < m; ++j) {
        const auto id = static_cast<std::uint32_t>(first + start + static_cast<std::uint64_t>(j));
        const auto u = static_cast<std::size_t>(j);
        y[u] = rare_exit_sample(f, sampler, cond.get(), tail.get(), count.get(), p_big, p, key, id, pos, fl[u],
                                end_step[u], end_x[u], stop);
      }
    }
    add_chunk(start, m);
  }
  return p_big;
}

}  // namespace htsgd
