#include <pybind11/stl.h>

#include "htsgd/law_lanes_f32.hpp"
#include "htsgd/sampling.hpp"
#include "model.hpp"

namespace htsgd::bindings {

// Up to this many variates a call runs on the calling thread: starting the worker and an OpenMP team costs
// more than a second core saves (a torch optimizer fills one call per parameter tensor).
constexpr std::size_t kInlineFill = std::size_t{1} << 18;

// Runs fill(threads) for `total` variates: small jobs inline on one core, larger ones on a worker thread
// with n_threads and Ctrl-C watched (run_interruptible).
template <class Fill>
void run_fill(std::size_t total, int n_threads, Fill&& fill) {
  if (total <= kInlineFill) {  // about a millisecond: on this thread, one core (no worker, no OpenMP team)
    py::gil_scoped_release release;
    fill(1);
    return;
  }
  run_interruptible([&](const StopFlag&) { fill(n_threads); });
}

template <class T>
void fill_into(py::array_t<T>& out, const NoiseLaw& law, std::uint64_t seed, std::uint64_t counter, int n_threads) {
  if (!(out.flags() & py::array::c_style) || !out.writeable())
    throw std::invalid_argument("out must be a writable C-contiguous array");
  T* data = out.mutable_data();
  const auto n = static_cast<std::size_t>(out.size());
  run_fill(n, n_threads, [&](int threads) { fill_noise(law, seed, counter, data, n, threads); });
}

// The scalar math kernels of vecmath.hpp, elementwise (their SIMD versions give the same bits: tested
// through fill_noise against fill_noise_reference). For the accuracy tests.
py::array_t<double> eval_kernel(const std::string& name, const CArray<double>& x) {
  py::array_t<double> out(x.size());
  const double* in = x.data();
  double* o = out.mutable_data();
  const auto n = static_cast<std::size_t>(x.size());
  double s, c;
  if (name == "log") for (std::size_t i = 0; i < n; ++i) o[i] = log_kernel(in[i]);
  else if (name == "expm1") for (std::size_t i = 0; i < n; ++i) o[i] = expm1_kernel(in[i]);
  else if (name == "log2") for (std::size_t i = 0; i < n; ++i) o[i] = log2_kernel(in[i]);
  else if (name == "exp2m1") for (std::size_t i = 0; i < n; ++i) o[i] = exp2m1_kernel(in[i]);
  else if (name == "exp") for (std::size_t i = 0; i < n; ++i) o[i] = exp_kernel(in[i]);
  else if (name == "sinpi") for (std::size_t i = 0; i < n; ++i) sincospi_kernel(in[i], o[i], c);
  else if (name == "cospi") for (std::size_t i = 0; i < n; ++i) sincospi_kernel(in[i], s, o[i]);
  else throw std::invalid_argument("unknown kernel: " + name);
  return out;
}

// fill_noise for many arrays (float32 or float64, each C-contiguous and writable) in one call.
void fill_many(const py::list& outs, const std::string& law_name, double alpha, double scale,
               const std::vector<std::uint64_t>& seeds, const std::vector<std::uint64_t>& counters, int n_threads) {
  if (seeds.size() != outs.size() || counters.size() != outs.size())
    throw std::invalid_argument("outs, seeds and counters must have the same length");
  const NoiseLaw law = noise_law_from_name(law_name, alpha, scale);
  std::vector<FillTarget<float>> f32;
  std::vector<FillTarget<double>> f64;
  std::vector<py::array> keep;  // the arrays stay referenced while the GIL is released
  std::size_t total = 0;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    auto a = py::cast<py::array>(outs[i]);
    if (!(a.flags() & py::array::c_style) || !a.writeable())
      throw std::invalid_argument("every out must be a writable C-contiguous array");
    const auto n = static_cast<std::size_t>(a.size());
    if (a.dtype().is(py::dtype::of<double>()))
      f64.push_back({static_cast<double*>(a.mutable_data()), n, seeds[i], counters[i]});
    else if (a.dtype().is(py::dtype::of<float>()))
      f32.push_back({static_cast<float*>(a.mutable_data()), n, seeds[i], counters[i]});
    else
      throw py::type_error("every out must be a float32 or float64 numpy array");
    keep.push_back(a);
    total += n;
  }
  run_fill(total, n_threads, [&](int threads) {
    if (!f32.empty()) fill_noise_many(law, f32, threads);
    if (!f64.empty()) fill_noise_many(law, f64, threads);
  });
}

// The float32 path (law_lanes_f32.hpp) for many float32 arrays: outs[i] = variates of (seeds[i], counters[i])
// (+ addends[i] where it is not None; an addend is read before the noise is written, so it may be outs[i]);
// where momenta[i] is not None, outs[i] = outs[i] * momenta[i] + that instead (outs[i] a momentum buffer).
void fill_many_f32(const py::list& outs, const std::string& law_name, double alpha, double scale,
                   const std::vector<std::uint64_t>& seeds, const std::vector<std::uint64_t>& counters, int n_threads,
                   const py::object& addends, const py::object& momenta, const py::object& params, bool decay,
                   float weight_decay, bool maximize, float dampening_alpha, bool fused) {
  if (seeds.size() != outs.size() || counters.size() != outs.size())
    throw std::invalid_argument("outs, seeds and counters must have the same length");
  py::list adds, moms;
  if (!addends.is_none()) {
    adds = py::cast<py::list>(addends);
    if (adds.size() != outs.size()) throw std::invalid_argument("addends must have one entry (or None) per out");
  }
  if (!momenta.is_none()) {
    moms = py::cast<py::list>(momenta);
    if (moms.size() != outs.size()) throw std::invalid_argument("momenta must have one entry (or None) per out");
  }
  // SGD's whole update of the buffers (not just out * momentum + noisy) where an option asks for it
  const bool general = decay || maximize || dampening_alpha != 1.0f;
  py::list prms;
  if (decay) {
    if (params.is_none()) throw std::invalid_argument("weight decay needs params");
    prms = py::cast<py::list>(params);
    if (prms.size() != outs.size()) throw std::invalid_argument("params must have one entry (or None) per out");
  }
  DirectionPass sgd;
  sgd.decay = decay, sgd.weight_decay = weight_decay, sgd.maximize = maximize, sgd.alpha = dampening_alpha;
  sgd.fused = fused;
  const NoiseLaw law = noise_law_from_name(law_name, alpha, scale);
  std::vector<f32::FillTargetF32> targets;
  std::vector<py::array> keep;  // the arrays stay referenced while the GIL is released
  std::size_t total = 0;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    auto a = py::cast<py::array>(outs[i]);
    if (!(a.flags() & py::array::c_style) || !a.writeable() || !a.dtype().is(py::dtype::of<float>()))
      throw std::invalid_argument("every out must be a writable C-contiguous float32 array");
    const auto n = static_cast<std::size_t>(a.size());
    const float* add = nullptr;
    if (!addends.is_none() && !adds[i].is_none()) {
      auto b = py::cast<py::array>(adds[i]);
      if (!(b.flags() & py::array::c_style) || !b.dtype().is(py::dtype::of<float>()) ||
          static_cast<std::size_t>(b.size()) != n)
        throw std::invalid_argument("every addend must be a C-contiguous float32 array the size of its out");
      add = static_cast<const float*>(b.data());
      keep.push_back(b);
    }
    targets.push_back({static_cast<float*>(a.mutable_data()), add, n, seeds[i], counters[i]});
    if (!momenta.is_none() && !moms[i].is_none()) {
      if (add == targets.back().out) throw std::invalid_argument("an accumulating out cannot be its own addend");
      targets.back().accumulate = true;
      targets.back().momentum = py::cast<float>(moms[i]);
      if (general) {
        if (sgd.momentum != 0.0f && sgd.momentum != targets.back().momentum)
          throw std::invalid_argument("with SGD options every momentum must be the same");
        sgd.momentum = targets.back().momentum;
        targets.back().sgd = &sgd;
        if (decay) {
          auto p = py::cast<py::array>(prms[i]);
          if (!(p.flags() & py::array::c_style) || !p.dtype().is(py::dtype::of<float>()) ||
              static_cast<std::size_t>(p.size()) != n)
            throw std::invalid_argument("every param must be a C-contiguous float32 array the size of its out");
          targets.back().param = static_cast<const float*>(p.data());
          keep.push_back(p);
        }
      }
    }
    keep.push_back(a);
    total += n;
  }
  // On the calling thread, whatever the size: its OpenMP team is the one torch's ops just used (the same
  // libgomp), so the fill reuses those threads; a worker thread's own team would compete with torch's
  // still-spinning threads for the cores (measured: +2.5 ms on a 5M-variate fill, 2 cores). Not
  // interruptible, which a fill does not need (5M variates take about 5 ms).
  (void)total;
  py::gil_scoped_release release;
  f32::fill_noise_f32_many(law, targets, n_threads);
}

// The float32 kernels of vecmath_f32.hpp elementwise, for the accuracy tests.
py::array_t<float> eval_kernel_f32(const std::string& name, const CArray<float>& x) {
  py::array_t<float> out(x.size());
  const float* in = x.data();
  float* o = out.mutable_data();
  const auto n = static_cast<std::size_t>(x.size());
  float s, c;
  if (name == "log") for (std::size_t i = 0; i < n; ++i) o[i] = f32::log_f32(in[i]);
  else if (name == "expm1") for (std::size_t i = 0; i < n; ++i) o[i] = f32::expm1_f32(in[i]);
  else if (name == "sinpi") for (std::size_t i = 0; i < n; ++i) f32::sincospi_f32(in[i], o[i], c);
  else if (name == "cospi") for (std::size_t i = 0; i < n; ++i) f32::sincospi_f32(in[i], s, o[i]);
  else throw std::invalid_argument("unknown kernel: " + name);
  return out;
}

// fill_noise into a float32 or float64 numpy array.
void fill_array(py::array out, const NoiseLaw& noise, std::uint64_t seed, std::uint64_t counter, int n_threads) {
  if (py::isinstance<py::array_t<double>>(out) && out.dtype().is(py::dtype::of<double>())) {
    auto a = py::reinterpret_borrow<py::array_t<double>>(out);
    fill_into(a, noise, seed, counter, n_threads);
  } else if (out.dtype().is(py::dtype::of<float>())) {
    auto a = py::reinterpret_borrow<py::array_t<float>>(out);
    fill_into(a, noise, seed, counter, n_threads);
  } else {
    throw py::type_error("out must be a float32 or float64 numpy array");
  }
}

void register_noise(py::module_& m, py::module_& testing) {
  py::enum_<NoiseKind>(m, "NoiseKind", "The noise laws of the core.")
      .value("pareto", NoiseKind::Pareto)
      .value("stable", NoiseKind::Stable)
      .value("student_t", NoiseKind::StudentT)
      .value("gaussian", NoiseKind::Gaussian);
  py::class_<NoiseLaw>(m, "NoiseLaw", "A noise law of the core: kind, alpha (df for student_t), scale; checked.")
      .def(py::init(&noise_law), py::arg("kind"), py::arg("alpha"), py::arg("scale"))
      .def_static("from_name", &noise_law_from_name, py::arg("name"), py::arg("alpha"), py::arg("scale"))
      .def_property_readonly("kind", [](const NoiseLaw& l) { return l.kind; })
      .def_property_readonly("alpha", [](const NoiseLaw& l) { return l.alpha; })
      .def_property_readonly("scale", [](const NoiseLaw& l) { return l.scale; })
      .def(
          "fill",
          [](const NoiseLaw& law, py::array out, std::uint64_t seed, std::uint64_t counter, int n_threads) {
            fill_array(std::move(out), law, seed, counter, n_threads);
          },
          py::arg("out"), py::arg("seed"), py::arg("counter"), py::arg("n_threads") = 0,
           "Fill `out` (float32 or float64, C-contiguous, writable) in place with i.i.d. variates; variate i "
           "depends only on (seed, counter, i).");
  m.def(
      "fill_noise",
      [](py::array out, const std::string& law, double alpha, double scale, std::uint64_t seed,
         std::uint64_t counter, int n_threads) {
        fill_array(out, noise_law_from_name(law, alpha, scale), seed, counter, n_threads);
      },
      py::arg("out"), py::arg("law"), py::arg("alpha"), py::arg("scale"), py::arg("seed"), py::arg("counter"),
      py::arg("n_threads") = 0,
      "NoiseLaw.from_name(law, alpha, scale).fill(out, seed, counter, n_threads), for callers holding names.");
  m.def("fill_noise_many", &fill_many, py::arg("outs"), py::arg("law"), py::arg("alpha"), py::arg("scale"),
        py::arg("seeds"), py::arg("counters"), py::arg("n_threads") = 0,
        "fill_noise(outs[i], law, alpha, scale, seeds[i], counters[i]) for every i, in one call (the same bits).");

  m.def("fill_noise_f32", &fill_many_f32, py::arg("outs"), py::arg("law"), py::arg("alpha"), py::arg("scale"),
        py::arg("seeds"), py::arg("counters"), py::arg("n_threads") = 0, py::arg("addends") = py::none(),
        py::arg("momenta") = py::none(), py::kw_only(), py::arg("params") = py::none(), py::arg("decay") = false,
        py::arg("weight_decay") = 0.0f, py::arg("maximize") = false, py::arg("one_minus_dampening") = 1.0f,
        py::arg("fused") = true,
        "The float32 path: outs[i] (float32) = float32 variates of (seeds[i], counters[i]) plus addends[i] (a "
        "float32 array or None), for every i in one call; pareto and gaussian are computed in float32, "
        "student_t and stable are float64 variates rounded. Where momenta[i] is a number, outs[i] = "
        "outs[i] * momenta[i] + (variates + addends[i]) instead, rounded as torch's mul_ then add_; with "
        "decay (params[i], weight_decay), maximize or one_minus_dampening != 1, torch.optim.SGD's whole update "
        "of outs[i] from that noisy gradient (direction_pass_f32's rounding, `fused`).");
  testing.def("eval_kernel_f32", &eval_kernel_f32, py::arg("name"), py::arg("x"),
              "A float32 kernel of the float32 noise path (log, expm1, sinpi, cospi) elementwise on a 1-D array.");
  testing.def(
      "uniform_f32", [](const CArray<std::uint32_t>& w) {
        py::array_t<float> out(w.size());
        for (py::ssize_t i = 0; i < w.size(); ++i) out.mutable_data()[i] = f32::uniform_f32(w.data()[i]);
        return out;
      },
      py::arg("words"), "The float32 path's uniform U of each 32-bit word.");
  testing.def(
      "pareto_f32_words", [](const CArray<std::uint32_t>& w, double alpha, double scale) {
        const f32::LawF32 law = f32::law_f32(noise_law_from_name("pareto", alpha, scale));
        py::array_t<float> out(w.size());
        for (py::ssize_t i = 0; i < w.size(); ++i) out.mutable_data()[i] = f32::pareto_f32(law, w.data()[i]);
        return out;
      },
      py::arg("words"), py::arg("alpha"), py::arg("scale"), "The float32 Pareto variate of each 32-bit word.");
  testing.def(
      "fill_noise_f32_reference",
      [](py::array_t<float> out, const std::string& law, double alpha, double scale, std::uint64_t seed,
         std::uint64_t counter) {
        if (!(out.flags() & py::array::c_style) || !out.writeable())
          throw std::invalid_argument("out must be a writable C-contiguous float32 array");
        const NoiseLaw noise = noise_law_from_name(law, alpha, scale);
        if (!f32::has_f32_kernel(noise)) throw std::invalid_argument("no float32 kernel for law " + law);
        float* data = out.mutable_data();
        const auto n = static_cast<std::size_t>(out.size());
        run_interruptible([&](const StopFlag&) { f32::fill_noise_f32_reference(noise, seed, counter, data, n); });
      },
      py::arg("out").noconvert(), py::arg("law"), py::arg("alpha"), py::arg("scale"), py::arg("seed"),
      py::arg("counter"), "fill_noise_f32's variates one at a time through the scalar kernels (pareto, gaussian).");
  testing.def("eval_kernel", &eval_kernel, py::arg("name"), py::arg("x"),
              "A math kernel of the engine (log, expm1, exp, log2, exp2m1, sinpi, cospi) elementwise on a 1-D array.");
  testing.def(
      "philox4x32",
      [](std::array<std::uint32_t, 4> counter, std::array<std::uint32_t, 2> key) { return philox4x32(counter, key); },
      py::arg("counter"), py::arg("key"), "One Philox4x32-10 block (for known-answer tests).");
  testing.def(
      "fill_noise_reference",
      [](py::array_t<double> out, const NoiseLaw& noise, std::uint64_t seed, std::uint64_t counter) {
        if (!(out.flags() & py::array::c_style) || !out.writeable())
          throw std::invalid_argument("out must be a writable C-contiguous float64 array");
        double* data = out.mutable_data();
        const auto n = static_cast<std::size_t>(out.size());
        run_interruptible([&](const StopFlag&) { fill_noise_reference(noise, seed, counter, data, n); });
      },
      py::arg("out").noconvert(), py::arg("law"), py::arg("seed"), py::arg("counter"),
      "NoiseLaw.fill through the scalar samplers, one variate at a time: the reference of the SIMD lanes.");
}

}  // namespace htsgd::bindings
