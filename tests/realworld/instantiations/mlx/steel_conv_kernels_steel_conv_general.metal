// Our instantiation of MLX's steel/conv/kernels/steel_conv_general.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/steel/gemm/gemm.h"
#include "mlx/backend/metal/kernels/steel/conv/conv.h"
#include "mlx/backend/metal/kernels/steel/conv/params.h"
#include "mlx/backend/metal/kernels/steel/conv/kernels/steel_conv_general.h"

instantiate_kernel("implicit_gemm_conv_2d_general_float32", implicit_gemm_conv_2d_general, float, 32, 32, 16, 2, 2)
instantiate_kernel("implicit_gemm_conv_2d_general_float16", implicit_gemm_conv_2d_general, half, 32, 32, 16, 2, 2)
instantiate_kernel("implicit_gemm_conv_2d_general_bfloat16", implicit_gemm_conv_2d_general, bfloat16_t, 32, 32, 16, 2, 2)
// clang-format on
