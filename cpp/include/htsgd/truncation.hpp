// phi_b: clip the whole step by its Euclidean norm (b = +inf: identity), so that |phi_b(w)| <= b for every
// input. An infinite component (an overflowed step) is clipped too: the step keeps the direction of its
// infinite components and has length b. NaN has no direction: a d-D step with a NaN component becomes NaN
// in every coordinate (1-D: stays NaN), so the particle is flagged non-finite instead of moving by an
// unclipped finite part.
#pragma once
#include <cmath>
#include <cstddef>
#include <limits>

namespace htsgd {

inline double truncate(double w, double b) { return std::fabs(w) > b ? std::copysign(b, w) : w; }

// In place on w[0..d), by the norm of the whole vector. The norm is computed on w / max|w_j| so that a
// huge step (|w|^2 overflowing) is still clipped to length b in its own direction.
inline void truncate_norm(double* w, std::size_t d, double b) {
  if (!(b <= std::numeric_limits<double>::max())) return;  // untruncated: the identity
  double m = 0.0;
  std::size_t n_inf = 0;
  bool nan = false;
  for (std::size_t j = 0; j < d; ++j) {
    const double a = std::fabs(w[j]);
    nan = nan || std::isnan(a);
    n_inf += std::isinf(a) ? 1 : 0;
    m = a > m ? a : m;
  }
  if (nan) {
    for (std::size_t j = 0; j < d; ++j) w[j] = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  if (!(m > 0.0)) return;  // zero step
  if (n_inf > 0) {         // overflowed: length b along the infinite components
    const double c = b / std::sqrt(static_cast<double>(n_inf));
    for (std::size_t j = 0; j < d; ++j) w[j] = std::isinf(w[j]) ? std::copysign(c, w[j]) : 0.0;
    return;
  }
  double s = 0.0;
  for (std::size_t j = 0; j < d; ++j) s += (w[j] / m) * (w[j] / m);
  const double norm = m * std::sqrt(s);
  if (norm > b) {
    const double c = b / norm;
    if (c >= std::numeric_limits<double>::min()) {
      for (std::size_t j = 0; j < d; ++j) w[j] *= c;
    } else {  // c subnormal (norm > b / 2^-1022) has lost bits: scale the direction instead
      for (std::size_t j = 0; j < d; ++j) w[j] = (w[j] / norm) * b;
    }
  }
}

// In place, coordinate by coordinate (what clip_grad_value_ does; an option, not the theory's default).
// NaN coordinates stay NaN; every other coordinate ends in [-b, b].
inline void truncate_coordinates(double* w, std::size_t d, double b) {
  for (std::size_t j = 0; j < d; ++j) w[j] = truncate(w[j], b);
}

}  // namespace htsgd
