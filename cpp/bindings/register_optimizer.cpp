// Kernels of htsgd.torch's optimizer that are not noise: the fused first half of a step (direction_pass.hpp).
#include <stdexcept>
#include <string>
#include <vector>

#include "common.hpp"
#include "htsgd/direction_pass.hpp"

namespace htsgd::bindings {

namespace {
// The data of a C-contiguous float32 array of n elements (writable if asked), else std::invalid_argument
// naming it; null for None where allowed. The array is kept referenced in `keep`.
float* float32_operand(const py::object& obj, const char* name, py::ssize_t n, bool writable,
                       std::vector<py::array>& keep, bool optional = true) {
  if (obj.is_none()) {
    if (optional) return nullptr;
    throw std::invalid_argument(std::string(name) + " must be given");
  }
  auto a = py::cast<py::array>(obj);
  if (!(a.flags() & py::array::c_style) || !a.dtype().is(py::dtype::of<float>()) || a.size() != n ||
      (writable && !a.writeable()))
    throw std::invalid_argument(std::string(name) + " must be a " + (writable ? "writable " : "") +
                                "C-contiguous float32 array the size of grad");
  keep.push_back(a);
  return const_cast<float*>(static_cast<const float*>(a.data()));
}
}  // namespace

void register_optimizer(py::module_& m) {
  m.def(
      "direction_pass_f32",
      [](const py::array& grad, const py::object& ref, const py::object& noisy, const py::object& param,
         const py::object& buf, const py::object& out, float z, float weight, bool update_ref, bool decay,
         float weight_decay, bool maximize, float momentum, float alpha, bool nesterov, bool fused, int n_threads) {
        std::vector<py::array> keep;  // the arrays stay referenced while the GIL is released
        const py::ssize_t n = grad.size();
        DirectionPass p;
        p.n = static_cast<std::size_t>(n);
        p.grad = float32_operand(grad, "grad", n, false, keep, false);
        p.ref = float32_operand(ref, "ref", n, update_ref, keep);
        p.noisy = float32_operand(noisy, "noisy", n, false, keep);
        if ((p.ref == nullptr) == (p.noisy == nullptr)) throw std::invalid_argument("give one of ref and noisy");
        if (update_ref && !p.ref) throw std::invalid_argument("update_ref needs ref");
        p.param = float32_operand(param, "param", n, false, keep, !decay);
        p.buf = float32_operand(buf, "buf", n, true, keep);
        p.out = float32_operand(out, "out", n, true, keep, p.buf != nullptr && !nesterov);
        if (update_ref && p.out == p.ref) throw std::invalid_argument("out cannot be ref when ref is updated");
        p.z = z, p.weight = weight, p.update_ref = update_ref, p.decay = decay, p.weight_decay = weight_decay;
        p.maximize = maximize, p.momentum = momentum, p.alpha = alpha, p.nesterov = nesterov && p.buf, p.fused = fused;
        py::gil_scoped_release release;  // elementwise, about a millisecond per 5M elements: not interruptible
        direction_pass(p, n_threads);
      },
      py::arg("grad"), py::kw_only(), py::arg("ref") = py::none(), py::arg("noisy") = py::none(),
      py::arg("param") = py::none(), py::arg("buf") = py::none(), py::arg("out") = py::none(), py::arg("z") = 0.0f,
      py::arg("weight") = 0.0f, py::arg("update_ref") = false, py::arg("decay") = false,
      py::arg("weight_decay") = 0.0f, py::arg("maximize") = false, py::arg("momentum") = 0.0f,
      py::arg("alpha") = 1.0f, py::arg("nesterov") = false, py::arg("fused") = true, py::arg("n_threads") = 0,
      "One pass over float32 arrays: the noisy gradient n = lerp(ref, grad, z) (or `noisy`), torch.optim.SGD's "
      "direction from it (maximize, weight decay with param, momentum buffer `buf`: buf * momentum + alpha n, "
      "Nesterov into `out`; without momentum the direction n goes to `out`), then ref = lerp(ref, grad, weight) "
      "if update_ref. torch's rounding: `fused` as its AVX2/AVX-512 kernels, else as its DEFAULT kernels "
      "(htsgd/torch/_single_tensor.py).");
}

}  // namespace htsgd::bindings
