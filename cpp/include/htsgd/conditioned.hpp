// The laws behind big-jump importance sampling (rare_event.hpp): the binomial tail of the number of big
// noises, that number conditioned on being at least l*, their positions, and the Pareto (Lomax) noise
// conditioned on being big or not.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "htsgd/noise.hpp"
#include "htsgd/philox.hpp"
#include "htsgd/streams.hpp"
#include "htsgd/vecmath.hpp"

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
// inverse transforms of the tail H(x) = (1 + x/scale)^-alpha: z = sign * hinv(q), q = H(|z|).
//   side = +1 / -1: "big" means a noise toward that side with |lr Z| > gamma (probability pg / 2);
//   side = 0: "big" means |lr Z| > gamma, either sign (probability pg).
// Small noises invert the cdf of the symmetric law restricted to "not big": at cdf value u, z = -hinv(2u)
// below 1/2 and hinv(2(1 - u)) above. log2/exp2m1 are the branch-free kernels of vecmath.hpp (as in
// ParetoSampler), so the SIMD lanes below compute the same bits.
struct ParetoConditioned {
  double scale, neg_inv_alpha, pg;
  int side;
  ParetoConditioned(const NoiseLaw& law, double threshold, int side_)
      : scale(law.scale), neg_inv_alpha(-1.0 / law.alpha),
        pg(std::pow(1.0 + threshold / law.scale, -law.alpha)), side(side_) {}
  double hinv(double q) const { return scale * exp2m1_kernel(neg_inv_alpha * log2_kernel(q)); }
  // (q, sign) of a big / small noise from the uniform v
  void big_q(double v, double& q, double& sign) const {
    if (side != 0) {
      q = pg * v;
      sign = side;
      return;
    }
    const bool low = v < 0.5;
    q = pg * (low ? 2.0 * v : 2.0 * (1.0 - v));
    sign = low ? -1.0 : 1.0;
  }
  void small_q(double v, double& q, double& sign) const {
    const double u = side != 0 ? v * (1.0 - 0.5 * pg) : 0.5 * pg + v * (1.0 - pg);
    const bool low = u < 0.5;
    q = low ? 2.0 * u : 2.0 * (1.0 - u);
    sign = (side != 0 ? side : 1) * (low ? -1.0 : 1.0);
  }
  double big(double v) const {
    double q, sign;
    big_q(v, q, sign);
    return sign * hinv(q);
  }
  double small(double v) const {
    double q, sign;
    small_q(v, q, sign);
    return sign * hinv(q);
  }
};

// P(a noise is big): pe = pg/2 one-sided, pg two-sided.
inline double big_probability(const ParetoConditioned& c) { return c.side != 0 ? 0.5 * c.pg : c.pg; }

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

}  // namespace detail
}  // namespace htsgd
