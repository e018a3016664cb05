#include "launch_plan.h"

#include <c10/util/Exception.h>

#include <algorithm>

namespace metalgen {

void LaunchPlan::check_limits(uint64_t max_threads) const {
  const uint64_t threads = threads_per_threadgroup();
  const uint64_t allowed = std::min(max_threads, kMaxThreadsPerThreadgroup);
  TORCH_CHECK(threads >= 1 && threads <= allowed, "metalgen: kernel ", kernel, " planned ", threads,
              " threads per threadgroup; the pipeline allows 1 to ", allowed);
  uint64_t memory = 0;
  for (const auto& binding : threadgroup_memory) {
    TORCH_CHECK(binding.length % 16 == 0, "metalgen: kernel ", kernel,
                " threadgroup memory length must be a multiple of 16 bytes, got ", binding.length);
    memory += binding.length;
  }
  TORCH_CHECK(memory <= kMaxThreadgroupMemoryBytes, "metalgen: kernel ", kernel, " planned ",
              memory, " bytes of threadgroup memory; the limit is ", kMaxThreadgroupMemoryBytes);
  for (const auto& binding : bytes) {
    TORCH_CHECK(binding.data.size() < kMaxSetBytesLength, "metalgen: kernel ", kernel, " passes ",
                binding.data.size(), " bytes with setBytes at index ", binding.index,
                "; setBytes is for data under ", kMaxSetBytesLength, " bytes (use a buffer)");
  }
  for (int dim = 0; dim < 3; ++dim) {
    // Threadgroups: the grid counts threadgroups, so a dimension spans grid * threadgroup
    // threads. Checked with a division so the product itself cannot overflow.
    const uint64_t per_group = dispatch == DispatchKind::Threadgroups ? threadgroup[dim] : 1;
    TORCH_CHECK_VALUE(per_group == 0 || grid[dim] <= kMaxGridThreadsPerDimension / per_group,
                      "metalgen: input too large for kernel ", kernel, ": its grid would span ",
                      grid[dim], " x ", per_group, " threads along dimension ", dim,
                      "; 32-bit index math in the kernel allows at most ",
                      kMaxGridThreadsPerDimension);
  }
}

}  // namespace metalgen
