// rare_exit(): exit probability within a horizon by big-jump importance sampling or crude Monte Carlo,
// for a range of sample ids, continuing a running tally (so batches equal one shot). Validation is done
// in htsgd.rare_event; here the problem is checked for what guards memory and dispatched to the kernel of
// the (landscape, noise law) pair.
#include <pybind11/stl.h>

#include <string>

#include "htsgd/rare_event.hpp"
#include "model.hpp"

namespace htsgd::bindings {

namespace {

// RareExitParams without the step, which the Model holds.
struct RareExitProblem {
  double x0 = 0.0, domain_lo = -kInf, domain_hi = kInf;
  std::int64_t horizon = 1;
  int l_star = 1;
  double gamma = 0.0, weight = 1.0;
  int side = 0;
  bool crude = true;
};

struct RareExitSamples {
  py::object y, flags, steps, position;
};

RareExitParams params_of(const Model& model, const RareExitProblem& q) {
  if (!model.is_1d()) throw std::invalid_argument("Invalid model: rare exits need a 1-D landscape");
  RareExitParams p;
  p.step = model.step.one_d();
  p.domain_lo = q.domain_lo;
  p.domain_hi = q.domain_hi;
  p.x0 = q.x0;
  p.horizon = q.horizon;
  p.l_star = q.l_star;
  p.gamma = q.gamma;
  p.weight = q.crude ? 1.0 : q.weight;
  p.side = q.side;
  p.crude = q.crude;
  if (!q.crude && model.law.kind != NoiseKind::Pareto)
    throw std::invalid_argument("Invalid noise: importance sampling needs Pareto noise");
  return p;
}

void check_table(int l_star, std::int64_t horizon) {
  if (l_star < 1 || horizon < l_star) throw std::invalid_argument("Invalid l_star or horizon: expected 1 <= l_star <= horizon");
}

void check_ids(std::uint64_t first_sample, std::uint64_t n_samples) {
  if (first_sample + n_samples > (std::uint64_t{1} << 32)) throw std::invalid_argument("sample ids must be < 2**32");
}

std::pair<RareExitTally, double> rare_exit(const Model& model, const RareExitProblem& problem, std::uint64_t seed,
                                           std::uint64_t first_sample, std::uint64_t n_samples, RareExitTally tally,
                                           int n_threads) {
  check_ids(first_sample, n_samples);
  const RareExitParams p = params_of(model, problem);
  const Key key = make_key(seed);
  double p_big = 1.0;
  dispatch(*model.one_d, model.law, [&](const auto& f, const auto& s, const StopFlag& stop) {
    p_big = rare_exit_run(f, s, model.law, p, key, first_sample, n_samples, tally, n_threads, stop);
  });
  return {tally, p_big};
}

// The same samples one by one (for tests): weight, flags (1 exited, 2 conditioned branch, 4 non-finite),
// the step each ended at (exit step, else horizon) and the position there.
RareExitSamples rare_exit_samples(const Model& model, const RareExitProblem& problem, std::uint64_t seed,
                                  std::uint64_t first_sample, std::uint64_t n_samples, int n_threads,
                                  bool scalar_reference) {
  check_ids(first_sample, n_samples);
  const RareExitParams p = params_of(model, problem);
  const Key key = make_key(seed);
  const auto n = static_cast<py::ssize_t>(n_samples);
  py::array_t<double> y(n), position(n);
  py::array_t<std::uint8_t> flags(n);
  py::array_t<std::int64_t> steps(n);
  const RareExitRecord record{y.mutable_data(), flags.mutable_data(), steps.mutable_data(), position.mutable_data()};
  RareExitTally tally;
  dispatch(*model.one_d, model.law, [&](const auto& f, const auto& s, const StopFlag& stop) {
    rare_exit_run(f, s, model.law, p, key, first_sample, n_samples, tally, n_threads, stop, &record, scalar_reference);
  });
  return RareExitSamples{y, flags, steps, position};
}

}  // namespace

void register_rare_event(py::module_& m, py::module_& testing) {
  py::class_<RareExitProblem>(m, "RareExitProblem", "Start, domain, horizon T, l*, gamma, weight w, side, crude.")
      .def(py::init([](double x0, double domain_lo, double domain_hi, std::int64_t horizon, int l_star, double gamma,
                       double weight, int side, bool crude) {
             if (!(domain_lo < x0 && x0 < domain_hi)) throw std::invalid_argument("Invalid x0: expected lo < x0 < hi");
             if (horizon < 1) throw std::invalid_argument("Invalid horizon: expected an integer >= 1");
             if (l_star < 1 || (!crude && l_star > horizon))
               throw std::invalid_argument("Invalid l_star: expected 1 <= l_star <= horizon");
             if (side < -1 || side > 1) throw std::invalid_argument("Invalid side: expected -1, 0 or 1");
             if (!crude && !(gamma > 0 && weight > 0 && weight < 1))
               throw std::invalid_argument("Invalid gamma or weight: expected gamma > 0 and 0 < weight < 1");
             return RareExitProblem{x0, domain_lo, domain_hi, horizon, l_star, gamma, weight, side, crude};
           }),
           py::arg("x0"), py::arg("domain_lo"), py::arg("domain_hi"), py::arg("horizon"), py::arg("l_star"),
           py::arg("gamma"), py::arg("weight"), py::arg("side"), py::arg("crude"))
      .def_readonly("horizon", &RareExitProblem::horizon);
  py::class_<RareExitTally>(m, "RareExitTally", "Running sums over samples in index order (compensated).")
      .def(py::init<>())
      .def_readonly("sum", &RareExitTally::sum)
      .def_readonly("sum_c", &RareExitTally::sum_c)
      .def_readonly("sum2", &RareExitTally::sum2)
      .def_readonly("sum2_c", &RareExitTally::sum2_c)
      .def_readonly("max_y", &RareExitTally::max_y)
      .def_readonly("n", &RareExitTally::n)
      .def_readonly("exits", &RareExitTally::exits)
      .def_readonly("branch", &RareExitTally::branch)
      .def_readonly("branch_exits", &RareExitTally::branch_exits)
      .def_readonly("nonfinite", &RareExitTally::nonfinite);
  py::class_<RareExitSamples>(testing, "RareExitSamples", "Per-sample y, flags, steps and position.")
      .def_readonly("y", &RareExitSamples::y)
      .def_readonly("flags", &RareExitSamples::flags)
      .def_readonly("steps", &RareExitSamples::steps)
      .def_readonly("position", &RareExitSamples::position);

  m.def("rare_exit", &rare_exit, py::arg("model"), py::arg("problem"), py::kw_only(), py::arg("seed"),
        py::arg("first_sample"), py::arg("n_samples"), py::arg("tally"), py::arg("n_threads") = 0,
        "Samples first_sample.. of the stopped-path estimator added to `tally` in sample order: (tally, P(B)).");
  testing.def("rare_exit_samples", &rare_exit_samples, py::arg("model"), py::arg("problem"), py::kw_only(),
              py::arg("seed"), py::arg("first_sample"), py::arg("n_samples"), py::arg("n_threads") = 0,
              py::arg("scalar_reference") = false,
              "Samples first_sample.. of rare_exit one by one: y, flags (1 exited, 2 conditioned branch, 4 "
              "non-finite), steps (exit step, else horizon) and position; scalar_reference: without the SIMD "
              "lanes (the scalar path, which defines the bits).");
  testing.def(
      "binomial_tail_table",
      [](double pe, int l_star, std::int64_t horizon) {
        check_table(l_star, horizon);
        const BinomialTail t(pe, l_star, horizon);
        py::array_t<double> out({static_cast<py::ssize_t>(l_star) + 1, static_cast<py::ssize_t>(horizon) + 1});
        std::copy(t.data().begin(), t.data().end(), out.mutable_data());
        return out;
      },
      py::arg("pe"), py::arg("l_star"), py::arg("horizon"), "P(Bin(n, pe) >= m) for m <= l_star, n <= horizon.");
  testing.def(
      "conditioned_count_cdf",
      [](double pe, int l_star, std::int64_t horizon) {
        check_table(l_star, horizon);
        return ConditionedCount(pe, l_star, horizon).cdf();
      },
      py::arg("pe"), py::arg("l_star"), py::arg("horizon"),
      "cdf of N ~ Bin(horizon, pe) | N >= l_star over l_star, l_star + 1, ...");
  testing.def(
      "pareto_conditioned",
      [](double alpha, double scale, double threshold, int side, const std::vector<double>& v, bool big) {
        const ParetoConditioned c(noise_law(NoiseKind::Pareto, alpha, scale), threshold, side);
        std::vector<double> out(v.size());
        for (std::size_t i = 0; i < v.size(); ++i) out[i] = big ? c.big(v[i]) : c.small(v[i]);
        return out;
      },
      py::arg("alpha"), py::arg("scale"), py::arg("threshold"), py::arg("side"), py::arg("uniforms"),
      py::arg("big"), "The conditioned Pareto samplers of the importance branch, fed given uniforms.");
}

}  // namespace htsgd::bindings
