#include "common.hpp"

namespace htsgd::bindings {

// Evaluates value or gradient on a 1-D array (1-D landscapes) or an (n, d) array (d-dimensional ones).
py::array_t<double> evaluate(const py::dict& spec, const CArray<double>& x, bool gradient) {
  if (spec["dim"].cast<std::size_t>() == 0) {
    const Landscape1D land = landscape_1d_from_spec(spec);
    py::array_t<double> out(x.size());
    const double* in = x.data();
    double* o = out.mutable_data();
    std::visit(
        [&](const auto& f) {
          for (py::ssize_t i = 0; i < x.size(); ++i) o[i] = gradient ? f.grad(in[i]) : f.value(in[i]);
        },
        land);
    return out;
  }
  const LandscapeND land = landscape_nd_from_spec(spec);
  const auto n = static_cast<std::size_t>(x.shape(0)), d = static_cast<std::size_t>(x.shape(1));
  py::array_t<double> out = gradient ? py::array_t<double>({n, d}) : py::array_t<double>(n);
  const double* in = x.data();
  double* o = out.mutable_data();
  std::visit(
      [&](const auto& f) {
        for (std::size_t i = 0; i < n; ++i) {
          if (gradient)
            f.grad(in + i * d, o + i * d);
          else
            o[i] = f.value(in + i * d);
        }
      },
      land);
  return out;
}

void register_landscapes(py::module_& m) {
  m.def("landscape_value", [](const py::dict& s, const CArray<double>& x) { return evaluate(s, x, false); },
        py::arg("spec"), py::arg("x"));
  m.def("landscape_grad", [](const py::dict& s, const CArray<double>& x) { return evaluate(s, x, true); },
        py::arg("spec"), py::arg("x"));
}

}  // namespace htsgd::bindings
