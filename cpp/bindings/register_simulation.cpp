// run() and exit_times(): allocate the outputs (GIL held), then dispatch to the core kernel compiled for
// the concrete (landscape, noise law) pair of a Model and run it with the GIL released.
#include <pybind11/stl.h>

#include <string>

#include "htsgd/exit_times.hpp"
#include "htsgd/run.hpp"
#include "model.hpp"

namespace htsgd::bindings {

namespace {

constexpr std::size_t kMaxBasins = 4096;

struct RunOutput {
  py::object final, trajectory, occupancy, nonfinite_index, nonfinite_at;
};

struct ExitOutput {
  py::object steps, position, exited, nonfinite;
};

// (n,) for 1-D models, (n, d) otherwise.
std::vector<py::ssize_t> state_shape(const Model& model, std::size_t n) {
  std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(n)};
  if (!model.is_1d()) shape.push_back(static_cast<py::ssize_t>(model.dim));
  return shape;
}

// Basins of the occupancy count: edges in every coordinate, (edges + 1)^dim of them; 0 without edges (None).
std::size_t basin_count(const Model& model, const py::object& edges, std::vector<double>& out) {
  if (edges.is_none()) return 0;
  const auto a = py::cast<CArray<double>>(edges);
  if (a.ndim() != 1) throw std::invalid_argument("Invalid basin_edges: expected a 1-D array");
  out.assign(a.data(), a.data() + a.size());
  std::size_t count = 1;
  for (std::size_t j = 0; j < model.dim; ++j) {
    count *= out.size() + 1;
    if (count > kMaxBasins)
      throw std::invalid_argument("Invalid basin_edges: expected at most " + std::to_string(kMaxBasins) + " basins");
  }
  return count;
}

// `state` holds the initial positions and receives the final ones (in place: no second n-sized array).
RunOutput run(const Model& model, py::array_t<double> state, std::int64_t n_steps, std::uint64_t seed,
              std::uint32_t first_particle, std::int64_t record_every, const py::object& basin_edges_obj,
              int n_threads, bool scalar_reference) {
  if (!(state.flags() & py::array::c_style) || !state.writeable())
    throw std::invalid_argument("Invalid state: expected a writable C-contiguous float64 array");
  if (n_steps < 0) throw std::invalid_argument("Invalid n_steps: expected an integer >= 0");
  const std::size_t n = checked_particles(model, state, "state");
  std::vector<double> basin_edges;
  const std::size_t n_basins = basin_count(model, basin_edges_obj, basin_edges);
  const Key key = make_key(seed);

  const std::vector<py::ssize_t> shape = state_shape(model, n);
  NonfiniteLog nonfinite;
  py::object trajectory = py::none(), occupancy = py::none();
  RunOutputs out;
  out.final = state.mutable_data();
  out.nonfinite = &nonfinite;
  if (record_every > 0 && n_steps / record_every > 0) {
    std::vector<py::ssize_t> tshape{static_cast<py::ssize_t>(n_steps / record_every)};
    tshape.insert(tshape.end(), shape.begin(), shape.end());
    py::array_t<double> t(tshape);
    out.trajectory = t.mutable_data();
    out.record_every = record_every;
    trajectory = t;
  }
  if (n_basins > 0) {
    py::array_t<std::int64_t> o({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(n_basins)});
    // zeroed by the kernels, row by row in parallel
    out.occupancy = o.mutable_data();
    occupancy = o;
  }
  const double* x = state.data();
  if (model.is_1d()) {
    const Step1D p = model.step.one_d();
    dispatch(*model.one_d, model.law, [&](const auto& f, const auto& s, const StopFlag& stop) {
      run_1d(f, s, p, key, first_particle, x, n, n_steps, basin_edges, out, n_threads, stop);
    });
  } else {
    const StepND& p = model.step.step;
    dispatch(*model.nd, model.law, [&](const auto& f, const auto& s, const StopFlag& stop) {
      run_nd(f, s, p, key, first_particle, x, n, n_steps, basin_edges, n_basins, out, n_threads, stop, scalar_reference);
    });
  }
  const auto bad = nonfinite.sorted();
  py::array_t<std::int64_t> bad_index(static_cast<py::ssize_t>(bad.size())), bad_step(static_cast<py::ssize_t>(bad.size()));
  for (std::size_t j = 0; j < bad.size(); ++j) {
    bad_index.mutable_data()[j] = static_cast<std::int64_t>(bad[j].first);
    bad_step.mutable_data()[j] = bad[j].second;
  }
  return RunOutput{state, trajectory, occupancy, bad_index, bad_step};
}

ExitOutput exit_times(const Model& model, const CArray<double>& x0, const CArray<double>& domain_lo,
                      const CArray<double>& domain_hi, std::int64_t max_steps, std::uint64_t seed,
                      std::uint32_t first_particle, int n_threads, bool scalar_reference) {
  if (max_steps < 1) throw std::invalid_argument("Invalid max_steps: expected an integer >= 1");
  const std::size_t n = checked_particles(model, x0, "x0");
  if (domain_lo.ndim() != 1 || domain_hi.ndim() != 1 || static_cast<std::size_t>(domain_lo.size()) != model.dim ||
      static_cast<std::size_t>(domain_hi.size()) != model.dim)
    throw std::invalid_argument("Invalid domain: expected lo and hi of length " + std::to_string(model.dim));
  const Key key = make_key(seed);
  py::array_t<std::int64_t> steps(static_cast<py::ssize_t>(n));
  py::array_t<double> position(state_shape(model, n));
  py::array_t<bool> exited(static_cast<py::ssize_t>(n)), nonfinite(static_cast<py::ssize_t>(n));
  ExitOutputs out;
  out.steps = steps.mutable_data();
  out.position = position.mutable_data();
  out.exited = reinterpret_cast<std::uint8_t*>(exited.mutable_data());
  out.nonfinite = reinterpret_cast<std::uint8_t*>(nonfinite.mutable_data());
  const std::vector<double> lo(domain_lo.data(), domain_lo.data() + domain_lo.size());
  const std::vector<double> hi(domain_hi.data(), domain_hi.data() + domain_hi.size());
  const double* x = x0.data();
  if (model.is_1d()) {
    const Step1D p = model.step.one_d();
    dispatch(*model.one_d, model.law, [&](const auto& f, const auto& s, const StopFlag& stop) {
      exit_times_1d(f, s, p, key, first_particle, x, n, lo[0], hi[0], max_steps, out, n_threads, stop);
    });
  } else {
    const StepND& p = model.step.step;
    dispatch(*model.nd, model.law, [&](const auto& f, const auto& s, const StopFlag& stop) {
      exit_times_nd(f, s, p, key, first_particle, x, n, lo, hi, max_steps, out, n_threads, stop, scalar_reference);
    });
  }
  return ExitOutput{steps, position, exited, nonfinite};
}

// The entry points with and without scalar_reference (the reference path exists for the tests only).
template <bool Reference>
void define_kernels(py::module_& m) {
  m.def(
      Reference ? "run_reference" : "run",
      [](const Model& model, py::array_t<double> state, std::int64_t n_steps, std::uint64_t seed,
         std::uint32_t first_particle, std::int64_t record_every, const py::object& basin_edges, int n_threads) {
        return run(model, state, n_steps, seed, first_particle, record_every, basin_edges, n_threads, Reference);
      },
      py::arg("model"), py::arg("state"), py::arg("n_steps"), py::kw_only(), py::arg("seed"),
      py::arg("first_particle") = 0, py::arg("record_every") = 0, py::arg("basin_edges") = py::none(),
      py::arg("n_threads") = 0,
      Reference ? "run through the scalar step_nd, one d-dimensional particle at a time (the lanes' reference)."
                : "Advance `state` (n,) or (n, d) in place by n_steps steps; occupancy when basin_edges is given.");
  m.def(
      Reference ? "exit_times_reference" : "exit_times",
      [](const Model& model, const CArray<double>& x0, const CArray<double>& domain_lo, const CArray<double>& domain_hi,
         std::int64_t max_steps, std::uint64_t seed, std::uint32_t first_particle, int n_threads) {
        return exit_times(model, x0, domain_lo, domain_hi, max_steps, seed, first_particle, n_threads, Reference);
      },
      py::arg("model"), py::arg("x0"), py::arg("domain_lo"), py::arg("domain_hi"), py::arg("max_steps"), py::kw_only(),
      py::arg("seed"), py::arg("first_particle") = 0, py::arg("n_threads") = 0,
      Reference ? "exit_times through the scalar step_nd (the lanes' reference)."
                : "First exits from the open box (domain_lo, domain_hi), censored at max_steps.");
}

}  // namespace

void register_simulation(py::module_& m, py::module_& testing) {
  py::class_<RunOutput>(m, "RunOutput", "Arrays of one run: final, trajectory, occupancy, nonfinite_index/at.")
      .def_readonly("final", &RunOutput::final)
      .def_readonly("trajectory", &RunOutput::trajectory)
      .def_readonly("occupancy", &RunOutput::occupancy)
      .def_readonly("nonfinite_index", &RunOutput::nonfinite_index)
      .def_readonly("nonfinite_at", &RunOutput::nonfinite_at);
  py::class_<ExitOutput>(m, "ExitOutput", "Arrays of one exit_times call: steps, position, exited, nonfinite.")
      .def_readonly("steps", &ExitOutput::steps)
      .def_readonly("position", &ExitOutput::position)
      .def_readonly("exited", &ExitOutput::exited)
      .def_readonly("nonfinite", &ExitOutput::nonfinite);
  define_kernels<false>(m);
  define_kernels<true>(testing);
}

}  // namespace htsgd::bindings
