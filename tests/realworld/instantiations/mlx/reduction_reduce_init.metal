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
instantiate_kernel("init_reduce_minfloat32", init_reduce, float, Min<float>)
instantiate_kernel("init_reduce_prodfloat32", init_reduce, float, Prod<float>)
instantiate_kernel("init_reduce_sumfloat16", init_reduce, half, Sum<half>)
instantiate_kernel("init_reduce_maxfloat16", init_reduce, half, Max<half>)
instantiate_kernel("init_reduce_minfloat16", init_reduce, half, Min<half>)
instantiate_kernel("init_reduce_prodfloat16", init_reduce, half, Prod<half>)
instantiate_kernel("init_reduce_sumbfloat16", init_reduce, bfloat16_t, Sum<bfloat16_t>)
instantiate_kernel("init_reduce_maxbfloat16", init_reduce, bfloat16_t, Max<bfloat16_t>)
instantiate_kernel("init_reduce_minbfloat16", init_reduce, bfloat16_t, Min<bfloat16_t>)
instantiate_kernel("init_reduce_prodbfloat16", init_reduce, bfloat16_t, Prod<bfloat16_t>)
instantiate_kernel("init_reduce_sumint32", init_reduce, int, Sum<int>)
instantiate_kernel("init_reduce_maxint32", init_reduce, int, Max<int>)
instantiate_kernel("init_reduce_minint32", init_reduce, int, Min<int>)
instantiate_kernel("init_reduce_prodint32", init_reduce, int, Prod<int>)
// clang-format on
