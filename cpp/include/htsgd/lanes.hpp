// The 1-D hot loops with particles in SIMD lanes. A group of kLanes particles advances one step at a time:
// the Philox blocks of all lanes are computed together (counters in lane arrays), the noise transform
// uses the branch-free log/expm1 of vecmath.hpp, and the landscape gradient and the truncated update are
// loops over lanes that the compiler vectorises. Every lane computes exactly what step_1d computes for its
// (particle, step), in the same order of IEEE operations, so the bits equal the scalar path's and do not
// depend on which lane, group, thread or ISA a particle lands in.
//
// Each kernel is instantiated per ISA (simd.hpp) through the HTSGD_LANE_KERNEL wrappers at the end.
#pragma once
#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "htsgd/dynamics.hpp"
#include "htsgd/landscapes.hpp"
#include "htsgd/noise.hpp"
#include "htsgd/parallel.hpp"
#include "htsgd/philox.hpp"
#include "htsgd/simd.hpp"
#include "htsgd/streams.hpp"
#include "htsgd/vecmath.hpp"

#if HTSGD_X86_DISPATCH
#include <immintrin.h>  // declares the x86 builtins used by mul_lo32
#endif

namespace htsgd {
namespace lanes {

constexpr int kLanes = 32;  // particles advanced together: 4 AVX-512, 8 AVX2 or 16 SSE2 registers of doubles
constexpr std::size_t kLaneBasins = 8;  // occupancy counted in lane registers up to this many basins

// Particle ids are held as 64-bit lanes (values < 2^32) so that they load straight into vectors.
// ---------------------------------------------------------------------------------------------- noise
// z[l] = the noise of (particle[l], step[l]) in `stream` (the step noise: Dynamics) at `slot`, for a
// whole-block law: one BlockSource per lane. The vector overloads below take the laws they know.
template <int W, int N, class S>
HTSGD_INLINE void noise_lanes(const S& sampler, Key key, const std::uint64_t* particle, const std::uint64_t* step,
                              double* z, Stream stream = Stream::Dynamics, std::uint32_t slot = 0) {
  for (int l = 0; l < W; ++l) z[l] = draw(sampler, key, stream, static_cast<std::uint32_t>(particle[l]), step[l], slot);
}

#if !HTSGD_VECTOR_EXT
// A half-block law's two steps of one block per lane: odd[l] and even[l] are the noise of steps 2m - 1 and
// 2m of particle[l], m = block[l] (streams.hpp), at `slot`.
template <int W, int N, class S>
HTSGD_INLINE void noise_pair_lanes(const S& sampler, Key key, const std::uint64_t* particle, const std::uint64_t* block,
                                   double* odd, double* even, Stream stream = Stream::Dynamics, std::uint32_t slot = 0) {
  for (int l = 0; l < W; ++l) {
    const Counter b = BlockSource(key, stream, static_cast<std::uint32_t>(particle[l]), block[l], slot).next();
    odd[l] = sampler.half(b, 0);
    even[l] = sampler.half(b, 1);
  }
}
#endif

#if HTSGD_VECTOR_EXT
// (a mod 2^32) * m for 64-bit lanes, m < 2^32: one (V)PMULUDQ on x86 (the generic a * m would be a full
// 64x64 multiply: three PMULUDQ without AVX-512DQ). The builtin is expanded in the ISA of the kernel it is
// inlined into: N = 2 (SSE2, baseline x86-64), 4 (AVX2), 8 (AVX-512F).
template <int N>
HTSGD_INLINE typename Vec<N>::u mul_lo32(typename Vec<N>::u a, typename Vec<N>::u m) {
#if HTSGD_X86_DISPATCH
  using v32 = typename Vec<N>::i32;
  using v64 = typename Vec<N>::ll;
  if constexpr (N == 2) return reinterpret_cast<typename Vec<N>::u>(__builtin_ia32_pmuludq128(reinterpret_cast<v32>(a), reinterpret_cast<v32>(m)));
  if constexpr (N == 4) return reinterpret_cast<typename Vec<N>::u>(__builtin_ia32_pmuludq256(reinterpret_cast<v32>(a), reinterpret_cast<v32>(m)));
  if constexpr (N == 8)
    return reinterpret_cast<typename Vec<N>::u>(
        __builtin_ia32_pmuludq512_mask(reinterpret_cast<v32>(a), reinterpret_cast<v32>(m), v64{}, static_cast<unsigned char>(0xFF)));
#endif
  return (a & 0xFFFFFFFFull) * m;
}

// Philox4x32-10 of the counters {slot << 12 | attempt[l], step bits 0-31, step bits 32-55 | stream << 24,
// particle} (streams.hpp's addressing) for N lanes at once: block number attempt[l] (0: the first) of
// BlockSource(key, stream[l], particle[l], step[l], slot) for every lane. Words are held in 64-bit lanes so
// that the 32x32->64 products are lane products; only the low 32 bits of each returned word are meaningful (the multiplies
// read only those, and the high halves left by the products are for the caller to drop). `stream` holds
// Stream values per lane (a splat when all lanes read the same stream).
template <int N>
struct PhiloxLanes {
  typename Vec<N>::u w0, w1, w2, w3;
};

template <int N>
HTSGD_INLINE PhiloxLanes<N> philox_lanes(Key key, typename Vec<N>::u stream, typename Vec<N>::u particle,
                                         typename Vec<N>::u step, std::uint32_t slot = 0,
                                         typename Vec<N>::u attempt = typename Vec<N>::u{}) {
  using vu = typename Vec<N>::u;
  constexpr std::uint64_t kLo32 = 0xFFFFFFFFull;
  vu c0 = (static_cast<std::uint64_t>(slot) << 12) | attempt, c1 = step & kLo32;
  vu c2 = (step >> 32) | (stream << 24), c3 = particle;
  std::uint64_t k0 = key[0], k1 = key[1];
  const vu m0 = splat_u<N>(detail::kPhiloxM0), m1 = splat_u<N>(detail::kPhiloxM1);
  for (int r = 0; r < 10; ++r) {
    const vu p0 = mul_lo32<N>(c0, m0);
    const vu p1 = mul_lo32<N>(c2, m1);
    c0 = (p1 >> 32) ^ c1 ^ k0;
    c1 = p1;
    c2 = (p0 >> 32) ^ c3 ^ k1;
    c3 = p0;
    k0 = (k0 + detail::kPhiloxW0) & kLo32;
    k1 = (k1 + detail::kPhiloxW1) & kLo32;
  }
  return {c0, c1, c2, c3};
}

// u01_open(hi, lo) of two Philox words in lanes (low 32 bits meaningful): (2^52 + bits) - (2^52 - 1/2) =
// bits + 1/2 exactly, times 2^-52.
template <int N>
HTSGD_INLINE typename Vec<N>::d u01_open_lanes(typename Vec<N>::u hi, typename Vec<N>::u lo) {
  const typename Vec<N>::u bits = ((hi << 32) | (lo & 0xFFFFFFFFull)) >> 12;
  return (as_d<N>(bits | 0x4330000000000000ull) - (0x1.0p52 - 0.5)) * 0x1.0p-52;
}

template <int N>
HTSGD_INLINE typename Vec<N>::d u11_open_lanes(typename Vec<N>::u hi, typename Vec<N>::u lo) {
  return 2.0 * u01_open_lanes<N>(hi, lo) - 1.0;
}

// Per-law transforms of one Philox block per lane, the operations of noise.hpp's samplers in the same order.
// Pareto: both word pairs (ParetoSampler::half).
template <int N>
HTSGD_INLINE typename Vec<N>::d pareto_lanes(const ParetoSampler& sampler, typename Vec<N>::u hi, typename Vec<N>::u lo) {
  using vd = typename Vec<N>::d;
  // -log(U)/alpha <= 36.8/alpha: below 709 (no clamping needed in expm1) unless alpha is tiny.
  const bool small_t = sampler.neg_inv_alpha > -16.0;
  const vd u = u01_open_lanes<N>(hi, lo);
  const vd t = sampler.neg_inv_alpha * log_kernel_v<N>(u);
  const vd m = sampler.scale * (small_t ? expm1_kernel_v<N, false>(t) : expm1_kernel_v<N, true>(t));
  return as_d<N>(as_u<N>(m) ^ (lo << 63));  // == sign_from(lo) * m
}

template <int N>
HTSGD_INLINE void pair_lanes(const ParetoSampler& sampler, const PhiloxLanes<N>& b, typename Vec<N>::d& odd,
                             typename Vec<N>::d& even) {
  odd = pareto_lanes<N>(sampler, b.w0, b.w1);
  even = pareto_lanes<N>(sampler, b.w2, b.w3);
}

// Gaussian: both Box-Muller normals (GaussianSampler::half).
template <int N>
HTSGD_INLINE void pair_lanes(const GaussianSampler& sampler, const PhiloxLanes<N>& b, typename Vec<N>::d& odd,
                             typename Vec<N>::d& even) {
  using vd = typename Vec<N>::d;
  const vd r = sampler.scale * sqrt_v<N>(-2.0 * log_kernel_v<N>(u01_open_lanes<N>(b.w0, b.w1)));
  vd s, c;
  sincospi_kernel_v<N>(2.0 * u01_open_lanes<N>(b.w2, b.w3), s, c);
  odd = r * c;
  even = r * s;
}

// A half-block law's two steps of one block per lane: odd[l] and even[l] are the noise of steps 2m - 1 and
// 2m of particle[l], m = block[l] (streams.hpp), at `slot`.
template <int W, int N, class S>
HTSGD_INLINE void noise_pair_lanes(const S& sampler, Key key, const std::uint64_t* particle, const std::uint64_t* block,
                                   double* odd, double* even, Stream stream_id = Stream::Dynamics,
                                   std::uint32_t slot = 0) {
  static_assert(W % N == 0, "lanes come in whole vectors");
  using vd = typename Vec<N>::d;
  using vu = typename Vec<N>::u;
  const vu stream = splat_u<N>(static_cast<std::uint64_t>(stream_id));
  for (int v = 0; v < W; v += N) {
    vu bk, pt;
    std::memcpy(&bk, block + v, sizeof bk);
    std::memcpy(&pt, particle + v, sizeof pt);
    vd z0, z1;
    pair_lanes<N>(sampler, philox_lanes<N>(key, stream, pt, bk, slot), z0, z1);
    std::memcpy(odd + v, &z0, sizeof z0);
    std::memcpy(even + v, &z1, sizeof z1);
  }
}

// Stable: one block per variate (StableSampler::from_block).
template <int W, int N>
HTSGD_INLINE void noise_lanes(const StableSampler& sampler, Key key, const std::uint64_t* particle,
                              const std::uint64_t* step, double* z, Stream stream_id = Stream::Dynamics,
                              std::uint32_t slot = 0) {
  static_assert(W % N == 0, "lanes come in whole vectors");
  using vd = typename Vec<N>::d;
  using vu = typename Vec<N>::u;
  const vu stream = splat_u<N>(static_cast<std::uint64_t>(stream_id));
  for (int v = 0; v < W; v += N) {
    vu st, pt;
    std::memcpy(&st, step + v, sizeof st);
    std::memcpy(&pt, particle + v, sizeof pt);
    const PhiloxLanes<N> b = philox_lanes<N>(key, stream, pt, st, slot);
    const vd a = u01_open_lanes<N>(b.w0, b.w1) - 0.5;
    const vd w = -log_kernel_v<N>(u01_open_lanes<N>(b.w2, b.w3));
    vd s_alpha, c_alpha, s_v, c_v, s_rest, c_rest;
    sincospi_kernel_v<N>(sampler.alpha * a, s_alpha, c_alpha);
    sincospi_kernel_v<N>(a, s_v, c_v);
    sincospi_kernel_v<N>(sampler.one_minus_alpha * a, s_rest, c_rest);
    const vd zv = sampler.scale * (sampler.cauchy ? s_v / c_v
                                                  : s_alpha * exp_kernel_v<N>(sampler.neg_inv_alpha * log_kernel_v<N>(c_v) +
                                                                              sampler.power * log_kernel_v<N>(c_rest / w)));
    std::memcpy(z + v, &zv, sizeof zv);
  }
}

// Student t: Bailey's rejection in rounds. Every round draws the next attempt of the lanes not yet
// accepted (StudentTSampler's loop, lane by lane); the transform runs once on the accepted (u, w).
template <int W, int N>
HTSGD_INLINE void noise_lanes(const StudentTSampler& sampler, Key key, const std::uint64_t* particle,
                              const std::uint64_t* step, double* z, Stream stream_id = Stream::Dynamics,
                              std::uint32_t slot = 0) {
  static_assert(W % N == 0, "lanes come in whole vectors");
  using vd = typename Vec<N>::d;
  using vu = typename Vec<N>::u;
  using vi = typename Vec<N>::i;
  const vu stream = splat_u<N>(static_cast<std::uint64_t>(stream_id));
  for (int v = 0; v < W; v += N) {
    vu st, pt;
    std::memcpy(&st, step + v, sizeof st);
    std::memcpy(&pt, particle + v, sizeof pt);
    vd u = splat<N>(0.0), w = splat<N>(0.5);  // never accepted (probability (1 - pi/4)^4096): Z = 0, as scalar
    vi open = vi{} - 1;                        // all-ones: lane still rejecting
    for (std::uint32_t attempt = 0; attempt < kMaxAttempts; ++attempt) {
      const PhiloxLanes<N> b = philox_lanes<N>(key, stream, pt, st, slot, splat_u<N>(attempt));
      const vd uu = u11_open_lanes<N>(b.w0, b.w1), vv = u11_open_lanes<N>(b.w2, b.w3);
      const vd ww = uu * uu + vv * vv;
      const vi take = (ww < 1.0 ? vi{} - 1 : vi{}) & open;
      u = take != 0 ? uu : u;
      w = take != 0 ? ww : w;
      open &= ~take;
      bool any = false;
      for (int l = 0; l < N; ++l) any |= open[l] != 0;
      if (!any) break;
    }
    const vd zv = sampler.scale * u * sqrt_v<N>(sampler.df * expm1_kernel_v<N>(sampler.neg_two_over_df * log_kernel_v<N>(w)) / w);
    std::memcpy(z + v, &zv, sizeof zv);
  }
}
#endif

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

// ------------------------------------------------------------------------------------------ gradient
template <int W, int N, class L>
HTSGD_INLINE void grad_lanes(const L& f, const double* x, double* g) {
  for (int l = 0; l < W; ++l) g[l] = f.grad(x[l]);
}

#if HTSGD_VECTOR_EXT
template <int W, int N>
HTSGD_INLINE void grad_lanes(const CriticalPoints& f, const double* x, double* g) {
  using vd = typename Vec<N>::d;
  for (int v = 0; v < W; v += N) {
    vd xv, acc = splat<N>(f.scale);
    std::memcpy(&xv, x + v, sizeof xv);
    for (const double c : f.points) acc *= (xv - c);
    std::memcpy(g + v, &acc, sizeof acc);
  }
}

template <int W, int N>
HTSGD_INLINE void grad_lanes(const Polynomial& f, const double* x, double* g) {
  using vd = typename Vec<N>::d;
  for (int v = 0; v < W; v += N) {
    vd xv, acc = splat<N>(0.0);
    std::memcpy(&xv, x + v, sizeof xv);
    for (std::size_t k = f.grad_coef.size(); k-- > 0;) acc = acc * xv + f.grad_coef[k];
    std::memcpy(g + v, &acc, sizeof acc);
  }
}

// x <- proj(x + phi_b(lr * (z - grad))), as step_1d (truncate, project) lane by lane.
template <int W, int N>
HTSGD_INLINE void update_lanes(const Step1D& p, const double* z, const double* g, double* x) {
  using vd = typename Vec<N>::d;
  using vu = typename Vec<N>::u;
  constexpr std::uint64_t kSign = 0x8000000000000000ull;
  const vd b = splat<N>(p.truncation), lo = splat<N>(p.lo), hi = splat<N>(p.hi);
  const vu b_mag = as_u<N>(b) & ~kSign;
  for (int v = 0; v < W; v += N) {
    vd xv, zv, gv;
    std::memcpy(&xv, x + v, sizeof xv);
    std::memcpy(&zv, z + v, sizeof zv);
    std::memcpy(&gv, g + v, sizeof gv);
    const vd w = p.lr * (zv - gv);
    const vu wb = as_u<N>(w);
    const vd absw = as_d<N>(wb & ~kSign);
    const vd clipped = as_d<N>(b_mag | (wb & kSign));  // copysign(b, w)
    const vd y = xv + (absw > b ? clipped : w);
    xv = y < lo ? lo : (y > hi ? hi : y);
    std::memcpy(x + v, &xv, sizeof xv);
  }
}
#else
template <int W, int N>
HTSGD_INLINE void update_lanes(const Step1D& p, const double* z, const double* g, double* x) {
  const double lr = p.lr, b = p.truncation, lo = p.lo, hi = p.hi;
  for (int l = 0; l < W; ++l) x[l] = project(x[l] + truncate(lr * (z[l] - g[l]), b), lo, hi);
}
#endif

HTSGD_INLINE bool finite(double x) { return std::fabs(x) <= DBL_MAX; }  // false for NaN and +-inf

}  // namespace lanes
}  // namespace htsgd
