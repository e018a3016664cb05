// Our instantiation of MLX's unary.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/unary_ops.h"
#include "mlx/backend/metal/kernels/unary.h"

instantiate_kernel("v_Expfloat32", unary_v, float, float, Exp)
instantiate_kernel("v2_Expfloat32", unary_v2, float, float, Exp)
instantiate_kernel("g_Expfloat32", unary_g, float, float, Exp)
instantiate_kernel("v_Sigmoidfloat32", unary_v, float, float, Sigmoid)
instantiate_kernel("v2_Sigmoidfloat32", unary_v2, float, float, Sigmoid)
instantiate_kernel("g_Sigmoidfloat32", unary_g, float, float, Sigmoid)
instantiate_kernel("v_Erffloat32", unary_v, float, float, Erf)
instantiate_kernel("v2_Erffloat32", unary_v2, float, float, Erf)
instantiate_kernel("g_Erffloat32", unary_g, float, float, Erf)
instantiate_kernel("v_Expfloat16", unary_v, half, half, Exp)
instantiate_kernel("v2_Expfloat16", unary_v2, half, half, Exp)
instantiate_kernel("g_Expfloat16", unary_g, half, half, Exp)
instantiate_kernel("v_Sigmoidfloat16", unary_v, half, half, Sigmoid)
instantiate_kernel("v2_Sigmoidfloat16", unary_v2, half, half, Sigmoid)
instantiate_kernel("g_Sigmoidfloat16", unary_g, half, half, Sigmoid)
instantiate_kernel("v_Erffloat16", unary_v, half, half, Erf)
instantiate_kernel("v2_Erffloat16", unary_v2, half, half, Erf)
instantiate_kernel("g_Erffloat16", unary_g, half, half, Erf)
instantiate_kernel("v_Expbfloat16", unary_v, bfloat16_t, bfloat16_t, Exp)
instantiate_kernel("v2_Expbfloat16", unary_v2, bfloat16_t, bfloat16_t, Exp)
instantiate_kernel("g_Expbfloat16", unary_g, bfloat16_t, bfloat16_t, Exp)
instantiate_kernel("v_Sigmoidbfloat16", unary_v, bfloat16_t, bfloat16_t, Sigmoid)
instantiate_kernel("v2_Sigmoidbfloat16", unary_v2, bfloat16_t, bfloat16_t, Sigmoid)
instantiate_kernel("g_Sigmoidbfloat16", unary_g, bfloat16_t, bfloat16_t, Sigmoid)
instantiate_kernel("v_Erfbfloat16", unary_v, bfloat16_t, bfloat16_t, Erf)
instantiate_kernel("v2_Erfbfloat16", unary_v2, bfloat16_t, bfloat16_t, Erf)
instantiate_kernel("g_Erfbfloat16", unary_g, bfloat16_t, bfloat16_t, Erf)
instantiate_kernel("v_Negativeint32", unary_v, int, int, Negative)
instantiate_kernel("v_Squareint32", unary_v, int, int, Square)
// clang-format on
