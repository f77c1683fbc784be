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

namespace htsgd {
namespace lanes {

constexpr int kLanes = 16;           // particles advanced together (4 AVX2 / 2 AVX-512 registers of doubles)
constexpr std::size_t kLaneBasins = 8;  // occupancy counted in lane registers up to this many basins

// ---------------------------------------------------------------------------------------------- noise
// z[l] = the step noise of (particle[l], step[l]): Dynamics stream, slot 0. Any sampler: one BlockSource
// per lane (rejection samplers, libm-based laws).
template <int W, class S>
HTSGD_INLINE void noise_lanes(const S& sampler, Key key, const std::uint32_t* particle, const std::uint64_t* step,
                              double* z) {
  for (int l = 0; l < W; ++l) {
    BlockSource src(key, Stream::Dynamics, particle[l], step[l], 0);
    z[l] = sampler(src);
  }
}

// Pareto: Philox in lanes, then the vectorised transform; identical bits to ParetoSampler::operator().
#if HTSGD_VECTOR_EXT
template <int W>
HTSGD_INLINE void noise_lanes(const ParetoSampler& sampler, Key key, const std::uint32_t* particle,
                              const std::uint64_t* step, double* z) {
  static_assert(W % kVecLanes == 0, "lanes come in whole vectors");
  constexpr std::uint64_t kLo32 = 0xFFFFFFFFull;
  const std::uint64_t stream_bits = static_cast<std::uint64_t>(Stream::Dynamics) << 24;
  for (int v = 0; v < W; v += kVecLanes) {
    // Philox words in 64-bit lanes (values < 2^32), so the 32x32->64 products are lane products.
    vec_u st, c3;
    for (int l = 0; l < kVecLanes; ++l) {
      st[l] = step[v + l];
      c3[l] = particle[v + l];
    }
    vec_u c0 = splat_u(0), c1 = st & kLo32, c2 = (st >> 32) | stream_bits;
    std::uint64_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; ++r) {
      const vec_u p0 = c0 * static_cast<std::uint64_t>(detail::kPhiloxM0);
      const vec_u p1 = c2 * static_cast<std::uint64_t>(detail::kPhiloxM1);
      c0 = (p1 >> 32) ^ c1 ^ k0;
      c1 = p1 & kLo32;
      c2 = (p0 >> 32) ^ c3 ^ k1;
      c3 = p0 & kLo32;
      k0 = (k0 + detail::kPhiloxW0) & kLo32;
      k1 = (k1 + detail::kPhiloxW1) & kLo32;
    }
    const vec_u bits = ((c0 << 32) | c1) >> 12;
    const vec_d u = (reinterpret_cast<vec_d>(bits | 0x4330000000000000ull) - 0x1.0p52 + 0.5) * 0x1.0p-52;
    const vec_d m = sampler.scale * expm1_kernel(sampler.neg_inv_alpha * log_kernel(u));
    const vec_d zv = reinterpret_cast<vec_d>(reinterpret_cast<vec_u>(m) ^ ((c2 & 1u) << 63));
    std::memcpy(z + v, &zv, sizeof zv);
  }
}
#endif

// ------------------------------------------------------------------------------------------ gradient
template <int W, class L>
HTSGD_INLINE void grad_lanes(const L& f, const double* x, double* g) {
  for (int l = 0; l < W; ++l) g[l] = f.grad(x[l]);
}

#if HTSGD_VECTOR_EXT
template <int W>
HTSGD_INLINE void grad_lanes(const CriticalPoints& f, const double* x, double* g) {
  for (int v = 0; v < W; v += kVecLanes) {
    vec_d xv, acc = splat(f.scale);
    std::memcpy(&xv, x + v, sizeof xv);
    for (const double c : f.points) acc *= (xv - c);
    std::memcpy(g + v, &acc, sizeof acc);
  }
}

template <int W>
HTSGD_INLINE void grad_lanes(const Polynomial& f, const double* x, double* g) {
  for (int v = 0; v < W; v += kVecLanes) {
    vec_d xv, acc = splat(0.0);
    std::memcpy(&xv, x + v, sizeof xv);
    for (std::size_t k = f.grad_coef.size(); k-- > 0;) acc = acc * xv + f.grad_coef[k];
    std::memcpy(g + v, &acc, sizeof acc);
  }
}

// x <- proj(x + phi_b(lr * (z - grad))), as step_1d (truncate, project) lane by lane.
template <int W>
HTSGD_INLINE void update_lanes(const Step1D& p, const double* z, const double* g, double* x) {
  constexpr std::uint64_t kSign = 0x8000000000000000ull;
  const vec_d b = splat(p.truncation), lo = splat(p.lo), hi = splat(p.hi);
  const vec_u b_bits = reinterpret_cast<vec_u>(b);
  for (int v = 0; v < W; v += kVecLanes) {
    vec_d xv, zv, gv;
    std::memcpy(&xv, x + v, sizeof xv);
    std::memcpy(&zv, z + v, sizeof zv);
    std::memcpy(&gv, g + v, sizeof gv);
    const vec_d w = p.lr * (zv - gv);
    const vec_u wb = reinterpret_cast<vec_u>(w);
    const vec_d absw = reinterpret_cast<vec_d>(wb & ~kSign);
    const vec_d clipped = reinterpret_cast<vec_d>((b_bits & ~kSign) | (wb & kSign));  // copysign(b, w)
    const vec_d y = xv + select(absw > b, clipped, w);
    xv = select(y < lo, lo, select(y > hi, hi, y));
    std::memcpy(x + v, &xv, sizeof xv);
  }
}
#else
template <int W>
HTSGD_INLINE void grad_lanes(const CriticalPoints& f, const double* x, double* g) {
  for (int l = 0; l < W; ++l) g[l] = f.scale;
  for (const double c : f.points)
    for (int l = 0; l < W; ++l) g[l] *= (x[l] - c);
}

template <int W>
HTSGD_INLINE void update_lanes(const Step1D& p, const double* z, const double* g, double* x) {
  const double lr = p.lr, b = p.truncation, lo = p.lo, hi = p.hi;
  for (int l = 0; l < W; ++l) x[l] = project(x[l] + truncate(lr * (z[l] - g[l]), b), lo, hi);
}
#endif

HTSGD_INLINE bool finite(double x) { return std::fabs(x) <= DBL_MAX; }  // false for NaN and +-inf

}  // namespace lanes
}  // namespace htsgd
