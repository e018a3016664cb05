// Our instantiation of MLX's scan.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/binary_ops.h"
#include "mlx/backend/metal/kernels/scan.h"

instantiate_kernel("contig_scan_true_false_sum_float32", contiguous_scan, float, float, CumSum<float>, 4, true, false)
instantiate_kernel("strided_scan_true_false_sum_float32", strided_scan, float, float, CumSum<float>, 4, true, false)
instantiate_kernel("contig_scan_false_true_sum_float32", contiguous_scan, float, float, CumSum<float>, 4, false, true)
instantiate_kernel("strided_scan_false_true_sum_float32", strided_scan, float, float, CumSum<float>, 4, false, true)
instantiate_kernel("contig_scan_true_false_max_float32", contiguous_scan, float, float, CumMax<float>, 4, true, false)
instantiate_kernel("strided_scan_true_false_max_float32", strided_scan, float, float, CumMax<float>, 4, true, false)
instantiate_kernel("contig_scan_false_true_max_float32", contiguous_scan, float, float, CumMax<float>, 4, false, true)
instantiate_kernel("strided_scan_false_true_max_float32", strided_scan, float, float, CumMax<float>, 4, false, true)
instantiate_kernel("contig_scan_true_false_sum_float16", contiguous_scan, half, half, CumSum<half>, 4, true, false)
instantiate_kernel("strided_scan_true_false_sum_float16", strided_scan, half, half, CumSum<half>, 4, true, false)
instantiate_kernel("contig_scan_false_true_sum_float16", contiguous_scan, half, half, CumSum<half>, 4, false, true)
instantiate_kernel("strided_scan_false_true_sum_float16", strided_scan, half, half, CumSum<half>, 4, false, true)
instantiate_kernel("contig_scan_true_false_max_float16", contiguous_scan, half, half, CumMax<half>, 4, true, false)
instantiate_kernel("strided_scan_true_false_max_float16", strided_scan, half, half, CumMax<half>, 4, true, false)
instantiate_kernel("contig_scan_false_true_max_float16", contiguous_scan, half, half, CumMax<half>, 4, false, true)
instantiate_kernel("strided_scan_false_true_max_float16", strided_scan, half, half, CumMax<half>, 4, false, true)
instantiate_kernel("contig_scan_true_false_sum_bfloat16", contiguous_scan, bfloat16_t, bfloat16_t, CumSum<bfloat16_t>, 4, true, false)
instantiate_kernel("strided_scan_true_false_sum_bfloat16", strided_scan, bfloat16_t, bfloat16_t, CumSum<bfloat16_t>, 4, true, false)
instantiate_kernel("contig_scan_false_true_sum_bfloat16", contiguous_scan, bfloat16_t, bfloat16_t, CumSum<bfloat16_t>, 4, false, true)
instantiate_kernel("strided_scan_false_true_sum_bfloat16", strided_scan, bfloat16_t, bfloat16_t, CumSum<bfloat16_t>, 4, false, true)
instantiate_kernel("contig_scan_true_false_max_bfloat16", contiguous_scan, bfloat16_t, bfloat16_t, CumMax<bfloat16_t>, 4, true, false)
instantiate_kernel("strided_scan_true_false_max_bfloat16", strided_scan, bfloat16_t, bfloat16_t, CumMax<bfloat16_t>, 4, true, false)
instantiate_kernel("contig_scan_false_true_max_bfloat16", contiguous_scan, bfloat16_t, bfloat16_t, CumMax<bfloat16_t>, 4, false, true)
instantiate_kernel("strided_scan_false_true_max_bfloat16", strided_scan, bfloat16_t, bfloat16_t, CumMax<bfloat16_t>, 4, false, true)
instantiate_kernel("contig_scan_true_false_prod_int32", contiguous_scan, int, int, CumProd<int>, 4, true, false)
instantiate_kernel("strided_scan_true_false_prod_int32", strided_scan, int, int, CumProd<int>, 4, true, false)
instantiate_kernel("contig_scan_false_true_prod_int32", contiguous_scan, int, int, CumProd<int>, 4, false, true)
instantiate_kernel("strided_scan_false_true_prod_int32", strided_scan, int, int, CumProd<int>, 4, false, true)
instantiate_kernel("contig_scan_true_false_min_int32", contiguous_scan, int, int, CumMin<int>, 4, true, false)
instantiate_kernel("strided_scan_true_false_min_int32", strided_scan, int, int, CumMin<int>, 4, true, false)
instantiate_kernel("contig_scan_false_true_min_int32", contiguous_scan, int, int, CumMin<int>, 4, false, true)
instantiate_kernel("strided_scan_false_true_min_int32", strided_scan, int, int, CumMin<int>, 4, false, true)
instantiate_kernel("contig_scan_logaddexp_float32", contiguous_scan, float, float, CumLogaddexp<float>, 4, true, false)
// clang-format on
