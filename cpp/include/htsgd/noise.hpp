// Noise laws: each sampler turns one or more Philox blocks into a symmetric variate Z. All laws are
// symmetric, so a sampler is a magnitude |Z| and an independent sign. Parameter names follow Python.
#pragma once
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "htsgd/philox.hpp"
#include "htsgd/streams.hpp"
#include "htsgd/vecmath.hpp"

namespace htsgd {

enum class NoiseKind : int { Pareto = 0, Stable = 1, StudentT = 2, Gaussian = 3 };

struct NoiseLaw {
  NoiseKind kind = NoiseKind::Pareto;
  double alpha = 1.5;  // tail index (degrees of freedom for StudentT; unused for Gaussian)
  double scale = 1.0;
};


namespace detail {
inline double sign_from(std::uint32_t word) { return (word & 1u) ? -1.0 : 1.0; }
}  // namespace detail

// Every transform uses the branch-free kernels of vecmath.hpp (log, expm1, exp, sincospi, log2, exp2m1; max
// relative error < 4e-16 each) and IEEE sqrt/division, never libm, so that the lane transforms (law_lanes.hpp) vectorise it
// and give the same bits as these scalar paths.

// Symmetric Lomax: |Z| = scale * (U^(-1/alpha) - 1) = scale * exp2m1(-log2(U) / alpha), exact tail
// (1 + x/scale)^-alpha, on the table-driven kernels of vecmath.hpp (log2 < 4e-16 and exp2m1 < 3.5e-16 relative
// error on this domain); exp2m1 keeps full relative accuracy for small variates (U near 1). Half a block per
// variate (a half-block law, streams.hpp): U from a word pair (hi, lo), 52 bits, and the sign from bit 0 of
// lo, which U does not use.
struct ParetoSampler {
  static constexpr bool kHalfBlock = true;
  double scale, neg_inv_alpha;
  explicit ParetoSampler(const NoiseLaw& law) : scale(law.scale), neg_inv_alpha(-1.0 / law.alpha) {}
  double magnitude(std::uint32_t hi, std::uint32_t lo) const {
    // log2(U) as log2(2^52 U) - 52 (the same bits, one multiply fewer): 2^52 U = j + 1/2 exactly
    const std::uint64_t j = ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 12;
    return scale * exp2m1_kernel(neg_inv_alpha * log2_kernel_scaled(static_cast<double>(j) + 0.5, 52.0));
  }
  double from_words(std::uint32_t hi, std::uint32_t lo) const { return detail::sign_from(lo) * magnitude(hi, lo); }
  // the variate of the odd (half 0) or the even (half 1) step of block b
  double half(const Counter& b, unsigned which) const { return from_words(b[2 * which], b[2 * which + 1]); }
};

// Symmetric alpha-stable by Chambers-Mallows-Stuck, characteristic function exp(-|scale t|^alpha):
// V = pi a with a ~ U(-1/2, 1/2), W ~ Exp(1),
//   Z = scale sin(alpha V) cos(V)^(-1/alpha) (cos((1 - alpha) V) / W)^((1 - alpha) / alpha),
// evaluated as sin(pi alpha a) exp(E), E = -log(cos(pi a)) / alpha + (1 - alpha) / alpha log(cos(pi (1 - alpha) a) / W).
// The angles are reduced exactly (sincospi), so cos(V) keeps its relative accuracy near V = +-pi/2, where
// the tail comes from; exp turns the absolute error of E into relative error: max relative error
// 2.2e-16 (16 + 4 |E|) (tested), |E| < 80 / alpha, so below 1e-13 for alpha >= 1. alpha = 1 (Cauchy):
// scale tan(pi a). Stable(2, s) = N(0, 2 s^2). One block per variate.
struct StableSampler {
  static constexpr bool kHalfBlock = false;
  double alpha, scale, neg_inv_alpha, one_minus_alpha, power;
  bool cauchy;
  explicit StableSampler(const NoiseLaw& law)
      : alpha(law.alpha), scale(law.scale), neg_inv_alpha(-1.0 / law.alpha), one_minus_alpha(1.0 - law.alpha),
        power((1.0 - law.alpha) / law.alpha), cauchy(law.alpha == 1.0) {}
  double from_block(const Counter& b) const {
    const double a = u01_open(b[0], b[1]) - 0.5;  // exact
    const double w = -log_kernel(u01_open(b[2], b[3]));
    double s_alpha, c_alpha, s_v, c_v, s_rest, c_rest;
    sincospi_kernel(alpha * a, s_alpha, c_alpha);
    sincospi_kernel(a, s_v, c_v);
    sincospi_kernel(one_minus_alpha * a, s_rest, c_rest);
    const double general = s_alpha * exp_kernel(neg_inv_alpha * log_kernel(c_v) + power * log_kernel(c_rest / w));
    return scale * (cauchy ? s_v / c_v : general);
  }
  double operator()(BlockSource& src) const { return from_block(src.next()); }
};

// Student t by Bailey's polar method (Math. Comp. 1994): exact, one rejection with probability 1 - pi/4.
// u, v ~ U(-1, 1) until w = u^2 + v^2 < 1 (w > 0 always: u is an odd multiple of 2^-52), then
// Z = scale u sqrt(df (w^(-2/df) - 1) / w).
struct StudentTSampler {
  static constexpr bool kHalfBlock = false;
  double df, scale, neg_two_over_df;
  explicit StudentTSampler(const NoiseLaw& law)
      : df(law.alpha), scale(law.scale), neg_two_over_df(-2.0 / law.alpha) {}
  double transform(double u, double w) const {
    return scale * u * std::sqrt(df * expm1_kernel(neg_two_over_df * log_kernel(w)) / w);
  }
  double operator()(BlockSource& src) const {
    for (std::uint32_t attempt = 0; attempt < kMaxAttempts; ++attempt) {
      const Counter b = src.next();
      const double u = u11_open(b[0], b[1]), v = u11_open(b[2], b[3]);
      const double w = u * u + v * v;
      if (w < 1.0) return transform(u, w);
    }
    return 0.0;  // unreachable in practice: probability (1 - pi/4)^4096
  }
};

// Box-Muller, both normals of a block (a half-block law, streams.hpp): R = scale sqrt(-2 log U1),
// (R cos(2 pi U2), R sin(2 pi U2)) for the odd and the even step.
struct GaussianSampler {
  static constexpr bool kHalfBlock = true;
  double scale;
  explicit GaussianSampler(const NoiseLaw& law) : scale(law.scale) {}
  double half(const Counter& b, unsigned which) const {
    const double r = scale * std::sqrt(-2.0 * log_kernel(u01_open(b[0], b[1])));
    double s, c;
    sincospi_kernel(2.0 * u01_open(b[2], b[3]), s, c);
    return r * (which == 0 ? c : s);
  }
};

// The variate of (stream, particle, step, slot) under streams.hpp's addressing: half-block laws take their
// half of block (step + 1) / 2, whole-block laws read the blocks of `step` from the first on.
template <class S>
inline double draw(const S& sampler, Key key, Stream stream, std::uint32_t particle, std::uint64_t step,
                   std::uint32_t slot) {
  if constexpr (S::kHalfBlock) {
    return sampler.half(BlockSource(key, stream, particle, half_block_index(step), slot).next(), half_block_pair(step));
  } else {
    BlockSource src(key, stream, particle, step, slot);
    return sampler(src);
  }
}

// Calls f(sampler) with the concrete sampler of `law`: the hot loops are compiled once per law.
template <class F>
decltype(auto) with_sampler(const NoiseLaw& law, F&& f) {
  switch (law.kind) {
    case NoiseKind::Pareto: return f(ParetoSampler(law));
    case NoiseKind::Stable: return f(StableSampler(law));
    case NoiseKind::StudentT: return f(StudentTSampler(law));
    case NoiseKind::Gaussian: return f(GaussianSampler(law));
  }
  throw std::invalid_argument("unknown noise kind");
}

}  // namespace htsgd
