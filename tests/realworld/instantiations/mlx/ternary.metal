// Our instantiation of MLX's ternary.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/ternary_ops.h"
#include "mlx/backend/metal/kernels/ternary.h"

instantiate_kernel("v_Selectfloat32_true", ternary_v, float, Select, true, true)
instantiate_kernel("v_Selectfloat32_false", ternary_v, float, Select, false, false)
instantiate_kernel("v2_Selectfloat32_true", ternary_v2, float, Select, true, true)
instantiate_kernel("v2_Selectfloat32_false", ternary_v2, float, Select, false, false)
instantiate_kernel("g_nd1_Selectfloat32", ternary_g_nd1, float, Select)
instantiate_kernel("g_nd2_Selectfloat32", ternary_g_nd2, float, Select)
instantiate_kernel("g_nd3_Selectfloat32", ternary_g_nd3, float, Select)
instantiate_kernel("g_Selectfloat32", ternary_g, float, Select)
instantiate_kernel("v_Selectfloat16_true", ternary_v, half, Select, true, true)
instantiate_kernel("v_Selectfloat16_false", ternary_v, half, Select, false, false)
instantiate_kernel("v2_Selectfloat16_true", ternary_v2, half, Select, true, true)
instantiate_kernel("v2_Selectfloat16_false", ternary_v2, half, Select, false, false)
instantiate_kernel("g_nd1_Selectfloat16", ternary_g_nd1, half, Select)
instantiate_kernel("g_nd2_Selectfloat16", ternary_g_nd2, half, Select)
instantiate_kernel("g_nd3_Selectfloat16", ternary_g_nd3, half, Select)
instantiate_kernel("g_Selectfloat16", ternary_g, half, Select)
instantiate_kernel("v_Selectbfloat16_true", ternary_v, bfloat16_t, Select, true, true)
instantiate_kernel("v_Selectbfloat16_false", ternary_v, bfloat16_t, Select, false, false)
instantiate_kernel("v2_Selectbfloat16_true", ternary_v2, bfloat16_t, Select, true, true)
instantiate_kernel("v2_Selectbfloat16_false", ternary_v2, bfloat16_t, Select, false, false)
instantiate_kernel("g_nd1_Selectbfloat16", ternary_g_nd1, bfloat16_t, Select)
instantiate_kernel("g_nd2_Selectbfloat16", ternary_g_nd2, bfloat16_t, Select)
instantiate_kernel("g_nd3_Selectbfloat16", ternary_g_nd3, bfloat16_t, Select)
instantiate_kernel("g_Selectbfloat16", ternary_g, bfloat16_t, Select)
instantiate_kernel("v_Selectint32_true", ternary_v, int, Select, true, true)
instantiate_kernel("v_Selectint32_false", ternary_v, int, Select, false, false)
instantiate_kernel("v2_Selectint32_true", ternary_v2, int, Select, true, true)
instantiate_kernel("v2_Selectint32_false", ternary_v2, int, Select, false, false)
instantiate_kernel("g_nd1_Selectint32", ternary_g_nd1, int, Select)
instantiate_kernel("g_nd2_Selectint32", ternary_g_nd2, int, Select)
instantiate_kernel("g_nd3_Selectint32", ternary_g_nd3, int, Select)
instantiate_kernel("g_Selectint32", ternary_g, int, Select)
// clang-format on
