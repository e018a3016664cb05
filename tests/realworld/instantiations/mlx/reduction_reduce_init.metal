// Our instantiation of MLX's reduction/reduce_init.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/atomic.h"
#include "mlx/backend/metal/kernels/reduction/ops.h"
#include "mlx/backend/metal/kernels/reduce_utils.h"
#include "mlx/backend/metal/kernels/reduction/reduce_init.h"

instantiate_kernel("init_reduce_sumfloat32", init_reduce, float, Sum<float>)
instantiate_kernel("init_reduce_maxfloat32", init_reduce, float, Max<float>)
instantiate_kernel("init_reduce_sumfloat16", init_reduce, half, Sum<half>)
instantiate_kernel("init_reduce_maxfloat16", init_reduce, half, Max<half>)
instantiate_kernel("init_reduce_sumbfloat16", init_reduce, bfloat16_t, Sum<bfloat16_t>)
instantiate_kernel("init_reduce_maxbfloat16", init_reduce, bfloat16_t, Max<bfloat16_t>)
instantiate_kernel("init_reduce_sumint32", init_reduce, int, Sum<int>)
instantiate_kernel("init_reduce_maxint32", init_reduce, int, Max<int>)
// clang-format on
