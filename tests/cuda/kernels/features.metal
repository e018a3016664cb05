// Kernels for the CUDA back end's own tests (tests/cuda/test_cuda_features.py): each checks
// one part of the mapping against values the test computes from Metal's rules. The CPU
// simulator runs the same file, so every expectation is checked on both back ends.
#include <metal_stdlib>
using namespace metal;

// Builtins of every thread of a dispatchThreads launch: 8 uints per thread at its grid
// position. With a grid that is not a multiple of the threadgroup, edge threadgroups are
// partial: threads_per_threadgroup, thread indices and SIMD-groups are the partial ones.
kernel void geometry(device uint* out [[buffer(0)]],
                     uint2 position [[thread_position_in_grid]],
                     uint2 grid [[threads_per_grid]],
                     uint2 size [[threads_per_threadgroup]],
                     uint2 group [[threadgroup_position_in_grid]],
                     uint index [[thread_index_in_threadgroup]],
                     ushort lane [[thread_index_in_simdgroup]],
                     uint simd_group [[simdgroup_index_in_threadgroup]],
                     uint simd_groups [[simdgroups_per_threadgroup]]) {
  device uint* o = out + (position.y * grid.x + position.x) * 8;
  o[0] = size.x;
  o[1] = size.y;
  o[2] = group.x;
  o[3] = group.y;
  o[4] = index;
  o[5] = lane;
  o[6] = simd_group;
  o[7] = simd_groups;
}

// half and bfloat arithmetic rounds after every operation; half op float is float.
kernel void low_precision(device const half* a [[buffer(0)]],
                          device const half* b [[buffer(1)]],
                          device half* half_out [[buffer(2)]],
                          device float* mixed_out [[buffer(3)]],
                          device const bfloat* c [[buffer(4)]],
                          device bfloat* bfloat_out [[buffer(5)]],
                          uint i [[thread_position_in_grid]]) {
  half_out[i] = a[i] * b[i] + a[i];
  mixed_out[i] = a[i] * 0.1f;
  bfloat_out[i] = c[i] * c[i] - c[i];
}

// Vectors: constructors, swizzles (read and write), element-wise operators, conversions.
kernel void vectors(device const float4* in [[buffer(0)]],
                    device float4* out [[buffer(1)]],
                    device int4* ints [[buffer(2)]],
                    uint i [[thread_position_in_grid]]) {
  float4 v = in[i];
  float4 w = v.wzyx * 2.0f + float4(1, 2, 3, 4);
  w.xz = v.yw;
  w.y += v.x;
  float2 lo = w.xy;
  float3 rgb = v.rgb;
  out[i * 3] = w;
  out[i * 3 + 1] = float4(lo, rgb.z, float(all(v > 0.0f)));
  out[i * 3 + 2] = select(v, -v, v < 0.0f) + float4(length(v.xy));
  ints[i] = int4(v * 10.0f) + (int4)(v.yxwz);
}

// SIMD-group functions over full SIMD-groups (integer-valued floats: sums are exact).
kernel void simd_functions(device const float* in [[buffer(0)]],
                           device float* out [[buffer(1)]],
                           uint i [[thread_position_in_grid]],
                           ushort lane [[thread_index_in_simdgroup]]) {
  const float x = in[i];
  device float* o = out + i * 8;
  o[0] = simd_sum(x);
  o[1] = simd_max(x);
  o[2] = simd_prefix_exclusive_sum(x);
  o[3] = simd_shuffle_down(x, 3);
  o[4] = simd_shuffle_xor(x, 5);
  o[5] = simd_broadcast(x, 7);
  o[6] = quad_sum(x);
  o[7] = float(simd_ballot(x > 0.0f).all()) + 2.0f * float(simd_is_first()) + 4.0f * float(lane);
}

// A SIMD-group function in divergent code: half the lanes call it.
kernel void partial_sum(device const float* in [[buffer(0)]],
                        device float* out [[buffer(1)]],
                        uint i [[thread_position_in_grid]],
                        ushort lane [[thread_index_in_simdgroup]]) {
  float value = 0.0f;
  if (lane < 16) {
    value = simd_sum(in[i]);
  }
  out[i] = value;
}

// Reading a lane that is not active: undefined in Metal, an error here.
kernel void inactive_read(device const float* in [[buffer(0)]],
                          device float* out [[buffer(1)]],
                          uint i [[thread_position_in_grid]],
                          ushort lane [[thread_index_in_simdgroup]]) {
  float value = 0.0f;
  if (lane < 16) {
    value = simd_shuffle(in[i], ushort(lane + 16));
  }
  out[i] = value;
}

struct Scale {
  float factor;
  uint count;
};

// setBytes data bound to a constant pointer and a constant reference; dynamic threadgroup
// memory ([[threadgroup(0)]]) reversed across the threadgroup.
kernel void bindings(device const float* in [[buffer(0)]],
                     constant float* coefficients [[buffer(1)]],
                     constant Scale& scale [[buffer(2)]],
                     device float* out [[buffer(3)]],
                     threadgroup float* scratch [[threadgroup(0)]],
                     uint i [[thread_position_in_grid]],
                     uint t [[thread_index_in_threadgroup]],
                     uint threads [[threads_per_threadgroup]]) {
  scratch[t] = in[i];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float reversed = scratch[threads - 1 - t];
  out[i] = reversed * scale.factor + coefficients[t % scale.count];
}

// Atomics on device memory and on a threadgroup variable.
kernel void atomics(device atomic_uint* total [[buffer(0)]],
                    device uint* per_group [[buffer(1)]],
                    uint t [[thread_index_in_threadgroup]],
                    uint group [[threadgroup_position_in_grid]]) {
  threadgroup atomic_uint count;
  if (t == 0) {
    atomic_store_explicit(&count, 0u, memory_order_relaxed);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  atomic_fetch_add_explicit(&count, t, memory_order_relaxed);
  atomic_fetch_add_explicit(total, 1u, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (t == 0) {
    per_group[group] = atomic_load_explicit(&count, memory_order_relaxed);
  }
}

// C = A * B + C for 8x8 matrices, one SIMD-group.
kernel void matrix_multiply(device const float* a [[buffer(0)]],
                            device const float* b [[buffer(1)]],
                            device float* c [[buffer(2)]]) {
  simdgroup_float8x8 ma, mb, mc;
  simdgroup_load(ma, a, 8);
  simdgroup_load(mb, b, 8);
  simdgroup_load(mc, c, 8);
  simdgroup_multiply_accumulate(mc, ma, mb, mc);
  simdgroup_store(mc, c, 8);
}

constant bool doubled [[function_constant(0)]];

// A function constant specialises the build.
kernel void constants(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = is_function_constant_defined(doubled) && doubled ? 2.0f * float(i) : float(i);
}
