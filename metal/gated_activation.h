// Gated activations, out = act(gate) * up over rows of d elements: the kernel bodies that
// silu_and_mul and gelu_and_mul share (MLX's pattern: templated bodies in a header, each op's
// generated .metal declares its kernels and instantiates them).
//
// The gate of row r starts at gate + r * row_stride, the up half at up + up_offset +
// r * row_stride: for a [..., 2d] input both pointers are x, row_stride = 2d and
// up_offset = d; for separate tensors row_stride = d and up_offset = 0. Math is float32
// whatever T is, rounded to T once.
#pragma once

#include <metal_stdlib>
using namespace metal;

namespace metalgen {

// silu(g) = g * sigmoid(g) = g / (1 + exp(-g)); exp(-g) = inf for g << 0 gives -0, as
// torch's float64 result rounds to.
struct Silu {
  static float apply(float g) { return g / (1.0f + precise::exp(-g)); }
};

// gelu, tanh form: 0.5 g (1 + tanh(u)), u = sqrt(2/pi) (g + 0.044715 g^3), written as
// g * sigmoid(2u) = g / (1 + exp(-2u)) so that 1 + tanh(u) does not cancel for g << 0.
struct GeluTanh {
  static float apply(float g) {
    const float u = 0.7978845608028654f * (g + 0.044715f * g * g * g);
    return g / (1.0f + precise::exp(-2.0f * u));
  }
};

// Phi(-|g|) = erfc(|g| / sqrt(2)) / 2, the normal distribution's small tail. Metal has no
// erf, so: the Chebyshev fit of Numerical Recipes (2nd ed., section 6.2, erfcc),
// erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), whose fractional error is below 1.2e-7 for
// every z >= 0. The exponent -z^2 = -g^2 / 2 is kept exact: g * g = gg + gg_error (fma), so
// float32 rounding of z^2 does not grow the error with |g| (it would reach ~1e-5 near
// |g| = 13); exp(-gg / 2) is then corrected by (1 - gg_error / 2). Past |g| = 14.85 the tail
// (< 1e-49) is below float32's smallest denormal: 0 (and g * g would overflow for huge g).
inline float normal_tail(float g) {
  const float a = fabs(g);
  if (a >= 14.85f) {
    return 0.0f;
  }
  const float z = a * 0.7071067811865476f;
  const float t = 1.0f / (1.0f + 0.5f * z);
  const float p =
      -1.26551223f +
      t * (1.00002368f +
           t * (0.37409196f +
                t * (0.09678418f +
                     t * (-0.18628806f +
                          t * (0.27886807f +
                               t * (-1.13520398f +
                                    t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
  const float gg = a * a;
  const float gg_error = fma(a, a, -gg);  // a * a == gg + gg_error exactly
  return 0.5f * t * precise::exp(-0.5f * gg) * precise::exp(p) * (1.0f - 0.5f * gg_error);
}

// gelu, exact form: g * Phi(g), Phi(g) = 1 - Phi(-g), taking the tail on the side where it is
// small so Phi keeps its relative accuracy for g << 0.
struct GeluErf {
  static float apply(float g) {
    const float tail = normal_tail(g);
    return g * (g >= 0.0f ? 1.0f - tail : tail);
  }
};

// One row position (col, row) handled by one thread: N = BYTES / sizeof(T) consecutive
// elements. Vector: the row length and every base are multiples of N, so one aligned
// vec<T, N> load per operand. Scalar: any length and alignment, element by element.
template <typename T, typename Activation, uint N, bool Vector>
inline void gated_activation(device const T* gate, device const T* up, device T* out, uint d,
                             uint rows, uint row_stride, uint up_offset, uint2 position) {
  const uint first = position.x * N;
  const uint row = position.y;
  if (row >= rows || first >= d) {
    return;
  }
  device const T* gate_row = gate + ulong(row) * row_stride;
  device const T* up_row = up + up_offset + ulong(row) * row_stride;
  device T* out_row = out + ulong(row) * d;
  if (Vector) {
    const vec<T, N> g = *reinterpret_cast<device const vec<T, N>*>(gate_row + first);
    const vec<T, N> u = *reinterpret_cast<device const vec<T, N>*>(up_row + first);
    vec<T, N> result;
    for (uint j = 0; j < N; j++) {
      result[j] = T(Activation::apply(float(g[j])) * float(u[j]));
    }
    *reinterpret_cast<device vec<T, N>*>(out_row + first) = result;
  } else {
    for (uint j = 0; j < N && first + j < d; j++) {
      out_row[first + j] =
          T(Activation::apply(float(gate_row[first + j])) * float(up_row[first + j]));
    }
  }
}

}  // namespace metalgen
