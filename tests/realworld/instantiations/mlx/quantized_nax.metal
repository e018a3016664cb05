// Our instantiation of MLX's quantized_nax.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// They use Metal 4's Performance Primitives (MSL 4.0).
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/gemm/gemm_nax.h"
#include "mlx/backend/metal/kernels/quantized_utils.h"
#include "mlx/backend/metal/kernels/quantized_nax.h"

instantiate_kernel("affine_qmm_t_nax_float16_gs_64_b_4", affine_qmm_t_nax, half, 64, 4, true, false)
instantiate_kernel("affine_qmm_n_nax_float16_gs_64_b_4", affine_qmm_n_nax, half, 64, 4, false)
instantiate_kernel("affine_gather_qmm_t_nax_float16_gs_64_b_4", affine_gather_qmm_t_nax, half, 64, 4, true)
instantiate_kernel("affine_gather_qmm_n_nax_float16_gs_64_b_4", affine_gather_qmm_n_nax, half, 64, 4)
instantiate_kernel("affine_gather_qmm_rhs_nax_float16_gs_64_b_4", affine_gather_qmm_rhs_nax, half, 64, 4, 64, 64, 64, 2, 2, true)
instantiate_kernel("affine_qmm_t_nax_bfloat16_gs_64_b_4", affine_qmm_t_nax, bfloat16_t, 64, 4, true, false)
instantiate_kernel("affine_qmm_n_nax_bfloat16_gs_64_b_4", affine_qmm_n_nax, bfloat16_t, 64, 4, false)
instantiate_kernel("affine_gather_qmm_t_nax_bfloat16_gs_64_b_4", affine_gather_qmm_t_nax, bfloat16_t, 64, 4, true)
instantiate_kernel("affine_gather_qmm_n_nax_bfloat16_gs_64_b_4", affine_gather_qmm_n_nax, bfloat16_t, 64, 4)
instantiate_kernel("affine_gather_qmm_rhs_nax_bfloat16_gs_64_b_4", affine_gather_qmm_rhs_nax, bfloat16_t, 64, 4, 64, 64, 64, 2, 2, true)
// clang-format on
