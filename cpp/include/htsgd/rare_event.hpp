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
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "htsgd/dynamics.hpp"
#include "htsgd/noise.hpp"
#include "htsgd/parallel.hpp"
#include "htsgd/philox.hpp"
#include "htsgd/streams.hpp"
#include "htsgd/truncation.hpp"

namespace htsgd {

// tail(m, n) = P(Bin(n, pe) >= m) for m <= l*, n <= T, by the recursion
// tail(m, n) = pe tail(m-1, n-1) + (1 - pe) tail(m, n-1): sums of positive terms, accurate even at 1e-300.
class BinomialTail {
 public:
  BinomialTail(double pe, int l_star, std::int64_t horizon)
      : cols_(static_cast<std::size_t>(horizon) + 1), t_((static_cast<std::size_t>(l_star) + 1) * cols_, 0.0) {
    std::fill(t_.begin(), t_.begin() + static_cast<std::ptrdiff_t>(cols_), 1.0);
    for (std::size_t m = 1; m <= static_cast<std::size_t>(l_star); ++m) {
      const double* prev = &t_[(m - 1) * cols_];
      double* row = &t_[m * cols_];
      for (std::size_t n = 1; n < cols_; ++n) row[n] = pe * prev[n - 1] + (1.0 - pe) * row[n - 1];
    }
  }
  double operator()(std::size_t m, std::size_t n) const { return t_[m * cols_ + n]; }
  const std::vector<double>& data() const { return t_; }

 private:
  std::size_t cols_;
  std::vector<double> t_;
};

// Law of N ~ Bin(T, pe) conditioned on N >= l*, from the log-pmf, as a cdf over l*, l* + 1, ... (cut where
// the remaining mass is below 1e-18 of the total).
class ConditionedCount {
 public:
  ConditionedCount(double pe, int l_star, std::int64_t horizon) : l_star_(l_star) {
    const double T = static_cast<double>(horizon), lp = std::log(pe), lq = std::log1p(-pe);
    const double c = std::lgamma(T + 1.0);
    auto lpmf = [&](std::int64_t n) {
      const double k = static_cast<double>(n);
      return c - std::lgamma(k + 1.0) - std::lgamma(T - k + 1.0) + k * lp + (T - k) * lq;
    };
    const auto mode = std::min<std::int64_t>(horizon, static_cast<std::int64_t>(std::floor((T + 1.0) * pe)));
    const std::int64_t top = std::max<std::int64_t>(l_star, mode);
    const double ref = lpmf(top);
    double total = 0.0;
    for (std::int64_t n = l_star; n <= horizon; ++n) {
      const double v = std::exp(lpmf(n) - ref);
      total += v;
      cdf_.push_back(total);
      if (n > top && v < 1e-18 * total) break;
    }
    for (double& v : cdf_) v /= total;
    cdf_.back() = 1.0;
  }
  std::int64_t draw(double u) const {
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return l_star_ + static_cast<std::int64_t>(std::min<std::ptrdiff_t>(it - cdf_.begin(),
                                                                         static_cast<std::ptrdiff_t>(cdf_.size()) - 1));
  }
  const std::vector<double>& cdf() const { return cdf_; }

 private:
  int l_star_;
  std::vector<double> cdf_;
};

// Symmetric Lomax conditioned on |Z| > t (big) or not (small), t = gamma / lr, one uniform each, exact
// inverse transforms of the tail H(x) = (1 + x/scale)^-alpha (q = H(|Z|)).
//   side = +1 / -1: "big" means a noise toward that side with |lr Z| > gamma (probability pg / 2);
//   side = 0: "big" means |lr Z| > gamma, either sign (probability pg).
struct ParetoConditioned {
  double scale, neg_inv_alpha, pg;
  int side;
  ParetoConditioned(const NoiseLaw& law, double threshold, int side_)
      : scale(law.scale), neg_inv_alpha(-1.0 / law.alpha),
        pg(std::pow(1.0 + threshold / law.scale, -law.alpha)), side(side_) {}
  double hinv(double q) const { return scale * std::expm1(neg_inv_alpha * std::log(q)); }
  // Oriented variate y (z = s y) from the cdf value u of the symmetric law (computed as 2u or 2(1-u)).
  double from_cdf(double u) const { return u < 0.5 ? -hinv(2.0 * u) : hinv(2.0 * (1.0 - u)); }
  double big(double v) const {
    if (side != 0) return side * hinv(pg * v);
    return v < 0.5 ? -hinv(pg * (2.0 * v)) : hinv(pg * (2.0 * (1.0 - v)));
  }
  double small(double v) const {
    if (side != 0) return side * from_cdf(v * (1.0 - 0.5 * pg));  // oriented y <= t
    return from_cdf(0.5 * pg + v * (1.0 - pg));                   // |z| <= t
  }
};

// P(a noise is big): pe = pg/2 one-sided, pg two-sided.
inline double big_probability(const ParetoConditioned& c) { return c.side != 0 ? 0.5 * c.pg : c.pg; }

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
// N distinct integers uniform in 1..T, sorted (Floyd's algorithm), two 52-bit draws per block.
inline void draw_positions(std::int64_t count, std::int64_t horizon, BlockSource& src, std::vector<std::int64_t>& pos) {
  pos.clear();
  Counter blk{};
  int used = 2;
  for (std::int64_t j = horizon - count + 1; j <= horizon; ++j) {
    if (used == 2) {
      blk = src.next();
      used = 0;
    }
    const double u = u01_open(blk[2 * used], blk[2 * used + 1]);
    ++used;
    const std::int64_t t = 1 + std::min<std::int64_t>(j - 1, static_cast<std::int64_t>(u * static_cast<double>(j)));
    const auto it = std::lower_bound(pos.begin(), pos.end(), t);
    if (it != pos.end() && *it == t)
      pos.push_back(j);  // every earlier value is <= j - 1
    else
      pos.insert(it, t);
  }
}

constexpr std::int64_t kRareStopCheckMask = 4095;
}  // namespace detail

constexpr std::uint8_t kRareExited = 1, kRareBranch = 2, kRareNonfinite = 4;

// One sample: returns its weight Y and flags (exited, conditioned branch, non-finite).
template <class L, class S>
inline double rare_exit_sample(const L& f, const S& sampler, const ParetoConditioned* cond, const BinomialTail* tail,
                               const ConditionedCount* count, double p_big, const RareExitParams& p, Key key,
                               std::uint32_t i, std::vector<std::int64_t>& pos, std::uint8_t& flags,
                               const StopFlag& stop) {
  const double lr = p.step.lr, b = p.step.truncation, plo = p.step.lo, phi = p.step.hi;
  const std::int64_t T = p.horizon;
  bool conditioned = false;
  if (!p.crude) {
    BlockSource dsrc(key, Stream::Importance, i, 0, 0);
    const Counter blk = dsrc.next();
    conditioned = u01_open(blk[0], blk[1]) >= p.weight;
    if (conditioned) {
      BlockSource psrc(key, Stream::Importance, i, 0, 1);
      detail::draw_positions(count->draw(u01_open(blk[2], blk[3])), T, psrc, pos);
    }
  }
  double x = p.x0;
  std::int64_t c = 0, tau = 0;
  if (conditioned) {
    std::size_t next = 0;
    Counter blk{};
    for (std::int64_t k = 1; k <= T; ++k) {
      double v;
      if (k & 1) {
        blk = BlockSource(key, Stream::Importance, i, static_cast<std::uint64_t>((k + 1) / 2), 0).next();
        v = u01_open(blk[0], blk[1]);
      } else {
        v = u01_open(blk[2], blk[3]);
      }
      double z;
      if (next < pos.size() && pos[next] == k) {
        ++next;
        ++c;
        z = cond->big(v);
      } else {
        z = cond->small(v);
      }
      x = project(x + truncate(lr * (z - f.grad(x)), b), plo, phi);
      if (!(x > p.domain_lo && x < p.domain_hi)) {
        tau = k;
        break;
      }
      if ((k & detail::kRareStopCheckMask) == 0 && stop_requested(stop)) break;
    }
  } else {
    const double s = static_cast<double>(p.side);
    for (std::int64_t k = 1; k <= T; ++k) {
      BlockSource src(key, Stream::Dynamics, i, static_cast<std::uint64_t>(k), 0);
      const double z = sampler(src);
      if (!p.crude) c += (p.side != 0 ? s * lr * z : std::fabs(lr * z)) > p.gamma;
      x = project(x + truncate(lr * (z - f.grad(x)), b), plo, phi);
      if (!(x > p.domain_lo && x < p.domain_hi)) {
        tau = k;
        break;
      }
      if ((k & detail::kRareStopCheckMask) == 0 && stop_requested(stop)) break;
    }
  }
  flags = conditioned ? kRareBranch : 0;
  if (tau == 0) return 0.0;
  if (!std::isfinite(x)) {
    flags |= kRareNonfinite;
    return 0.0;
  }
  flags |= kRareExited;
  if (p.crude) return 1.0;
  const auto need = static_cast<std::size_t>(std::max<std::int64_t>(p.l_star - c, 0));
  return 1.0 / (p.weight + (1.0 - p.weight) * (*tail)(need, static_cast<std::size_t>(T - tau)) / p_big);
}

// Samples first .. first + n - 1 (ids < 2^32), accumulated into `tally` in index order; returns P(B) (1 for
// crude Monte Carlo). Importance sampling needs Pareto noise; crude Monte Carlo takes any law.
template <class L, class S>
double rare_exit_run(const L& f, const S& sampler, const NoiseLaw& law, const RareExitParams& p, Key key,
                   std::uint64_t first, std::uint64_t n, RareExitTally& tally, int n_threads, const StopFlag& stop) {
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
  for (std::uint64_t start = 0; start < n; start += kChunk) {
    if (stop_requested(stop)) break;
    const auto m = static_cast<std::int64_t>(std::min(kChunk, n - start));
#pragma omp parallel num_threads(resolve_threads(n_threads))
    {
      std::vector<std::int64_t> pos;
#pragma omp for schedule(dynamic, 8)
      for (std::int64_t j = 0; j < m; ++j) {
        const auto id = static_cast<std::uint32_t>(first + start + static_cast<std::uint64_t>(j));
        y[static_cast<std::size_t>(j)] = rare_exit_sample(f, sampler, cond.get(), tail.get(), count.get(), p_big, p,
                                                          key, id, pos, fl[static_cast<std::size_t>(j)], stop);
      }
    }
    for (std::int64_t j = 0; j < m; ++j) tally.add(y[static_cast<std::size_t>(j)], fl[static_cast<std::size_t>(j)]);
  }
  return p_big;
}

}  // namespace htsgd
