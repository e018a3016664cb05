#include <metal_stdlib>
using namespace metal;

kernel void missing_attribute(device float* out [[buffer(0)]],
                              uint i) {
  out[i] = 1.0f;
}
