// Our instantiation of MLX's fft.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/fft.h"

instantiate_kernel("fft_mem_256_float2_float2", fft, 256, float2, float2)
instantiate_kernel("fft_mem_512_float_float2", fft, 512, float, float2)
instantiate_kernel("fft_mem_512_float2_float", fft, 512, float2, float)
instantiate_kernel("rader_fft_mem_512_float2_float2", rader_fft, 512, float2, float2)
instantiate_kernel("bluestein_fft_mem_512_float2_float2", bluestein_fft, 512, float2, float2)
instantiate_kernel("four_step_mem_512_float2_float2_0_false", four_step_fft, 512, float2, float2, 0, false)
instantiate_kernel("four_step_mem_512_float2_float2_1_true", four_step_fft, 512, float2, float2, 1, true)
// clang-format on
