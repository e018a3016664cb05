// Our instantiation of MLX's searchsorted.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/sort.h"
#include "mlx/backend/metal/kernels/searchsorted.h"

instantiate_kernel("searchsorted_float32_true", searchsorted, float, true)
instantiate_kernel("searchsorted_float32_false", searchsorted, float, false)
instantiate_kernel("searchsorted_float16_true", searchsorted, half, true)
instantiate_kernel("searchsorted_float16_false", searchsorted, half, false)
instantiate_kernel("searchsorted_bfloat16_true", searchsorted, bfloat16_t, true)
instantiate_kernel("searchsorted_bfloat16_false", searchsorted, bfloat16_t, false)
instantiate_kernel("searchsorted_int32_true", searchsorted, int, true)
instantiate_kernel("searchsorted_int32_false", searchsorted, int, false)
// clang-format on
