// Hand-written MSL helpers shared by the generated kernels in this directory.
// The same text is compiled by the Metal compiler (xcrun metal) on macOS and by the
// project's simulator (torch_metalgen.sim) on Linux, so keep to plain MSL 3.1.
#pragma once

#include <metal_stdlib>
using namespace metal;

namespace metalgen {

constant constexpr uint SIMD_SIZE = 32;

// Sum of `value` over every thread of the threadgroup, returned to every thread.
//
// simd_sum reduces within each SIMD group; lane 0 of each group stores its partial in
// `partials` (one float per SIMD group, so 32 floats cover 1024 threads); after a barrier
// every SIMD group re-reduces the partials itself, which saves the second barrier a
// broadcast from group 0 would need. The trailing barrier lets callers reuse `partials`.
// Every thread of the threadgroup must call this (it contains barriers).
inline float threadgroup_sum(float value, threadgroup float* partials, uint simd_lane,
                             uint simd_group, uint simd_groups) {
  value = simd_sum(value);
  if (simd_groups == 1) {
    return value;
  }
  if (simd_lane == 0) {
    partials[simd_group] = value;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float total = simd_lane < simd_groups ? partials[simd_lane] : 0.0f;
  total = simd_sum(total);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  return total;
}

// exp for a kernel whose outputs are T. A GPU's fast exp is exp2 of x * log2(e); rounding that
// product makes the error grow with |x| (CUDA bounds __expf's error by a term in |x|; Metal's
// fast-mode figure is not checked here): at the large negative l - max of a softmax over a
// vocabulary, an H100's __expf left float32 outputs 4x over tolerance (rtol 1.3e-6), while
// half and bfloat rounding (2^-11, 2^-8) hides it. So float outputs take precise::exp.
template <typename T>
inline float exp_for(float x) {
  return is_same<T, float>::value ? precise::exp(x) : fast::exp(x);
}

}  // namespace metalgen

// Instantiates kernel template `func<T>` under the host name `name`. The names come from
// the generator's kernel_name(), which also writes the host's kernel table.
#define instantiate_kernel(name, func, T) \
  template [[host_name(name)]] [[kernel]] decltype(func<T>) func<T>;
