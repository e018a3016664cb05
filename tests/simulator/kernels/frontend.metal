// Kernel layouts and library pieces real MSL uses (MLX, ggml); test_frontend.py runs them.
#include <metal_stdlib>
using namespace metal;

constant bool FC_scale [[function_constant(0)]];
constant float FC_factor [[function_constant(1)]];

// ggml style: no [[buffer(i)]] at all; indices follow declaration order.
kernel void implicit_indices(constant float& factor, device const float* x, device float* y,
                             uint i [[thread_position_in_grid]]) {
  y[i] = x[i] * factor;
}

// Mixed: explicit index 0, the unattributed ones take the lowest free indices (1, 2).
kernel void mixed_indices(device const float* x, device float* y [[buffer(0)]],
                          constant uint& n, uint i [[thread_position_in_grid]]) {
  if (i < n) y[i] = x[i] + 1;
}

kernel void function_constants(device float* y [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  float v = float(i);
  if (FC_scale) v *= FC_factor;
  y[i] = is_function_constant_defined(FC_factor) ? v : -1.0f;
}

// (int4)float4 converts element-wise, as in Metal (clang alone would reinterpret bits).
kernel void vector_casts(device const float4* x [[buffer(0)]], device int4* y [[buffer(1)]],
                         device float4* z [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  y[i] = (int4)x[i];
  z[i] = (float4)(half4)(x[i] * 2);
}

template <typename T>
kernel void scaled(device const T* x [[buffer(0)]], device T* y [[buffer(1)]],
                   uint i [[thread_position_in_grid]]) {
  y[i] = x[i] * T(3);
}
typedef decltype(scaled<float>) scaled_t;
// ggml's typedef form and MLX's macro with a host_name split over continuation lines.
template [[host_name("scaled_typedef")]] kernel scaled_t scaled<float>;
#define instantiate_scaled(name, type) \
  template [[host_name(                \
      name)]] [[kernel]] decltype(scaled<type>) scaled<type>;
instantiate_scaled("scaled_macro_half", half)

kernel void threadgroup_declarations(device float* y [[buffer(0)]],
                                     uint t [[thread_index_in_threadgroup]],
                                     uint i [[thread_position_in_grid]]) {
  { threadgroup float a[32], b[32];
    a[t] = float(t);
    b[31 - t] = float(t) * 2;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    y[i] = a[31 - t] + b[t]; }
}

namespace metal {
namespace precise {
// MLX adds overloads to metal::precise; the float versions must stay visible.
inline bfloat rsqrt(bfloat x) { return bfloat(1.0f / metal::sqrt(float(x))); }
}  // namespace precise
}  // namespace metal

kernel void library_pieces(device float* y [[buffer(0)]], device int* n [[buffer(1)]],
                           uint i [[thread_position_in_grid]]) {
  float x = y[i];
  int e;
  float m = frexp(x, e);
  y[i] = precise::rsqrt(x) + pow(x, 2) + fmax(0, x - 2) + min(x, 1) + ldexp(m, e) +
         fmin3(x, 2.0f, 3.0f) + median3(1.0f, x, 3.0f);
  const int v = n[3 * i];
  n[3 * i] = extract_bits(v, 4u, 4u);
  n[3 * i + 1] = addsat(v, int(0x7fffffff));
  n[3 * i + 2] = rotate(v, 28);
}

kernel void shuffle_and_fill(device float* y [[buffer(0)]], uint lane [[thread_index_in_simdgroup]],
                             uint i [[thread_position_in_grid]]) {
  float v = float(lane);
  y[i] = simd_shuffle_and_fill_up(v, v + 100, ushort(2)) +
         1000 * simd_shuffle_and_fill_down(v, v + 100, ushort(1), ushort(8));
}

kernel void matrices(device const float4x4* m [[buffer(0)]], device float4* y [[buffer(1)]],
                     uint i [[thread_position_in_grid]]) {
  float4x4 a = float4x4(*m);
  half4x4 h = (half4x4)a;
  y[i] = a * float4(1, 2, 3, 4) + float4(transpose(a)[0]) + float4(h[1]);
}
