// rare_exit(): exit probability within a horizon by big-jump importance sampling or crude Monte Carlo,
// for a range of sample ids, continuing a running tally (so batches equal one shot). Validation is done
// in htsgd.rare_event; here only the dispatch to the kernel of the (landscape, noise law) pair.
#include <pybind11/stl.h>

#include "common.hpp"
#include "htsgd/rare_event.hpp"

namespace htsgd::bindings {

namespace {

RareExitTally tally_from(const py::dict& d) {
  RareExitTally t;
  if (d.empty()) return t;
  t.sum = d["sum"].cast<double>();
  t.sum_c = d["sum_c"].cast<double>();
  t.sum2 = d["sum2"].cast<double>();
  t.sum2_c = d["sum2_c"].cast<double>();
  t.max_y = d["max_y"].cast<double>();
  t.n = d["n"].cast<std::int64_t>();
  t.exits = d["exits"].cast<std::int64_t>();
  t.branch = d["branch"].cast<std::int64_t>();
  t.branch_exits = d["branch_exits"].cast<std::int64_t>();
  t.nonfinite = d["nonfinite"].cast<std::int64_t>();
  return t;
}

py::dict tally_to(const RareExitTally& t) {
  py::dict d;
  d["sum"] = t.sum;
  d["sum_c"] = t.sum_c;
  d["sum2"] = t.sum2;
  d["sum2_c"] = t.sum2_c;
  d["max_y"] = t.max_y;
  d["n"] = t.n;
  d["exits"] = t.exits;
  d["branch"] = t.branch;
  d["branch_exits"] = t.branch_exits;
  d["nonfinite"] = t.nonfinite;
  return d;
}

RareExitParams params_from(const py::dict& step_spec, double x0, double domain_lo, double domain_hi,
                           std::int64_t horizon, int l_star, double gamma, double weight, int side, bool crude) {
  RareExitParams p;
  p.step.lr = step_spec["lr"].cast<double>();
  p.step.truncation = step_spec["truncation"].cast<double>();
  p.step.lo = to_vector(step_spec["lo"]).at(0);
  p.step.hi = to_vector(step_spec["hi"]).at(0);
  p.domain_lo = domain_lo;
  p.domain_hi = domain_hi;
  p.x0 = x0;
  p.horizon = horizon;
  p.l_star = l_star;
  p.gamma = gamma;
  p.weight = crude ? 1.0 : weight;
  p.side = side;
  p.crude = crude;
  return p;
}

py::dict rare_exit(const py::dict& land_spec, const py::dict& noise_spec, const py::dict& step_spec, double x0,
                   double domain_lo, double domain_hi, std::int64_t horizon, int l_star, double gamma, double weight,
                   int side, bool crude, std::uint64_t seed, std::uint64_t first_sample, std::uint64_t n_samples,
                   const py::dict& tally_in, int n_threads) {
  if (first_sample + n_samples > (std::uint64_t{1} << 32))
    throw std::invalid_argument("sample ids must be < 2**32");
  const RareExitParams p = params_from(step_spec, x0, domain_lo, domain_hi, horizon, l_star, gamma, weight, side, crude);
  const NoiseLaw law = noise_from_spec(noise_spec);
  const Key key = make_key(seed);
  RareExitTally tally = tally_from(tally_in);
  double p_big = 1.0;
  dispatch(landscape_1d_from_spec(land_spec), law, [&](const auto& f, const auto& s, const StopFlag& stop) {
    p_big = rare_exit_run(f, s, law, p, key, first_sample, n_samples, tally, n_threads, stop);
  });
  py::dict out = tally_to(tally);
  out["p_big"] = p_big;
  return out;
}

// The same samples one by one (for tests): weight, flags (1 exited, 2 conditioned branch, 4 non-finite),
// the step each ended at (exit step, else horizon) and the position there.
py::dict rare_exit_samples(const py::dict& land_spec, const py::dict& noise_spec, const py::dict& step_spec,
                           double x0, double domain_lo, double domain_hi, std::int64_t horizon, int l_star,
                           double gamma, double weight, int side, bool crude, std::uint64_t seed,
                           std::uint64_t first_sample, std::uint64_t n_samples, int n_threads) {
  if (first_sample + n_samples > (std::uint64_t{1} << 32))
    throw std::invalid_argument("sample ids must be < 2**32");
  const RareExitParams p = params_from(step_spec, x0, domain_lo, domain_hi, horizon, l_star, gamma, weight, side, crude);
  const NoiseLaw law = noise_from_spec(noise_spec);
  const Key key = make_key(seed);
  const auto n = static_cast<py::ssize_t>(n_samples);
  py::array_t<double> y(n), position(n);
  py::array_t<std::uint8_t> flags(n);
  py::array_t<std::int64_t> steps(n);
  const RareExitRecord record{y.mutable_data(), flags.mutable_data(), steps.mutable_data(), position.mutable_data()};
  RareExitTally tally;
  dispatch(landscape_1d_from_spec(land_spec), law, [&](const auto& f, const auto& s, const StopFlag& stop) {
    rare_exit_run(f, s, law, p, key, first_sample, n_samples, tally, n_threads, stop, &record);
  });
  py::dict out;
  out["y"] = y;
  out["flags"] = flags;
  out["steps"] = steps;
  out["position"] = position;
  return out;
}

}  // namespace

void register_rare_event(py::module_& m) {
  m.def("rare_exit", &rare_exit, py::arg("landscape"), py::arg("noise"), py::arg("step"), py::arg("x0"),
        py::arg("domain_lo"), py::arg("domain_hi"), py::arg("horizon"), py::arg("l_star"), py::arg("gamma"),
        py::arg("weight"), py::arg("side"), py::arg("crude"), py::arg("seed"), py::arg("first_sample"),
        py::arg("n_samples"), py::arg("tally"), py::arg("n_threads"),
        "Exit probability within `horizon`: samples first_sample.. of the stopped-path estimator, added to "
        "`tally` (a dict returned by a previous call, or {}) in sample order.");
  m.def("rare_exit_samples", &rare_exit_samples, py::arg("landscape"), py::arg("noise"), py::arg("step"),
        py::arg("x0"), py::arg("domain_lo"), py::arg("domain_hi"), py::arg("horizon"), py::arg("l_star"),
        py::arg("gamma"), py::arg("weight"), py::arg("side"), py::arg("crude"), py::arg("seed"),
        py::arg("first_sample"), py::arg("n_samples"), py::arg("n_threads"),
        "Samples first_sample.. of rare_exit one by one (for tests): dict of arrays y, flags (1 exited, 2 "
        "conditioned branch, 4 non-finite), steps (exit step, else horizon) and position.");
  m.def(
      "binomial_tail_table",
      [](double pe, int l_star, std::int64_t horizon) {
        const BinomialTail t(pe, l_star, horizon);
        py::array_t<double> out({static_cast<py::ssize_t>(l_star) + 1, static_cast<py::ssize_t>(horizon) + 1});
        std::copy(t.data().begin(), t.data().end(), out.mutable_data());
        return out;
      },
      py::arg("pe"), py::arg("l_star"), py::arg("horizon"), "P(Bin(n, pe) >= m) for m <= l_star, n <= horizon.");
  m.def(
      "conditioned_count_cdf",
      [](double pe, int l_star, std::int64_t horizon) { return ConditionedCount(pe, l_star, horizon).cdf(); },
      py::arg("pe"), py::arg("l_star"), py::arg("horizon"),
      "cdf of N ~ Bin(horizon, pe) | N >= l_star over l_star, l_star + 1, ...");
  m.def(
      "pareto_conditioned",
      [](double alpha, double scale, double threshold, int side, const std::vector<double>& v, bool big) {
        const ParetoConditioned c(NoiseLaw{NoiseKind::Pareto, alpha, scale}, threshold, side);
        std::vector<double> out(v.size());
        for (std::size_t i = 0; i < v.size(); ++i) out[i] = big ? c.big(v[i]) : c.small(v[i]);
        return out;
      },
      py::arg("alpha"), py::arg("scale"), py::arg("threshold"), py::arg("side"), py::arg("uniforms"),
      py::arg("big"), "The conditioned Pareto samplers of the importance branch, fed given uniforms (for tests).");
}

}  // namespace htsgd::bindings
