// Our instantiation of MLX's binary_two.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/binary_ops.h"
#include "mlx/backend/metal/kernels/binary_two.h"

instantiate_kernel("ss_DivModfloat32", binary_ss, float, float, DivMod)
instantiate_kernel("sv_DivModfloat32", binary_sv, float, float, DivMod)
instantiate_kernel("vs_DivModfloat32", binary_vs, float, float, DivMod)
instantiate_kernel("vv_DivModfloat32", binary_vv, float, float, DivMod)
instantiate_kernel("sv2_DivModfloat32", binary_sv2, float, float, DivMod)
instantiate_kernel("vs2_DivModfloat32", binary_vs2, float, float, DivMod)
instantiate_kernel("vv2_DivModfloat32", binary_vv2, float, float, DivMod)
instantiate_kernel("g_nd1_DivModfloat32", binary_g_nd1, float, float, DivMod)
instantiate_kernel("g_nd2_DivModfloat32", binary_g_nd2, float, float, DivMod)
instantiate_kernel("g_nd3_DivModfloat32", binary_g_nd3, float, float, DivMod)
instantiate_kernel("g_DivModfloat32", binary_g, float, float, DivMod)
instantiate_kernel("ss_DivModfloat16", binary_ss, half, half, DivMod)
instantiate_kernel("sv_DivModfloat16", binary_sv, half, half, DivMod)
instantiate_kernel("vs_DivModfloat16", binary_vs, half, half, DivMod)
instantiate_kernel("vv_DivModfloat16", binary_vv, half, half, DivMod)
instantiate_kernel("sv2_DivModfloat16", binary_sv2, half, half, DivMod)
instantiate_kernel("vs2_DivModfloat16", binary_vs2, half, half, DivMod)
instantiate_kernel("vv2_DivModfloat16", binary_vv2, half, half, DivMod)
instantiate_kernel("g_nd1_DivModfloat16", binary_g_nd1, half, half, DivMod)
instantiate_kernel("g_nd2_DivModfloat16", binary_g_nd2, half, half, DivMod)
instantiate_kernel("g_nd3_DivModfloat16", binary_g_nd3, half, half, DivMod)
instantiate_kernel("g_DivModfloat16", binary_g, half, half, DivMod)
instantiate_kernel("ss_DivModbfloat16", binary_ss, bfloat16_t, bfloat16_t, DivMod)
instantiate_kernel("sv_DivModbfloat16", binary_sv, bfloat16_t, bfloat16_t, DivMod)
instantiate_kernel("vs_DivModbfloat16", binary_vs, bfloat16_t, bfloat16_t, DivMod)
instantiate_kernel("vv_DivModbfloat16", binary_vv, bfloat16_t, bfloat16_t, DivMod)
instantiate_kernel("sv2_DivModbfloat16", binary_sv2, bfloat16_t, bfloat16_t, DivMod)
instantiate_kernel("vs2_DivModbfloat16", binary_vs2, bfloat16_t, bfloat16_t, DivMod)
instantiate_kernel("vv2_DivModbfloat16", binary_vv2, bfloat16_t, bfloat16_t, DivMod)
instantiate_kernel("g_nd1_DivModbfloat16", binary_g_nd1, bfloat16_t, bfloat16_t, DivMod)
instantiate_kernel("g_nd2_DivModbfloat16", binary_g_nd2, bfloat16_t, bfloat16_t, DivMod)
instantiate_kernel("g_nd3_DivModbfloat16", binary_g_nd3, bfloat16_t, bfloat16_t, DivMod)
instantiate_kernel("g_DivModbfloat16", binary_g, bfloat16_t, bfloat16_t, DivMod)
instantiate_kernel("ss_DivModint32", binary_ss, int, int, DivMod)
instantiate_kernel("sv_DivModint32", binary_sv, int, int, DivMod)
instantiate_kernel("vs_DivModint32", binary_vs, int, int, DivMod)
instantiate_kernel("vv_DivModint32", binary_vv, int, int, DivMod)
instantiate_kernel("sv2_DivModint32", binary_sv2, int, int, DivMod)
instantiate_kernel("vs2_DivModint32", binary_vs2, int, int, DivMod)
instantiate_kernel("vv2_DivModint32", binary_vv2, int, int, DivMod)
instantiate_kernel("g_nd1_DivModint32", binary_g_nd1, int, int, DivMod)
instantiate_kernel("g_nd2_DivModint32", binary_g_nd2, int, int, DivMod)
instantiate_kernel("g_nd3_DivModint32", binary_g_nd3, int, int, DivMod)
instantiate_kernel("g_DivModint32", binary_g, int, int, DivMod)
// clang-format on
