// Kernels of htsgd.torch's optimizer that are not noise: the fused pass of the multiplicative mode.
#include <stdexcept>
#include <vector>

#include "common.hpp"
#include "htsgd/multiplicative_pass.hpp"

namespace htsgd::bindings {

namespace {
// A C-contiguous float32 array of n elements (writable if asked), else std::invalid_argument naming it.
py::array float32_operand(const py::handle& obj, const char* name, py::ssize_t n, bool writable) {
  auto a = py::cast<py::array>(obj);
  if (!(a.flags() & py::array::c_style) || !a.dtype().is(py::dtype::of<float>()) || a.size() != n ||
      (writable && !a.writeable()))
    throw std::invalid_argument(std::string(name) + " must be a " + (writable ? "writable " : "") +
                                "C-contiguous float32 array the size of grad");
  return a;
}
}  // namespace

void register_optimizer(py::module_& m) {
  m.def(
      "multiplicative_pass_f32",
      [](const py::array& grad, const py::array& ref, const py::object& buf, const py::object& out, float z,
         float momentum, float weight, bool update_ref, bool fused, int n_threads) {
        const py::ssize_t n = grad.size();
        std::vector<py::array> keep{float32_operand(grad, "grad", n, false),
                                    float32_operand(ref, "ref", n, update_ref)};
        MultiplicativePass p{static_cast<const float*>(keep[0].data()), const_cast<float*>(static_cast<const float*>(keep[1].data())),
                             nullptr, nullptr, static_cast<std::size_t>(n), z, momentum, weight, update_ref, fused};
        if (!buf.is_none()) {
          keep.push_back(float32_operand(buf, "buf", n, true));
          p.buf = static_cast<float*>(keep.back().mutable_data());
        } else if (!out.is_none()) {
          keep.push_back(float32_operand(out, "out", n, true));
          p.out = static_cast<float*>(keep.back().mutable_data());
        } else {
          throw std::invalid_argument("one of buf and out must be given");
        }
        py::gil_scoped_release release;  // elementwise, about a millisecond per 5M elements: not interruptible
        multiplicative_pass(p, n_threads);
      },
      py::arg("grad"), py::arg("ref"), py::arg("buf"), py::arg("out"), py::arg("z"), py::arg("momentum"),
      py::arg("weight"), py::arg("update_ref"), py::arg("fused"), py::arg("n_threads") = 0,
      "One pass over float32 arrays: n = lerp(ref, grad, z); buf = buf * momentum + n (or out = n when buf is "
      "None); then ref = lerp(ref, grad, weight) if update_ref. torch's rounding: `fused` as its AVX2/AVX-512 "
      "kernels, else as its DEFAULT kernels (htsgd/torch/_single_tensor.py).");
}

}  // namespace htsgd::bindings
