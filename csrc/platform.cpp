// Builds without the MPS glue (everything but macOS) say so to Python; there the ops run
// their references, or their Metal kernels through the simulator (torch_metalgen.sim).
// macOS builds define both functions in csrc/mps/dispatch.mm.
#include <cstddef>

namespace metalgen {
#ifndef METALGEN_WITH_MPS
bool mps_kernels_available() { return false; }
size_t metallib_size() { return 0; }
#endif
}  // namespace metalgen
