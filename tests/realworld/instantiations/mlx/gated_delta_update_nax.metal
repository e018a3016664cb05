// Our instantiation of MLX's gated_delta_update_nax.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// They use Metal 4's Performance Primitives (MSL 4.0).
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/gated_delta_update_nax.h"

instantiate_kernel("gated_delta_fused_nax_float16", gated_delta_fused_nax, half, 128, 128, 16, 32, 64, 64)
instantiate_kernel("gated_delta_fused_nax_bfloat16", gated_delta_fused_nax, bfloat16_t, 128, 128, 16, 32, 64, 64)
// clang-format on
