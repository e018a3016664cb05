// Encodes a LaunchPlan on PyTorch's current MPS stream. macOS only (csrc/mps/dispatch.mm).
#pragma once

#include <cstdint>

#include "launch_plan.h"

namespace metalgen::mps {

// The pipeline's maxTotalThreadsPerThreadgroup for plan.kernel (creating and caching the
// pipeline on first use). Apple: it depends on the GPU and on the kernel's registers and
// memory, so it can be below 1024; plans use it to choose a variant or fewer threads.
uint64_t max_threads_per_threadgroup(const LaunchPlan& plan);

// Encodes `plan` into the stream's shared compute encoder (no commit, no wait): the kernel
// is ordered with PyTorch's own MPS work, exactly like a native op.
void dispatch(const LaunchPlan& plan);

}  // namespace metalgen::mps
