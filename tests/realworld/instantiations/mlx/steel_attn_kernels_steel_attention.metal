// Our instantiation of MLX's steel/attn/kernels/steel_attention.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/attn/params.h"
#include "mlx/backend/metal/kernels/steel/attn/kernels/steel_attention.h"

instantiate_kernel("steel_attention_float32_bq32_bk32_bd64_wm4_wn1_maskfloat32", attention, float, 32, 32, 64, 64, 4, 1, float, float)
instantiate_kernel("steel_attention_float32_bq32_bk32_bd64_wm4_wn1_maskbool_", attention, float, 32, 32, 64, 64, 4, 1, bool, float)
instantiate_kernel("steel_attention_float32_bq32_bk16_bd128_wm4_wn1_maskfloat32", attention, float, 32, 16, 128, 128, 4, 1, float, float)
instantiate_kernel("steel_attention_float32_bq32_bk16_bd128_wm4_wn1_maskbool_", attention, float, 32, 16, 128, 128, 4, 1, bool, float)
instantiate_kernel("steel_attention_float16_bq32_bk32_bd64_wm4_wn1_maskfloat16", attention, half, 32, 32, 64, 64, 4, 1, half, float)
instantiate_kernel("steel_attention_float16_bq32_bk32_bd64_wm4_wn1_maskbool_", attention, half, 32, 32, 64, 64, 4, 1, bool, float)
instantiate_kernel("steel_attention_float16_bq32_bk16_bd128_wm4_wn1_maskfloat16", attention, half, 32, 16, 128, 128, 4, 1, half, float)
instantiate_kernel("steel_attention_float16_bq32_bk16_bd128_wm4_wn1_maskbool_", attention, half, 32, 16, 128, 128, 4, 1, bool, float)
instantiate_kernel("steel_attention_bfloat16_bq32_bk32_bd64_wm4_wn1_maskbfloat16", attention, bfloat16_t, 32, 32, 64, 64, 4, 1, bfloat16_t, float)
instantiate_kernel("steel_attention_bfloat16_bq32_bk32_bd64_wm4_wn1_maskbool_", attention, bfloat16_t, 32, 32, 64, 64, 4, 1, bool, float)
instantiate_kernel("steel_attention_bfloat16_bq32_bk16_bd128_wm4_wn1_maskbfloat16", attention, bfloat16_t, 32, 16, 128, 128, 4, 1, bfloat16_t, float)
instantiate_kernel("steel_attention_bfloat16_bq32_bk16_bd128_wm4_wn1_maskbool_", attention, bfloat16_t, 32, 16, 128, 128, 4, 1, bool, float)
// clang-format on
