// Our instantiation of MLX's sort.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/sort.h"

instantiate_kernel("carg_block_sort_float32_true", block_sort, float, uint32_t, true, 256, 4)
instantiate_kernel("ncarg_block_sort_float32_true", block_sort_nc, float, uint32_t, true, 256, 4)
instantiate_kernel("mb_block_sort_float32_true", mb_block_sort, float, uint32_t, true, 256, 4)
instantiate_kernel("mb_block_partition_float32_true", mb_block_partition, float, uint32_t, true, 256, 4)
instantiate_kernel("mb_block_merge_float32_true", mb_block_merge, float, uint32_t, true, 256, 4)
instantiate_kernel("carg_block_sort_float32_false", block_sort, float, uint32_t, false, 256, 4)
instantiate_kernel("ncarg_block_sort_float32_false", block_sort_nc, float, uint32_t, false, 256, 4)
instantiate_kernel("mb_block_sort_float32_false", mb_block_sort, float, uint32_t, false, 256, 4)
instantiate_kernel("mb_block_partition_float32_false", mb_block_partition, float, uint32_t, false, 256, 4)
instantiate_kernel("mb_block_merge_float32_false", mb_block_merge, float, uint32_t, false, 256, 4)
instantiate_kernel("carg_block_sort_float16_true", block_sort, half, uint32_t, true, 256, 4)
instantiate_kernel("ncarg_block_sort_float16_true", block_sort_nc, half, uint32_t, true, 256, 4)
instantiate_kernel("mb_block_sort_float16_true", mb_block_sort, half, uint32_t, true, 256, 4)
instantiate_kernel("mb_block_partition_float16_true", mb_block_partition, half, uint32_t, true, 256, 4)
instantiate_kernel("mb_block_merge_float16_true", mb_block_merge, half, uint32_t, true, 256, 4)
instantiate_kernel("carg_block_sort_float16_false", block_sort, half, uint32_t, false, 256, 4)
instantiate_kernel("ncarg_block_sort_float16_false", block_sort_nc, half, uint32_t, false, 256, 4)
instantiate_kernel("mb_block_sort_float16_false", mb_block_sort, half, uint32_t, false, 256, 4)
instantiate_kernel("mb_block_partition_float16_false", mb_block_partition, half, uint32_t, false, 256, 4)
instantiate_kernel("mb_block_merge_float16_false", mb_block_merge, half, uint32_t, false, 256, 4)
instantiate_kernel("carg_block_sort_bfloat16_true", block_sort, bfloat16_t, uint32_t, true, 256, 4)
instantiate_kernel("ncarg_block_sort_bfloat16_true", block_sort_nc, bfloat16_t, uint32_t, true, 256, 4)
instantiate_kernel("mb_block_sort_bfloat16_true", mb_block_sort, bfloat16_t, uint32_t, true, 256, 4)
instantiate_kernel("mb_block_partition_bfloat16_true", mb_block_partition, bfloat16_t, uint32_t, true, 256, 4)
instantiate_kernel("mb_block_merge_bfloat16_true", mb_block_merge, bfloat16_t, uint32_t, true, 256, 4)
instantiate_kernel("carg_block_sort_bfloat16_false", block_sort, bfloat16_t, uint32_t, false, 256, 4)
instantiate_kernel("ncarg_block_sort_bfloat16_false", block_sort_nc, bfloat16_t, uint32_t, false, 256, 4)
instantiate_kernel("mb_block_sort_bfloat16_false", mb_block_sort, bfloat16_t, uint32_t, false, 256, 4)
instantiate_kernel("mb_block_partition_bfloat16_false", mb_block_partition, bfloat16_t, uint32_t, false, 256, 4)
instantiate_kernel("mb_block_merge_bfloat16_false", mb_block_merge, bfloat16_t, uint32_t, false, 256, 4)
instantiate_kernel("carg_block_sort_int32_true", block_sort, int, uint32_t, true, 256, 4)
instantiate_kernel("ncarg_block_sort_int32_true", block_sort_nc, int, uint32_t, true, 256, 4)
instantiate_kernel("mb_block_sort_int32_true", mb_block_sort, int, uint32_t, true, 256, 4)
instantiate_kernel("mb_block_partition_int32_true", mb_block_partition, int, uint32_t, true, 256, 4)
instantiate_kernel("mb_block_merge_int32_true", mb_block_merge, int, uint32_t, true, 256, 4)
instantiate_kernel("carg_block_sort_int32_false", block_sort, int, uint32_t, false, 256, 4)
instantiate_kernel("ncarg_block_sort_int32_false", block_sort_nc, int, uint32_t, false, 256, 4)
instantiate_kernel("mb_block_sort_int32_false", mb_block_sort, int, uint32_t, false, 256, 4)
instantiate_kernel("mb_block_partition_int32_false", mb_block_partition, int, uint32_t, false, 256, 4)
instantiate_kernel("mb_block_merge_int32_false", mb_block_merge, int, uint32_t, false, 256, 4)
// clang-format on
