// Metal 4 (MSL 4.0): tensors and Metal Performance Primitives' matmul2d, as MLX's NAX
// kernels use them (the simulator's layout of cooperative tensors is MLX's).
#include <metal_stdlib>
#include <metal_tensor>
#include <MetalPerformancePrimitives/MetalPerformancePrimitives.h>
using namespace metal;

// D (16 x 32, float) = A (16 x 16, half) * B (16 x 32, half) + C, one SIMD-group, all in
// device memory as row-major matrices. A is read through a tensor view, B into a
// cooperative tensor, C and D through the destination cooperative tensor.
kernel void matmul_16x32x16(device half* a [[buffer(0)]],
                            device half* b [[buffer(1)]],
                            device float* c [[buffer(2)]],
                            device float* d [[buffer(3)]],
                            device int* index_check [[buffer(4)]],
                            uint lane [[thread_index_in_simdgroup]]) {
  using extents_t = dextents<int32_t, 2>;
  using half_view = tensor<device half, extents_t, tensor_inline>;
  using float_view = tensor<device float, extents_t, tensor_inline>;
  half_view ta(a, extents_t(16, 16), array<int32_t, 2>{{1, 16}});
  half_view tb(b, extents_t(32, 16), array<int32_t, 2>{{1, 32}});
  float_view tc(c, extents_t(32, 16), array<int32_t, 2>{{1, 32}});
  float_view td(d, extents_t(32, 16), array<int32_t, 2>{{1, 32}});

  constexpr auto desc = mpp::tensor_ops::matmul2d_descriptor(
      16, 32, 16, false, false, true,
      mpp::tensor_ops::matmul2d_descriptor::mode::multiply_accumulate);
  mpp::tensor_ops::matmul2d<desc, execution_simdgroup> op;
  auto ct_b = op.get_right_input_cooperative_tensor<half, half, float>();
  ct_b.load(tb);
  auto ct_c = op.get_destination_cooperative_tensor<half_view, decltype(ct_b), float>();
  ct_c.load(tc);
  op.run(ta, ct_b, ct_c);
  ct_c.store(td);

  // Every element's {column, row} from get_multidimensional_index, through a lambda
  // (MSL 4.0 has them): the lanes' indices together cover the 16 x 32 matrix once.
  auto record = [&](int i) {
    const auto index = ct_c.get_multidimensional_index(i);
    index_check[index[1] * 32 + index[0]] = int(lane);
  };
  for (int i = 0; i < int(ct_c.get_capacity()); ++i) {
    record(i);
  }
}
