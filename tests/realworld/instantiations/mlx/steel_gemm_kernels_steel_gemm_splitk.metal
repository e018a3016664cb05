// Our instantiation of MLX's steel/gemm/kernels/steel_gemm_splitk.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/gemm/gemm.h"
#include "mlx/backend/metal/kernels/steel/gemm/kernels/steel_gemm_splitk.h"

instantiate_kernel("steel_gemm_splitk_nn_float32_float32_mntrue_ktrue", gemm_splitk, float, float, 16, 32, 16, 2, 2, false, false, true, true)
instantiate_kernel("steel_gemm_splitk_nn_float32_float32_mnfalse_kfalse", gemm_splitk, float, float, 16, 32, 16, 2, 2, false, false, false, false)
instantiate_kernel("steel_gemm_splitk_accum_float32_float32", gemm_splitk_accum, float, float)
instantiate_kernel("steel_gemm_splitk_accum_float32_float32_axpby", gemm_splitk_accum_axpby, float, float)
instantiate_kernel("steel_gemm_splitk_nn_float16_float32_mntrue_ktrue", gemm_splitk, half, float, 16, 32, 16, 2, 2, false, false, true, true)
instantiate_kernel("steel_gemm_splitk_nn_float16_float32_mnfalse_kfalse", gemm_splitk, half, float, 16, 32, 16, 2, 2, false, false, false, false)
instantiate_kernel("steel_gemm_splitk_accum_float16_float32", gemm_splitk_accum, float, half)
instantiate_kernel("steel_gemm_splitk_accum_float16_float32_axpby", gemm_splitk_accum_axpby, float, half)
instantiate_kernel("steel_gemm_splitk_nn_bfloat16_float32_mntrue_ktrue", gemm_splitk, bfloat16_t, float, 16, 32, 16, 2, 2, false, false, true, true)
instantiate_kernel("steel_gemm_splitk_nn_bfloat16_float32_mnfalse_kfalse", gemm_splitk, bfloat16_t, float, 16, 32, 16, 2, 2, false, false, false, false)
instantiate_kernel("steel_gemm_splitk_accum_bfloat16_float32", gemm_splitk_accum, float, bfloat16_t)
instantiate_kernel("steel_gemm_splitk_accum_bfloat16_float32_axpby", gemm_splitk_accum_axpby, float, bfloat16_t)
// clang-format on
