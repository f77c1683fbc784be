// The typed model pieces that cross the Python/C++ boundary: built and size-checked once, when the Python
// object is built (htsgd.noise, htsgd.landscapes, htsgd._model), then passed by reference to every kernel.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <variant>

#include "common.hpp"
#include "htsgd/dynamics.hpp"
#include "htsgd/landscapes.hpp"
#include "htsgd/noise.hpp"

namespace htsgd::bindings {

// A noise law, its parameters checked; and one from its name ("pareto", "stable", "student_t", "gaussian"):
// the one string parser, for the fill_noise entry points of htsgd.torch, which take names.
NoiseLaw noise_law(NoiseKind kind, double alpha, double scale);
NoiseLaw noise_law_from_name(const std::string& name, double alpha, double scale);

struct Landscape1DModel {
  Landscape1D land;
};

struct LandscapeNDModel {
  LandscapeND land;
  std::size_t dim = 1;
};

// Learning rate, truncation, projection bounds (one pair per coordinate), clipping mode, isotropic noise.
struct StepModel {
  StepND step;
  Step1D one_d() const {
    Step1D p;  // by field name: the core may reorder or extend its fields
    p.lr = step.lr;
    p.truncation = step.truncation;
    p.lo = step.lo.at(0);
    p.hi = step.hi.at(0);
    return p;
  }
};

// A whole model: landscape (1-D or d-D), noise law and step, with matching dimensions.
struct Model {
  std::optional<Landscape1D> one_d;
  std::optional<LandscapeND> nd;
  NoiseLaw law;
  StepModel step;
  std::size_t dim = 1;  // coordinates of the state: 1 for a 1-D landscape
  bool is_1d() const { return one_d.has_value(); }
};

// The state of `what` as (n,) for 1-D models and (n, dim) otherwise: raises instead of reading beyond it.
std::size_t checked_particles(const Model& model, const py::array& a, const char* what);

}  // namespace htsgd::bindings
