// Our instantiation of MLX's steel/attn/kernels/steel_attention_nax.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// They use Metal 4's Performance Primitives (MSL 4.0).
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/attn/params.h"
#include "mlx/backend/metal/kernels/steel/attn/kernels/steel_attention_nax.h"

instantiate_kernel("steel_attention_nax_float16_bq64_bk32_bd128_wm4_wn1", attention_nax, half, 64, 32, 128, 128, 4, 1, half, float)
instantiate_kernel("steel_attention_nax_dsplit_float16_bq64_bk32_bd128_wm4_wn2", attention_nax_dsplit, half, 64, 32, 128, 4, 2, half, float)
instantiate_kernel("steel_attention_nax_bfloat16_bq64_bk32_bd128_wm4_wn1", attention_nax, bfloat16_t, 64, 32, 128, 128, 4, 1, bfloat16_t, float)
instantiate_kernel("steel_attention_nax_dsplit_bfloat16_bq64_bk32_bd128_wm4_wn2", attention_nax_dsplit, bfloat16_t, 64, 32, 128, 4, 2, bfloat16_t, float)
// clang-format on
