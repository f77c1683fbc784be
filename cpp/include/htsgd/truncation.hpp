// phi_b: clip the whole step by its Euclidean norm (b = +inf: identity). NaN passes through unchanged,
// so a particle that has become non-finite stays visibly non-finite instead of being clipped back.
#pragma once
#include <cmath>
#include <cstddef>

namespace htsgd {

inline double truncate(double w, double b) { return std::fabs(w) > b ? std::copysign(b, w) : w; }

// In place on w[0..d), by the norm of the whole vector. The norm is computed on w / max|w_j| so that a
// huge step (|w|^2 overflowing) is still clipped to length b in its own direction.
inline void truncate_norm(double* w, std::size_t d, double b) {
  double m = 0.0;
  for (std::size_t j = 0; j < d; ++j) m = std::fmax(m, std::fabs(w[j]));
  if (!(m > 0.0) || std::isinf(m)) return;  // zero step, or non-finite: left for the caller to report
  double s = 0.0;
  for (std::size_t j = 0; j < d; ++j) s += (w[j] / m) * (w[j] / m);
  const double norm = m * std::sqrt(s);
  if (norm > b) {
    const double c = b / norm;
    for (std::size_t j = 0; j < d; ++j) w[j] *= c;
  }
}

// In place, coordinate by coordinate (what clip_grad_value_ does; an option, not the theory's default).
inline void truncate_coordinates(double* w, std::size_t d, double b) {
  for (std::size_t j = 0; j < d; ++j) w[j] = truncate(w[j], b);
}

}  // namespace htsgd
