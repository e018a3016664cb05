#include <metal_stdlib>
using namespace metal;

static void store(threadgroup float* slot, float v) { *slot = v; }

kernel void mixes_address_spaces(device float* out [[buffer(0)]],
                                 uint i [[thread_position_in_grid]]) {
  store(out + i, 1.0f);
}
