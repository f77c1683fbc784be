// Landscapes: value and gradient. 1-D kinds are small value types whose grad() inlines into the hot loop;
// d-dimensional kinds write the gradient into a buffer.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <variant>
#include <vector>

#include <Eigen/Core>

namespace htsgd {

// f(x) = sum_k c_k x^k, coefficients in increasing degree (value) and the derivative's coefficients (grad).
struct Polynomial {
  std::vector<double> value_coef, grad_coef;
  static double horner(const std::vector<double>& c, double x) {
    double acc = 0.0;
    for (std::size_t k = c.size(); k-- > 0;) acc = acc * x + c[k];
    return acc;
  }
  double value(double x) const { return horner(value_coef, x); }
  double grad(double x) const { return horner(grad_coef, x); }
};

// f'(x) = scale * prod_k (x - c_k): the product form puts the critical points exactly at c_k, whatever
// rounding an expanded polynomial would add. The value uses the expanded antiderivative.
struct CriticalPoints {
  std::vector<double> points, value_coef;
  double scale = 1.0;
  double value(double x) const { return Polynomial::horner(value_coef, x); }
  double grad(double x) const {
    double acc = scale;
    for (double c : points) acc *= (x - c);
    return acc;
  }
};

// Gradient given on an increasing grid, interpolated linearly; outside the grid the end segments are
// extended linearly (a confining landscape stays confining). value: the exact integral of that
// interpolant, anchored at f(grid[0]) = 0.
struct Tabulated {
  std::vector<double> x, g, f;  // f: cumulative integral at the nodes
  std::size_t segment(double t) const {
    const auto it = std::upper_bound(x.begin() + 1, x.end() - 1, t);
    return static_cast<std::size_t>(it - x.begin()) - 1;
  }
  double grad(double t) const {
    if (!(t == t)) return t;  // NaN stays NaN
    const std::size_t i = segment(t);
    const double s = (g[i + 1] - g[i]) / (x[i + 1] - x[i]);
    return g[i] + s * (t - x[i]);
  }
  double value(double t) const {
    if (!(t == t)) return t;
    const std::size_t i = segment(t);
    const double s = (g[i + 1] - g[i]) / (x[i + 1] - x[i]), h = t - x[i];
    return f[i] + g[i] * h + 0.5 * s * h * h;
  }
};

// f(x) = -amplitude cos(k x) + tilt x, k = 2 pi / period: a tilted cosine, wells at multiples of the period
// when tilt = 0. No lane version: the generic lane fallback (step_lanes.hpp) calls grad lane by lane.
struct Periodic {
  double amplitude = 1.0, wavenumber = 1.0, tilt = 0.0;
  double value(double x) const { return -amplitude * std::cos(wavenumber * x) + tilt * x; }
  double grad(double x) const { return amplitude * wavenumber * std::sin(wavenumber * x) + tilt; }
};

using Landscape1D = std::variant<Polynomial, CriticalPoints, Tabulated, Periodic>;

// f(x) = 1/2 (x - c)^T H (x - c), H symmetric (row-major d x d); the value through Eigen maps of the
// stored buffers (no copies).
struct Quadratic {
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  std::size_t dim = 1;
  std::vector<double> hessian, center;
  Eigen::Map<const RowMajor> h() const {
    return {hessian.data(), static_cast<Eigen::Index>(dim), static_cast<Eigen::Index>(dim)};
  }
  Eigen::Map<const Eigen::VectorXd> c() const { return {center.data(), static_cast<Eigen::Index>(dim)}; }
  double value(const double* x) const {
    const Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXd>(x, static_cast<Eigen::Index>(dim)) - c();
    return 0.5 * y.dot(h() * y);
  }
  // Called every step: a plain row-by-row sum in k order, which the d-dimensional lanes (lanes_nd.hpp)
  // repeat lane by lane to give the same bits.
  void grad(const double* x, double* out) const {
    for (std::size_t i = 0; i < dim; ++i) {
      double s = 0.0;
      for (std::size_t k = 0; k < dim; ++k) s += hessian[i * dim + k] * (x[k] - center[k]);
      out[i] = s;
    }
  }
};

// f(x) = sum_i f1(x_i): a 1-D multi-well landscape in every coordinate (2^d wells for the double well).
template <class L1>
struct Separable {
  std::size_t dim = 1;
  L1 component;
  double value(const double* x) const {
    double v = 0.0;
    for (std::size_t i = 0; i < dim; ++i) v += component.value(x[i]);
    return v;
  }
  void grad(const double* x, double* out) const {
    for (std::size_t i = 0; i < dim; ++i) out[i] = component.grad(x[i]);
  }
};

using LandscapeND = std::variant<Quadratic, Separable<Polynomial>, Separable<CriticalPoints>, Separable<Tabulated>,
                                 Separable<Periodic>>;

}  // namespace htsgd
