// Our instantiation of MLX's steel/gemm/kernels/steel_gemm_gather_nax.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// They use Metal 4's Performance Primitives (MSL 4.0).
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/gemm/gemm_nax.h"
#include "mlx/backend/metal/kernels/steel/gemm/kernels/steel_gemm_gather_nax.h"

instantiate_kernel("steel_gather_mm_rhs_nax_nn_float16", gather_mm_rhs_nax, half, 16, 64, 64, 1, 2, false, false, float)
instantiate_kernel("steel_gather_mm_rhs_nax_nt_float16", gather_mm_rhs_nax, half, 16, 64, 64, 1, 2, false, true, float)
instantiate_kernel("steel_gather_mm_rhs_nax_nn_bfloat16", gather_mm_rhs_nax, bfloat16_t, 16, 64, 64, 1, 2, false, false, float)
instantiate_kernel("steel_gather_mm_rhs_nax_nt_bfloat16", gather_mm_rhs_nax, bfloat16_t, 16, 64, 64, 1, 2, false, true, float)
// clang-format on
