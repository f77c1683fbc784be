// One step of truncated heavy-tailed SGD:  x <- proj( x + phi_b(-lr * grad f(x) + lr * Z) ).
// The noise of step k of particle p is drawn from the Dynamics stream at (p, k): slot j for coordinate j,
// slot d for the radius of isotropic noise.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "htsgd/noise.hpp"
#include "htsgd/streams.hpp"
#include "htsgd/truncation.hpp"
#include "htsgd/vecmath.hpp"

namespace htsgd {

constexpr double kInf = std::numeric_limits<double>::infinity();

// v as a T: a double, or a vector of lanes holding v in every lane (vecmath.hpp's Vec<N>::d).
template <class T>
HTSGD_INLINE T splat_as(double v) {
  if constexpr (std::is_same_v<T, double>) {
    return v;
  } else {
    return T{} + v;
  }
}

// Projection onto [lo, hi] that lets NaN through, of a double or of every lane of a vector.
template <class T>
HTSGD_INLINE T project(T x, double lo, double hi) {
  const T l = splat_as<T>(lo), h = splat_as<T>(hi);
  return x < l ? l : (x > h ? h : x);
}

struct Step1D {
  double lr = 0.01;
  double truncation = kInf;                // b; +inf = untruncated
  double lo = -kInf, hi = kInf;            // bounds of the projection
};

// The 1-D update x <- proj(x + phi_b(lr (z - g))) for noise z and gradient g: the one step of the scalar
// path (step_1d, the rare-event sampler) and of the SIMD lanes (T a vector of lanes), in the same IEEE
// operations. phi_b(w) = copysign(min(|w|, b), w) is the projection of w onto [-b, b] (NaN passes).
template <class T>
HTSGD_INLINE T update_1d(T x, T z, T g, const Step1D& p) {
  return project<T>(x + project<T>(p.lr * (z - g), -p.truncation, p.truncation), p.lo, p.hi);
}

template <class L, class S>
inline double step_1d(const L& landscape, const S& sampler, const Step1D& p, Key key, std::uint32_t particle,
                      std::uint64_t step, double x) {
  return update_1d(x, draw(sampler, key, Stream::Dynamics, particle, step, 0), landscape.grad(x), p);
}

enum class Clip : int { Norm = 0, Coordinate = 1 };

struct StepND {
  std::size_t dim = 1;
  double lr = 0.01;
  double truncation = kInf;
  Clip clip = Clip::Norm;
  bool isotropic = false;                  // radius from the 1-D law times a uniform direction
  std::vector<double> lo, hi;              // bounds of the projection (size dim; +-inf allowed)
};

// Per-thread scratch of a d-dimensional step: no allocation inside the loop.
struct ScratchND {
  std::vector<double> g, w;
  explicit ScratchND(std::size_t d) : g(d), w(d) {}
};

template <class L, class S>
inline void step_nd(const L& landscape, const S& sampler, const StepND& p, Key key, std::uint32_t particle,
                    std::uint64_t step, double* x, ScratchND& s) {
  const std::size_t d = p.dim;
  landscape.grad(x, s.g.data());
  if (p.isotropic) {
    const GaussianSampler normal(NoiseLaw{NoiseKind::Gaussian, 2.0, 1.0});
    double ss = 0.0;
    for (std::size_t j = 0; j < d; ++j) {
      s.w[j] = draw(normal, key, Stream::Dynamics, particle, step, static_cast<std::uint32_t>(j));
      ss += s.w[j] * s.w[j];
    }
    const double radius =
        std::fabs(draw(sampler, key, Stream::Dynamics, particle, step, static_cast<std::uint32_t>(d))) / std::sqrt(ss);
    for (std::size_t j = 0; j < d; ++j) s.w[j] = p.lr * (radius * s.w[j] - s.g[j]);
  } else {
    for (std::size_t j = 0; j < d; ++j) {
      s.w[j] = p.lr * (draw(sampler, key, Stream::Dynamics, particle, step, static_cast<std::uint32_t>(j)) - s.g[j]);
    }
  }
  if (p.clip == Clip::Norm)
    truncate_norm(s.w.data(), d, p.truncation);
  else
    truncate_coordinates(s.w.data(), d, p.truncation);
  for (std::size_t j = 0; j < d; ++j) x[j] = project(x[j] + s.w[j], p.lo[j], p.hi[j]);
}

// Has a particle at x left the open interval (lo, hi)? An infinite x (an overflowed, untruncated step) has
// left only through a finite end: beyond an infinite end its true position is finite, still inside. NaN
// has left nothing (it is reported non-finite).
inline bool left_interval(double x, double lo, double hi) {
  if (x <= lo) return std::isfinite(x) || std::isfinite(lo);
  if (x >= hi) return std::isfinite(x) || std::isfinite(hi);
  return false;
}

// The same for the box prod_j (lo_j, hi_j): some coordinate has left its interval and none is NaN.
inline bool left_box(const double* x, const double* lo, const double* hi, std::size_t d) {
  bool left = false;
  for (std::size_t j = 0; j < d; ++j) {
    if (std::isnan(x[j])) return false;
    left = left || left_interval(x[j], lo[j], hi[j]);
  }
  return left;
}

inline bool all_finite(const double* x, std::size_t d) {
  for (std::size_t j = 0; j < d; ++j)
    if (!std::isfinite(x[j])) return false;
  return true;
}

}  // namespace htsgd
