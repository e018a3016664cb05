// Our instantiation of MLX's reduction/reduce_col.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/atomic.h"
#include "mlx/backend/metal/kernels/reduction/ops.h"
#include "mlx/backend/metal/kernels/reduce_utils.h"
#include "mlx/backend/metal/kernels/reduction/reduce_col.h"

instantiate_kernel("col_reduce_small_1_sumfloat32", col_reduce_small, float, float, Sum<float>, int, 1)
instantiate_kernel("col_reduce_longcolumn_1_sumfloat32", col_reduce_longcolumn, float, float, Sum<float>, int, 1)
instantiate_kernel("col_reduce_looped_1_sumfloat32", col_reduce_looped, float, float, Sum<float>, int, 1, 32, 32)
instantiate_kernel("col_reduce_2pass_1_sumfloat32", col_reduce_2pass, float, float, Sum<float>, int, 1, 32, 32)
instantiate_kernel("col_reduce_small_2_sumfloat32", col_reduce_small, float, float, Sum<float>, int, 2)
instantiate_kernel("col_reduce_longcolumn_2_sumfloat32", col_reduce_longcolumn, float, float, Sum<float>, int, 2)
instantiate_kernel("col_reduce_looped_2_sumfloat32", col_reduce_looped, float, float, Sum<float>, int, 2, 32, 32)
instantiate_kernel("col_reduce_2pass_2_sumfloat32", col_reduce_2pass, float, float, Sum<float>, int, 2, 32, 32)
instantiate_kernel("col_reduce_small_1_maxfloat32", col_reduce_small, float, float, Max<float>, int, 1)
instantiate_kernel("col_reduce_longcolumn_1_maxfloat32", col_reduce_longcolumn, float, float, Max<float>, int, 1)
instantiate_kernel("col_reduce_looped_1_maxfloat32", col_reduce_looped, float, float, Max<float>, int, 1, 32, 32)
instantiate_kernel("col_reduce_2pass_1_maxfloat32", col_reduce_2pass, float, float, Max<float>, int, 1, 32, 32)
instantiate_kernel("col_reduce_small_1_sumfloat16", col_reduce_small, half, half, Sum<half>, int, 1)
instantiate_kernel("col_reduce_longcolumn_1_sumfloat16", col_reduce_longcolumn, half, half, Sum<half>, int, 1)
instantiate_kernel("col_reduce_looped_1_sumfloat16", col_reduce_looped, half, half, Sum<half>, int, 1, 32, 32)
instantiate_kernel("col_reduce_2pass_1_sumfloat16", col_reduce_2pass, half, half, Sum<half>, int, 1, 32, 32)
instantiate_kernel("col_reduce_small_2_sumfloat16", col_reduce_small, half, half, Sum<half>, int, 2)
instantiate_kernel("col_reduce_longcolumn_2_sumfloat16", col_reduce_longcolumn, half, half, Sum<half>, int, 2)
instantiate_kernel("col_reduce_looped_2_sumfloat16", col_reduce_looped, half, half, Sum<half>, int, 2, 32, 32)
instantiate_kernel("col_reduce_2pass_2_sumfloat16", col_reduce_2pass, half, half, Sum<half>, int, 2, 32, 32)
instantiate_kernel("col_reduce_small_1_maxfloat16", col_reduce_small, half, half, Max<half>, int, 1)
instantiate_kernel("col_reduce_longcolumn_1_maxfloat16", col_reduce_longcolumn, half, half, Max<half>, int, 1)
instantiate_kernel("col_reduce_looped_1_maxfloat16", col_reduce_looped, half, half, Max<half>, int, 1, 32, 32)
instantiate_kernel("col_reduce_2pass_1_maxfloat16", col_reduce_2pass, half, half, Max<half>, int, 1, 32, 32)
instantiate_kernel("col_reduce_small_1_sumbfloat16", col_reduce_small, bfloat16_t, bfloat16_t, Sum<bfloat16_t>, int, 1)
instantiate_kernel("col_reduce_longcolumn_1_sumbfloat16", col_reduce_longcolumn, bfloat16_t, bfloat16_t, Sum<bfloat16_t>, int, 1)
instantiate_kernel("col_reduce_looped_1_sumbfloat16", col_reduce_looped, bfloat16_t, bfloat16_t, Sum<bfloat16_t>, int, 1, 32, 32)
instantiate_kernel("col_reduce_2pass_1_sumbfloat16", col_reduce_2pass, bfloat16_t, bfloat16_t, Sum<bfloat16_t>, int, 1, 32, 32)
instantiate_kernel("col_reduce_small_2_sumbfloat16", col_reduce_small, bfloat16_t, bfloat16_t, Sum<bfloat16_t>, int, 2)
instantiate_kernel("col_reduce_longcolumn_2_sumbfloat16", col_reduce_longcolumn, bfloat16_t, bfloat16_t, Sum<bfloat16_t>, int, 2)
instantiate_kernel("col_reduce_looped_2_sumbfloat16", col_reduce_looped, bfloat16_t, bfloat16_t, Sum<bfloat16_t>, int, 2, 32, 32)
instantiate_kernel("col_reduce_2pass_2_sumbfloat16", col_reduce_2pass, bfloat16_t, bfloat16_t, Sum<bfloat16_t>, int, 2, 32, 32)
instantiate_kernel("col_reduce_small_1_maxbfloat16", col_reduce_small, bfloat16_t, bfloat16_t, Max<bfloat16_t>, int, 1)
instantiate_kernel("col_reduce_longcolumn_1_maxbfloat16", col_reduce_longcolumn, bfloat16_t, bfloat16_t, Max<bfloat16_t>, int, 1)
instantiate_kernel("col_reduce_looped_1_maxbfloat16", col_reduce_looped, bfloat16_t, bfloat16_t, Max<bfloat16_t>, int, 1, 32, 32)
instantiate_kernel("col_reduce_2pass_1_maxbfloat16", col_reduce_2pass, bfloat16_t, bfloat16_t, Max<bfloat16_t>, int, 1, 32, 32)
instantiate_kernel("col_reduce_small_1_sumint32", col_reduce_small, int, int, Sum<int>, int, 1)
instantiate_kernel("col_reduce_longcolumn_1_sumint32", col_reduce_longcolumn, int, int, Sum<int>, int, 1)
instantiate_kernel("col_reduce_looped_1_sumint32", col_reduce_looped, int, int, Sum<int>, int, 1, 32, 32)
instantiate_kernel("col_reduce_2pass_1_sumint32", col_reduce_2pass, int, int, Sum<int>, int, 1, 32, 32)
instantiate_kernel("col_reduce_small_2_sumint32", col_reduce_small, int, int, Sum<int>, int, 2)
instantiate_kernel("col_reduce_longcolumn_2_sumint32", col_reduce_longcolumn, int, int, Sum<int>, int, 2)
instantiate_kernel("col_reduce_looped_2_sumint32", col_reduce_looped, int, int, Sum<int>, int, 2, 32, 32)
instantiate_kernel("col_reduce_2pass_2_sumint32", col_reduce_2pass, int, int, Sum<int>, int, 2, 32, 32)
instantiate_kernel("col_reduce_small_1_maxint32", col_reduce_small, int, int, Max<int>, int, 1)
instantiate_kernel("col_reduce_longcolumn_1_maxint32", col_reduce_longcolumn, int, int, Max<int>, int, 1)
instantiate_kernel("col_reduce_looped_1_maxint32", col_reduce_looped, int, int, Max<int>, int, 1, 32, 32)
instantiate_kernel("col_reduce_2pass_1_maxint32", col_reduce_2pass, int, int, Max<int>, int, 1, 32, 32)
// clang-format on
