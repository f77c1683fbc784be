// The 1-D step in SIMD lanes: a group of kLanes particles advances one step at a time. The noise comes from
// law_lanes.hpp, the gradient from grad_lanes (a landscape's lane version, or its scalar grad lane by lane),
// the truncated and projected update from dynamics.hpp's update_1d on vectors. Every lane computes exactly
// what step_1d computes for its (particle, step), in the same order of IEEE operations, so the bits equal the
// scalar path's and do not depend on which lane, group, thread or ISA a particle lands in.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "htsgd/dynamics.hpp"
#include "htsgd/landscapes.hpp"
#include "htsgd/law_lanes.hpp"
#include "htsgd/philox_lanes.hpp"
#include "htsgd/vecmath.hpp"

namespace htsgd {
namespace lanes {

constexpr int kLanes = 32;  // particles advanced together: 4 AVX-512, 8 AVX2 or 16 SSE2 registers of doubles
constexpr std::size_t kLaneBasins = 8;  // occupancy counted in lane registers up to this many basins
// Particle ids are held as 64-bit lanes (values < 2^32) so that they load straight into vectors.

// g[l] = f'(x[l]). The generic version calls the landscape's scalar grad lane by lane (any 1-D landscape);
// the overloads below are the lane versions of the landscapes that have one.
template <int W, int N, class L>
HTSGD_INLINE void grad_lanes(const L& f, const double* x, double* g) {
  for (int l = 0; l < W; ++l) g[l] = f.grad(x[l]);
}

#if HTSGD_VECTOR_EXT && !defined(HTSGD_GENERIC_LANES)
template <int W, int N>
HTSGD_INLINE void grad_lanes(const CriticalPoints& f, const double* x, double* g) {
  using vd = typename Vec<N>::d;
  for (int v = 0; v < W; v += N) {
    const vd xv = load<vd>(x + v);
    vd acc = splat<N>(f.scale);
    for (const double c : f.points) acc *= (xv - c);
    store(g + v, acc);
  }
}

template <int W, int N>
HTSGD_INLINE void grad_lanes(const Polynomial& f, const double* x, double* g) {
  using vd = typename Vec<N>::d;
  for (int v = 0; v < W; v += N) {
    const vd xv = load<vd>(x + v);
    vd acc = splat<N>(0.0);
    for (std::size_t k = f.grad_coef.size(); k-- > 0;) acc = acc * xv + f.grad_coef[k];
    store(g + v, acc);
  }
}
#endif

#if HTSGD_VECTOR_EXT
// The lane vector of N doubles.
template <int N>
using LaneVec = typename Vec<N>::d;
#else
template <int N>
using LaneVec = double;
#endif

// x <- update_1d(x, z, g) lane by lane (whole vectors where the compiler has them).
template <int W, int N>
HTSGD_INLINE void update_lanes(const Step1D& p, const double* z, const double* g, double* x) {
  using vd = LaneVec<N>;
  constexpr int kStep = static_cast<int>(sizeof(vd) / sizeof(double));
  for (int v = 0; v < W; v += kStep)
    store(x + v, update_1d<vd>(load<vd>(x + v), load<vd>(z + v), load<vd>(g + v), p));
}

HTSGD_INLINE bool finite(double x) { return std::fabs(x) <= DBL_MAX; }  // false for NaN and +-inf

}  // namespace lanes
}  // namespace htsgd
