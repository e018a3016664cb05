// LaunchPlan: everything one Metal dispatch needs, as plain C++ data.
//
// Each op's generated plan function (csrc/ops/<op>.cpp) builds one from validated,
// contiguous tensors. The MPS glue (csrc/mps/dispatch.mm) encodes it on PyTorch's stream;
// the simulator (torch_metalgen.sim) executes the very same plan on CPU tensors. Keeping
// this the only description of a launch is what lets Linux CI check what a Mac would run.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace metalgen {

// Apple GPU limits (developer.apple.com/metal/limits), checked when a plan is built.
constexpr uint64_t kSimdSize = 32;
constexpr uint64_t kMaxThreadsPerThreadgroup = 1024;
constexpr uint64_t kMaxThreadgroupMemoryBytes = 32 * 1024;
// setBytes:length:atIndex: is for data under 4 KiB (Apple's documentation of the call).
constexpr uint64_t kMaxSetBytesLength = 4096;
// Kernels index with 32-bit `uint` (thread_position_in_grid, group * size + lane): a grid
// dimension may hold at most this many threads, so that index math cannot wrap.
constexpr uint64_t kMaxGridThreadsPerDimension = UINT32_MAX;

// [[buffer(index)]]: a tensor bound at its storage offset (MPS: setBuffer:offset:).
struct BufferBinding {
  uint32_t index;
  at::Tensor tensor;
  bool is_output;

  int64_t byte_offset() const { return tensor.storage_offset() * tensor.element_size(); }
};

// [[buffer(index)]] filled with setBytes: a params struct copied at encode time.
struct BytesBinding {
  uint32_t index;
  std::vector<uint8_t> data;
};

// [[threadgroup(index)]] argument of `length` bytes (setThreadgroupMemoryLength:atIndex:).
struct ThreadgroupMemoryBinding {
  uint32_t index;
  uint32_t length;
};

// Threadgroups: grid counts threadgroups (dispatchThreadgroups:threadsPerThreadgroup:).
// Threads: grid counts threads (dispatchThreads:threadsPerThreadgroup:), edges partial.
enum class DispatchKind { Threadgroups, Threads };

struct LaunchPlan {
  std::string library;  // metal/<library>.metal
  std::string kernel;   // [[host_name]] of the kernel function
  std::vector<BufferBinding> buffers;
  std::vector<BytesBinding> bytes;
  std::vector<ThreadgroupMemoryBinding> threadgroup_memory;
  std::array<uint64_t, 3> grid{0, 0, 0};
  std::array<uint64_t, 3> threadgroup{1, 1, 1};
  DispatchKind dispatch = DispatchKind::Threadgroups;

  // Nothing to launch (an empty tensor): the glue and the simulator skip the dispatch.
  bool empty() const { return grid[0] == 0 || grid[1] == 0 || grid[2] == 0; }

  uint64_t threads_per_threadgroup() const {
    return threadgroup[0] * threadgroup[1] * threadgroup[2];
  }

  // Throws if the plan breaks an Apple GPU limit or `max_threads` (the pipeline's limit on
  // threads per threadgroup): RuntimeError for a bug in the op's plan; ValueError when the
  // input is too large for 32-bit grid indexing.
  void check_limits(uint64_t max_threads = kMaxThreadsPerThreadgroup) const;
};

// Copies a params struct into a setBytes binding.
template <typename Params>
BytesBinding bytes_binding(uint32_t index, const Params& params) {
  BytesBinding binding{index, std::vector<uint8_t>(sizeof(Params))};
  std::memcpy(binding.data.data(), &params, sizeof(Params));
  return binding;
}

}  // namespace metalgen
