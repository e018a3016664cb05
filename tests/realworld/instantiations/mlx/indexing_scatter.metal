// Our instantiation of MLX's indexing/scatter.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/atomic.h"
#include "mlx/backend/metal/kernels/indexing/indexing.h"
#include "mlx/backend/metal/kernels/reduction/ops.h"
#include "mlx/backend/metal/kernels/indexing/scatter.h"

instantiate_kernel("slice_update_float32_max_1", slice_update_op_impl, float, int32_t, Max<float>, true, true, false, 4, 1)
instantiate_kernel("slice_update_float32_max_2", slice_update_op_impl, float, int32_t, Max<float>, true, true, false, 4, 2)
instantiate_kernel("slice_update_float32_sum_1", slice_update_op_impl, float, int32_t, Sum<float>, true, true, false, 4, 1)
instantiate_kernel("slice_update_float32_sum_2", slice_update_op_impl, float, int32_t, Sum<float>, true, true, false, 4, 2)
instantiate_kernel("slice_update_float16_max_1", slice_update_op_impl, half, int32_t, Max<half>, true, true, false, 4, 1)
instantiate_kernel("slice_update_float16_max_2", slice_update_op_impl, half, int32_t, Max<half>, true, true, false, 4, 2)
instantiate_kernel("slice_update_float16_sum_1", slice_update_op_impl, half, int32_t, Sum<half>, true, true, false, 4, 1)
instantiate_kernel("slice_update_float16_sum_2", slice_update_op_impl, half, int32_t, Sum<half>, true, true, false, 4, 2)
instantiate_kernel("slice_update_bfloat16_max_1", slice_update_op_impl, bfloat16_t, int32_t, Max<bfloat16_t>, true, true, false, 4, 1)
instantiate_kernel("slice_update_bfloat16_max_2", slice_update_op_impl, bfloat16_t, int32_t, Max<bfloat16_t>, true, true, false, 4, 2)
instantiate_kernel("slice_update_bfloat16_sum_1", slice_update_op_impl, bfloat16_t, int32_t, Sum<bfloat16_t>, true, true, false, 4, 1)
instantiate_kernel("slice_update_bfloat16_sum_2", slice_update_op_impl, bfloat16_t, int32_t, Sum<bfloat16_t>, true, true, false, 4, 2)
// clang-format on
