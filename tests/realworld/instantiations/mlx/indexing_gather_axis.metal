// Our instantiation of MLX's indexing/gather_axis.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/atomic.h"
#include "mlx/backend/metal/kernels/indexing/indexing.h"
#include "mlx/backend/metal/kernels/reduction/ops.h"
#include "mlx/backend/metal/kernels/indexing/gather_axis.h"

instantiate_kernel("gather_axis_float32_int32_truetrue", gather_axis, float, int32_t, int, true, true)
instantiate_kernel("gather_axis_float32_int32_truefalse", gather_axis, float, int32_t, int, true, false)
instantiate_kernel("gather_axis_float32_int32_falsetrue", gather_axis, float, int32_t, int, false, true)
instantiate_kernel("gather_axis_float32_int32_falsefalse", gather_axis, float, int32_t, int, false, false)
instantiate_kernel("gather_axis_float32_uint32_truetrue", gather_axis, float, uint32_t, int, true, true)
instantiate_kernel("gather_axis_float32_uint32_truefalse", gather_axis, float, uint32_t, int, true, false)
instantiate_kernel("gather_axis_float32_uint32_falsetrue", gather_axis, float, uint32_t, int, false, true)
instantiate_kernel("gather_axis_float32_uint32_falsefalse", gather_axis, float, uint32_t, int, false, false)
instantiate_kernel("gather_axis_float16_int32_truetrue", gather_axis, half, int32_t, int, true, true)
instantiate_kernel("gather_axis_float16_int32_truefalse", gather_axis, half, int32_t, int, true, false)
instantiate_kernel("gather_axis_float16_int32_falsetrue", gather_axis, half, int32_t, int, false, true)
instantiate_kernel("gather_axis_float16_int32_falsefalse", gather_axis, half, int32_t, int, false, false)
instantiate_kernel("gather_axis_float16_uint32_truetrue", gather_axis, half, uint32_t, int, true, true)
instantiate_kernel("gather_axis_float16_uint32_truefalse", gather_axis, half, uint32_t, int, true, false)
instantiate_kernel("gather_axis_float16_uint32_falsetrue", gather_axis, half, uint32_t, int, false, true)
instantiate_kernel("gather_axis_float16_uint32_falsefalse", gather_axis, half, uint32_t, int, false, false)
instantiate_kernel("gather_axis_bfloat16_int32_truetrue", gather_axis, bfloat16_t, int32_t, int, true, true)
instantiate_kernel("gather_axis_bfloat16_int32_truefalse", gather_axis, bfloat16_t, int32_t, int, true, false)
instantiate_kernel("gather_axis_bfloat16_int32_falsetrue", gather_axis, bfloat16_t, int32_t, int, false, true)
instantiate_kernel("gather_axis_bfloat16_int32_falsefalse", gather_axis, bfloat16_t, int32_t, int, false, false)
instantiate_kernel("gather_axis_bfloat16_uint32_truetrue", gather_axis, bfloat16_t, uint32_t, int, true, true)
instantiate_kernel("gather_axis_bfloat16_uint32_truefalse", gather_axis, bfloat16_t, uint32_t, int, true, false)
instantiate_kernel("gather_axis_bfloat16_uint32_falsetrue", gather_axis, bfloat16_t, uint32_t, int, false, true)
instantiate_kernel("gather_axis_bfloat16_uint32_falsefalse", gather_axis, bfloat16_t, uint32_t, int, false, false)
// clang-format on
