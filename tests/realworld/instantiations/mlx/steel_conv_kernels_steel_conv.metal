// Our instantiation of MLX's steel/conv/kernels/steel_conv.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/gemm/gemm.h"
#include "mlx/backend/metal/kernels/steel/conv/conv.h"
#include "mlx/backend/metal/kernels/steel/conv/params.h"
#include "mlx/backend/metal/kernels/steel/conv/kernels/steel_conv.h"

instantiate_kernel("implicit_gemm_conv_2d_float32_0_false", implicit_gemm_conv_2d, float, 32, 32, 16, 2, 2, 0, false)
instantiate_kernel("implicit_gemm_conv_2d_float32_1_true", implicit_gemm_conv_2d, float, 32, 32, 16, 2, 2, 1, true)
instantiate_kernel("implicit_gemm_conv_2d_float32_4_false", implicit_gemm_conv_2d, float, 32, 32, 16, 2, 2, 4, false)
instantiate_kernel("implicit_gemm_conv_2d_float16_0_false", implicit_gemm_conv_2d, half, 32, 32, 16, 2, 2, 0, false)
instantiate_kernel("implicit_gemm_conv_2d_float16_1_true", implicit_gemm_conv_2d, half, 32, 32, 16, 2, 2, 1, true)
instantiate_kernel("implicit_gemm_conv_2d_float16_4_false", implicit_gemm_conv_2d, half, 32, 32, 16, 2, 2, 4, false)
instantiate_kernel("implicit_gemm_conv_2d_bfloat16_0_false", implicit_gemm_conv_2d, bfloat16_t, 32, 32, 16, 2, 2, 0, false)
instantiate_kernel("implicit_gemm_conv_2d_bfloat16_1_true", implicit_gemm_conv_2d, bfloat16_t, 32, 32, 16, 2, 2, 1, true)
instantiate_kernel("implicit_gemm_conv_2d_bfloat16_4_false", implicit_gemm_conv_2d, bfloat16_t, 32, 32, 16, 2, 2, 4, false)
// clang-format on
