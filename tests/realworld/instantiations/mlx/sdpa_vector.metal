// Our instantiation of MLX's sdpa_vector.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/sdpa_vector.h"

instantiate_kernel("sdpa_vector_float32_64_64", sdpa_vector, float, 64)
instantiate_kernel("sdpa_vector_2pass_1_float32_64_64", sdpa_vector_2pass_1, float, 64)
instantiate_kernel("sdpa_vector_2pass_2_float32_64", sdpa_vector_2pass_2, float, 64)
instantiate_kernel("sdpa_vector_2pass_1_gqa_float32_64", sdpa_vector_2pass_1_gqa, float, 64, 64, 4, 2)
instantiate_kernel("sdpa_vector_float32_128_128", sdpa_vector, float, 128)
instantiate_kernel("sdpa_vector_2pass_1_float32_128_128", sdpa_vector_2pass_1, float, 128)
instantiate_kernel("sdpa_vector_2pass_2_float32_128", sdpa_vector_2pass_2, float, 128)
instantiate_kernel("sdpa_vector_2pass_1_gqa_float32_128", sdpa_vector_2pass_1_gqa, float, 128, 128, 4, 2)
instantiate_kernel("sdpa_vector_float16_64_64", sdpa_vector, half, 64)
instantiate_kernel("sdpa_vector_2pass_1_float16_64_64", sdpa_vector_2pass_1, half, 64)
instantiate_kernel("sdpa_vector_2pass_2_float16_64", sdpa_vector_2pass_2, half, 64)
instantiate_kernel("sdpa_vector_2pass_1_gqa_float16_64", sdpa_vector_2pass_1_gqa, half, 64, 64, 4, 2)
instantiate_kernel("sdpa_vector_float16_128_128", sdpa_vector, half, 128)
instantiate_kernel("sdpa_vector_2pass_1_float16_128_128", sdpa_vector_2pass_1, half, 128)
instantiate_kernel("sdpa_vector_2pass_2_float16_128", sdpa_vector_2pass_2, half, 128)
instantiate_kernel("sdpa_vector_2pass_1_gqa_float16_128", sdpa_vector_2pass_1_gqa, half, 128, 128, 4, 2)
instantiate_kernel("sdpa_vector_bfloat16_64_64", sdpa_vector, bfloat16_t, 64)
instantiate_kernel("sdpa_vector_2pass_1_bfloat16_64_64", sdpa_vector_2pass_1, bfloat16_t, 64)
instantiate_kernel("sdpa_vector_2pass_2_bfloat16_64", sdpa_vector_2pass_2, bfloat16_t, 64)
instantiate_kernel("sdpa_vector_2pass_1_gqa_bfloat16_64", sdpa_vector_2pass_1_gqa, bfloat16_t, 64, 64, 4, 2)
instantiate_kernel("sdpa_vector_bfloat16_128_128", sdpa_vector, bfloat16_t, 128)
instantiate_kernel("sdpa_vector_2pass_1_bfloat16_128_128", sdpa_vector_2pass_1, bfloat16_t, 128)
instantiate_kernel("sdpa_vector_2pass_2_bfloat16_128", sdpa_vector_2pass_2, bfloat16_t, 128)
instantiate_kernel("sdpa_vector_2pass_1_gqa_bfloat16_128", sdpa_vector_2pass_1_gqa, bfloat16_t, 128, 128, 4, 2)
// clang-format on
