// Stored vector-comparison masks used as numbers (each a MetalCompileError at its line,
// test_stored_masks.py) next to uses that mean the same in Metal and here (none reported).
#include <metal_stdlib>
using namespace metal;

kernel void misuses(device const float4* x [[buffer(0)]],
                    device float4* out [[buffer(1)]],
                    device int* count [[buffer(2)]],
                    uint i [[thread_position_in_grid]]) {
  const auto m = x[i] > 0.0f;
  float4 f = float4(m);
  f += (float4)m;
  f.x += float(m.y);
  f.y = static_cast<float4>(m).z;
  const int k = m.w;
  count[i] = m.x * 2;
  count[i] += m.y;
  out[i] = f + float(k) + static_cast<vec<float, 4>>(x[i] == 1.0f);
}

kernel void same_in_both(device const float4* x [[buffer(0)]],
                         device float4* out [[buffer(1)]],
                         uint i [[thread_position_in_grid]]) {
  const auto positive = x[i] > 0.0f;
  const auto small = abs(x[i]) < 2.0f;
  const auto both = positive & small;
  float4 f = select(float4(0.0f), x[i], both);
  if (all(positive) || any(!small)) {
    f += 1.0f;
  }
  f.x += positive.y ? 10.0f : 0.0f;
  f += float4(x[i] < -1.0f);  // converted where it is made: 1 where it holds
  f += static_cast<float4>(x[i] == 0.0f) + (float4)(!(x[i] > 2.0f) && x[i] != 0.5f);
  f += float4(!small);
  out[i] = f;
}
