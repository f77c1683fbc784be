// One sample of the rare-exit estimators (rare_event.hpp): its parameters, its start (branch and big
// positions), its weight, the scalar path that defines its bits, and the running tally of the weights.
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
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "htsgd/conditioned.hpp"
#include "htsgd/dynamics.hpp"
#include "htsgd/noise.hpp"
#include "htsgd/parallel.hpp"
#include "htsgd/philox.hpp"
#include "htsgd/streams.hpp"

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

}  // namespace htsgd
