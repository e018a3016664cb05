// The torch_metalgen._C Python module: LaunchPlan as a read-only Python object and each
// op's plan_<op> function (csrc/plan_bindings.cpp, generated). Importing the module also
// loads the TORCH_LIBRARY registrations in this shared object.
#include <torch/extension.h>

#include <cstddef>
#include <string>

#include "launch_plan.h"
#include "tuning.h"

namespace metalgen {
void register_plan_bindings(pybind11::module& m);
bool mps_kernels_available();
size_t metallib_size();
}  // namespace metalgen

namespace py = pybind11;
using metalgen::LaunchPlan;

namespace {

py::tuple triple(const std::array<uint64_t, 3>& value) {
  return py::make_tuple(value[0], value[1], value[2]);
}

std::string describe(const LaunchPlan& plan) {
  std::string text = "LaunchPlan(" + plan.kernel + ", grid=(";
  for (int i = 0; i < 3; ++i) text += std::to_string(plan.grid[i]) + (i < 2 ? ", " : ")");
  text += ", threadgroup=(";
  for (int i = 0; i < 3; ++i) text += std::to_string(plan.threadgroup[i]) + (i < 2 ? ", " : ")");
  text += plan.dispatch == metalgen::DispatchKind::Threads ? ", threads)" : ", threadgroups)";
  return text;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "torch-metalgen C++ core: op registrations and launch plans";

  py::class_<LaunchPlan>(m, "LaunchPlan",
                         "One Metal dispatch as data: what the MPS glue encodes and the "
                         "simulator runs.")
      .def_property_readonly("library", [](const LaunchPlan& p) { return p.library; })
      .def_property_readonly("kernel", [](const LaunchPlan& p) { return p.kernel; })
      .def_property_readonly("buffers",
                             [](const LaunchPlan& p) {
                               py::list out;
                               for (const auto& b : p.buffers)
                                 out.append(py::make_tuple(b.index, b.tensor, b.is_output));
                               return out;
                             })
      .def_property_readonly(
          "bytes",
          [](const LaunchPlan& p) {
            py::list out;
            for (const auto& b : p.bytes)
              out.append(py::make_tuple(
                  b.index, py::bytes(reinterpret_cast<const char*>(b.data.data()), b.data.size())));
            return out;
          })
      .def_property_readonly("threadgroup_memory",
                             [](const LaunchPlan& p) {
                               py::list out;
                               for (const auto& b : p.threadgroup_memory)
                                 out.append(py::make_tuple(b.index, b.length));
                               return out;
                             })
      .def_property_readonly("grid", [](const LaunchPlan& p) { return triple(p.grid); })
      .def_property_readonly("threadgroup",
                             [](const LaunchPlan& p) { return triple(p.threadgroup); })
      .def_property_readonly(
          "dispatch",
          [](const LaunchPlan& p) {
            return p.dispatch == metalgen::DispatchKind::Threads ? "threads" : "threadgroups";
          })
      .def_property_readonly("empty", &LaunchPlan::empty)
      .def("__repr__", &describe);

  m.def("mps_kernels_available", &metalgen::mps_kernels_available,
        "True when this build contains the Metal kernels and MPS glue (macOS builds).");
  m.def("metallib_size", &metalgen::metallib_size,
        "Bytes of the precompiled metallib embedded in this build: 0 off macOS, or when the "
        "build had no Metal toolchain and embedded only the kernel sources.");
  m.def(
      "set_launch_preference",
      [](const std::string& op, py::object dtype, int64_t bucket, const std::string& variant,
         int64_t max_threads) {
        metalgen::set_launch_preference(op, torch::python::detail::py_object_to_dtype(dtype),
                                        bucket, variant, max_threads);
      },
      py::arg("op"), py::arg("dtype"), py::arg("bucket"), py::arg("variant"),
      py::arg("max_threads") = 1024,
      "Prefer `variant` under `max_threads` for op's dtype and size bucket (a power of two) "
      "whenever it is correct there and fits (csrc/tuning.h).");
  m.def("clear_launch_preferences", &metalgen::clear_launch_preferences,
        "Forget every launch preference.");
  m.def("launch_preferences", &metalgen::list_launch_preferences,
        "(op, dtype, bucket, variant, max_threads) of every launch preference.");
  m.def("size_bucket", &metalgen::size_bucket,
        "The bucket of a size: the smallest power of two at or above it.");
  metalgen::register_plan_bindings(m);
}
