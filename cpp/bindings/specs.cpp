// Python spec dicts (built and validated by htsgd.noise / htsgd.landscapes) -> core value types.
#include <stdexcept>

#include "common.hpp"

namespace htsgd::bindings {

NoiseLaw noise_from_spec(const py::dict& spec) {
  const auto kind = spec["kind"].cast<std::string>();
  NoiseLaw law;
  law.alpha = spec["alpha"].cast<double>();
  law.scale = spec["scale"].cast<double>();
  if (kind == "pareto") law.kind = NoiseKind::Pareto;
  else if (kind == "stable") law.kind = NoiseKind::Stable;
  else if (kind == "student_t") law.kind = NoiseKind::StudentT;
  else if (kind == "gaussian") law.kind = NoiseKind::Gaussian;
  else throw std::invalid_argument("unknown noise law: " + kind);
  return law;
}

Landscape1D landscape_1d_from_spec(const py::dict& spec) {
  const auto kind = spec["kind"].cast<std::string>();
  if (kind == "polynomial") return Polynomial{to_vector(spec["value_coef"]), to_vector(spec["grad_coef"])};
  if (kind == "critical_points")
    return CriticalPoints{to_vector(spec["points"]), to_vector(spec["value_coef"]), spec["scale"].cast<double>()};
  if (kind == "tabulated") return Tabulated{to_vector(spec["x"]), to_vector(spec["grad"]), to_vector(spec["value"])};
  throw std::invalid_argument("unknown 1-D landscape: " + kind);
}

LandscapeND landscape_nd_from_spec(const py::dict& spec) {
  const auto kind = spec["kind"].cast<std::string>();
  const auto dim = spec["dim"].cast<std::size_t>();
  if (kind == "quadratic") return Quadratic{dim, to_vector(spec["hessian"]), to_vector(spec["center"])};
  if (kind == "separable") {
    return std::visit([dim](auto&& c) -> LandscapeND { return Separable<std::decay_t<decltype(c)>>{dim, c}; },
                      landscape_1d_from_spec(spec["component"].cast<py::dict>()));
  }
  throw std::invalid_argument("unknown d-dimensional landscape: " + kind);
}

}  // namespace htsgd::bindings
