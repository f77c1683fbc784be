// run() and exit_times(): allocate the outputs (GIL held), then dispatch to the core kernel compiled for
// the concrete (landscape, noise law) pair and run it with the GIL released.
#include <pybind11/stl.h>

#include "common.hpp"
#include "htsgd/exit_times.hpp"
#include "htsgd/run.hpp"

namespace htsgd::bindings {

namespace {

// (n,) for 1-D landscapes (dim 0), (n, d) otherwise.
std::vector<py::ssize_t> state_shape(std::size_t n, std::size_t dim) {
  std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(n)};
  if (dim > 0) shape.push_back(static_cast<py::ssize_t>(dim));
  return shape;
}

Step1D step_1d_from_spec(const py::dict& s) {
  Step1D p;
  p.lr = s["lr"].cast<double>();
  p.truncation = s["truncation"].cast<double>();
  const auto lo = to_vector(s["lo"]), hi = to_vector(s["hi"]);
  p.lo = lo.at(0);
  p.hi = hi.at(0);
  return p;
}

StepND step_nd_from_spec(const py::dict& s, std::size_t dim) {
  StepND p;
  p.dim = dim;
  p.lr = s["lr"].cast<double>();
  p.truncation = s["truncation"].cast<double>();
  p.clip = s["clip"].cast<std::string>() == "coordinate" ? Clip::Coordinate : Clip::Norm;
  p.isotropic = s["isotropic"].cast<bool>();
  p.lo = to_vector(s["lo"]);
  p.hi = to_vector(s["hi"]);
  return p;
}

// `state` holds the initial positions and receives the final ones (in place: no second n-sized array).
py::dict run(const py::dict& land_spec, const py::dict& noise_spec, const py::dict& step_spec,
             py::array_t<double> state, std::int64_t n_steps, std::uint64_t seed, std::uint32_t first_particle,
             std::int64_t record_every, const CArray<double>& basin_edges_arr, std::size_t n_basins,
             int n_threads, bool scalar_reference) {
  if (!(state.flags() & py::array::c_style) || !state.writeable())
    throw std::invalid_argument("state must be a writable C-contiguous float64 array");
  const auto dim = land_spec["dim"].cast<std::size_t>();
  const auto n = static_cast<std::size_t>(state.shape(0));
  const std::size_t d = dim == 0 ? 1 : dim;
  const std::vector<double> basin_edges(basin_edges_arr.data(), basin_edges_arr.data() + basin_edges_arr.size());
  const NoiseLaw law = noise_from_spec(noise_spec);
  const Key key = make_key(seed);

  const std::vector<py::ssize_t> shape = state_shape(n, dim);
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
  if (dim == 0) {
    const Step1D p = step_1d_from_spec(step_spec);
    dispatch(landscape_1d_from_spec(land_spec), law, [&](const auto& f, const auto& s, const StopFlag& stop) {
      run_1d(f, s, p, key, first_particle, x, n, n_steps, basin_edges, out, n_threads, stop);
    });
  } else {
    const StepND p = step_nd_from_spec(step_spec, d);
    dispatch(landscape_nd_from_spec(land_spec), law, [&](const auto& f, const auto& s, const StopFlag& stop) {
      run_nd(f, s, p, key, first_particle, x, n, n_steps, basin_edges, n_basins, out, n_threads, stop, scalar_reference);
    });
  }
  const auto bad = nonfinite.sorted();
  py::array_t<std::int64_t> bad_index(static_cast<py::ssize_t>(bad.size())), bad_step(static_cast<py::ssize_t>(bad.size()));
  for (std::size_t j = 0; j < bad.size(); ++j) {
    bad_index.mutable_data()[j] = static_cast<std::int64_t>(bad[j].first);
    bad_step.mutable_data()[j] = bad[j].second;
  }
  py::dict result;
  result["final"] = state;
  result["trajectory"] = trajectory;
  result["occupancy"] = occupancy;
  result["nonfinite_index"] = bad_index;
  result["nonfinite_at"] = bad_step;
  return result;
}

py::dict exit_times(const py::dict& land_spec, const py::dict& noise_spec, const py::dict& step_spec,
                    const CArray<double>& x0, const CArray<double>& domain_lo, const CArray<double>& domain_hi,
                    std::int64_t max_steps, std::uint64_t seed, std::uint32_t first_particle, int n_threads,
                    bool scalar_reference) {
  const auto dim = land_spec["dim"].cast<std::size_t>();
  const auto n = static_cast<std::size_t>(x0.shape(0));
  const std::size_t d = dim == 0 ? 1 : dim;
  const NoiseLaw law = noise_from_spec(noise_spec);
  const Key key = make_key(seed);
  const std::vector<py::ssize_t> shape = state_shape(n, dim);
  py::array_t<std::int64_t> steps(static_cast<py::ssize_t>(n));
  py::array_t<double> position(shape);
  py::array_t<bool> exited(static_cast<py::ssize_t>(n)), nonfinite(static_cast<py::ssize_t>(n));
  ExitOutputs out;
  out.steps = steps.mutable_data();
  out.position = position.mutable_data();
  out.exited = reinterpret_cast<std::uint8_t*>(exited.mutable_data());
  out.nonfinite = reinterpret_cast<std::uint8_t*>(nonfinite.mutable_data());
  const std::vector<double> lo(domain_lo.data(), domain_lo.data() + domain_lo.size());
  const std::vector<double> hi(domain_hi.data(), domain_hi.data() + domain_hi.size());
  const double* x = x0.data();
  if (dim == 0) {
    const Step1D p = step_1d_from_spec(step_spec);
    dispatch(landscape_1d_from_spec(land_spec), law, [&](const auto& f, const auto& s, const StopFlag& stop) {
      exit_times_1d(f, s, p, key, first_particle, x, n, lo.at(0), hi.at(0), max_steps, out, n_threads, stop);
    });
  } else {
    const StepND p = step_nd_from_spec(step_spec, d);
    dispatch(landscape_nd_from_spec(land_spec), law, [&](const auto& f, const auto& s, const StopFlag& stop) {
      exit_times_nd(f, s, p, key, first_particle, x, n, lo, hi, max_steps, out, n_threads, stop, scalar_reference);
    });
  }
  py::dict result;
  result["steps"] = steps;
  result["position"] = position;
  result["exited"] = exited;
  result["nonfinite"] = nonfinite;
  return result;
}

}  // namespace

void register_simulation(py::module_& m) {
  m.def("run", &run, py::arg("landscape"), py::arg("noise"), py::arg("step"), py::arg("state"), py::arg("n_steps"),
        py::arg("seed"), py::arg("first_particle"), py::arg("record_every"), py::arg("basin_edges"),
        py::arg("n_basins"), py::arg("n_threads"), py::arg("scalar_reference") = false,
        "scalar_reference: d-dimensional particles one at a time through step_nd (the reference of the SIMD lanes, "
        "for tests).");
  m.def("exit_times", &exit_times, py::arg("landscape"), py::arg("noise"), py::arg("step"), py::arg("x0"),
        py::arg("domain_lo"), py::arg("domain_hi"), py::arg("max_steps"), py::arg("seed"),
        py::arg("first_particle"), py::arg("n_threads"), py::arg("scalar_reference") = false);
}

}  // namespace htsgd::bindings
