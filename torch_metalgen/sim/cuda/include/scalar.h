// half and bfloat with Metal's semantics, without cuda_fp16.h / cuda_bf16.h.
//
// Each operation rounds to the storage type, as in Metal: the operands are converted to
// float (exactly), the operation runs in float and the result is rounded to half/bfloat
// once. For +, -, *, / that is correctly rounded, because float has at least 2p + 2 bits
// for a p-bit format (p = 11 for half, 8 for bfloat), so double rounding cannot occur.
// Mixed operands follow Metal's usual arithmetic conversions: half op integer is half,
// half op float is float (the same for bfloat); half op bfloat does not compile.
#pragma once

#include "base.h"

struct half;
struct bfloat;

namespace metalcuda {

constexpr unsigned short soft_float_to_half(float f) {
  const uint32_t x = bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t exponent = (x >> 23) & 0xffu;
  uint32_t mantissa = x & 0x7fffffu;
  if (exponent == 0xffu) {  // inf, or NaN (kept quiet)
    return static_cast<unsigned short>(sign | 0x7c00u |
                                       (mantissa ? 0x200u | (mantissa >> 13) : 0u));
  }
  const int e = int(exponent) - 127 + 15;
  if (e >= 31) return static_cast<unsigned short>(sign | 0x7c00u);
  if (e <= 0) {  // a subnormal half, or zero
    if (e < -10) return static_cast<unsigned short>(sign);
    mantissa |= 0x800000u;
    const int shift = 14 - e;
    uint32_t m = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (m & 1u))) ++m;
    return static_cast<unsigned short>(sign | m);
  }
  uint32_t result = sign | (uint32_t(e) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (result & 1u))) ++result;  // may carry to inf
  return static_cast<unsigned short>(result);
}

constexpr float soft_half_to_float(unsigned short h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1fu) return bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    const float magnitude = float(mantissa) * 5.9604644775390625e-08f;  // m * 2^-24, exact
    return sign ? -magnitude : magnitude;
  }
  return bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

__forceinline__ unsigned short ptx_float_to_half(float f) {
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}
__forceinline__ float ptx_half_to_float(unsigned short h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}

constexpr unsigned short float_to_half(float f) {
  return __builtin_is_constant_evaluated() ? soft_float_to_half(f) : ptx_float_to_half(f);
}
constexpr float half_to_float(unsigned short h) {
  return __builtin_is_constant_evaluated() ? soft_half_to_float(h) : ptx_half_to_float(h);
}

// Round to nearest even; NaN stays a (quiet) NaN.
constexpr unsigned short float_to_bfloat(float f) {
  const uint32_t x = bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<unsigned short>((x >> 16) | 0x40u);
  return static_cast<unsigned short>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
constexpr float bfloat_to_float(unsigned short b) { return bit_cast<float>(uint32_t(b) << 16); }

}  // namespace metalcuda

struct half {
  unsigned short bits;
  half() = default;
  constexpr half(float f) : bits(metalcuda::float_to_half(f)) {}
  template <class I, class = metal::enable_if_t<metal::is_integral_v<I>>>
  constexpr half(I i) : half(float(i)) {}
  constexpr explicit half(bfloat b);
  constexpr operator float() const { return metalcuda::half_to_float(bits); }
  static constexpr half from_bits(unsigned short b) {
    half h{};
    h.bits = b;
    return h;
  }
};

struct bfloat {
  unsigned short bits;
  bfloat() = default;
  constexpr bfloat(float f) : bits(metalcuda::float_to_bfloat(f)) {}
  template <class I, class = metal::enable_if_t<metal::is_integral_v<I>>>
  constexpr bfloat(I i) : bfloat(float(i)) {}
  constexpr explicit bfloat(half h) : bfloat(float(h)) {}
  constexpr operator float() const { return metalcuda::bfloat_to_float(bits); }
  static constexpr bfloat from_bits(unsigned short b) {
    bfloat h{};
    h.bits = b;
    return h;
  }
};

constexpr half::half(bfloat b) : half(float(b)) {}

namespace metalcuda {

template <class T>
struct is_low_float : metal::false_type {};
template <>
struct is_low_float<half> : metal::true_type {};
template <>
struct is_low_float<bfloat> : metal::true_type {};
template <class T>
constexpr bool is_low_float_v = is_low_float<metal::remove_cv_t<T>>::value;

// The type of `a op b` for scalar operands where one is half or bfloat (no `type` otherwise).
template <class A, class B, class = void>
struct low_float_arith {};
template <class A, class B>
struct low_float_arith<A, B, metal::enable_if_t<is_low_float_v<A> && metal::is_same_v<A, B>>> {
  typedef A type;
};
template <class A, class B>
struct low_float_arith<A, B, metal::enable_if_t<is_low_float_v<A> && metal::is_integral_v<B>>> {
  typedef A type;
};
template <class A, class B>
struct low_float_arith<A, B, metal::enable_if_t<metal::is_integral_v<A> && is_low_float_v<B>>> {
  typedef B type;
};
template <class A, class B>
struct low_float_arith<A, B, metal::enable_if_t<is_low_float_v<A> && metal::is_same_v<B, float>>> {
  typedef float type;
};
template <class A, class B>
struct low_float_arith<A, B, metal::enable_if_t<metal::is_same_v<A, float> && is_low_float_v<B>>> {
  typedef float type;
};

// An operand of a half/bfloat operation whose result type is R, as float: an integer is
// first converted to R, as in Metal.
template <class R, class X>
constexpr float operand(X x) {
  if constexpr (is_low_float_v<R> && !is_low_float_v<X>)
    return float(R(x));
  else
    return float(x);
}

}  // namespace metalcuda

#define METALCUDA_LOW_FLOAT_OP(op)                                                       \
  template <class A, class B, class R = typename metalcuda::low_float_arith<A, B>::type> \
  constexpr R operator op(A a, B b) {                                                    \
    return R(metalcuda::operand<R>(a) op metalcuda::operand<R>(b));                      \
  }                                                                                      \
  template <class B, class = typename metalcuda::low_float_arith<half, B>::type>         \
  constexpr half& operator op## = (half & a, B b) {                                      \
    return a = half(float(a) op metalcuda::operand<half>(b));                            \
  }                                                                                      \
  template <class B, class = typename metalcuda::low_float_arith<bfloat, B>::type>       \
  constexpr bfloat& operator op## = (bfloat & a, B b) {                                  \
    return a = bfloat(float(a) op metalcuda::operand<bfloat>(b));                        \
  }
METALCUDA_LOW_FLOAT_OP(+)
METALCUDA_LOW_FLOAT_OP(-)
METALCUDA_LOW_FLOAT_OP(*)
METALCUDA_LOW_FLOAT_OP(/)
#undef METALCUDA_LOW_FLOAT_OP

constexpr half operator-(half h) { return half::from_bits(h.bits ^ 0x8000u); }
constexpr half operator+(half h) { return h; }
constexpr bfloat operator-(bfloat b) { return bfloat::from_bits(b.bits ^ 0x8000u); }
constexpr bfloat operator+(bfloat b) { return b; }
constexpr half& operator++(half& h) { return h += 1; }
constexpr half& operator--(half& h) { return h -= 1; }
constexpr half operator++(half& h, int) {
  const half old = h;
  h += 1;
  return old;
}
constexpr half operator--(half& h, int) {
  const half old = h;
  h -= 1;
  return old;
}
constexpr bfloat& operator++(bfloat& h) { return h += 1; }
constexpr bfloat& operator--(bfloat& h) { return h -= 1; }

namespace metal {

template <class T>
struct is_floating_point
    : bool_constant<is_same_v<remove_cv_t<T>, float> || is_same_v<remove_cv_t<T>, half> ||
                    is_same_v<remove_cv_t<T>, bfloat>> {};
template <class T>
constexpr bool is_floating_point_v = is_floating_point<T>::value;
template <class T>
struct is_arithmetic : bool_constant<is_integral_v<T> || is_floating_point_v<T>> {};
template <class T>
constexpr bool is_arithmetic_v = is_arithmetic<T>::value;
template <class T>
constexpr bool is_signed_scalar_v = is_signed_v<T> || is_floating_point_v<T>;

template <class T>
struct numeric_limits {
  static constexpr bool is_specialized = false;
};
#define METALCUDA_INT_LIMITS(T, lo, hi, digits_)                              \
  template <>                                                                 \
  struct numeric_limits<T> {                                                  \
    static constexpr bool is_specialized = true;                              \
    static constexpr bool is_signed = static_cast<T>(-1) < static_cast<T>(0); \
    static constexpr bool is_integer = true;                                  \
    static constexpr int digits = digits_;                                    \
    static constexpr T min() { return lo; }                                   \
    static constexpr T max() { return hi; }                                   \
    static constexpr T lowest() { return lo; }                                \
  };
METALCUDA_INT_LIMITS(bool, false, true, 1)
METALCUDA_INT_LIMITS(char, -128, 127, 7)
METALCUDA_INT_LIMITS(signed char, -128, 127, 7)
METALCUDA_INT_LIMITS(unsigned char, 0, 255, 8)
METALCUDA_INT_LIMITS(short, -32768, 32767, 15)
METALCUDA_INT_LIMITS(unsigned short, 0, 65535, 16)
METALCUDA_INT_LIMITS(int, -2147483647 - 1, 2147483647, 31)
METALCUDA_INT_LIMITS(unsigned int, 0u, 4294967295u, 32)
METALCUDA_INT_LIMITS(long, -9223372036854775807l - 1, 9223372036854775807l, 63)
METALCUDA_INT_LIMITS(unsigned long, 0ul, 18446744073709551615ul, 64)
#undef METALCUDA_INT_LIMITS
#define METALCUDA_FLOAT_LIMITS(T, make, lo_bits, hi_bits, eps_bits, inf_bits, nan_bits, \
                               denorm_bits, digits_)                                    \
  template <>                                                                           \
  struct numeric_limits<T> {                                                            \
    static constexpr bool is_specialized = true;                                        \
    static constexpr bool is_signed = true;                                             \
    static constexpr bool is_integer = false;                                           \
    static constexpr bool has_infinity = true;                                          \
    static constexpr bool has_quiet_NaN = true;                                         \
    static constexpr int digits = digits_;                                              \
    static constexpr T min() { return make(lo_bits); }                                  \
    static constexpr T max() { return make(hi_bits); }                                  \
    static constexpr T lowest() { return -make(hi_bits); }                              \
    static constexpr T epsilon() { return make(eps_bits); }                             \
    static constexpr T infinity() { return make(inf_bits); }                            \
    static constexpr T quiet_NaN() { return make(nan_bits); }                           \
    static constexpr T denorm_min() { return make(denorm_bits); }                       \
  };
METALCUDA_FLOAT_LIMITS(float, metalcuda::bit_cast<float>, 0x00800000u, 0x7f7fffffu, 0x34000000u,
                       0x7f800000u, 0x7fc00000u, 0x00000001u, 24)
METALCUDA_FLOAT_LIMITS(half, half::from_bits, 0x0400u, 0x7bffu, 0x1400u, 0x7c00u, 0x7e00u, 0x0001u,
                       11)
METALCUDA_FLOAT_LIMITS(bfloat, bfloat::from_bits, 0x0080u, 0x7f7fu, 0x3c00u, 0x7f80u, 0x7fc0u,
                       0x0001u, 8)
#undef METALCUDA_FLOAT_LIMITS

}  // namespace metal
