// Our instantiation of MLX's steel/gemm/kernels/steel_gemm_gather.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/gemm/gemm.h"
#include "mlx/backend/metal/kernels/steel/gemm/kernels/steel_gemm_gather.h"

instantiate_kernel("steel_gather_mm_rhs_nn_float32", gather_mm_rhs, float, 16, 64, 16, 1, 2, false, false, float)
instantiate_kernel("steel_gather_mm_nn_float32", gather_mm, float, 64, 64, 16, 2, 2, false, false, float)
instantiate_kernel("steel_gather_mm_rhs_nt_float32", gather_mm_rhs, float, 16, 64, 16, 1, 2, false, true, float)
instantiate_kernel("steel_gather_mm_nt_float32", gather_mm, float, 64, 64, 16, 2, 2, false, true, float)
instantiate_kernel("steel_gather_mm_rhs_nn_float16", gather_mm_rhs, half, 16, 64, 16, 1, 2, false, false, float)
instantiate_kernel("steel_gather_mm_nn_float16", gather_mm, half, 64, 64, 16, 2, 2, false, false, float)
instantiate_kernel("steel_gather_mm_rhs_nt_float16", gather_mm_rhs, half, 16, 64, 16, 1, 2, false, true, float)
instantiate_kernel("steel_gather_mm_nt_float16", gather_mm, half, 64, 64, 16, 2, 2, false, true, float)
instantiate_kernel("steel_gather_mm_rhs_nn_bfloat16", gather_mm_rhs, bfloat16_t, 16, 64, 16, 1, 2, false, false, float)
instantiate_kernel("steel_gather_mm_nn_bfloat16", gather_mm, bfloat16_t, 64, 64, 16, 2, 2, false, false, float)
instantiate_kernel("steel_gather_mm_rhs_nt_bfloat16", gather_mm_rhs, bfloat16_t, 16, 64, 16, 1, 2, false, true, float)
instantiate_kernel("steel_gather_mm_nt_bfloat16", gather_mm, bfloat16_t, 64, 64, 16, 2, 2, false, true, float)
// clang-format on
