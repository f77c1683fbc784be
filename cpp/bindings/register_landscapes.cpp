// _core.Landscape1D and _core.LandscapeND: the landscapes of htsgd.landscapes, size-checked when built;
// value and gradient on arrays of points (the same code the dynamics run).
#include <stdexcept>
#include <string>

#include "model.hpp"

namespace htsgd::bindings {

namespace {

std::vector<double> vector_of(const CArray<double>& a, const char* name, std::size_t min_size) {
  if (a.ndim() != 1) throw std::invalid_argument(std::string("Invalid ") + name + ": expected a 1-D array");
  if (static_cast<std::size_t>(a.size()) < min_size)
    throw std::invalid_argument(std::string("Invalid ") + name + ": expected at least " + std::to_string(min_size) +
                                " numbers");
  return std::vector<double>(a.data(), a.data() + a.size());
}

py::array_t<double> evaluate_1d(const Landscape1DModel& m, const CArray<double>& x, bool gradient) {
  py::array_t<double> out(x.size());
  const double* in = x.data();
  double* o = out.mutable_data();
  std::visit(
      [&](const auto& f) {
        for (py::ssize_t i = 0; i < x.size(); ++i) o[i] = gradient ? f.grad(in[i]) : f.value(in[i]);
      },
      m.land);
  return out;
}

py::array_t<double> evaluate_nd(const LandscapeNDModel& m, const CArray<double>& x, bool gradient) {
  if (x.ndim() != 2 || static_cast<std::size_t>(x.shape(1)) != m.dim)
    throw std::invalid_argument("Invalid x: expected shape (n, " + std::to_string(m.dim) + ")");
  const auto n = static_cast<std::size_t>(x.shape(0)), d = m.dim;
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
      m.land);
  return out;
}

}  // namespace

void register_landscapes(py::module_& m) {
  py::class_<Landscape1DModel>(m, "Landscape1D", "A 1-D landscape of the core (built by htsgd.landscapes).")
      .def_static(
          "polynomial",
          [](const CArray<double>& value_coef, const CArray<double>& grad_coef) {
            return Landscape1DModel{Polynomial{vector_of(value_coef, "value_coef", 1), vector_of(grad_coef, "grad_coef", 1)}};
          },
          py::arg("value_coef"), py::arg("grad_coef"))
      .def_static(
          "critical_points",
          [](const CArray<double>& points, const CArray<double>& value_coef, double scale) {
            return Landscape1DModel{
                CriticalPoints{vector_of(points, "points", 1), vector_of(value_coef, "value_coef", 1), scale}};
          },
          py::arg("points"), py::arg("value_coef"), py::arg("scale"))
      .def_static(
          "tabulated",
          [](const CArray<double>& x, const CArray<double>& grad, const CArray<double>& value) {
            auto xs = vector_of(x, "x", 2), gs = vector_of(grad, "grad", 2), fs = vector_of(value, "value", 2);
            if (gs.size() != xs.size() || fs.size() != xs.size())
              throw std::invalid_argument("Invalid grad or value: expected the size of x");
            return Landscape1DModel{Tabulated{std::move(xs), std::move(gs), std::move(fs)}};
          },
          py::arg("x"), py::arg("grad"), py::arg("value"))
      .def_static(
          "periodic",
          [](double amplitude, double period, double tilt) {
            // htsgd.landscapes.Periodic validates; the wavenumber is formed once, here, for value and grad.
            constexpr double two_pi = 6.283185307179586;  // the double nearest 2 pi, = 2 * numpy.pi
            return Landscape1DModel{Periodic{amplitude, two_pi / period, tilt}};
          },
          py::arg("amplitude"), py::arg("period"), py::arg("tilt"))
      .def_property_readonly("dim", [](const Landscape1DModel&) { return 1; })
      .def("value", [](const Landscape1DModel& l, const CArray<double>& x) { return evaluate_1d(l, x, false); },
           py::arg("x"), "f at every point of a 1-D array.")
      .def("grad", [](const Landscape1DModel& l, const CArray<double>& x) { return evaluate_1d(l, x, true); },
           py::arg("x"), "f' at every point of a 1-D array.");

  py::class_<LandscapeNDModel>(m, "LandscapeND", "A d-dimensional landscape of the core (built by htsgd.landscapes).")
      .def_static(
          "quadratic",
          [](const CArray<double>& hessian, const CArray<double>& center) {
            if (hessian.ndim() != 2 || hessian.shape(0) != hessian.shape(1) || hessian.shape(0) < 1)
              throw std::invalid_argument("Invalid hessian: expected a square (d, d) array, d >= 1");
            const auto d = static_cast<std::size_t>(hessian.shape(0));
            if (center.ndim() != 1 || static_cast<std::size_t>(center.size()) != d)
              throw std::invalid_argument("Invalid center: expected shape (" + std::to_string(d) + ",)");
            std::vector<double> h(hessian.data(), hessian.data() + hessian.size());
            return LandscapeNDModel{Quadratic{d, std::move(h), vector_of(center, "center", d)}, d};
          },
          py::arg("hessian"), py::arg("center"))
      .def_static(
          "separable",
          [](const Landscape1DModel& component, std::size_t dim) {
            if (dim < 1) throw std::invalid_argument("Invalid dim: expected an integer >= 1");
            return std::visit(
                [dim](const auto& c) { return LandscapeNDModel{Separable<std::decay_t<decltype(c)>>{dim, c}, dim}; },
                component.land);
          },
          py::arg("component"), py::arg("dim"))
      .def_property_readonly("dim", [](const LandscapeNDModel& l) { return l.dim; })
      .def("value", [](const LandscapeNDModel& l, const CArray<double>& x) { return evaluate_nd(l, x, false); },
           py::arg("x"), "f at every row of an (n, d) array.")
      .def("grad", [](const LandscapeNDModel& l, const CArray<double>& x) { return evaluate_nd(l, x, true); },
           py::arg("x"), "The gradient at every row of an (n, d) array.");
}

}  // namespace htsgd::bindings
