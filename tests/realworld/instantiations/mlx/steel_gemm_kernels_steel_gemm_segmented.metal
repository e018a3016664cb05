// Our instantiation of MLX's steel/gemm/kernels/steel_gemm_segmented.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/gemm/gemm.h"
#include "mlx/backend/metal/kernels/steel/gemm/kernels/steel_gemm_segmented.h"

instantiate_kernel("steel_segmented_mm_nn_float32", segmented_mm, float, 64, 64, 16, 2, 2, false, false, float)
instantiate_kernel("steel_segmented_mm_tt_float32", segmented_mm, float, 64, 64, 16, 2, 2, true, true, float)
instantiate_kernel("steel_segmented_mm_nn_float16", segmented_mm, half, 64, 64, 16, 2, 2, false, false, float)
instantiate_kernel("steel_segmented_mm_tt_float16", segmented_mm, half, 64, 64, 16, 2, 2, true, true, float)
instantiate_kernel("steel_segmented_mm_nn_bfloat16", segmented_mm, bfloat16_t, 64, 64, 16, 2, 2, false, false, float)
instantiate_kernel("steel_segmented_mm_tt_bfloat16", segmented_mm, bfloat16_t, 64, 64, 16, 2, 2, true, true, float)
// clang-format on
