// Our instantiation of the MLX reductions the real-world tests run (MLX instantiates them
// at run time); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/atomic.h"
#include "mlx/backend/metal/kernels/reduction/ops.h"
#include "mlx/backend/metal/kernels/reduce_utils.h"
#include "mlx/backend/metal/kernels/reduce.h"

instantiate_kernel("row_reduce_simple_sumfloat32", row_reduce_simple, float, float, Sum<float>)
instantiate_kernel("row_reduce_simple_sumfloat16", row_reduce_simple, half, half, Sum<half>)
instantiate_kernel("all_reduce_maxfloat32", all_reduce, float, float, Max<float>)
// clang-format on
