// Mean first exit time of truncated heavy-tailed SGD from the right basin (0, inf) of the double well
// f(x) = (x^2 - 1)^2 / 4, with Pareto(alpha = 1.5, scale = 0.2) noise, lr = 0.05, b = 1.5: the setting of the
// README's tour, whose Python version measures a mean of about 1.7e3 steps.
//   usage: exit_times [n_particles] [threads]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "htsgd/dynamics.hpp"
#include "htsgd/exit_times.hpp"
#include "htsgd/landscapes.hpp"
#include "htsgd/noise.hpp"

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  if (n == 0 || threads < 1) {
    std::fprintf(stderr, "usage: exit_times [n_particles >= 1] [threads >= 1]\n");
    return 2;
  }
  htsgd::CriticalPoints well;  // f'(x) = (x + 1) x (x - 1)
  well.points = {-1.0, 0.0, 1.0};
  well.value_coef = {0.25, 0.0, -0.5, 0.0, 0.25};
  const htsgd::ParetoSampler noise(htsgd::NoiseLaw{htsgd::NoiseKind::Pareto, 1.5, 0.2});
  htsgd::Step1D step;
  step.lr = 0.05;
  step.truncation = 1.5;
  const htsgd::Key key = htsgd::make_key(1);

  std::vector<double> x0(n, 1.0), position(n);
  std::vector<std::int64_t> steps(n);
  std::vector<std::uint8_t> exited(n), nonfinite(n);
  const htsgd::ExitOutputs out{steps.data(), position.data(), exited.data(), nonfinite.data()};
  htsgd::StopFlag stop{false};
  htsgd::exit_times_1d(well, noise, step, key, 0, x0.data(), n, 0.0, htsgd::kInf, std::int64_t{10000000}, out,
                       threads, stop);

  double total = 0.0;
  std::size_t n_exited = 0, left = 0;
  for (std::size_t i = 0; i < n; ++i) {
    total += static_cast<double>(steps[i]);
    n_exited += exited[i];
    left += exited[i] && position[i] <= 0.0;
  }
  std::printf("particles %zu  exited %zu  through 0: %zu  mean exit time %.6g steps\n", n, n_exited, left,
              total / static_cast<double>(n));
  return n_exited == n ? 0 : 1;
}
