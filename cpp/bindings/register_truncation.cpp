#include <algorithm>
#include <stdexcept>

#include "common.hpp"
#include "htsgd/truncation.hpp"

namespace htsgd::bindings {

void register_truncation(py::module_& m) {
  m.def(
      "truncate",
      [](const CArray<double>& rows, double b, bool per_coordinate) {
        if (rows.ndim() != 2) throw std::invalid_argument("Invalid rows: expected an (n, d) array");
        py::array_t<double> out({rows.shape(0), rows.shape(1)});
        std::copy(rows.data(), rows.data() + rows.size(), out.mutable_data());
        const auto d = static_cast<std::size_t>(rows.shape(1));
        for (py::ssize_t i = 0; i < rows.shape(0); ++i) {
          double* w = out.mutable_data() + i * rows.shape(1);
          if (per_coordinate) truncate_coordinates(w, d, b); else truncate_norm(w, d, b);
        }
        return out;
      },
      py::arg("rows"), py::arg("b"), py::arg("per_coordinate"), "phi_b applied to each row of an (n, d) array.");
}

}  // namespace htsgd::bindings
