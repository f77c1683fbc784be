// htsgd._core: registers one group of classes and functions per concept, and the _testing submodule; no logic here.
#include <pybind11/pybind11.h>

#include <string>

#include "htsgd/parallel.hpp"
#include "htsgd/simd.hpp"

namespace py = pybind11;

namespace htsgd::bindings {
void register_noise(py::module_& m, py::module_& testing);
void register_landscapes(py::module_& m);
void register_model(py::module_& m);
void register_simulation(py::module_& m, py::module_& testing);
void register_truncation(py::module_& m);
void register_rare_event(py::module_& m, py::module_& testing);
void register_optimizer(py::module_& m);
}  // namespace htsgd::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "htsgd C++ core: counter-based randomness, noise samplers, landscapes, dynamics, exit times";
  m.def("max_threads", &htsgd::max_threads, "Threads OpenMP would use by default (1 without OpenMP).");
  m.def(
      "active_isa", [] { return std::string(htsgd::isa_name(htsgd::active_isa())); },
      "Instruction set the lane kernels dispatch to: 'baseline', 'avx2' or 'avx512' (HTSGD_ISA can lower it).");
#ifdef _OPENMP
  m.attr("has_openmp") = true;
#else
  m.attr("has_openmp") = false;
#endif
  // Hooks for the tests (reference paths, known-answer tests of the samplers): not part of any API.
  py::module_ testing = m.def_submodule("_testing", "Test-only hooks of the core: reference paths and samplers.");
  htsgd::bindings::register_noise(m, testing);
  htsgd::bindings::register_landscapes(m);
  htsgd::bindings::register_model(m);
  htsgd::bindings::register_simulation(m, testing);
  htsgd::bindings::register_truncation(m);
  htsgd::bindings::register_rare_event(m, testing);
  htsgd::bindings::register_optimizer(m);
}
