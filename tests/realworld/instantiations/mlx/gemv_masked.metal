// Our instantiation of MLX's gemv_masked.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/utils.h"
#include "mlx/backend/metal/kernels/gemv_masked.h"

instantiate_kernel("gemv_masked_float32_nomask", gemv_masked, float, nomask_t, float, 4, 1, 1, 32, 4, 4, false)
instantiate_kernel("gemv_t_masked_float32_nomask", gemv_t_masked, float, nomask_t, float, 1, 8, 4, 8, 4, 4, false)
instantiate_kernel("gemv_masked_float32_bool", gemv_masked, float, bool, float, 4, 1, 1, 32, 4, 4, false)
instantiate_kernel("gemv_t_masked_float32_bool", gemv_t_masked, float, bool, float, 1, 8, 4, 8, 4, 4, false)
instantiate_kernel("gemv_masked_float16_nomask", gemv_masked, half, nomask_t, half, 4, 1, 1, 32, 4, 4, false)
instantiate_kernel("gemv_t_masked_float16_nomask", gemv_t_masked, half, nomask_t, half, 1, 8, 4, 8, 4, 4, false)
instantiate_kernel("gemv_masked_float16_bool", gemv_masked, half, bool, half, 4, 1, 1, 32, 4, 4, false)
instantiate_kernel("gemv_t_masked_float16_bool", gemv_t_masked, half, bool, half, 1, 8, 4, 8, 4, 4, false)
instantiate_kernel("gemv_masked_bfloat16_nomask", gemv_masked, bfloat16_t, nomask_t, bfloat16_t, 4, 1, 1, 32, 4, 4, false)
instantiate_kernel("gemv_t_masked_bfloat16_nomask", gemv_t_masked, bfloat16_t, nomask_t, bfloat16_t, 1, 8, 4, 8, 4, 4, false)
instantiate_kernel("gemv_masked_bfloat16_bool", gemv_masked, bfloat16_t, bool, bfloat16_t, 4, 1, 1, 32, 4, 4, false)
instantiate_kernel("gemv_t_masked_bfloat16_bool", gemv_t_masked, bfloat16_t, bool, bfloat16_t, 1, 8, 4, 8, 4, 4, false)
// clang-format on
