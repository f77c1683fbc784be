// Rare exits of 1-D truncated heavy-tailed SGD: p = P(tau <= T) by big-jump importance sampling
// (defensive mixture Q = w P + (1 - w) P(. | B), B = "at least l* big noises among the T steps"; Wang & Rhee,
// Chen, Blanchet, Rhee & Zwart) or by crude Monte Carlo (w = 1: the plain dynamics).
//
// One sample i (a pure function of (seed, i), whatever the thread count):
//   - Importance stream, (particle i, step 0, slot 0): one block; words 0-1 choose the branch (plain with
//     probability w), words 2-3 draw N ~ Bin(T, pe) | N >= l* by inverse transform; slot 1 onwards: the N
//     distinct big positions in 1..T (Floyd's algorithm, two draws per block).
//   - plain branch: the noise of step k is the engine's sampler on the Dynamics stream at (i, k, slot 0),
//     so crude Monte Carlo sample i is particle i of exit_times with the same seed;
//   - conditioned branch: the noise of steps 2j-1 and 2j is drawn from the Importance stream at (i, j, 0),
//     words 0-1 and 2-3: big noises from the law conditioned on being big, the others conditioned on not
//     being big (exact inverse transforms: Pareto/Lomax only, whose tail inverts in closed form).
// The weight is taken on the stopped path: Y = 0 without exit by T, else
//   Y = 1 / (w + (1 - w) P(Bin(T - tau, pe) >= max(l* - c, 0)) / P(B)),   c = big noises up to tau,
// unbiased for any gamma and w, with 0 <= Y <= 1/w.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "htsgd/conditioned.hpp"
#include "htsgd/dynamics.hpp"
#include "htsgd/landscapes.hpp"
#include "htsgd/lanes.hpp"
#include "htsgd/noise.hpp"
#include "htsgd/lane_refill.hpp"
#include "htsgd/parallel.hpp"
#include "htsgd/philox.hpp"
#include "htsgd/simd.hpp"
#include "htsgd/streams.hpp"
#include "htsgd/truncation.hpp"
#include "htsgd/vecmath.hpp"

namespace htsgd {

struct RareExitParams {
  Step1D step;                      // lr, truncation b, projection bounds
  double domain_lo = -kInf, domain_hi = kInf;
  double x0 = 0.0;
  std::int64_t horizon = 1;         // T
  int l_star = 1;
  double gamma = 0.0, weight = 1.0; // weight = w; crude Monte Carlo: w = 1
  int side = 0;                     // +1 upper end, -1 lower end, 0 both
  bool crude = true;
};

// Running sums over samples in index order (Neumaier-compensated), so that a batch schedule gives exactly
// the one-shot result with the same total number of samples.
struct RareExitTally {
  double sum = 0.0, sum_c = 0.0, sum2 = 0.0, sum2_c = 0.0, max_y = 0.0;
  std::int64_t n = 0, exits = 0, branch = 0, branch_exits = 0, nonfinite = 0;
  static void add_to(double& s, double& c, double v) {
    const double t = s + v;
    c += std::fabs(s) >= std::fabs(v) ? (s - t) + v : (v - t) + s;
    s = t;
  }
  void add(double y, std::uint8_t flags) {
    ++n;
    add_to(sum, sum_c, y);
    add_to(sum2, sum2_c, y * y);
    max_y = std::max(max_y, y);
    exits += flags & 1u;
    branch += (flags >> 1) & 1u;
    branch_exits += (flags & 3u) == 3u;
    nonfinite += (flags >> 2) & 1u;
  }
};

namespace detail {
constexpr std::int64_t kRareStopCheckMask = 4095;
}  // namespace detail

constexpr std::uint8_t kRareExited = 1, kRareBranch = 2, kRareNonfinite = 4;

// The branch of sample i (true: conditioned on B) and, if conditioned, its sorted big positions.
inline bool start_sample(const RareExitParams& p, const ConditionedCount* count, Key key, std::uint32_t i,
                         std::vector<std::int64_t>& pos) {
  pos.clear();
  if (p.crude) return false;
  BlockSource dsrc(key, Stream::Importance, i, 0, 0);
  const Counter blk = dsrc.next();
  if (u01_open(blk[0], blk[1]) < p.weight) return false;
  BlockSource psrc(key, Stream::Importance, i, 0, 1);
  detail::draw_positions(count->draw(u01_open(blk[2], blk[3])), p.horizon, psrc, pos);
  return true;
}

// Weight of a finished sample: tau = exit step (0: none by T), c = big noises up to tau.
inline double finish_sample(const RareExitParams& p, const BinomialTail* tail, double p_big, bool conditioned,
                            std::int64_t tau, std::int64_t c, double x, std::uint8_t& flags) {
  flags = conditioned ? kRareBranch : 0;
  if (tau == 0) return 0.0;
  if (!left_interval(x, p.domain_lo, p.domain_hi)) {  // NaN, or an overflow past an infinite end
    flags |= kRareNonfinite;
    return 0.0;
  }
  flags |= kRareExited;
  if (p.crude) return 1.0;
  const auto need = static_cast<std::size_t>(std::max<std::int64_t>(p.l_star - c, 0));
  return 1.0 / (p.weight + (1.0 - p.weight) * (*tail)(need, static_cast<std::size_t>(p.horizon - tau)) / p_big);
}

// One sample, scalar path (any noise law for crude Monte Carlo): returns its weight Y and flags.
template <class L, class S>
inline double rare_exit_sample(const L& f, const S& sampler, const ParetoConditioned* cond, const BinomialTail* tail,
                               const ConditionedCount* count, double p_big, const RareExitParams& p, Key key,
                               std::uint32_t i, std::vector<std::int64_t>& pos, std::uint8_t& flags,
                               std::int64_t& end_step, double& end_x, const StopFlag& stop) {
  const double lr = p.step.lr;
  const std::int64_t T = p.horizon;
  const bool conditioned = start_sample(p, count, key, i, pos);
  double x = p.x0;
  std::int64_t c = 0, tau = 0;
  std::size_t next = 0;
  const double s = static_cast<double>(p.side);
  std::int64_t k = 1;
  for (; k <= T; ++k) {
    double z;
    if (conditioned) {
      const Counter blk = BlockSource(key, Stream::Importance, i, static_cast<std::uint64_t>((k + 1) / 2), 0).next();
      const double v = (k & 1) ? u01_open(blk[0], blk[1]) : u01_open(blk[2], blk[3]);
      if (next < pos.size() && pos[next] == k) {
        ++next;
        ++c;
        z = cond->big(v);
      } else {
        z = cond->small(v);
      }
    } else {
      z = draw(sampler, key, Stream::Dynamics, i, static_cast<std::uint64_t>(k), 0);
      if (!p.crude) c += (p.side != 0 ? s * (lr * z) : std::fabs(lr * z)) > p.gamma;
    }
    x = update_1d(x, z, f.grad(x), p.step);
    if (!(x > p.domain_lo && x < p.domain_hi)) {
      tau = k;
      break;
    }
    if ((k & detail::kRareStopCheckMask) == 0 && stop_requested(stop)) break;
  }
  end_step = std::min(k, T);
  end_x = x;
  return finish_sample(p, tail, p_big, conditioned, tau, c, x, flags);
}

#if HTSGD_VECTOR_EXT
#define HTSGD_RARE_LANES 1
// GCC notes that vector arguments change the ABI across ISAs: irrelevant for always-inlined helpers, and the
// note is emitted at the end of the translation unit, so it is silenced for the rest of it.
#pragma GCC diagnostic ignored "-Wpsabi"
namespace rare_lanes {

// The lanes use the engine's SIMD pieces: Vec<N> and log2_kernel_v / exp2m1_kernel_v (vecmath.hpp),
// philox_lanes / u01_open_lanes, grad_lanes and update_lanes (lanes.hpp), N = the native width of the ISA
// the kernel is compiled for (2 SSE2, 4 AVX2, 8 AVX-512). Every lane does the IEEE operations of the scalar
// path (rare_exit_sample, ParetoConditioned, ParetoSampler) in the same order (the core is built with
// -ffp-contract=off), so results do not depend on lane, thread or ISA, and the plain branch draws exactly
// the noise of exit_times' lanes.
constexpr int kLanes = 16;  // samples advanced together by one thread

// Everything a thread's lanes need to run the samples of one chunk (Pareto noise).
template <class L>
struct RareTask {
  const L& f;
  const ParetoConditioned& cond;  // also the plain law: q = U, hinv(q) = scale (U^(-1/alpha) - 1)
  const BinomialTail* tail;
  const ConditionedCount* count;
  double p_big;
  const RareExitParams& p;
  Key key;
  std::uint64_t first;
  std::size_t n;
  double* y;
  std::uint8_t* flags;
  std::int64_t* end_step;
  double* end_x;
  std::atomic<std::size_t>& next;
  const StopFlag& stop;
};

// W samples side by side, one step at a time; a lane whose sample ends takes the next one (LaneRefill
// without the parity rule: each lane addresses its own blocks). Each lane
// computes the operations of rare_exit_sample for its sample (Pareto noise).
template <int N, class L>
HTSGD_INLINE void run_lanes(const RareTask<L>& t) {
  using D = typename Vec<N>::d;
  using U = typename Vec<N>::u;
  constexpr int W = kLanes;
  static_assert(W % N == 0, "lanes come in whole vectors");
  const RareExitParams& p = t.p;
  const ParetoConditioned& cd = t.cond;
  alignas(64) double x[W], z[W], g[W];
  // per lane: step k; the Philox step, stream and particle of this step's block; words 2-3 (1) or 0-1 (0)
  alignas(64) std::uint64_t k[W], st[W], stream[W], particle[W], hiword[W], is_cond[W], is_big[W];
  std::uint64_t cnt[W];
  std::size_t nextpos[W];
  std::vector<std::int64_t> pos[W];
  LaneRefill<W, false> assign;
  const std::uint64_t T = static_cast<std::uint64_t>(p.horizon);
  auto start = [&](int l, std::size_t j) {
    const auto id = static_cast<std::uint32_t>(t.first + static_cast<std::uint64_t>(j));
    particle[l] = id;
    is_cond[l] = start_sample(p, t.count, t.key, id, pos[l]);
    x[l] = p.x0;
    k[l] = 0;
    cnt[l] = 0;
    nextpos[l] = 0;
  };
  for (int l = 0; l < W; ++l) {  // idle lanes compute on this state, never reported
    x[l] = p.x0;
    k[l] = 0;
    particle[l] = 0;
    is_cond[l] = 0;
  }
  const auto imp = static_cast<std::uint64_t>(Stream::Importance), dyn = static_cast<std::uint64_t>(Stream::Dynamics);
  const double s = static_cast<double>(p.side), lr = p.step.lr, gamma = p.gamma;
  const double side1 = p.side != 0 ? s : 1.0, pg = cd.pg;
  auto advance = [&](std::uint64_t) HTSGD_INLINE_LAMBDA {
    for (int l = 0; l < W; ++l) {
      ++k[l];
      // both branches pair steps 2j-1 and 2j in block j: the Importance stream (conditioned) or the Dynamics
      // stream (plain: the half-block addressing of ParetoSampler, streams.hpp)
      st[l] = half_block_index(k[l]);
      stream[l] = is_cond[l] ? imp : dyn;
      hiword[l] = half_block_pair(k[l]);  // even steps: words 2-3
      is_big[l] = 0;
      if (is_cond[l] && nextpos[l] < pos[l].size() && static_cast<std::uint64_t>(pos[l][nextpos[l]]) == k[l]) {
        ++nextpos[l];
        ++cnt[l];
        is_big[l] = 1;
      }
    }
    // One Philox block per lane; the uniform v from words 0-1 or 2-3, then (q, sign) as
    // ParetoConditioned::big_q / small_q (conditioned) or ParetoSampler (plain: q = v, sign from bit 0 of
    // the pair's low word),
    // then sign * (scale * exp2m1(-log2(q) / alpha)) with the engine's kernels.
    for (int o = 0; o < W; o += N) {
      using lanes::load;
      const U hw = load<U>(hiword + o), ic = load<U>(is_cond + o), ib = load<U>(is_big + o);
      const lanes::PhiloxLanes<N> blk = lanes::philox_lanes<N>(t.key, load<U>(stream + o), load<U>(particle + o), load<U>(st + o));
      const U vhi = hw != 0u ? blk.w2 : blk.w0, vlo = hw != 0u ? blk.w3 : blk.w1;
      const D vv = lanes::u01_open_lanes<N>(vhi, vlo);
      const D sp = as_d<N>((vlo << 63) | 0x3FF0000000000000ull);  // sign_from(low word)
      D qb, sb;
      if (p.side != 0) {
        qb = pg * vv;
        sb = splat<N>(s);
      } else {
        qb = pg * (vv < 0.5 ? 2.0 * vv : 2.0 * (1.0 - vv));
        sb = vv < 0.5 ? splat<N>(-1.0) : splat<N>(1.0);
      }
      const D uu = p.side != 0 ? vv * (1.0 - 0.5 * pg) : 0.5 * pg + vv * (1.0 - pg);
      const D qs = uu < 0.5 ? 2.0 * uu : 2.0 * (1.0 - uu);
      const D ss = side1 * (uu < 0.5 ? splat<N>(-1.0) : splat<N>(1.0));
      const D qv = ic != 0u ? (ib != 0u ? qb : qs) : vv;
      const D sv = ic != 0u ? (ib != 0u ? sb : ss) : sp;
      const D zv = sv * (cd.scale * exp2m1_kernel_v<N>(cd.neg_inv_alpha * log2_kernel_v<N>(qv)));
      lanes::store(z + o, zv);
    }
    if (!p.crude)
      for (int l = 0; l < W; ++l)
        if (!is_cond[l]) cnt[l] += (p.side != 0 ? s * (lr * z[l]) : std::fabs(lr * z[l])) > gamma;
    // gradient and truncated, projected update: exit_times' lane helpers (the operations of step_1d)
    lanes::grad_lanes<W, N>(t.f, x, g);
    lanes::update_lanes<W, N>(p.step, z, g, x);
    return true;
  };
  auto outside = [&](int l) { return !(x[l] > p.domain_lo && x[l] < p.domain_hi); };
  auto report = [&](int l) {
    const std::size_t j = assign.index[l];
    t.end_step[j] = static_cast<std::int64_t>(k[l]);
    t.end_x[j] = x[l];
    t.y[j] = finish_sample(p, t.tail, t.p_big, is_cond[l] != 0, outside(l) ? static_cast<std::int64_t>(k[l]) : 0,
                           static_cast<std::int64_t>(cnt[l]), x[l], t.flags[j]);
  };
  assign.run(t.next, t.n, t.stop, detail::kRareStopCheckMask, false, start, advance,
             [&](int l) { return outside(l) || k[l] >= T; }, report);
}

struct RareLanes {
  template <int N, class L>
  static HTSGD_INLINE void run(const RareTask<L>& t) {
    run_lanes<N>(t);
  }
};

template <class L>
IsaEntry<const RareTask<L>&> kernel_for(Isa isa) {
  return isa_entry<RareLanes, const RareTask<L>&>(isa);
}

}  // namespace rare_lanes
#else
#define HTSGD_RARE_LANES 0
#endif

// Per-sample outputs (for tests), arrays of n: weight Y, flags, the step the sample ended at (its exit step,
// else T) and its position there, so that crude sample i can be compared with particle i of exit_times.
struct RareExitRecord {
  double* y;
  std::uint8_t* flags;
  std::int64_t* steps;
  double* position;
};

// Samples first .. first + n - 1 (ids < 2^32), accumulated into `tally` in index order; returns P(B) (1 for
// crude Monte Carlo). Importance sampling needs Pareto noise; crude Monte Carlo takes any law.
template <class L, class S>
double rare_exit_run(const L& f, const S& sampler, const NoiseLaw& law, const RareExitParams& p, Key key,
                     std::uint64_t first, std::uint64_t n, RareExitTally& tally, int n_threads, const StopFlag& stop,
                     const RareExitRecord* record = nullptr) {
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
    if (lane_law) {
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
    (void)lane_law;
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
