// Small kernels for the simulator's own tests: geometry, builtins, types, math.
#include <metal_stdlib>
using namespace metal;

struct AxpyParams {
  uint n;
  float alpha;
};

// Plain (non-template) kernel with the `kernel` keyword; bounds check for dispatchThreads.
kernel void axpy(device const float* x [[buffer(0)]],
                 device float* y [[buffer(1)]],
                 constant AxpyParams& p [[buffer(2)]],
                 uint i [[thread_position_in_grid]]) {
  if (i >= p.n) {
    return;
  }
  y[i] = p.alpha * x[i] + y[i];
}

// Writes every builtin of every thread: 22 uints per thread, at its linear grid index.
[[kernel]] void builtins(device uint* out [[buffer(0)]],
                         uint3 gid [[thread_position_in_grid]],
                         uint3 lid [[thread_position_in_threadgroup]],
                         uint3 tgid [[threadgroup_position_in_grid]],
                         uint3 tptg [[threads_per_threadgroup]],
                         uint3 tgpg [[threadgroups_per_grid]],
                         uint3 tpg [[threads_per_grid]],
                         uint tiitg [[thread_index_in_threadgroup]],
                         ushort lane [[thread_index_in_simdgroup]],
                         uint sg [[simdgroup_index_in_threadgroup]],
                         uint tpsg [[threads_per_simdgroup]],
                         uint sgptg [[simdgroups_per_threadgroup]],
                         uint2 gid_xy [[thread_position_in_grid]]) {
  const uint linear = gid.x + tpg.x * (gid.y + tpg.y * gid.z);
  device uint* o = out + linear * 22;
  o[0] = gid.x; o[1] = gid.y; o[2] = gid.z;
  o[3] = lid.x; o[4] = lid.y; o[5] = lid.z;
  o[6] = tgid.x; o[7] = tgid.y; o[8] = tgid.z;
  o[9] = tptg.x; o[10] = tptg.y; o[11] = tptg.z;
  o[12] = tgpg.x; o[13] = tgpg.y;
  o[14] = tpg.x; o[15] = tpg.y;
  o[16] = tiitg; o[17] = lane; o[18] = sg; o[19] = tpsg; o[20] = sgptg;
  o[21] = gid_xy.y;
}

// Vector types: layouts, swizzles, multi-argument constructors, conversions.
kernel void vectors(device float* out [[buffer(0)]],
                    device const float4* in4 [[buffer(1)]],
                    device const int4* ints [[buffer(2)]],
                    uint i [[thread_position_in_grid]]) {
  float4 v = in4[i];
  float2 lo = v.xy;
  float3 rgb = v.rgb;
  float4 built = float4(lo, 1.5, v.w);          // float4(float2, scalar, scalar), literal 1.5
  float4 splat = float4(2.0f);
  float4 converted = float4(ints[i]);           // a conversion, not a bit cast
  float4 swizzled = v.wzyx;
  device float* o = out + i * 20;
  o[0] = float(sizeof(float3));
  o[1] = float(sizeof(half3));
  o[2] = float(sizeof(packed_float3));
  o[3] = built.x; o[4] = built.y; o[5] = built.z; o[6] = built.w;
  o[7] = splat.y;
  o[8] = converted.x; o[9] = converted.w;
  o[10] = swizzled.x; o[11] = swizzled.w;
  o[12] = dot(rgb, rgb);
  o[13] = length(lo);
  float3 c = cross(float3(1, 0, 0), float3(0, 1, 0));
  o[14] = c.z;
  o[15] = select(1.0f, 2.0f, v.x > 0.0f);
  o[16] = all(v == v) ? 1.0f : 0.0f;
  o[17] = clamp(v, 0.0f, 1.0f).x;
  o[18] = max(v, float4(0.25f)).y;
  o[19] = as_type<float>(as_type<uint>(v.z));
}

// Half and bfloat arithmetic must round after every operation, as FP16 hardware does.
template <typename T>
[[kernel]] void fma_chain(device const T* a [[buffer(0)]],
                          device const T* b [[buffer(1)]],
                          device T* out [[buffer(2)]],
                          uint i [[thread_position_in_grid]]) {
  T x = a[i];
  T y = b[i];
  T r = x * y + x;   // two roundings
  r = r * y - y;     // two more
  out[i] = r;
}
template [[host_name("fma_chain_half")]] [[kernel]] decltype(fma_chain<half>) fma_chain<half>;
template [[host_name("fma_chain_bfloat")]] [[kernel]] decltype(fma_chain<bfloat>) fma_chain<bfloat>;
template [[host_name("fma_chain_float")]] [[kernel]] decltype(fma_chain<float>) fma_chain<float>;

// fast::exp against precise::exp where their errors part (large |x|).
kernel void fast_and_precise_exp(device const float* x [[buffer(0)]],
                                 device float* out [[buffer(1)]],
                                 uint i [[thread_position_in_grid]]) {
  out[2 * i] = fast::exp(x[i]);
  out[2 * i + 1] = precise::exp(x[i]);
}

// Math functions (metal::, precise::, fast::) against float64 references.
kernel void math(device const float* x [[buffer(0)]],
                 device float* out [[buffer(1)]],
                 uint i [[thread_position_in_grid]]) {
  const float v = x[i];
  device float* o = out + i * 12;
  o[0] = exp(v);
  o[1] = exp2(v);
  o[2] = log(abs(v) + 1.0f);
  o[3] = precise::rsqrt(abs(v) + 1.0f);
  o[4] = tanh(v);
  o[5] = fast::exp(v);
  o[6] = fma(v, 2.0f, 1.0f);
  o[7] = metal::max(v, 0.0f);
  o[8] = clamp(v, -0.5f, 0.5f);
  o[9] = sqrt(abs(v));
  o[10] = float(half(v) * 0.5h);
  o[11] = sin(v) * cos(v);
}
