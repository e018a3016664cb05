// Our instantiation of MLX's steel/gemm/kernels/steel_gemm_splitk_nax.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// They use Metal 4's Performance Primitives (MSL 4.0).
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/gemm/gemm_nax.h"
#include "mlx/backend/metal/kernels/steel/gemm/kernels/steel_gemm_splitk_nax.h"

instantiate_kernel("steel_gemm_splitk_nax_nn_float16", gemm_splitk_nax, half, 64, 64, 64, 2, 2, false, false, float)
instantiate_kernel("steel_gemm_splitk_nax_nt_float16", gemm_splitk_nax, half, 64, 64, 64, 2, 2, false, true, float)
instantiate_kernel("steel_gemm_splitk_nax_nn_bfloat16", gemm_splitk_nax, bfloat16_t, 64, 64, 64, 2, 2, false, false, float)
instantiate_kernel("steel_gemm_splitk_nax_nt_bfloat16", gemm_splitk_nax, bfloat16_t, 64, 64, 64, 2, 2, false, true, float)
// clang-format on
