// Encodes a LaunchPlan on PyTorch's current MPS stream. macOS only.
#pragma once

#include "launch_plan.h"

namespace metalgen::mps {

// Encodes `plan` into the stream's shared compute encoder (no commit, no wait): the kernel
// is ordered with PyTorch's own MPS work, exactly like a native op.
void dispatch(const LaunchPlan& plan);

}  // namespace metalgen::mps
