// The noise laws in SIMD lanes. A law is its scalar sampler (noise.hpp) plus, optionally, a lane transform
// here: a specialisation of LaneLaw<Sampler> that turns the Philox blocks of N lanes into N variates with
// the sampler's IEEE operations in the same order (the branch-free kernels of vecmath.hpp), so every lane
// has the bits of the scalar path. A law without one runs through the generic fallback of noise_lanes and
// noise_pair_lanes: the scalar sampler lane by lane (the same bits, only slower).
//   - half-block laws (S::kHalfBlock): LaneLaw<S>::pair<N>(sampler, block, odd, even), both steps of a block;
//   - whole-block laws: LaneLaw<S>::variate<N>(sampler, blocks), blocks(attempt) = the lanes' block number
//     `attempt` (0: the first; rejection samplers read further ones).
#pragma once
#include <cstdint>
#include <vector>

#include "htsgd/noise.hpp"
#include "htsgd/philox_lanes.hpp"
#include "htsgd/streams.hpp"
#include "htsgd/vecmath.hpp"

namespace htsgd {
namespace lanes {

// No lane transform: the generic fallback.
template <class S>
struct LaneLaw {
  static constexpr bool kDefined = false;
};

// HTSGD_GENERIC_LANES (a test build) leaves out every lane transform and lane gradient, so that the
// digests check the generic fallbacks.
#if HTSGD_VECTOR_EXT && !defined(HTSGD_GENERIC_LANES)
// Pareto: both word pairs (ParetoSampler::half).
template <>
struct LaneLaw<ParetoSampler> {
  static constexpr bool kDefined = true;
  template <int N>
  static HTSGD_INLINE typename Vec<N>::d variate(const ParetoSampler& s, typename Vec<N>::u hi, typename Vec<N>::u lo) {
    using vd = typename Vec<N>::d;
    // -log2(U)/alpha <= 53/alpha: below exp2m1's clamp (1023.97) unless alpha < 1/19.
    const bool small_y = s.neg_inv_alpha > -19.0;
    const vd y = s.neg_inv_alpha * log2_kernel_scaled_v<N>(u01_scaled_lanes<N>(hi, lo), 52.0);  // log2(U)
    const vd m = s.scale * (small_y ? exp2m1_kernel_v<N, false>(y) : exp2m1_kernel_v<N, true>(y));
    return as_d<N>(as_u<N>(m) ^ (lo << 63));  // == sign_from(lo) * m
  }
  template <int N>
  static HTSGD_INLINE void pair(const ParetoSampler& s, const PhiloxLanes<N>& b, typename Vec<N>::d& odd,
                                typename Vec<N>::d& even) {
    odd = variate<N>(s, b.w0, b.w1);
    even = variate<N>(s, b.w2, b.w3);
  }
};

// Gaussian: both Box-Muller normals (GaussianSampler::half).
template <>
struct LaneLaw<GaussianSampler> {
  static constexpr bool kDefined = true;
  template <int N>
  static HTSGD_INLINE void pair(const GaussianSampler& s, const PhiloxLanes<N>& b, typename Vec<N>::d& odd,
                                typename Vec<N>::d& even) {
    using vd = typename Vec<N>::d;
    const vd r = s.scale * sqrt_v<N>(-2.0 * log_kernel_v<N>(u01_open_lanes<N>(b.w0, b.w1)));
    vd sn, cs;
    sincospi_kernel_v<N>(2.0 * u01_open_lanes<N>(b.w2, b.w3), sn, cs);
    odd = r * cs;
    even = r * sn;
  }
};

// Stable: one block per variate (StableSampler::from_block).
template <>
struct LaneLaw<StableSampler> {
  static constexpr bool kDefined = true;
  template <int N, class Blocks>
  static HTSGD_INLINE typename Vec<N>::d variate(const StableSampler& s, Blocks&& blocks) {
    using vd = typename Vec<N>::d;
    const PhiloxLanes<N> b = blocks(0u);
    const vd a = u01_open_lanes<N>(b.w0, b.w1) - 0.5;
    const vd w = -log_kernel_v<N>(u01_open_lanes<N>(b.w2, b.w3));
    vd s_alpha, c_alpha, s_v, c_v, s_rest, c_rest;
    sincospi_kernel_v<N>(s.alpha * a, s_alpha, c_alpha);
    sincospi_kernel_v<N>(a, s_v, c_v);
    sincospi_kernel_v<N>(s.one_minus_alpha * a, s_rest, c_rest);
    return s.scale * (s.cauchy ? s_v / c_v
                               : s_alpha * exp_kernel_v<N>(s.neg_inv_alpha * log_kernel_v<N>(c_v) +
                                                           s.power * log_kernel_v<N>(c_rest / w)));
  }
};

// Student t: Bailey's rejection in rounds. Every round draws the next attempt of the lanes not yet accepted
// (StudentTSampler's loop, lane by lane); the transform runs once on the accepted (u, w).
template <>
struct LaneLaw<StudentTSampler> {
  static constexpr bool kDefined = true;
  template <int N, class Blocks>
  static HTSGD_INLINE typename Vec<N>::d variate(const StudentTSampler& s, Blocks&& blocks) {
    using vd = typename Vec<N>::d;
    using vi = typename Vec<N>::i;
    vd u = splat<N>(0.0), w = splat<N>(0.5);  // never accepted (probability (1 - pi/4)^4096): Z = 0, as scalar
    vi open = vi{} - 1;                        // all-ones: lane still rejecting
    for (std::uint32_t attempt = 0; attempt < kMaxAttempts; ++attempt) {
      const PhiloxLanes<N> b = blocks(attempt);
      const vd uu = u11_open_lanes<N>(b.w0, b.w1), vv = u11_open_lanes<N>(b.w2, b.w3);
      const vd ww = uu * uu + vv * vv;
      const vi take = (ww < 1.0 ? vi{} - 1 : vi{}) & open;
      u = take != 0 ? uu : u;
      w = take != 0 ? ww : w;
      open &= ~take;
      if (!any_lane<N>(open)) break;
    }
    return s.scale * u * sqrt_v<N>(s.df * expm1_kernel_v<N>(s.neg_two_over_df * log_kernel_v<N>(w)) / w);
  }
};
#endif

// z[l] = the noise of (particle[l], step[l]) in `stream` at `slot`, for a whole-block law.
template <int W, int N, class S>
HTSGD_INLINE void noise_lanes(const S& sampler, Key key, const std::uint64_t* particle, const std::uint64_t* step,
                              double* z, Stream stream = Stream::Dynamics, std::uint32_t slot = 0) {
#if HTSGD_VECTOR_EXT
  if constexpr (LaneLaw<S>::kDefined) {
    static_assert(W % N == 0, "lanes come in whole vectors");
    using vu = typename Vec<N>::u;
    const vu sv = splat_u<N>(static_cast<std::uint64_t>(stream));
    for (int v = 0; v < W; v += N) {
      const vu st = load<vu>(step + v), pt = load<vu>(particle + v);
      auto blocks = [&](std::uint32_t attempt) HTSGD_INLINE_LAMBDA { return philox_lanes<N>(key, sv, pt, st, slot, splat_u<N>(attempt)); };
      store(z + v, LaneLaw<S>::template variate<N>(sampler, blocks));
    }
    return;
  }
#endif
  for (int l = 0; l < W; ++l) z[l] = draw(sampler, key, stream, static_cast<std::uint32_t>(particle[l]), step[l], slot);
}

// A half-block law's two steps of one block per lane: odd[l] and even[l] are the noise of steps 2m - 1 and
// 2m of particle[l], m = block[l] (streams.hpp), at `slot`.
template <int W, int N, class S>
HTSGD_INLINE void noise_pair_lanes(const S& sampler, Key key, const std::uint64_t* particle, const std::uint64_t* block,
                                   double* odd, double* even, Stream stream = Stream::Dynamics, std::uint32_t slot = 0) {
#if HTSGD_VECTOR_EXT
  if constexpr (LaneLaw<S>::kDefined) {
    static_assert(W % N == 0, "lanes come in whole vectors");
    using vd = typename Vec<N>::d;
    using vu = typename Vec<N>::u;
    const vu sv = splat_u<N>(static_cast<std::uint64_t>(stream));
    for (int v = 0; v < W; v += N) {
      vd z0, z1;
      LaneLaw<S>::template pair<N>(sampler, philox_lanes<N>(key, sv, load<vu>(particle + v), load<vu>(block + v), slot), z0, z1);
      store(odd + v, z0);
      store(even + v, z1);
    }
    return;
  }
#endif
  for (int l = 0; l < W; ++l) {
    const Counter b = BlockSource(key, stream, static_cast<std::uint32_t>(particle[l]), block[l], slot).next();
    odd[l] = sampler.half(b, 0);
    even[l] = sampler.half(b, 1);
  }
}

// The step noise of W lanes whose steps share one parity (all odd or all even), for `slots` draws per
// step (slots first_slot, ...; row r of the returned array holds slot first_slot + r of every lane):
// whole-block laws draw every step; half-block laws draw steps k and k + 1 at odd k and keep the second
// for the even step.
template <int W, int N, class S>
struct StepNoise {
  std::vector<double> z, next;
  alignas(64) std::uint64_t block[W];
  explicit StepNoise(std::size_t slots = 1) : z(slots * W), next(S::kHalfBlock ? slots * W : 0) {}
  // The noise of step[l] for every lane; `odd`: the common parity of the steps.
  HTSGD_INLINE const double* draw(const S& sampler, Key key, const std::uint64_t* particle, const std::uint64_t* step,
                                  bool odd, std::uint32_t first_slot = 0) {
    const std::size_t slots = z.size() / W;
    if constexpr (S::kHalfBlock) {
      if (!odd) return next.data();
      for (int l = 0; l < W; ++l) block[l] = half_block_index(step[l]);
      for (std::size_t r = 0; r < slots; ++r)
        noise_pair_lanes<W, N>(sampler, key, particle, block, z.data() + r * W, next.data() + r * W, Stream::Dynamics,
                               first_slot + static_cast<std::uint32_t>(r));
    } else {
      for (std::size_t r = 0; r < slots; ++r)
        noise_lanes<W, N>(sampler, key, particle, step, z.data() + r * W, Stream::Dynamics,
                          first_slot + static_cast<std::uint32_t>(r));
    }
    return z.data();
  }
};

}  // namespace lanes
}  // namespace htsgd
