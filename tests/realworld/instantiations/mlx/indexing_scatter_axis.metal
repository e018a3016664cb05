// Our instantiation of MLX's indexing/scatter_axis.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/atomic.h"
#include "mlx/backend/metal/kernels/indexing/indexing.h"
#include "mlx/backend/metal/kernels/reduction/ops.h"
#include "mlx/backend/metal/kernels/indexing/scatter_axis.h"

instantiate_kernel("scatter_axis_float32_none_truetrue", scatter_axis, float, int32_t, int, None, true, true)
instantiate_kernel("scatter_axis_float32_none_truefalse", scatter_axis, float, int32_t, int, None, true, false)
instantiate_kernel("scatter_axis_float32_none_falsetrue", scatter_axis, float, int32_t, int, None, false, true)
instantiate_kernel("scatter_axis_float32_none_falsefalse", scatter_axis, float, int32_t, int, None, false, false)
instantiate_kernel("scatter_axis_float32_sum_truetrue", scatter_axis, float, int32_t, int, Sum<float>, true, true)
instantiate_kernel("scatter_axis_float32_sum_truefalse", scatter_axis, float, int32_t, int, Sum<float>, true, false)
instantiate_kernel("scatter_axis_float32_sum_falsetrue", scatter_axis, float, int32_t, int, Sum<float>, false, true)
instantiate_kernel("scatter_axis_float32_sum_falsefalse", scatter_axis, float, int32_t, int, Sum<float>, false, false)
instantiate_kernel("scatter_axis_float16_none_truetrue", scatter_axis, half, int32_t, int, None, true, true)
instantiate_kernel("scatter_axis_float16_none_truefalse", scatter_axis, half, int32_t, int, None, true, false)
instantiate_kernel("scatter_axis_float16_none_falsetrue", scatter_axis, half, int32_t, int, None, false, true)
instantiate_kernel("scatter_axis_float16_none_falsefalse", scatter_axis, half, int32_t, int, None, false, false)
instantiate_kernel("scatter_axis_float16_sum_truetrue", scatter_axis, half, int32_t, int, Sum<half>, true, true)
instantiate_kernel("scatter_axis_float16_sum_truefalse", scatter_axis, half, int32_t, int, Sum<half>, true, false)
instantiate_kernel("scatter_axis_float16_sum_falsetrue", scatter_axis, half, int32_t, int, Sum<half>, false, true)
instantiate_kernel("scatter_axis_float16_sum_falsefalse", scatter_axis, half, int32_t, int, Sum<half>, false, false)
instantiate_kernel("scatter_axis_bfloat16_none_truetrue", scatter_axis, bfloat16_t, int32_t, int, None, true, true)
instantiate_kernel("scatter_axis_bfloat16_none_truefalse", scatter_axis, bfloat16_t, int32_t, int, None, true, false)
instantiate_kernel("scatter_axis_bfloat16_none_falsetrue", scatter_axis, bfloat16_t, int32_t, int, None, false, true)
instantiate_kernel("scatter_axis_bfloat16_none_falsefalse", scatter_axis, bfloat16_t, int32_t, int, None, false, false)
instantiate_kernel("scatter_axis_bfloat16_sum_truetrue", scatter_axis, bfloat16_t, int32_t, int, Sum<bfloat16_t>, true, true)
instantiate_kernel("scatter_axis_bfloat16_sum_truefalse", scatter_axis, bfloat16_t, int32_t, int, Sum<bfloat16_t>, true, false)
instantiate_kernel("scatter_axis_bfloat16_sum_falsetrue", scatter_axis, bfloat16_t, int32_t, int, Sum<bfloat16_t>, false, true)
instantiate_kernel("scatter_axis_bfloat16_sum_falsefalse", scatter_axis, bfloat16_t, int32_t, int, Sum<bfloat16_t>, false, false)
// clang-format on
