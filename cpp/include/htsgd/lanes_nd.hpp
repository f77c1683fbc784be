// The d-dimensional hot loops with particles in SIMD lanes: step_lanes.hpp's scheme with the state held as rows,
// row j = coordinate j of the W particles of a group. Each row gets the noise of slot j and the gradient rows
// (a separable landscape: its component's 1-D lane gradient); the step then runs one vector of lanes (a
// column) at a time through all rows: w, the norm clipping (screened, see step_rows) or the isotropic radius,
// both reductions across rows per lane, and the projection. Every lane performs step_nd's IEEE operations in
// step_nd's order, so its bits equal the scalar path's, on every ISA and thread count. Used up to kMaxDim
// coordinates, where a group's rows stay in L1/L2; larger d runs one particle at a time (run.hpp,
// exit_times.hpp).
#pragma once
#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "htsgd/dynamics.hpp"
#include "htsgd/landscapes.hpp"
#include "htsgd/lane_refill.hpp"
#include "htsgd/lanes.hpp"
#include "htsgd/outputs.hpp"
#include "htsgd/parallel.hpp"
#include "htsgd/simd.hpp"

#if HTSGD_VECTOR_EXT
#define HTSGD_ND_LANES 1
#pragma GCC diagnostic ignored "-Wpsabi"  // vector arguments of always-inlined helpers (see rare_lanes.hpp)

namespace htsgd {
namespace lanes_nd {

constexpr int kLanes = 32;            // particles per group: d rows of kLanes doubles per array
constexpr std::size_t kMaxDim = 64;   // larger d: the scalar per-particle path

// Gradient rows. Any d-D landscape: its scalar grad lane by lane (gathered into a particle's coordinates;
// the same bits, only slower); the overloads below are the lane versions of the landscapes that have one.
template <int W, int N, class L>
HTSGD_INLINE void grad_rows(const L& f, const double* x, double* g) {
  double xl[kMaxDim], gl[kMaxDim];
  for (int l = 0; l < W; ++l) {
    for (std::size_t j = 0; j < f.dim; ++j) xl[j] = x[j * W + static_cast<std::size_t>(l)];
    f.grad(xl, gl);
    for (std::size_t j = 0; j < f.dim; ++j) g[j * W + static_cast<std::size_t>(l)] = gl[j];
  }
}

#ifndef HTSGD_GENERIC_LANES
// Separable: the component's 1-D lane gradient on every row.
template <int W, int N, class L1>
HTSGD_INLINE void grad_rows(const Separable<L1>& f, const double* x, double* g) {
  for (std::size_t j = 0; j < f.dim; ++j) lanes::grad_lanes<W, N>(f.component, x + j * W, g + j * W);
}

// Quadratic: g_i = sum_k H_ik (x_k - c_k), summed in k order as Quadratic::grad.
template <int W, int N>
HTSGD_INLINE void grad_rows(const Quadratic& f, const double* x, double* g) {
  using vd = typename Vec<N>::d;
  const std::size_t d = f.dim;
  for (std::size_t i = 0; i < d; ++i) {
    for (int v = 0; v < W; v += N) {
      vd acc = splat<N>(0.0);
      for (std::size_t k = 0; k < d; ++k) {
        vd xv;
        std::memcpy(&xv, x + k * W + v, sizeof xv);
        acc += f.hessian[i * d + k] * (xv - f.center[k]);
      }
      std::memcpy(g + i * W + v, &acc, sizeof acc);
    }
  }
}
#endif

// The rows of one group and the noise of its steps.
template <int W, int N, class S>
struct Group {
  std::size_t d;
  std::vector<double> x, w;  // w holds the gradient rows until the step overwrites them
  lanes::StepNoise<W, N, S> noise;                  // slots 0..d-1 (the law) or slot d (isotropic radius)
  lanes::StepNoise<W, N, GaussianSampler> normals;  // isotropic directions: slots 0..d-1
  Group(const StepND& p)
      : d(p.dim), x(p.dim * W), w(p.dim * W), noise(p.isotropic ? 1 : p.dim),
        normals(p.isotropic ? p.dim : 0) {}
};

// w <- phi_b(w) per lane of the vector at column v, by the norm of each lane's d coordinates (rows of W):
// truncate_norm's operations lane by lane (the max skips NaN; lanes with a zero max are left unchanged, lanes
// with an infinite component get length b along their infinite components, lanes with a NaN component
// become NaN). b is finite.
template <int W, int N>
HTSGD_INLINE void truncate_norm_column(double* w, std::size_t d, double b, int v) {
  using vd = typename Vec<N>::d;
  using vi = typename Vec<N>::i;
  constexpr std::uint64_t kSign = 0x8000000000000000ull;
  const vd one = splat<N>(1.0), zero = splat<N>(0.0), nan = splat<N>(std::numeric_limits<double>::quiet_NaN());
  vd m = splat<N>(0.0), n_inf = zero, n_nan = zero;
  for (std::size_t j = 0; j < d; ++j) {
    const vd a = as_d<N>(as_u<N>(lanes::load<vd>(w + j * W + v)) & ~kSign);
    m = a > m ? a : m;
    n_inf += a > DBL_MAX ? one : zero;
    n_nan += a == a ? zero : one;
  }
  vd s = splat<N>(0.0);
  for (std::size_t j = 0; j < d; ++j) {
    const vd wv = lanes::load<vd>(w + j * W + v);
    s += (wv / m) * (wv / m);
  }
  const vd norm = m * sqrt_v<N>(s);
  const vd c = b / norm;
  const vd c_inf = b / sqrt_v<N>(n_inf);
  const vi live = (m > 0.0 ? vi{} - 1 : vi{}) & (m <= DBL_MAX ? vi{} - 1 : vi{});
  const vi apply = live & (norm > b ? vi{} - 1 : vi{});
  const vi subnormal_c = c < DBL_MIN ? vi{} - 1 : vi{};  // c has lost bits: scale the direction instead
  const vi overflowed = n_inf > 0.0 ? vi{} - 1 : vi{}, undefined = n_nan > 0.0 ? vi{} - 1 : vi{};
  for (std::size_t j = 0; j < d; ++j) {
    vd wv = lanes::load<vd>(w + j * W + v);
    const vd a = as_d<N>(as_u<N>(wv) & ~kSign);
    const vd along = a > DBL_MAX ? as_d<N>(as_u<N>(c_inf) | (as_u<N>(wv) & kSign)) : zero;
    wv = apply != 0 ? (subnormal_c != 0 ? (wv / norm) * b : wv * c) : wv;
    wv = overflowed != 0 ? along : wv;
    wv = undefined != 0 ? nan : wv;
    lanes::store(w + j * W + v, wv);
  }
}

// One step of every lane (step_nd): gradient, noise, truncation, projection, one vector of lanes (column v)
// at a time. Returns whether every lane's coordinates are finite afterwards; fin[l] = 1 if lane l's are,
// else 0. `odd`: the common parity of the lanes' steps (StepNoise).
//
// The norm clipping is screened: a vector whose lanes all have a sum of squares at most `below`, b^2 lowered
// by far more than the rounding of either that sum or truncate_norm's scaled norm (both within (d + 3) 2^-53
// relative, d <= kMaxDim), has norm <= b in every lane, where truncate_norm leaves w unchanged. A NaN or an
// overflowed square fails the test and takes the exact path. Most steps are far below b: this spares
// truncate_norm's divisions (two per coordinate, two per lane) and changes no bit.
template <int W, int N, class L, class S>
HTSGD_INLINE bool step_rows(const L& f, const S& sampler, const StepND& p, Key key, const std::uint64_t* particle,
                            const std::uint64_t* step, bool odd, Group<W, N, S>& r, double* fin) {
  using vd = typename Vec<N>::d;
  using vi = typename Vec<N>::i;
  constexpr std::uint64_t kSign = 0x8000000000000000ull;
  const std::size_t d = r.d;
  double* x = r.x.data();
  double* w = r.w.data();
  grad_rows<W, N>(f, x, w);  // g, overwritten by w row by row
  const GaussianSampler normal(NoiseLaw{NoiseKind::Gaussian, 2.0, 1.0});  // isotropic directions, as step_nd
  const double* z = p.isotropic ? r.normals.draw(normal, key, particle, step, odd)
                                : r.noise.draw(sampler, key, particle, step, odd);
  const double* zr =
      p.isotropic ? r.noise.draw(sampler, key, particle, step, odd, static_cast<std::uint32_t>(d)) : nullptr;
  const double b_s = p.truncation;
  const bool norm_clip = p.clip == Clip::Norm && b_s <= DBL_MAX;  // b = inf: the identity
  const bool screen = b_s >= 1e-100 && b_s <= 1e100;               // b^2 and its margin stay normal
  const vd below = splat<N>(b_s * b_s * (1.0 - 0x1.0p-30));
  const vd b = splat<N>(b_s);
  const auto b_mag = as_u<N>(b) & ~kSign;
  vd all_ok = splat<N>(1.0);
  for (int v = 0; v < W; v += N) {
    vd radius = splat<N>(1.0);
    if (p.isotropic) {  // |Z| along the normalised Gaussian direction
      vd ss = splat<N>(0.0);
      for (std::size_t j = 0; j < d; ++j) {
        const vd nv = lanes::load<vd>(z + j * W + v);
        ss += nv * nv;
      }
      radius = as_d<N>(as_u<N>(lanes::load<vd>(zr + v)) & ~kSign) / sqrt_v<N>(ss);
    }
    vd s2 = splat<N>(0.0);
    for (std::size_t j = 0; j < d; ++j) {  // w = lr (Z - grad f(x))
      const vd zv = lanes::load<vd>(z + j * W + v), gv = lanes::load<vd>(w + j * W + v);
      const vd wv = p.isotropic ? p.lr * (radius * zv - gv) : p.lr * (zv - gv);
      lanes::store(w + j * W + v, wv);
      s2 += wv * wv;
    }
    if (norm_clip) {
      if (!screen || any_lane<N>(s2 <= below ? vi{} : vi{} - 1)) truncate_norm_column<W, N>(w, d, b_s, v);
    }
    vd ok = splat<N>(1.0);
    for (std::size_t j = 0; j < d; ++j) {
      vd xv = lanes::load<vd>(x + j * W + v), wv = lanes::load<vd>(w + j * W + v);
      if (p.clip == Clip::Coordinate) {  // truncate(w, b)
        const auto wb = as_u<N>(wv);
        const vd absw = as_d<N>(wb & ~kSign);
        wv = absw > b ? as_d<N>(b_mag | (wb & kSign)) : wv;
      }
      const vd y = xv + wv;
      const vd lo = splat<N>(p.lo[j]), hi = splat<N>(p.hi[j]);
      xv = y < lo ? lo : (y > hi ? hi : y);
      lanes::store(x + j * W + v, xv);
      const vd a = as_d<N>(as_u<N>(xv) & ~kSign);
      ok = a <= DBL_MAX ? ok : splat<N>(0.0);
    }
    lanes::store(fin + v, ok);
    all_ok = ok < all_ok ? ok : all_ok;
  }
  return !any_lane<N>(all_ok == 0.0 ? vi{} - 1 : vi{});
}

// ------------------------------------------------------------------------------------------------ run
template <class L, class S>
using RunTask = RunTaskOf<L, S, StepND>;

// Particles [begin, begin + count), count <= W, for all steps (run_nd's bookkeeping, per lane).
template <int W, int N, class L, class S>
HTSGD_INLINE void run_group(const RunTask<L, S>& t, Group<W, N, S>& r, std::size_t begin, std::size_t count) {
  using vd = typename Vec<N>::d;
  const RunOutputs& out = t.out;
  const std::size_t d = r.d, radix = t.basin_edges.size() + 1;
  alignas(64) std::uint64_t particle[W], step[W];
  alignas(64) double fin[W], basin[W];
  std::int64_t bad[W];
  for (int l = 0; l < W; ++l) {
    const std::size_t i = begin + std::min<std::size_t>(static_cast<std::size_t>(l), count - 1);
    for (std::size_t j = 0; j < d; ++j) r.x[j * W + l] = t.x0[i * d + j];  // padding lanes repeat the last
    particle[l] = static_cast<std::uint32_t>(t.first_particle + static_cast<std::uint32_t>(begin + static_cast<std::size_t>(l)));
    bad[l] = 0;
  }
  if (out.occupancy) std::fill(out.occupancy + begin * t.n_basins, out.occupancy + (begin + count) * t.n_basins, 0);
  for (std::int64_t k = 1; k <= t.n_steps; ++k) {
    for (int l = 0; l < W; ++l) step[l] = static_cast<std::uint64_t>(k);
    const bool all_finite =
        step_rows<W, N>(t.landscape, t.sampler, t.step, t.key, particle, step, (k & 1) != 0, r, fin);
    if (out.occupancy) {  // mixed-radix basin index, coordinate 0 fastest (exact in doubles: n_basins < 2^53)
      for (int v = 0; v < W; v += N) {
        vd b = splat<N>(0.0);
        for (std::size_t j = d; j-- > 0;) {
          vd xv, digit = splat<N>(0.0);
          std::memcpy(&xv, r.x.data() + j * W + v, sizeof xv);
          for (const double e : t.basin_edges) digit += xv >= e ? splat<N>(1.0) : splat<N>(0.0);
          b = b * static_cast<double>(radix) + digit;
        }
        std::memcpy(basin + v, &b, sizeof b);
      }
    }
    if (out.occupancy || !all_finite) {  // otherwise no lane has anything to record
      for (std::size_t l = 0; l < count; ++l) {
        if (fin[l] != 0.0) {
          if (out.occupancy) ++out.occupancy[(begin + l) * t.n_basins + static_cast<std::size_t>(basin[l])];
        } else if (bad[l] == 0) {
          bad[l] = k;
        }
      }
    }
    if (out.trajectory && k % out.record_every == 0) {
      double* row = out.trajectory + static_cast<std::size_t>(k / out.record_every - 1) * t.n * d;
      for (std::size_t l = 0; l < count; ++l)
        for (std::size_t j = 0; j < d; ++j) row[(begin + l) * d + j] = r.x[j * W + l];
    }
    if ((k & kStopCheckMask) == 0 && stop_requested(t.stop)) break;
  }
  for (std::size_t l = 0; l < count; ++l) {
    for (std::size_t j = 0; j < d; ++j) out.final[(begin + l) * d + j] = r.x[j * W + l];
    if (bad[l] != 0) out.nonfinite->add(begin + l, bad[l]);
  }
}

struct RunChunk {
  template <int N, class L, class S>
  static HTSGD_INLINE void run(const RunTask<L, S>& t, std::size_t begin, std::size_t count) {
    Group<kLanes, N, S> r(t.step);
    for (std::size_t g = 0; g < count; g += kLanes)
      run_group<kLanes, N>(t, r, begin + g, std::min<std::size_t>(kLanes, count - g));
  }
};

// ----------------------------------------------------------------------------------------- exit times
template <class L, class S>
using ExitTask = ExitTaskOf<L, S, StepND, const std::vector<double>&>;

// exit_times_nd's loop on one thread's lanes, refilled from the shared counter (LaneRefill).
template <int W, int N, class L, class S>
HTSGD_INLINE void exit_group(const ExitTask<L, S>& t) {
  using vd = typename Vec<N>::d;
  const std::size_t d = t.step.dim;
  Group<W, N, S> r(t.step);
  alignas(64) std::uint64_t particle[W], step[W];
  alignas(64) double inside[W], fin[W];
  LaneRefill<W> assign;
  auto start = [&](int l, std::size_t i) {
    for (std::size_t j = 0; j < d; ++j) r.x[j * W + static_cast<std::size_t>(l)] = t.x0[i * d + j];
    particle[l] = static_cast<std::uint32_t>(t.first_particle + static_cast<std::uint32_t>(i));
    step[l] = 0;
  };
  auto report = [&](int l) {
    const std::size_t i = assign.index[l];
    t.out.steps[i] = static_cast<std::int64_t>(step[l]);
    for (std::size_t j = 0; j < d; ++j) t.out.position[i * d + j] = r.x[j * W + static_cast<std::size_t>(l)];
    // an overflow through a finite face is an exit (left_box); NaN and overflows past infinite ends are not
    const bool left = inside[l] == 0.0 && (fin[l] != 0.0 || left_box(t.out.position + i * d, t.lo.data(), t.hi.data(), d));
    t.out.exited[i] = left;
    t.out.nonfinite[i] = !left && fin[l] == 0.0;
  };
  for (int l = 0; l < W; ++l) {  // idle lanes compute on this state, never reported
    start(l, 0);
    particle[l] = 0;
    inside[l] = fin[l] = 1.0;
  }
  const std::uint64_t max_steps = static_cast<std::uint64_t>(t.max_steps);
  auto advance = [&](std::uint64_t iter) HTSGD_INLINE_LAMBDA {
    for (int l = 0; l < W; ++l) ++step[l];
    step_rows<W, N>(t.landscape, t.sampler, t.step, t.key, particle, step, (iter & 1) == 0, r, fin);
    for (int v = 0; v < W; v += N) {  // inside_box lane by lane
      vd in = splat<N>(1.0);
      for (std::size_t j = 0; j < d; ++j) {
        const vd xv = lanes::load<vd>(r.x.data() + j * W + static_cast<std::size_t>(v));
        in = xv > t.lo[j] ? in : splat<N>(0.0);
        in = xv < t.hi[j] ? in : splat<N>(0.0);
      }
      lanes::store(inside + v, in);
    }
    return true;
  };
  assign.run(t.next, t.n, t.stop, kExitStopCheckMask, true, start, advance,
             [&](int l) { return inside[l] == 0.0 || step[l] >= max_steps; }, report);
}

struct ExitLanes {
  template <int N, class L, class S>
  static HTSGD_INLINE void run(const ExitTask<L, S>& t) {
    exit_group<kLanes, N>(t);
  }
};

}  // namespace lanes_nd
}  // namespace htsgd
#else
#define HTSGD_ND_LANES 0
#endif
