// Threadgroup memory, barriers, atomics.
#include <metal_stdlib>
using namespace metal;

// Row sum with one threadgroup per row (the RMSNorm pattern): simd_sum, partials in
// threadgroup memory, barrier, second simd_sum.
template <typename T>
[[kernel]] void row_sum(device const T* x [[buffer(0)]],
                        device float* out [[buffer(1)]],
                        constant uint& n [[buffer(2)]],
                        uint row [[threadgroup_position_in_grid]],
                        uint tid [[thread_index_in_threadgroup]],
                        uint threads [[threads_per_threadgroup]],
                        uint lane [[thread_index_in_simdgroup]],
                        uint sg [[simdgroup_index_in_threadgroup]],
                        uint sgs [[simdgroups_per_threadgroup]]) {
  threadgroup float partials[32];
  float acc = 0.0f;
  for (uint j = tid; j < n; j += threads) {
    acc += float(x[row * n + j]);
  }
  acc = simd_sum(acc);
  if (lane == 0) {
    partials[sg] = acc;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float total = lane < sgs ? partials[lane] : 0.0f;
  total = simd_sum(total);
  if (tid == 0) {
    out[row] = total;
  }
}
template [[host_name("row_sum_float")]] [[kernel]] decltype(row_sum<float>) row_sum<float>;
template [[host_name("row_sum_half")]] [[kernel]] decltype(row_sum<half>) row_sum<half>;

// Reverses each threadgroup's block through a dynamic [[threadgroup(0)]] buffer.
kernel void reverse_block(device const float* x [[buffer(0)]],
                          device float* out [[buffer(1)]],
                          threadgroup float* scratch [[threadgroup(0)]],
                          uint gid [[thread_position_in_grid]],
                          uint tid [[thread_index_in_threadgroup]],
                          uint threads [[threads_per_threadgroup]]) {
  scratch[tid] = x[gid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[gid] = scratch[threads - 1 - tid];
}

// Histogram with device atomics and a threadgroup atomic counter; float atomic add.
kernel void histogram(device const uint* values [[buffer(0)]],
                      device atomic_uint* bins [[buffer(1)]],
                      device atomic_int* groups_seen [[buffer(2)]],
                      device atomic_float* total [[buffer(3)]],
                      uint gid [[thread_position_in_grid]],
                      uint tid [[thread_index_in_threadgroup]]) {
  threadgroup atomic_int local_count;
  if (tid == 0) {
    atomic_store_explicit(&local_count, 0, memory_order_relaxed);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  atomic_fetch_add_explicit(&bins[values[gid] % 8], 1u, memory_order_relaxed);
  atomic_fetch_add_explicit(&local_count, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(total, 0.5f, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == 0) {
    atomic_fetch_max_explicit(groups_seen, atomic_load_explicit(&local_count, memory_order_relaxed),
                              memory_order_relaxed);
  }
}

// simdgroup_barrier orders threadgroup memory within one SIMD-group.
kernel void simd_exchange(device const float* x [[buffer(0)]],
                          device float* out [[buffer(1)]],
                          uint gid [[thread_position_in_grid]],
                          uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float slots[64];
  slots[tid] = x[gid];
  simdgroup_barrier(mem_flags::mem_threadgroup);
  out[gid] = slots[tid ^ 1];
}
