// Our instantiation of MLX's steel/conv/kernels/steel_conv_3d.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/gemm/gemm.h"
#include "mlx/backend/metal/kernels/steel/conv/conv.h"
#include "mlx/backend/metal/kernels/steel/conv/params.h"
#include "mlx/backend/metal/kernels/steel/conv/kernels/steel_conv_3d.h"

instantiate_kernel("implicit_gemm_conv_3d_float32_true", implicit_gemm_conv_3d, float, 32, 32, 16, 2, 2, true)
instantiate_kernel("implicit_gemm_conv_3d_float32_false", implicit_gemm_conv_3d, float, 32, 32, 16, 2, 2, false)
instantiate_kernel("implicit_gemm_conv_3d_float16_true", implicit_gemm_conv_3d, half, 32, 32, 16, 2, 2, true)
instantiate_kernel("implicit_gemm_conv_3d_float16_false", implicit_gemm_conv_3d, half, 32, 32, 16, 2, 2, false)
instantiate_kernel("implicit_gemm_conv_3d_bfloat16_true", implicit_gemm_conv_3d, bfloat16_t, 32, 32, 16, 2, 2, true)
instantiate_kernel("implicit_gemm_conv_3d_bfloat16_false", implicit_gemm_conv_3d, bfloat16_t, 32, 32, 16, 2, 2, false)
// clang-format on
