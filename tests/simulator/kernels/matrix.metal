// C = A * B for small square matrices (multiples of 8) with simdgroup matrices:
// one SIMD-group per 8x8 output tile.
#include <metal_stdlib>
using namespace metal;

template <typename T>
[[kernel]] void matmul(device const T* a [[buffer(0)]],
                       device const T* b [[buffer(1)]],
                       device T* c [[buffer(2)]],
                       constant uint& n [[buffer(3)]],
                       uint2 tile [[threadgroup_position_in_grid]]) {
  simdgroup_matrix<T, 8, 8> acc = make_filled_simdgroup_matrix<T, 8, 8>(T(0));
  for (uint k = 0; k < n; k += 8) {
    simdgroup_matrix<T, 8, 8> ma;
    simdgroup_matrix<T, 8, 8> mb;
    simdgroup_load(ma, a, n, ulong2(k, tile.y * 8));
    simdgroup_load(mb, b, n, ulong2(tile.x * 8, k));
    simdgroup_multiply_accumulate(acc, ma, mb, acc);
  }
  simdgroup_store(acc, c, n, ulong2(tile.x * 8, tile.y * 8));
}
template [[host_name("matmul_float")]] [[kernel]] decltype(matmul<float>) matmul<float>;
template [[host_name("matmul_half")]] [[kernel]] decltype(matmul<half>) matmul<half>;
template [[host_name("matmul_bfloat")]] [[kernel]] decltype(matmul<bfloat>) matmul<bfloat>;

// Loads a transposed tile and writes each lane's thread_elements(): checks the lane layout.
kernel void lane_layout(device const float* a [[buffer(0)]],
                        device float* out [[buffer(1)]],
                        device float* transposed [[buffer(2)]],
                        uint lane [[thread_index_in_simdgroup]]) {
  simdgroup_float8x8 m;
  simdgroup_load(m, a, 8);
  out[lane * 2] = m.thread_elements()[0];
  out[lane * 2 + 1] = m.thread_elements()[1];
  simdgroup_float8x8 t;
  simdgroup_load(t, a, 8, ulong2(0, 0), true);
  simdgroup_store(t, transposed, 8);
}

// simdgroup_multiply (no accumulator) and the diagonal constructor: out = (a * b) * 2I.
kernel void multiply_diagonal(device const float* a [[buffer(0)]],
                              device const float* b [[buffer(1)]],
                              device float* out [[buffer(2)]]) {
  simdgroup_float8x8 ma, mb, product;
  simdgroup_load(ma, a, 8);
  simdgroup_load(mb, b, 8);
  simdgroup_multiply(product, ma, mb);
  simdgroup_multiply(product, product, simdgroup_float8x8(2.0f));
  simdgroup_store(product, out, 8);
}
