// Our instantiation of MLX's steel/gemm/kernels/steel_gemm_masked.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/gemm/gemm.h"
#include "mlx/backend/metal/kernels/steel/gemm/kernels/steel_gemm_masked.h"

instantiate_kernel("steel_gemm_block_outmask_bool_opmask_bool_nn_float32", block_masked_gemm, float, bool, bool, 32, 32, 16, 2, 2, false, false, true, true)
instantiate_kernel("steel_gemm_block_outmask_bool_opmask_bool_nt_float32_unaligned", block_masked_gemm, float, bool, bool, 64, 64, 16, 2, 2, false, true, false, false)
instantiate_kernel("steel_gemm_block_outmask_nomask_opmask_nomask_nn_float32", block_masked_gemm, float, nomask_t, nomask_t, 32, 32, 16, 2, 2, false, false, true, true)
instantiate_kernel("steel_gemm_block_outmask_nomask_opmask_nomask_nt_float32_unaligned", block_masked_gemm, float, nomask_t, nomask_t, 64, 64, 16, 2, 2, false, true, false, false)
instantiate_kernel("steel_gemm_block_outmask_bool_opmask_bool_nn_float16", block_masked_gemm, half, bool, bool, 32, 32, 16, 2, 2, false, false, true, true)
instantiate_kernel("steel_gemm_block_outmask_bool_opmask_bool_nt_float16_unaligned", block_masked_gemm, half, bool, bool, 64, 64, 16, 2, 2, false, true, false, false)
instantiate_kernel("steel_gemm_block_outmask_nomask_opmask_nomask_nn_float16", block_masked_gemm, half, nomask_t, nomask_t, 32, 32, 16, 2, 2, false, false, true, true)
instantiate_kernel("steel_gemm_block_outmask_nomask_opmask_nomask_nt_float16_unaligned", block_masked_gemm, half, nomask_t, nomask_t, 64, 64, 16, 2, 2, false, true, false, false)
instantiate_kernel("steel_gemm_block_outmask_bool_opmask_bool_nn_bfloat16", block_masked_gemm, bfloat16_t, bool, bool, 32, 32, 16, 2, 2, false, false, true, true)
instantiate_kernel("steel_gemm_block_outmask_bool_opmask_bool_nt_bfloat16_unaligned", block_masked_gemm, bfloat16_t, bool, bool, 64, 64, 16, 2, 2, false, true, false, false)
instantiate_kernel("steel_gemm_block_outmask_nomask_opmask_nomask_nn_bfloat16", block_masked_gemm, bfloat16_t, nomask_t, nomask_t, 32, 32, 16, 2, 2, false, false, true, true)
instantiate_kernel("steel_gemm_block_outmask_nomask_opmask_nomask_nt_bfloat16_unaligned", block_masked_gemm, bfloat16_t, nomask_t, nomask_t, 64, 64, 16, 2, 2, false, true, false, false)
// clang-format on
