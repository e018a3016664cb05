// Our instantiation of MLX's fp_quantized_nax.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// They use Metal 4's Performance Primitives (MSL 4.0).
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/gemm/gemm_nax.h"
#include "mlx/backend/metal/kernels/quantized_utils.h"
#include "mlx/backend/metal/kernels/fp_quantized_nax.h"

// Not instantiated: fp_qmm_n_nax and fp_gather_qmm_n_nax call fp_qmm_n_impl with 14
// arguments where it takes 13 (this MLX version cannot instantiate them either).
instantiate_kernel("fp_qmm_t_nax_float16_gs_32_b_4", fp_qmm_t_nax, half, 32, 4, true, false)
instantiate_kernel("fp_gather_qmm_t_nax_float16_gs_32_b_4", fp_gather_qmm_t_nax, half, 32, 4, true)
instantiate_kernel("fp_gather_qmm_rhs_nax_float16_gs_32_b_4", fp_gather_qmm_rhs_nax, half, 32, 4, 64, 64, 64, 2, 2, true)
instantiate_kernel("fp_qmm_t_nax_bfloat16_gs_32_b_4", fp_qmm_t_nax, bfloat16_t, 32, 4, true, false)
instantiate_kernel("fp_gather_qmm_t_nax_bfloat16_gs_32_b_4", fp_gather_qmm_t_nax, bfloat16_t, 32, 4, true)
instantiate_kernel("fp_gather_qmm_rhs_nax_bfloat16_gs_32_b_4", fp_gather_qmm_rhs_nax, bfloat16_t, 32, 4, 64, 64, 64, 2, 2, true)
// clang-format on
