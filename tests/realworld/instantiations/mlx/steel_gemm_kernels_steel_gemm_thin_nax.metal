// Our instantiation of MLX's steel/gemm/kernels/steel_gemm_thin_nax.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// They use Metal 4's Performance Primitives (MSL 4.0).
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/gemm/gemm_nax.h"
#include "mlx/backend/metal/kernels/steel/gemm/kernels/steel_gemm_thin_nax.h"

instantiate_kernel("steel_gemm_thin_nax_float16_um1_un2_ks1_false", gemm_thin_nax, half, 1, 2, 1, 1, 1, false)
instantiate_kernel("steel_gemm_thin_nax_float16_um1_un2_ks1_true", gemm_thin_nax, half, 1, 2, 1, 1, 1, true)
instantiate_kernel("steel_gemm_thin_nax_float16_um2_un2_ks2_false", gemm_thin_nax, half, 2, 2, 1, 1, 2, false)
instantiate_kernel("steel_gemm_thin_nax_float16_um2_un2_ks2_true", gemm_thin_nax, half, 2, 2, 1, 1, 2, true)
instantiate_kernel("steel_gemm_thin_nax_bfloat16_um1_un2_ks1_false", gemm_thin_nax, bfloat16_t, 1, 2, 1, 1, 1, false)
instantiate_kernel("steel_gemm_thin_nax_bfloat16_um1_un2_ks1_true", gemm_thin_nax, bfloat16_t, 1, 2, 1, 1, 1, true)
instantiate_kernel("steel_gemm_thin_nax_bfloat16_um2_un2_ks2_false", gemm_thin_nax, bfloat16_t, 2, 2, 1, 1, 2, false)
instantiate_kernel("steel_gemm_thin_nax_bfloat16_um2_un2_ks2_true", gemm_thin_nax, bfloat16_t, 2, 2, 1, 1, 2, true)
// clang-format on
