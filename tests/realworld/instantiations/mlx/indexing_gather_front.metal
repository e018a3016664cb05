// Our instantiation of MLX's indexing/gather_front.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/atomic.h"
#include "mlx/backend/metal/kernels/indexing/indexing.h"
#include "mlx/backend/metal/kernels/reduction/ops.h"
#include "mlx/backend/metal/kernels/indexing/gather_front.h"

instantiate_kernel("gather_front_float32_int32_1", gather_front, float, int32_t, int, 1)
instantiate_kernel("gather_front_float32_int32_2", gather_front, float, int32_t, int, 2)
instantiate_kernel("gather_front_float32_uint32_1", gather_front, float, uint32_t, int, 1)
instantiate_kernel("gather_front_float32_uint32_2", gather_front, float, uint32_t, int, 2)
instantiate_kernel("gather_front_float16_int32_1", gather_front, half, int32_t, int, 1)
instantiate_kernel("gather_front_float16_int32_2", gather_front, half, int32_t, int, 2)
instantiate_kernel("gather_front_float16_uint32_1", gather_front, half, uint32_t, int, 1)
instantiate_kernel("gather_front_float16_uint32_2", gather_front, half, uint32_t, int, 2)
instantiate_kernel("gather_front_bfloat16_int32_1", gather_front, bfloat16_t, int32_t, int, 1)
instantiate_kernel("gather_front_bfloat16_int32_2", gather_front, bfloat16_t, int32_t, int, 2)
instantiate_kernel("gather_front_bfloat16_uint32_1", gather_front, bfloat16_t, uint32_t, int, 1)
instantiate_kernel("gather_front_bfloat16_uint32_2", gather_front, bfloat16_t, uint32_t, int, 2)
// clang-format on
