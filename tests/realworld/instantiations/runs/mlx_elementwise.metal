// Our instantiation of the MLX unary and binary kernels the real-world tests run (MLX
// instantiates them at run time); the headers are MLX's, unmodified, from the mlx-metal
// wheel. instantiations/mlx/ instantiates every kernel of these headers for the compile
// sweep; this file holds only what test_mlx.py launches, to build quickly.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/unary_ops.h"
#include "mlx/backend/metal/kernels/binary_ops.h"
#include "mlx/backend/metal/kernels/unary.h"
#include "mlx/backend/metal/kernels/binary.h"

#define instantiate_runs(tname, type)                                      \
  instantiate_kernel("v_Exp" #tname, unary_v, type, type, Exp)             \
  instantiate_kernel("v_Sigmoid" #tname, unary_v, type, type, Sigmoid)     \
  instantiate_kernel("vv_Add" #tname, binary_vv, type, type, Add)          \
  instantiate_kernel("sv_Add" #tname, binary_sv, type, type, Add)          \
  instantiate_kernel("vv_Multiply" #tname, binary_vv, type, type, Multiply) \
  instantiate_kernel("sv_Multiply" #tname, binary_sv, type, type, Multiply)

instantiate_runs(float32, float)
instantiate_runs(float16, half)
instantiate_runs(bfloat16, bfloat16_t)
// clang-format on
