// Our instantiation of MLX's reduction/reduce_row.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/atomic.h"
#include "mlx/backend/metal/kernels/reduction/ops.h"
#include "mlx/backend/metal/kernels/reduce_utils.h"
#include "mlx/backend/metal/kernels/reduction/reduce_row.h"

instantiate_kernel("row_reduce_small_1_sumfloat32", row_reduce_small, float, float, Sum<float>, int, 1)
instantiate_kernel("row_reduce_looped_1_sumfloat32", row_reduce_looped, float, float, Sum<float>, int, 1)
instantiate_kernel("row_reduce_small_2_sumfloat32", row_reduce_small, float, float, Sum<float>, int, 2)
instantiate_kernel("row_reduce_looped_2_sumfloat32", row_reduce_looped, float, float, Sum<float>, int, 2)
instantiate_kernel("row_reduce_simple_sumfloat32", row_reduce_simple, float, float, Sum<float>)
instantiate_kernel("row_reduce_small_1_maxfloat32", row_reduce_small, float, float, Max<float>, int, 1)
instantiate_kernel("row_reduce_looped_1_maxfloat32", row_reduce_looped, float, float, Max<float>, int, 1)
instantiate_kernel("row_reduce_simple_maxfloat32", row_reduce_simple, float, float, Max<float>)
instantiate_kernel("row_reduce_small_1_sumfloat16", row_reduce_small, half, half, Sum<half>, int, 1)
instantiate_kernel("row_reduce_looped_1_sumfloat16", row_reduce_looped, half, half, Sum<half>, int, 1)
instantiate_kernel("row_reduce_small_2_sumfloat16", row_reduce_small, half, half, Sum<half>, int, 2)
instantiate_kernel("row_reduce_looped_2_sumfloat16", row_reduce_looped, half, half, Sum<half>, int, 2)
instantiate_kernel("row_reduce_simple_sumfloat16", row_reduce_simple, half, half, Sum<half>)
instantiate_kernel("row_reduce_small_1_maxfloat16", row_reduce_small, half, half, Max<half>, int, 1)
instantiate_kernel("row_reduce_looped_1_maxfloat16", row_reduce_looped, half, half, Max<half>, int, 1)
instantiate_kernel("row_reduce_simple_maxfloat16", row_reduce_simple, half, half, Max<half>)
instantiate_kernel("row_reduce_small_1_sumbfloat16", row_reduce_small, bfloat16_t, bfloat16_t, Sum<bfloat16_t>, int, 1)
instantiate_kernel("row_reduce_looped_1_sumbfloat16", row_reduce_looped, bfloat16_t, bfloat16_t, Sum<bfloat16_t>, int, 1)
instantiate_kernel("row_reduce_small_2_sumbfloat16", row_reduce_small, bfloat16_t, bfloat16_t, Sum<bfloat16_t>, int, 2)
instantiate_kernel("row_reduce_looped_2_sumbfloat16", row_reduce_looped, bfloat16_t, bfloat16_t, Sum<bfloat16_t>, int, 2)
instantiate_kernel("row_reduce_simple_sumbfloat16", row_reduce_simple, bfloat16_t, bfloat16_t, Sum<bfloat16_t>)
instantiate_kernel("row_reduce_small_1_maxbfloat16", row_reduce_small, bfloat16_t, bfloat16_t, Max<bfloat16_t>, int, 1)
instantiate_kernel("row_reduce_looped_1_maxbfloat16", row_reduce_looped, bfloat16_t, bfloat16_t, Max<bfloat16_t>, int, 1)
instantiate_kernel("row_reduce_simple_maxbfloat16", row_reduce_simple, bfloat16_t, bfloat16_t, Max<bfloat16_t>)
instantiate_kernel("row_reduce_small_1_sumint32", row_reduce_small, int, int, Sum<int>, int, 1)
instantiate_kernel("row_reduce_looped_1_sumint32", row_reduce_looped, int, int, Sum<int>, int, 1)
instantiate_kernel("row_reduce_small_2_sumint32", row_reduce_small, int, int, Sum<int>, int, 2)
instantiate_kernel("row_reduce_looped_2_sumint32", row_reduce_looped, int, int, Sum<int>, int, 2)
instantiate_kernel("row_reduce_simple_sumint32", row_reduce_simple, int, int, Sum<int>)
instantiate_kernel("row_reduce_small_1_maxint32", row_reduce_small, int, int, Max<int>, int, 1)
instantiate_kernel("row_reduce_looped_1_maxint32", row_reduce_looped, int, int, Max<int>, int, 1)
instantiate_kernel("row_reduce_simple_maxint32", row_reduce_simple, int, int, Max<int>)
// clang-format on
