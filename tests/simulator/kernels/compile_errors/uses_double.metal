#include <metal_stdlib>
using namespace metal;

kernel void uses_double(device float* out [[buffer(0)]],
                        uint i [[thread_position_in_grid]]) {
  double wide = out[i];
  out[i] = float(wide);
}
