#include <metal_stdlib>
using namespace metal;

kernel void writes_constant(constant float* table [[buffer(0)]],
                            uint i [[thread_position_in_grid]]) {
  table[i] = 1.0f;
}
