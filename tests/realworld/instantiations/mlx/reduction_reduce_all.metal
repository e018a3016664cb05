// Our instantiation of MLX's reduction/reduce_all.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/atomic.h"
#include "mlx/backend/metal/kernels/reduction/ops.h"
#include "mlx/backend/metal/kernels/reduce_utils.h"
#include "mlx/backend/metal/kernels/reduction/reduce_all.h"

instantiate_kernel("all_reduce_sumfloat32", all_reduce, float, float, Sum<float>)
instantiate_kernel("all_reduce_maxfloat32", all_reduce, float, float, Max<float>)
instantiate_kernel("all_reduce_sumfloat16", all_reduce, half, half, Sum<half>)
instantiate_kernel("all_reduce_maxfloat16", all_reduce, half, half, Max<half>)
instantiate_kernel("all_reduce_sumbfloat16", all_reduce, bfloat16_t, bfloat16_t, Sum<bfloat16_t>)
instantiate_kernel("all_reduce_maxbfloat16", all_reduce, bfloat16_t, bfloat16_t, Max<bfloat16_t>)
instantiate_kernel("all_reduce_sumint32", all_reduce, int, int, Sum<int>)
instantiate_kernel("all_reduce_maxint32", all_reduce, int, int, Max<int>)
// clang-format on
