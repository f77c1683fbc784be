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

constexpr double kPi = 3.14159265358979323846;

namespace detail {
inline double sign_from(std::uint32_t word) { return (word & 1u) ? -1.0 : 1.0; }
}  // namespace detail

// Symmetric Lomax: |Z| = scale * (U^(-1/alpha) - 1), exact tail (1 + x/scale)^-alpha. expm1 keeps full
// relative accuracy for small variates (U near 1). Half a block per variate (a half-block law, streams.hpp):
// U from a word pair (hi, lo), 52 bits, and the sign from bit 0 of lo, which U does not use.
// log and expm1 are the branch-free kernels of vecmath.hpp (max relative error < 4e-16 each), so that the
// lane kernels (lanes.hpp) vectorise this transform and give the same bits as this scalar path.
struct ParetoSampler {
  static constexpr bool kHalfBlock = true;
  double scale, neg_inv_alpha;
  explicit ParetoSampler(const NoiseLaw& law) : scale(law.scale), neg_inv_alpha(-1.0 / law.alpha) {}
  double magnitude(std::uint32_t hi, std::uint32_t lo) const {
    return scale * expm1_kernel(neg_inv_alpha * log_kernel(u01_open(hi, lo)));
  }
  double from_words(std::uint32_t hi, std::uint32_t lo) const { return detail::sign_from(lo) * magnitude(hi, lo); }
};

// Symmetric alpha-stable by Chambers-Mallows-Stuck, characteristic function exp(-|scale t|^alpha):
// V ~ U(-pi/2, pi/2), W ~ Exp(1). Symmetric in V, so no separate sign. Stable(2, s) = N(0, 2 s^2).
struct StableSampler {
  static constexpr bool kHalfBlock = false;
  double alpha, scale;
  explicit StableSampler(const NoiseLaw& law) : alpha(law.alpha), scale(law.scale) {}
  double operator()(BlockSource& src) const {
    const Counter b = src.next();
    const double v = kPi * (u01_open(b[0], b[1]) - 0.5);
    const double w = -std::log(u01_open(b[2], b[3]));
    if (alpha == 1.0) return scale * std::tan(v);
    const double av = alpha * v;
    return scale * std::sin(av) / std::pow(std::cos(v), 1.0 / alpha) *
           std::pow(std::cos(v - av) / w, (1.0 - alpha) / alpha);
  }
};

// Student t by Bailey's polar method (Math. Comp. 1994): exact, one rejection with probability 1 - pi/4.
struct StudentTSampler {
  static constexpr bool kHalfBlock = false;
  double df, scale, neg_two_over_df;
  explicit StudentTSampler(const NoiseLaw& law)
      : df(law.alpha), scale(law.scale), neg_two_over_df(-2.0 / law.alpha) {}
  double operator()(BlockSource& src) const {
    for (std::uint32_t attempt = 0; attempt < kMaxAttempts; ++attempt) {
      const Counter b = src.next();
      const double u = u11_open(b[0], b[1]), v = u11_open(b[2], b[3]);
      const double w = u * u + v * v;
      if (w < 1.0 && w > 0.0) return scale * u * std::sqrt(df * std::expm1(neg_two_over_df * std::log(w)) / w);
    }
    return 0.0;  // unreachable in practice: probability (1 - pi/4)^4096
  }
};

// Box-Muller; one normal per block (the cosine branch).
struct GaussianSampler {
  static constexpr bool kHalfBlock = false;
  double scale;
  explicit GaussianSampler(const NoiseLaw& law) : scale(law.scale) {}
  double operator()(BlockSource& src) const {
    const Counter b = src.next();
    const double r = std::sqrt(-2.0 * std::log(u01_open(b[0], b[1])));
    return scale * r * std::cos(2.0 * kPi * u01_open(b[2], b[3]));
  }
};

// The variate of (stream, particle, step, slot) under streams.hpp's addressing: half-block laws read one
// word pair of block (step + 1) / 2, whole-block laws read the blocks of `step` from the first on.
template <class S>
inline double draw(const S& sampler, Key key, Stream stream, std::uint32_t particle, std::uint64_t step,
                   std::uint32_t slot) {
  if constexpr (S::kHalfBlock) {
    const Counter b = BlockSource(key, stream, particle, half_block_index(step), slot).next();
    return half_block_pair(step) == 0 ? sampler.from_words(b[0], b[1]) : sampler.from_words(b[2], b[3]);
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
