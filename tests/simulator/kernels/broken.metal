// Deliberately broken kernels: each must be caught by the simulator.
#include <metal_stdlib>
using namespace metal;

// Missing barrier: reads a neighbour's threadgroup slot without waiting for it.
kernel void missing_barrier(device const float* x [[buffer(0)]],
                            device float* out [[buffer(1)]],
                            uint gid [[thread_position_in_grid]],
                            uint tid [[thread_index_in_threadgroup]],
                            uint threads [[threads_per_threadgroup]]) {
  threadgroup float slots[256];
  slots[tid] = x[gid];
  out[gid] = slots[(tid + 33) % threads];
}

// Early return before a barrier: threads past n leave, the rest wait forever on a GPU.
kernel void early_return(device const float* x [[buffer(0)]],
                         device float* out [[buffer(1)]],
                         constant uint& n [[buffer(2)]],
                         uint gid [[thread_position_in_grid]],
                         uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float slots[64];
  if (gid >= n) {
    return;
  }
  slots[tid] = x[gid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[gid] = slots[tid];
}

// Off-by-one read: the last thread reads x[n].
kernel void off_by_one(device const float* x [[buffer(0)]],
                       device float* out [[buffer(1)]],
                       constant uint& n [[buffer(2)]],
                       uint gid [[thread_position_in_grid]]) {
  if (gid < n) {
    out[gid] = x[gid] + x[gid + 1];
  }
}

// Off-by-one in threadgroup memory.
kernel void threadgroup_overflow(device float* out [[buffer(0)]],
                                 uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float slots[32];
  slots[tid] = float(tid);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[tid] = slots[tid + 1];
}

// Unwritten tail: the grid is computed with floor division, so the tail is never written.
kernel void unwritten_tail(device const float4* x [[buffer(0)]],
                           device float4* out [[buffer(1)]],
                           uint gid [[thread_position_in_grid]]) {
  out[gid] = x[gid] * 2.0f;
}

// Non-uniform shuffle: the delta depends on the lane.
kernel void non_uniform_shuffle(device const float* x [[buffer(0)]],
                                device float* out [[buffer(1)]],
                                uint gid [[thread_position_in_grid]],
                                uint lane [[thread_index_in_simdgroup]]) {
  out[gid] = simd_shuffle_down(x[gid], lane < 16 ? 1 : 2);
}

// Reads a lane that does not exist in a partial SIMD-group.
kernel void inactive_lane(device const float* x [[buffer(0)]],
                          device float* out [[buffer(1)]],
                          uint gid [[thread_position_in_grid]]) {
  out[gid] = simd_broadcast(x[gid], 31);
}

// Barrier inside a branch that only some SIMD-groups take.
kernel void divergent_barrier(device float* out [[buffer(0)]],
                              uint tid [[thread_index_in_threadgroup]]) {
  if (tid < 32) {
    threadgroup_barrier(mem_flags::mem_threadgroup);
  } else {
    threadgroup_barrier(mem_flags::mem_device);
  }
  out[tid] = 1.0f;
}

// 40 KiB of threadgroup memory: over the 32 KiB limit.
kernel void too_much_threadgroup_memory(device float* out [[buffer(0)]],
                                        uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float big[10240];
  big[tid] = 1.0f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[tid] = big[0];
}

// 256 KiB of thread-local array: overflows the fiber stack (Metal would spill to memory).
kernel void stack_overflow(device float* out [[buffer(0)]],
                           constant uint& n [[buffer(1)]],
                           uint gid [[thread_position_in_grid]]) {
  float local[65536];
  for (uint k = 0; k < n; ++k) {
    local[k] = float(k + gid);
  }
  out[gid] = local[n - 1];
}
