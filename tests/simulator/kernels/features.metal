// Assorted MSL features in one kernel: bool/half/packed vectors, namespaces, limits.
#include <metal_stdlib>
using namespace metal;
namespace features {
struct P { float4 a; float3 b; uint n; };
template <typename T, int N>
struct Tile { T v[N]; };
kernel void misc(device float* out [[buffer(0)]],
                 device const packed_float3* pk [[buffer(1)]],
                 constant P& p [[buffer(2)]],
                 uint i [[thread_position_in_grid]]) {
  bool4 m = bool4(true, false, true, true);
  half4 h = half4(1.0h, 2.0h, 0.5h, 0.25h);
  float3 q = float3(pk[i]);
  int2 a = int2(3, -4);
  uint2 b = uint2(a.x, 5u);
  Tile<float, 4> t;
  for (int k = 0; k < 4; ++k) t.v[k] = float(k);
  float lim = metal::numeric_limits<float>::max();
  float inf = INFINITY;
  float r = select(0.0f, 1.0f, m.y) + float(h.w) + q.z + float(abs(a.y)) + float(b.y) + t.v[3];
  r += isinf(inf) ? 1.0f : 0.0f;
  r += lim > 1e30f ? 1.0f : 0.0f;
  r += float(popcount(7u)) + float(clz(1u));
  r += p.a.w + p.b.y + float(p.n);
  float4 v4 = float4(1.0f);
  v4.xy = float2(2.0f, 3.0f);
  v4 *= 2.0f;
  r += v4.x + v4.y;
  ushort lane = ushort(i);
  r += float(lane);
  out[i] = r + fast::divide(1.0f, 4.0f) + M_PI_F * 0.0f + metal::precise::sqrt(4.0f);
}
}

// Struct copies in and out of device/constant memory (legal in Metal; clang's C++ mode
// has no generic address space, so the simulator forgives these in its typed pass).
struct Pair {
  float first;
  int second;
};
kernel void struct_copies(constant Pair& params [[buffer(0)]],
                          device const Pair* in [[buffer(1)]],
                          device Pair* out [[buffer(2)]],
                          uint i [[thread_position_in_grid]]) {
  Pair p = params;
  Pair q = in[i];
  q.first += p.first;
  q.second += p.second;
  out[i] = q;
}
