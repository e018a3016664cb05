// Planted bugs for the memory checks (tests/simulator/test_races.py): races, reads of
// uninitialized threadgroup memory, 64-wide SIMD assumptions, out-of-bounds accesses.
// Each buggy kernel has a correct twin that must pass. Line numbers are asserted by the
// tests: add new kernels at the end.
#include <metal_stdlib>
using namespace metal;

// Reads the previous thread's slot with no barrier after the writes.
kernel void neighbour_no_barrier(device const float* x [[buffer(0)]],
                                 device float* out [[buffer(1)]],
                                 uint gid [[thread_position_in_grid]],
                                 uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float slots[256];
  slots[tid] = x[gid];
  out[gid] = slots[tid == 0 ? 0 : tid - 1];
}

// The barrier is there but orders no threadgroup memory (the flags come from buffer 2).
kernel void neighbour_weak_barrier(device const float* x [[buffer(0)]],
                                   device float* out [[buffer(1)]],
                                   constant uint& flags [[buffer(2)]],
                                   uint gid [[thread_position_in_grid]],
                                   uint tid [[thread_index_in_threadgroup]],
                                   uint threads [[threads_per_threadgroup]]) {
  threadgroup float slots[256];
  slots[tid] = x[gid];
  if (flags == 0) {
    threadgroup_barrier(mem_flags::mem_none);
  } else if (flags == 1) {
    threadgroup_barrier(mem_flags::mem_device);
  } else {
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  out[gid] = slots[(tid + 1) % threads];
}

// Every thread increments one threadgroup counter without an atomic.
kernel void threadgroup_counter(device uint* out [[buffer(0)]],
                                uint tid [[thread_index_in_threadgroup]]) {
  threadgroup uint count;
  if (tid == 0) {
    count = 0;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  count += 1;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == 0) {
    out[0] = count;
  }
}

kernel void threadgroup_counter_atomic(device uint* out [[buffer(0)]],
                                       uint tid [[thread_index_in_threadgroup]]) {
  threadgroup atomic_uint count;
  if (tid == 0) {
    atomic_store_explicit(&count, 0u, memory_order_relaxed);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  atomic_fetch_add_explicit(&count, 1u, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == 0) {
    out[0] = atomic_load_explicit(&count, memory_order_relaxed);
  }
}

// Half the threads fill the buffer, all of them read it; fmax hides the NaN poison.
kernel void half_filled_max(device const float* x [[buffer(0)]],
                            device float* out [[buffer(1)]],
                            uint gid [[thread_position_in_grid]],
                            uint tid [[thread_index_in_threadgroup]],
                            uint threads [[threads_per_threadgroup]]) {
  threadgroup float buf[256];
  if (tid < threads / 2) {
    buf[tid] = x[gid];
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[gid] = fmax(buf[tid], 0.0f);
}

// Thread 0 sums one more element than was written (an off-by-one on the count).
kernel void unwritten_uint_sum(device const uint* x [[buffer(0)]],
                               device uint* out [[buffer(1)]],
                               uint tid [[thread_index_in_threadgroup]],
                               uint threads [[threads_per_threadgroup]]) {
  threadgroup uint buf[257];
  buf[tid] = x[tid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == 0) {
    uint sum = 0;
    for (uint i = 0; i <= threads; i++) {
      sum += buf[i];
    }
    out[0] = sum;
  }
}

// Every thread of every threadgroup increments one device counter without an atomic.
kernel void device_counter(device uint* counter [[buffer(0)]]) {
  counter[0] += 1;
}

kernel void device_counter_atomic(device atomic_uint* counter [[buffer(0)]]) {
  atomic_fetch_add_explicit(counter, 1u, memory_order_relaxed);
}

// Threadgroups overlap in what they write: each writes 64 outputs from its own start,
// but the threadgroups are only 32 apart.
kernel void overlapping_groups(device float* out [[buffer(0)]],
                               uint group [[threadgroup_position_in_grid]],
                               uint tid [[thread_index_in_threadgroup]]) {
  out[group * 32 + tid] = float(group);
}

// A reduction written for 64-wide SIMD-groups: SIMD-groups 0 and 1 both store into
// partial[0], so half of the partial sums are lost.
kernel void reduce_assuming_simd64(device const float* x [[buffer(0)]],
                                   device float* out [[buffer(1)]],
                                   uint gid [[thread_position_in_grid]],
                                   uint tid [[thread_index_in_threadgroup]],
                                   uint lane [[thread_index_in_simdgroup]],
                                   uint threads [[threads_per_threadgroup]]) {
  threadgroup float partial[16];
  const float s = simd_sum(x[gid]);
  if (lane == 0) {
    partial[tid / 64] = s;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == 0) {
    float total = 0.0f;
    for (uint i = 0; i < threads / 64; i++) {
      total += partial[i];
    }
    out[0] = total;
  }
}

// A shuffle tree that starts at offset 32, as for 64-wide SIMD-groups.
kernel void shuffle_tree_from_32(device const float* x [[buffer(0)]],
                                 device float* out [[buffer(1)]],
                                 uint gid [[thread_position_in_grid]]) {
  float v = x[gid];
  for (ushort offset = 32; offset > 0; offset /= 2) {
    v += simd_shuffle_down(v, offset);
  }
  out[gid] = v;
}

// Lanes read their pair leader's value through threadgroup memory; correct only with the SIMD-group
// barrier (flags from buffer 2: 0 none, 1 simdgroup_barrier(mem_threadgroup)).
kernel void simd_exchange(device const float* x [[buffer(0)]],
                          device float* out [[buffer(1)]],
                          constant uint& barrier [[buffer(2)]],
                          uint gid [[thread_position_in_grid]],
                          uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float slots[32];
  slots[tid] = x[gid];
  if (barrier == 1) {
    simdgroup_barrier(mem_flags::mem_threadgroup);
  }
  out[gid] = slots[tid & ~1u];
}

// One past the end, reading and writing.
kernel void read_past_end(device const float* x [[buffer(0)]],
                          device float* out [[buffer(1)]],
                          uint gid [[thread_position_in_grid]]) {
  out[gid] = x[gid + 1];
}

kernel void write_past_end(device float* out [[buffer(0)]],
                           uint gid [[thread_position_in_grid]]) {
  out[gid + 1] = 1.0f;
}

// An index off by a whole buffer, backwards: out[gid - n] is where a tensor allocated just
// before `out` would lie; it must be out of bounds, not a silent write into that tensor.
kernel void write_a_buffer_before(device const float* x [[buffer(0)]],
                                  device float* out [[buffer(1)]],
                                  constant int& n [[buffer(2)]],
                                  uint gid [[thread_position_in_grid]]) {
  out[int(gid) - n] = x[gid];
}

// A 32-bit index that overflows: lands gigabytes away from the buffer.
kernel void wild_index(device const float* x [[buffer(0)]],
                       device float* out [[buffer(1)]],
                       uint gid [[thread_position_in_grid]]) {
  const int index = int(gid) * 1000000000;
  out[gid] = x[index];
}

// The same, through a struct copy (a memcpy the checks do not see): the fault is caught.
struct Block {
  float v[16];
};
kernel void wild_struct_copy(device const Block* x [[buffer(0)]],
                             device Block* out [[buffer(1)]],
                             uint gid [[thread_position_in_grid]]) {
  const Block b = x[int(gid + 1) * 100000000];
  out[gid] = b;
}

// One tensor bound at two indices: the kernel must see one buffer.
kernel void aliased(device const float* a [[buffer(0)]],
                    device float* b [[buffer(1)]],
                    device uint* same [[buffer(2)]],
                    uint gid [[thread_position_in_grid]]) {
  if (gid == 0) {
    same[0] = a == b ? 1 : 0;
  }
  b[gid] = a[gid] * 2.0f;
}

// Reads each input element once and writes each output once (traffic = compulsory).
kernel void scale_once(device const float4* x [[buffer(0)]],
                       device float4* out [[buffer(1)]],
                       constant float& factor [[buffer(2)]],
                       uint gid [[thread_position_in_grid]]) {
  out[gid] = x[gid] * factor;
}

// Reads every input element twice (its own and its mirror's).
kernel void sum_twice(device const float* x [[buffer(0)]],
                      device float* out [[buffer(1)]],
                      uint gid [[thread_position_in_grid]],
                      uint n [[threads_per_grid]]) {
  out[gid] = x[gid] + x[n - 1 - gid];
}

// Each threadgroup scales its own `shape.x` elements in place, starting at group *
// shape.y: with shape.y == shape.x the rows touch (threadgroups share 4-byte words at
// the row ends, which is fine), with shape.y < shape.x they overlap (a race).
template <typename T>
[[kernel]] void scale_rows_in_place(device T* x [[buffer(0)]],
                                    constant uint2& shape [[buffer(1)]],
                                    uint group [[threadgroup_position_in_grid]],
                                    uint tid [[thread_index_in_threadgroup]]) {
  if (tid < shape.x) {
    const uint i = group * shape.y + tid;
    x[i] = T(x[i] * T(3));
  }
}
template [[host_name("scale_rows_in_place_half")]] [[kernel]] decltype(scale_rows_in_place<half>)
    scale_rows_in_place<half>;
template [[host_name("scale_rows_in_place_uchar")]] [[kernel]] decltype(scale_rows_in_place<uchar>)
    scale_rows_in_place<uchar>;

// One tensor seen as words and as bytes: threadgroup 0 writes `words` uints, threadgroup 1
// reads byte `byte` (a race when that byte is among the written words).
kernel void words_then_byte(device uint* words [[buffer(0)]],
                            device const uchar* bytes [[buffer(1)]],
                            device uint* out [[buffer(2)]],
                            constant uint2& what [[buffer(3)]],
                            uint group [[threadgroup_position_in_grid]],
                            uint tid [[thread_index_in_threadgroup]]) {
  if (group == 0 && tid < what.x) {
    words[tid] = 0x01010101u * (tid + 1);
  }
  if (group == 1 && tid == 0) {
    out[0] = bytes[what.y];
  }
}

// Each threadgroup's first thread takes a ticket from a shared counter without an atomic
// (the review's planted bug p1).
kernel void ticket_counter(device uint* counter [[buffer(0)]],
                           device uint* tickets [[buffer(1)]],
                           uint group [[threadgroup_position_in_grid]],
                           uint tid [[thread_index_in_threadgroup]]) {
  if (tid == 0) {
    const uint ticket = counter[0];
    counter[0] = ticket + 1;
    tickets[group] = ticket;
  }
}

// Half the threadgroup fills the tile, every thread copies its slot out: threads 128-255
// copy what no thread wrote (p2, a plain copy).
kernel void copy_half_filled(device const float* x [[buffer(0)]],
                             device float* out [[buffer(1)]],
                             uint tid [[thread_index_in_threadgroup]],
                             uint gid [[thread_position_in_grid]]) {
  threadgroup float tile[256];
  if (tid < 128) {
    tile[tid] = x[gid];
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[gid] = tile[tid];
}

// Lanes exchange values through threadgroup memory in a loop; with `second_barrier` 0 the
// next iteration's write is not ordered after the neighbour's read (p7, write after read).
kernel void simd_exchange_loop(device const float* x [[buffer(0)]],
                               device float* out [[buffer(1)]],
                               constant uint& second_barrier [[buffer(2)]],
                               uint lane [[thread_index_in_simdgroup]],
                               uint gid [[thread_position_in_grid]]) {
  threadgroup float slots[32];
  float v = x[gid];
  for (int step = 0; step < 4; ++step) {
    slots[lane] = v;
    simdgroup_barrier(mem_flags::mem_threadgroup);
    v += slots[(lane + 1) % 32];
    if (second_barrier) {
      simdgroup_barrier(mem_flags::mem_threadgroup);
    }
  }
  out[gid] = v;
}

// A barrier inside a loop whose trip count differs between threads (p8): threads that
// finish early return while the others wait at the barrier.
kernel void barrier_in_uneven_loop(device float* out [[buffer(0)]],
                                   constant uint& uneven [[buffer(1)]],
                                   uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float partial[64];
  float acc = 0.0f;
  const uint trips = uneven ? tid % 4 + 1 : 4;
  for (uint i = 0; i < trips; ++i) {
    partial[tid] = acc + float(i);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    acc += partial[(tid + 1) % 64];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  out[tid] = acc;
}
