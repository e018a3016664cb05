// SIMD-group and quad-group functions. Each thread writes its results at its index.
#include <metal_stdlib>
using namespace metal;

// out[i * 16 + k]: one result per function k.
kernel void simd_functions(device const float* x [[buffer(0)]],
                           device float* out [[buffer(1)]],
                           uint i [[thread_position_in_grid]],
                           uint lane [[thread_index_in_simdgroup]]) {
  const float v = x[i];
  device float* o = out + i * 16;
  o[0] = simd_sum(v);
  o[1] = simd_max(v);
  o[2] = simd_min(v);
  o[3] = simd_product(v);
  o[4] = simd_prefix_inclusive_sum(v);
  o[5] = simd_prefix_exclusive_sum(v);
  o[6] = simd_shuffle(v, (lane * 7) % 32);
  o[7] = simd_shuffle_down(v, 3);
  o[8] = simd_shuffle_up(v, 5);
  o[9] = simd_shuffle_xor(v, 6);
  o[10] = simd_broadcast(v, 9);
  o[11] = float(simd_ballot(v > 0.0f).v & 0xFFFFFFFF) ;
  o[12] = simd_all(v > -100.0f) ? 1.0f : 0.0f;
  o[13] = simd_any(v > 1.5f) ? 1.0f : 0.0f;
  o[14] = simd_is_first() ? 1.0f : 0.0f;
  o[15] = quad_sum(v) + quad_shuffle_xor(v, 1) * 1000.0f;
}

// A SIMD-group function called inside a branch: only the lanes in the branch take part.
kernel void simd_divergent(device const float* x [[buffer(0)]],
                           device float* out [[buffer(1)]],
                           uint i [[thread_position_in_grid]],
                           uint lane [[thread_index_in_simdgroup]]) {
  float r;
  if (lane % 2 == 0) {
    r = simd_sum(x[i]);
  } else {
    r = -simd_sum(x[i]);
  }
  out[i] = r;
}

// Vector and integer payloads.
kernel void simd_vectors(device const float4* x [[buffer(0)]],
                         device float4* out [[buffer(1)]],
                         device int* ints [[buffer(2)]],
                         uint i [[thread_position_in_grid]]) {
  out[i] = simd_sum(x[i]) + simd_shuffle_xor(x[i], 1);
  ints[i] = simd_max(int(i) * 3 % 17) + simd_sum(1);
}
