// First exit from an open interval / box: tau = min{k >= 1 : x_k outside the domain}, censored at
// max_steps. Each particle runs until it exits; particles are handed to threads dynamically because
// their run lengths differ by orders of magnitude.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "htsgd/dynamics.hpp"
#include "htsgd/parallel.hpp"

namespace htsgd {

struct ExitOutputs {
  std::int64_t* steps = nullptr;      // (n) exit step, or max_steps if censored, or the non-finite step
  double* position = nullptr;         // (n, d) where it landed (the last position if censored)
  std::uint8_t* exited = nullptr;     // (n)
  std::uint8_t* nonfinite = nullptr;  // (n)
};

constexpr std::int64_t kExitStopCheckMask = 4095;

template <class L, class S>
void exit_times_1d(const L& landscape, const S& sampler, const Step1D& p, Key key, std::uint32_t first_particle,
                   const double* x0, std::size_t n, double lo, double hi, std::int64_t max_steps,
                   const ExitOutputs& out, int n_threads, const StopFlag& stop) {
#pragma omp parallel for schedule(dynamic, 4) num_threads(resolve_threads(n_threads))
  for (std::int64_t ii = 0; ii < static_cast<std::int64_t>(n); ++ii) {
    if (stop_requested(stop)) continue;  // interrupted: skip the particles not yet started
    const auto i = static_cast<std::size_t>(ii);
    const std::uint32_t particle = first_particle + static_cast<std::uint32_t>(i);
    double x = x0[i];
    std::int64_t k = 0;
    bool inside = true;
    while (k < max_steps) {
      ++k;
      x = step_1d(landscape, sampler, p, key, particle, static_cast<std::uint64_t>(k), x);
      if (!(x > lo && x < hi)) {  // NaN also leaves: it is reported as non-finite below
        inside = false;
        break;
      }
      if ((k & kExitStopCheckMask) == 0 && stop_requested(stop)) break;
    }
    const bool finite = std::isfinite(x);
    out.steps[i] = k;
    out.position[i] = x;
    out.exited[i] = !inside && finite;
    out.nonfinite[i] = !finite;
  }
}

inline bool inside_box(const double* x, const std::vector<double>& lo, const std::vector<double>& hi) {
  for (std::size_t j = 0; j < lo.size(); ++j)
    if (!(x[j] > lo[j] && x[j] < hi[j])) return false;
  return true;
}

template <class L, class S>
void exit_times_nd(const L& landscape, const S& sampler, const StepND& p, Key key, std::uint32_t first_particle,
                   const double* x0, std::size_t n, const std::vector<double>& lo, const std::vector<double>& hi,
                   std::int64_t max_steps, const ExitOutputs& out, int n_threads, const StopFlag& stop) {
  const std::size_t d = p.dim;
#pragma omp parallel num_threads(resolve_threads(n_threads))
  {
    ScratchND scratch(d);
    std::vector<double> x(d);
#pragma omp for schedule(dynamic, 4)
    for (std::int64_t ii = 0; ii < static_cast<std::int64_t>(n); ++ii) {
      if (stop_requested(stop)) continue;
      const auto i = static_cast<std::size_t>(ii);
      std::copy(x0 + i * d, x0 + (i + 1) * d, x.begin());
      std::int64_t k = 0;
      bool inside = true;
      while (k < max_steps) {
        ++k;
        step_nd(landscape, sampler, p, key, first_particle + static_cast<std::uint32_t>(i),
                static_cast<std::uint64_t>(k), x.data(), scratch);
        if (!inside_box(x.data(), lo, hi)) {
          inside = false;
          break;
        }
        if ((k & kExitStopCheckMask) == 0 && stop_requested(stop)) break;
      }
      const bool finite = all_finite(x.data(), d);
      out.steps[i] = k;
      std::copy(x.begin(), x.end(), out.position + i * d);
      out.exited[i] = !inside && finite;
      out.nonfinite[i] = !finite;
    }
  }
}

}  // namespace htsgd
