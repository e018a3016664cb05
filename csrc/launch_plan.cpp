#include "launch_plan.h"

#include <c10/util/Exception.h>

namespace metalgen {

void LaunchPlan::check_limits() const {
  const uint64_t threads = threadgroup[0] * threadgroup[1] * threadgroup[2];
  TORCH_CHECK(threads >= 1 && threads <= kMaxThreadsPerThreadgroup, "metalgen: kernel ", kernel,
              " planned ", threads, " threads per threadgroup; Apple GPUs allow 1 to ",
              kMaxThreadsPerThreadgroup);
  uint64_t memory = 0;
  for (const auto& binding : threadgroup_memory) {
    TORCH_CHECK(binding.length % 16 == 0, "metalgen: kernel ", kernel,
                " threadgroup memory length must be a multiple of 16 bytes, got ", binding.length);
    memory += binding.length;
  }
  TORCH_CHECK(memory <= kMaxThreadgroupMemoryBytes, "metalgen: kernel ", kernel, " planned ",
              memory, " bytes of threadgroup memory; the limit is ", kMaxThreadgroupMemoryBytes);
}

}  // namespace metalgen
