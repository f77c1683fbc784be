// _core.NoiseLaw, _core.Step and _core.Model: the typed model the kernels take (model.hpp). Every check that
// guards memory is here, so no kernel reads beyond the arrays it was given.
#include <cmath>
#include <stdexcept>
#include <string>

#include "model.hpp"

namespace htsgd::bindings {

namespace {

void check_positive(const char* name, double v, bool allow_inf) {
  if (!(v > 0) || (!allow_inf && std::isinf(v)))
    throw std::invalid_argument(std::string("Invalid ") + name + ": expected a " + (allow_inf ? "" : "finite ") +
                                "number > 0");
}

// By field name: the core may reorder or extend the fields of NoiseLaw.
NoiseLaw law_of(NoiseKind kind, double alpha, double scale) {
  NoiseLaw law;
  law.kind = kind;
  law.alpha = alpha;
  law.scale = scale;
  return law;
}

}  // namespace

NoiseLaw noise_law(NoiseKind kind, double alpha, double scale) {
  check_positive("alpha", alpha, false);
  check_positive("scale", scale, false);
  if (kind == NoiseKind::Stable && alpha > 2.0) throw std::invalid_argument("Invalid alpha: expected 0 < alpha <= 2");
  return law_of(kind, alpha, scale);
}

// The values are taken as given (htsgd.torch.noise.check_law validates them: it allows scale 0 and any alpha
// for the Gaussian); only the name is checked.
NoiseLaw noise_law_from_name(const std::string& name, double alpha, double scale) {
  if (name == "pareto") return law_of(NoiseKind::Pareto, alpha, scale);
  if (name == "stable") return law_of(NoiseKind::Stable, alpha, scale);
  if (name == "student_t") return law_of(NoiseKind::StudentT, alpha, scale);
  if (name == "gaussian") return law_of(NoiseKind::Gaussian, alpha, scale);
  throw std::invalid_argument("Invalid law: '" + name + "'; expected one of 'pareto', 'stable', 'student_t', 'gaussian'");
}

std::size_t checked_particles(const Model& model, const py::array& a, const char* what) {
  const bool ok = model.is_1d() ? a.ndim() == 1
                                : a.ndim() == 2 && static_cast<std::size_t>(a.shape(1)) == model.dim;
  if (!ok)
    throw std::invalid_argument(std::string("Invalid ") + what + ": expected shape " +
                                (model.is_1d() ? std::string("(n,)") : "(n, " + std::to_string(model.dim) + ")"));
  return static_cast<std::size_t>(a.shape(0));
}

void register_model(py::module_& m) {
  py::enum_<Clip>(m, "Clip", "How a d-dimensional step is truncated: by its Euclidean norm or per coordinate.")
      .value("norm", Clip::Norm)
      .value("coordinate", Clip::Coordinate);

  py::class_<StepModel>(m, "Step", "One SGD step: lr, truncation b, projection box [lo, hi], clipping, isotropy.")
      .def(py::init([](double lr, double truncation, const CArray<double>& lo, const CArray<double>& hi, Clip clip,
                       bool isotropic) {
             check_positive("lr", lr, false);
             check_positive("truncation", truncation, true);
             if (lo.ndim() != 1 || hi.ndim() != 1 || lo.size() < 1 || lo.size() != hi.size())
               throw std::invalid_argument("Invalid bounds: expected lo and hi of the same length >= 1");
             StepModel s;
             s.step.dim = static_cast<std::size_t>(lo.size());
             s.step.lr = lr;
             s.step.truncation = truncation;
             s.step.clip = clip;
             s.step.isotropic = isotropic;
             s.step.lo.assign(lo.data(), lo.data() + lo.size());
             s.step.hi.assign(hi.data(), hi.data() + hi.size());
             for (std::size_t j = 0; j < s.step.dim; ++j)
               if (!(s.step.lo[j] < s.step.hi[j])) throw std::invalid_argument("Invalid bounds: expected lo < hi");
             return s;
           }),
           py::arg("lr"), py::arg("truncation"), py::arg("lo"), py::arg("hi"), py::arg("clip") = Clip::Norm,
           py::arg("isotropic") = false)
      .def_property_readonly("dim", [](const StepModel& s) { return s.step.dim; })
      .def_property_readonly("lr", [](const StepModel& s) { return s.step.lr; })
      .def_property_readonly("truncation", [](const StepModel& s) { return s.step.truncation; });

  py::class_<Model>(m, "Model", "Landscape, noise law and step of one truncated heavy-tailed SGD, dimensions checked.")
      .def(py::init([](const Landscape1DModel& land, const NoiseLaw& law, const StepModel& step) {
             if (step.step.dim != 1) throw std::invalid_argument("Invalid step: a 1-D landscape needs bounds of length 1");
             Model model;
             model.one_d = land.land;
             model.law = law;
             model.step = step;
             return model;
           }),
           py::arg("landscape"), py::arg("noise"), py::arg("step"))
      .def(py::init([](const LandscapeNDModel& land, const NoiseLaw& law, const StepModel& step) {
             if (step.step.dim != land.dim)
               throw std::invalid_argument("Invalid step: expected bounds of length " + std::to_string(land.dim));
             Model model;
             model.nd = land.land;
             model.law = law;
             model.step = step;
             model.dim = land.dim;
             return model;
           }),
           py::arg("landscape"), py::arg("noise"), py::arg("step"))
      .def_property_readonly("dim", [](const Model& m) { return m.dim; })
      .def_property_readonly("is_1d", &Model::is_1d);
}

}  // namespace htsgd::bindings
