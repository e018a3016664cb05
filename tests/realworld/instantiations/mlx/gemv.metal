// Our instantiation of MLX's gemv.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/utils.h"
#include "mlx/backend/metal/kernels/gemv.h"

instantiate_kernel("gemv_float32_bm4_bn1_sm1_sn32_tm4_tn4_nctrue_axpbytrue", gemv, float, 4, 1, 1, 32, 4, 4, true, true)
instantiate_kernel("gemv_t_float32_bm1_bn8_sm4_sn8_tm4_tn4_nctrue_axpbytrue", gemv_t, float, 1, 8, 4, 8, 4, 4, true, true)
instantiate_kernel("gemv_float32_bm4_bn1_sm1_sn32_tm4_tn4_nctrue_axpbyfalse", gemv, float, 4, 1, 1, 32, 4, 4, true, false)
instantiate_kernel("gemv_t_float32_bm1_bn8_sm4_sn8_tm4_tn4_nctrue_axpbyfalse", gemv_t, float, 1, 8, 4, 8, 4, 4, true, false)
instantiate_kernel("gemv_float32_bm4_bn1_sm1_sn32_tm4_tn4_ncfalse_axpbytrue", gemv, float, 4, 1, 1, 32, 4, 4, false, true)
instantiate_kernel("gemv_t_float32_bm1_bn8_sm4_sn8_tm4_tn4_ncfalse_axpbytrue", gemv_t, float, 1, 8, 4, 8, 4, 4, false, true)
instantiate_kernel("gemv_float32_bm4_bn1_sm1_sn32_tm4_tn4_ncfalse_axpbyfalse", gemv, float, 4, 1, 1, 32, 4, 4, false, false)
instantiate_kernel("gemv_t_float32_bm1_bn8_sm4_sn8_tm4_tn4_ncfalse_axpbyfalse", gemv_t, float, 1, 8, 4, 8, 4, 4, false, false)
instantiate_kernel("gemv_gather_float32", gemv_gather, float, 4, 1, 1, 32, 4, 4)
instantiate_kernel("gemv_t_gather_float32", gemv_t_gather, float, 1, 8, 4, 8, 4, 4)
instantiate_kernel("gemv_wide_float32", gemv_wide, float, 4, 8)
instantiate_kernel("gemv_wide_gather_float32", gemv_wide_gather, float, 4, 8)
instantiate_kernel("gemv_float16_bm4_bn1_sm1_sn32_tm4_tn4_nctrue_axpbytrue", gemv, half, 4, 1, 1, 32, 4, 4, true, true)
instantiate_kernel("gemv_t_float16_bm1_bn8_sm4_sn8_tm4_tn4_nctrue_axpbytrue", gemv_t, half, 1, 8, 4, 8, 4, 4, true, true)
instantiate_kernel("gemv_float16_bm4_bn1_sm1_sn32_tm4_tn4_nctrue_axpbyfalse", gemv, half, 4, 1, 1, 32, 4, 4, true, false)
instantiate_kernel("gemv_t_float16_bm1_bn8_sm4_sn8_tm4_tn4_nctrue_axpbyfalse", gemv_t, half, 1, 8, 4, 8, 4, 4, true, false)
instantiate_kernel("gemv_float16_bm4_bn1_sm1_sn32_tm4_tn4_ncfalse_axpbytrue", gemv, half, 4, 1, 1, 32, 4, 4, false, true)
instantiate_kernel("gemv_t_float16_bm1_bn8_sm4_sn8_tm4_tn4_ncfalse_axpbytrue", gemv_t, half, 1, 8, 4, 8, 4, 4, false, true)
instantiate_kernel("gemv_float16_bm4_bn1_sm1_sn32_tm4_tn4_ncfalse_axpbyfalse", gemv, half, 4, 1, 1, 32, 4, 4, false, false)
instantiate_kernel("gemv_t_float16_bm1_bn8_sm4_sn8_tm4_tn4_ncfalse_axpbyfalse", gemv_t, half, 1, 8, 4, 8, 4, 4, false, false)
instantiate_kernel("gemv_gather_float16", gemv_gather, half, 4, 1, 1, 32, 4, 4)
instantiate_kernel("gemv_t_gather_float16", gemv_t_gather, half, 1, 8, 4, 8, 4, 4)
instantiate_kernel("gemv_wide_float16", gemv_wide, half, 4, 8)
instantiate_kernel("gemv_wide_gather_float16", gemv_wide_gather, half, 4, 8)
instantiate_kernel("gemv_bfloat16_bm4_bn1_sm1_sn32_tm4_tn4_nctrue_axpbytrue", gemv, bfloat16_t, 4, 1, 1, 32, 4, 4, true, true)
instantiate_kernel("gemv_t_bfloat16_bm1_bn8_sm4_sn8_tm4_tn4_nctrue_axpbytrue", gemv_t, bfloat16_t, 1, 8, 4, 8, 4, 4, true, true)
instantiate_kernel("gemv_bfloat16_bm4_bn1_sm1_sn32_tm4_tn4_nctrue_axpbyfalse", gemv, bfloat16_t, 4, 1, 1, 32, 4, 4, true, false)
instantiate_kernel("gemv_t_bfloat16_bm1_bn8_sm4_sn8_tm4_tn4_nctrue_axpbyfalse", gemv_t, bfloat16_t, 1, 8, 4, 8, 4, 4, true, false)
instantiate_kernel("gemv_bfloat16_bm4_bn1_sm1_sn32_tm4_tn4_ncfalse_axpbytrue", gemv, bfloat16_t, 4, 1, 1, 32, 4, 4, false, true)
instantiate_kernel("gemv_t_bfloat16_bm1_bn8_sm4_sn8_tm4_tn4_ncfalse_axpbytrue", gemv_t, bfloat16_t, 1, 8, 4, 8, 4, 4, false, true)
instantiate_kernel("gemv_bfloat16_bm4_bn1_sm1_sn32_tm4_tn4_ncfalse_axpbyfalse", gemv, bfloat16_t, 4, 1, 1, 32, 4, 4, false, false)
instantiate_kernel("gemv_t_bfloat16_bm1_bn8_sm4_sn8_tm4_tn4_ncfalse_axpbyfalse", gemv_t, bfloat16_t, 1, 8, 4, 8, 4, 4, false, false)
instantiate_kernel("gemv_gather_bfloat16", gemv_gather, bfloat16_t, 4, 1, 1, 32, 4, 4)
instantiate_kernel("gemv_t_gather_bfloat16", gemv_t_gather, bfloat16_t, 1, 8, 4, 8, 4, 4)
instantiate_kernel("gemv_wide_bfloat16", gemv_wide, bfloat16_t, 4, 8)
instantiate_kernel("gemv_wide_gather_bfloat16", gemv_wide_gather, bfloat16_t, 4, 8)
// clang-format on
