// Our instantiation of MLX's indexing/masked_scatter.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/atomic.h"
#include "mlx/backend/metal/kernels/indexing/indexing.h"
#include "mlx/backend/metal/kernels/reduction/ops.h"
#include "mlx/backend/metal/kernels/indexing/masked_scatter.h"

instantiate_kernel("masked_assign_float32_true", masked_assign_impl, float, true)
instantiate_kernel("masked_assign_float32_false", masked_assign_impl, float, false)
instantiate_kernel("masked_assign_float16_true", masked_assign_impl, half, true)
instantiate_kernel("masked_assign_float16_false", masked_assign_impl, half, false)
instantiate_kernel("masked_assign_bfloat16_true", masked_assign_impl, bfloat16_t, true)
instantiate_kernel("masked_assign_bfloat16_false", masked_assign_impl, bfloat16_t, false)
// clang-format on
