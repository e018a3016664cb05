// Metal's math, common, geometric, relational and integer functions for the CUDA back end.
//
// Scalars (float, half, bfloat, integers) and vectors, element-wise. half and bfloat compute
// in float and round once, as the simulator does. metal::precise:: maps to CUDA's accurate
// functions (expf, logf, powf, ...; sqrt correctly rounded, rsqrt as 1 / sqrt), metal::fast::
// to its intrinsics (__expf, __logf, __powf, __sinf, ...). Unqualified metal:: functions are
// the precise ones: the project compiles its Metal with -fno-fast-math (setup.py), and the
// simulator assumes precise math as well.
//
// With `using namespace metal;` an unqualified call on exact float or int arguments may find
// CUDA's own global overload (expf-backed `exp(float)`, `max(int, int)`, ...) instead of the
// template here: a non-template wins a tie. Those compute the same functions.
#pragma once

#include "vector.h"

namespace metalcuda {

// The floating type of a mixed scalar call (`fmax(0, h)` is a half call, as in Metal); none
// for two different floating types.
template <class A, class B, class = void>
struct common_float {};
template <class A>
struct common_float<A, A, metal::enable_if_t<metal::is_floating_point_v<A>>> {
  typedef A type;
};
template <class A, class B>
struct common_float<A, B,
                    metal::enable_if_t<metal::is_floating_point_v<A> && metal::is_integral_v<B>>> {
  typedef A type;
};
template <class A, class B>
struct common_float<A, B,
                    metal::enable_if_t<metal::is_integral_v<A> && metal::is_floating_point_v<B>>> {
  typedef B type;
};
template <class A, class B>
using common_float_t = typename common_float<metal::remove_cv_t<A>, metal::remove_cv_t<B>>::type;

// The arithmetic type of a mixed scalar call on any scalars (min, max, clamp on integers).
template <class A, class B, class = void>
struct common_scalar {};
template <class A>
struct common_scalar<A, A, metal::enable_if_t<metal::is_arithmetic_v<A>>> {
  typedef A type;
};
template <class A, class B>
struct common_scalar<
    A, B,
    metal::enable_if_t<!metal::is_same_v<A, B> &&
                       (metal::is_floating_point_v<A> ^ metal::is_floating_point_v<B>)>> {
  typedef metal::conditional_t<metal::is_floating_point_v<A>, A, B> type;
};
template <class A, class B>
using common_scalar_t = typename common_scalar<metal::remove_cv_t<A>, metal::remove_cv_t<B>>::type;

__forceinline__ float precise_rsqrt(float x) { return 1.0f / __fsqrt_rn(x); }

}  // namespace metalcuda

// f(x) for floating scalars (computed in float) and vectors, element-wise.
#define METALCUDA_FLOAT_UNARY(name, expr)                                                  \
  template <class T, class = ::metal::enable_if_t<::metal::is_floating_point_v<T>>>        \
  __forceinline__ T name(T x_) {                                                           \
    const float x = float(x_);                                                             \
    return T(expr);                                                                        \
  }                                                                                        \
  template <class T, int N, class = ::metal::enable_if_t<::metal::is_floating_point_v<T>>> \
  __forceinline__::metal::vec<T, N> name(const ::metal::vec<T, N>& v) {                    \
    ::metal::vec<T, N> r;                                                                  \
    for (int i = 0; i < N; ++i) r.e[i] = name(v.e[i]);                                     \
    return r;                                                                              \
  }

// f(x, y): mixed scalars take the floating one's type; vector with vector or scalar.
#define METALCUDA_FLOAT_BINARY(name, expr)                                                         \
  template <class A, class B, class T = ::metalcuda::common_float_t<A, B>>                         \
  __forceinline__ T name(A x_, B y_) {                                                             \
    const float x = float(T(x_));                                                                  \
    const float y = float(T(y_));                                                                  \
    return T(expr);                                                                                \
  }                                                                                                \
  template <class T, int N, class = ::metal::enable_if_t<::metal::is_floating_point_v<T>>>         \
  __forceinline__::metal::vec<T, N> name(const ::metal::vec<T, N>& a,                              \
                                         const ::metal::vec<T, N>& b) {                            \
    ::metal::vec<T, N> r;                                                                          \
    for (int i = 0; i < N; ++i) r.e[i] = name(a.e[i], b.e[i]);                                     \
    return r;                                                                                      \
  }                                                                                                \
  template <                                                                                       \
      class T, int N, class S,                                                                     \
      class = ::metal::enable_if_t<::metal::is_floating_point_v<T>&& ::metalcuda::is_scalar_v<S>>> \
  __forceinline__::metal::vec<T, N> name(const ::metal::vec<T, N>& a, S b) {                       \
    return name(a, ::metal::vec<T, N>(b));                                                         \
  }                                                                                                \
  template <                                                                                       \
      class T, int N, class S,                                                                     \
      class = ::metal::enable_if_t<::metal::is_floating_point_v<T>&& ::metalcuda::is_scalar_v<S>>> \
  __forceinline__::metal::vec<T, N> name(S a, const ::metal::vec<T, N>& b) {                       \
    return name(::metal::vec<T, N>(a), b);                                                         \
  }

// The functions whose accuracy differs between metal::precise and metal::fast.
#define METALCUDA_PRECISION_FUNCTIONS(EXP, EXP2, EXP10, LOG, LOG2, LOG10, POW, SQRT, RSQRT, SIN, \
                                      COS, TAN, DIVIDE)                                          \
  METALCUDA_FLOAT_UNARY(exp, EXP(x))                                                             \
  METALCUDA_FLOAT_UNARY(exp2, EXP2(x))                                                           \
  METALCUDA_FLOAT_UNARY(exp10, EXP10(x))                                                         \
  METALCUDA_FLOAT_UNARY(log, LOG(x))                                                             \
  METALCUDA_FLOAT_UNARY(log2, LOG2(x))                                                           \
  METALCUDA_FLOAT_UNARY(log10, LOG10(x))                                                         \
  METALCUDA_FLOAT_UNARY(sqrt, SQRT(x))                                                           \
  METALCUDA_FLOAT_UNARY(rsqrt, RSQRT(x))                                                         \
  METALCUDA_FLOAT_UNARY(sin, SIN(x))                                                             \
  METALCUDA_FLOAT_UNARY(cos, COS(x))                                                             \
  METALCUDA_FLOAT_UNARY(tan, TAN(x))                                                             \
  METALCUDA_FLOAT_UNARY(asin, asinf(x))                                                          \
  METALCUDA_FLOAT_UNARY(acos, acosf(x))                                                          \
  METALCUDA_FLOAT_UNARY(atan, atanf(x))                                                          \
  METALCUDA_FLOAT_UNARY(sinh, sinhf(x))                                                          \
  METALCUDA_FLOAT_UNARY(cosh, coshf(x))                                                          \
  METALCUDA_FLOAT_UNARY(tanh, tanhf(x))                                                          \
  METALCUDA_FLOAT_UNARY(asinh, asinhf(x))                                                        \
  METALCUDA_FLOAT_UNARY(acosh, acoshf(x))                                                        \
  METALCUDA_FLOAT_UNARY(atanh, atanhf(x))                                                        \
  METALCUDA_FLOAT_UNARY(sinpi, sinpif(x))                                                        \
  METALCUDA_FLOAT_UNARY(cospi, cospif(x))                                                        \
  METALCUDA_FLOAT_UNARY(tanpi, sinpif(x) / cospif(x))                                            \
  METALCUDA_FLOAT_UNARY(cbrt, cbrtf(x))                                                          \
  METALCUDA_FLOAT_BINARY(pow, POW(x, y))                                                         \
  METALCUDA_FLOAT_BINARY(powr, POW(x, y))                                                        \
  METALCUDA_FLOAT_BINARY(atan2, atan2f(x, y))                                                    \
  METALCUDA_FLOAT_BINARY(divide, DIVIDE(x, y))                                                   \
  template <class T, class = ::metal::enable_if_t<::metal::is_floating_point_v<T>>>              \
  __forceinline__ T sincos(T x, T& cosval) {                                                     \
    cosval = T(COS(float(x)));                                                                   \
    return T(SIN(float(x)));                                                                     \
  }                                                                                              \
  template <class T, int N>                                                                      \
  __forceinline__::metal::vec<T, N> sincos(const ::metal::vec<T, N>& x,                          \
                                           ::metal::vec<T, N>& cosval) {                         \
    ::metal::vec<T, N> r;                                                                        \
    for (int i = 0; i < N; ++i) r.e[i] = sincos(x.e[i], cosval.e[i]);                            \
    return r;                                                                                    \
  }

#define METALCUDA_DIV(x, y) ((x) / (y))
#define METALCUDA_FAST_DIV(x, y) __fdividef(x, y)
#define METALCUDA_SQRT_RN(x) __fsqrt_rn(x)

namespace metal {
namespace precise {
METALCUDA_PRECISION_FUNCTIONS(expf, exp2f, exp10f, logf, log2f, log10f, powf, METALCUDA_SQRT_RN,
                              ::metalcuda::precise_rsqrt, sinf, cosf, tanf, METALCUDA_DIV)
}  // namespace precise
namespace fast {
METALCUDA_PRECISION_FUNCTIONS(__expf, exp2f, __exp10f, __logf, __log2f, __log10f, __powf, sqrtf,
                              rsqrtf, __sinf, __cosf, __tanf, METALCUDA_FAST_DIV)
}  // namespace fast

#define METALCUDA_USING_PRECISE \
  using precise::exp;           \
  using precise::exp2;          \
  using precise::exp10;         \
  using precise::log;           \
  using precise::log2;          \
  using precise::log10;         \
  using precise::sqrt;          \
  using precise::rsqrt;         \
  using precise::sin;           \
  using precise::cos;           \
  using precise::tan;           \
  using precise::asin;          \
  using precise::acos;          \
  using precise::atan;          \
  using precise::sinh;          \
  using precise::cosh;          \
  using precise::tanh;          \
  using precise::asinh;         \
  using precise::acosh;         \
  using precise::atanh;         \
  using precise::sinpi;         \
  using precise::cospi;         \
  using precise::tanpi;         \
  using precise::cbrt;          \
  using precise::pow;           \
  using precise::powr;          \
  using precise::atan2;         \
  using precise::divide;        \
  using precise::sincos;
METALCUDA_USING_PRECISE
#undef METALCUDA_USING_PRECISE

// ---- functions without a fast/precise difference ----------------------------------------

METALCUDA_FLOAT_UNARY(fabs, fabsf(x))
METALCUDA_FLOAT_UNARY(floor, floorf(x))
METALCUDA_FLOAT_UNARY(ceil, ceilf(x))
METALCUDA_FLOAT_UNARY(round, roundf(x))
METALCUDA_FLOAT_UNARY(rint, rintf(x))
METALCUDA_FLOAT_UNARY(trunc, truncf(x))
METALCUDA_FLOAT_UNARY(fract, fminf(x - floorf(x), 0x1.fffffep-1f))
METALCUDA_FLOAT_UNARY(saturate, fminf(fmaxf(x, 0.0f), 1.0f))
METALCUDA_FLOAT_UNARY(sign, x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : (x != x ? 0.0f : x)))
METALCUDA_FLOAT_BINARY(fmin, fminf(x, y))
METALCUDA_FLOAT_BINARY(fmax, fmaxf(x, y))
METALCUDA_FLOAT_BINARY(fmod, fmodf(x, y))
METALCUDA_FLOAT_BINARY(fdim, fdimf(x, y))
METALCUDA_FLOAT_BINARY(copysign, copysignf(x, y))
METALCUDA_FLOAT_BINARY(nextafter, nextafterf(x, y))
METALCUDA_FLOAT_BINARY(step, y < x ? 0.0f : 1.0f)

// abs, min, max, clamp: floating (fmin/fmax semantics) and integer.
template <class T, class = enable_if_t<is_arithmetic_v<T>>>
__forceinline__ T abs(T x) {
  if constexpr (is_floating_point_v<T>)
    return T(fabsf(float(x)));
  else if constexpr (is_signed_v<T>)
    return x < 0 ? T(-x) : x;
  else
    return x;
}
template <class A, class B, class T = ::metalcuda::common_scalar_t<A, B>>
__forceinline__ T min(A a_, B b_) {
  const T a = T(a_), b = T(b_);
  if constexpr (is_floating_point_v<T>)
    return T(fminf(float(a), float(b)));
  else
    return b < a ? b : a;
}
template <class A, class B, class T = ::metalcuda::common_scalar_t<A, B>>
__forceinline__ T max(A a_, B b_) {
  const T a = T(a_), b = T(b_);
  if constexpr (is_floating_point_v<T>)
    return T(fmaxf(float(a), float(b)));
  else
    return a < b ? b : a;
}
template <class A, class B, class C,
          class T = ::metalcuda::common_scalar_t<A, ::metalcuda::common_scalar_t<B, C>>>
__forceinline__ T clamp(A x, B lo, C hi) {
  return min(max(T(x), T(lo)), T(hi));
}
template <class A, class B, class C,
          class T = ::metalcuda::common_scalar_t<A, ::metalcuda::common_scalar_t<B, C>>>
__forceinline__ T min3(A x, B y, C z) {
  return min(min(T(x), T(y)), T(z));
}
template <class A, class B, class C,
          class T = ::metalcuda::common_scalar_t<A, ::metalcuda::common_scalar_t<B, C>>>
__forceinline__ T max3(A x, B y, C z) {
  return max(max(T(x), T(y)), T(z));
}
template <class A, class B, class C,
          class T = ::metalcuda::common_scalar_t<A, ::metalcuda::common_scalar_t<B, C>>>
__forceinline__ T median3(A x, B y, C z) {
  return max(min(T(x), T(y)), min(max(T(x), T(y)), T(z)));
}
template <class A, class B, class C>
__forceinline__ auto fmin3(A x, B y, C z) {
  return min3(x, y, z);
}
template <class A, class B, class C>
__forceinline__ auto fmax3(A x, B y, C z) {
  return max3(x, y, z);
}
template <class A, class B, class C>
__forceinline__ auto fmedian3(A x, B y, C z) {
  return median3(x, y, z);
}
template <class A, class B, class C, class T = ::metalcuda::common_float_t<A, B>>
__forceinline__ T fma(A a, B b, C c) {
  return T(fmaf(float(T(a)), float(T(b)), float(T(c))));
}
template <class A, class B, class C, class T = ::metalcuda::common_float_t<A, B>>
__forceinline__ T mad(A a, B b, C c) {
  return T(float(T(a)) * float(T(b)) + float(T(c)));
}
template <class A, class B, class C, class T = ::metalcuda::common_float_t<A, B>>
__forceinline__ T mix(A x, B y, C a) {
  const float t = float(T(a));
  return T(float(T(x)) + (float(T(y)) - float(T(x))) * t);
}
template <class A, class B, class C, class T = ::metalcuda::common_float_t<A, C>>
__forceinline__ T smoothstep(A edge0, B edge1, C x) {
  const float t =
      fminf(fmaxf((float(x) - float(edge0)) / (float(edge1) - float(edge0)), 0.0f), 1.0f);
  return T(t * t * (3.0f - 2.0f * t));
}

// Vector forms of the functions above: element-wise, scalars splat.
namespace detail_vec {
template <class X, class V>
constexpr auto at(const X& x, int i) {
  if constexpr (::metalcuda::is_vector_v<X>)
    return x[i];
  else
    return x;
}
}  // namespace detail_vec
#define METALCUDA_VEC_OF_SCALAR(name)                  \
  template <class T, int N>                            \
  __forceinline__ vec<T, N> name(const vec<T, N>& a) { \
    vec<T, N> r;                                       \
    for (int i = 0; i < N; ++i) r.e[i] = name(a.e[i]); \
    return r;                                          \
  }
#define METALCUDA_VEC_OF_SCALAR2(name)                                                 \
  template <class T, int N>                                                            \
  __forceinline__ vec<T, N> name(const vec<T, N>& a, const vec<T, N>& b) {             \
    vec<T, N> r;                                                                       \
    for (int i = 0; i < N; ++i) r.e[i] = name(a.e[i], b.e[i]);                         \
    return r;                                                                          \
  }                                                                                    \
  template <class T, int N, class S, class = enable_if_t<::metalcuda::is_scalar_v<S>>> \
  __forceinline__ vec<T, N> name(const vec<T, N>& a, S b) {                            \
    return name(a, vec<T, N>(b));                                                      \
  }
#define METALCUDA_VEC_OF_SCALAR3(name)                                         \
  template <class T, int N, class B, class C>                                  \
  __forceinline__ vec<T, N> name(const vec<T, N>& a, const B& b, const C& c) { \
    vec<T, N> r;                                                               \
    for (int i = 0; i < N; ++i)                                                \
      r.e[i] = T(name(a.e[i], T(detail_vec::at<B, vec<T, N>>(b, i)),           \
                      T(detail_vec::at<C, vec<T, N>>(c, i))));                 \
    return r;                                                                  \
  }
METALCUDA_VEC_OF_SCALAR(abs)
METALCUDA_VEC_OF_SCALAR2(min)
METALCUDA_VEC_OF_SCALAR2(max)
METALCUDA_VEC_OF_SCALAR3(clamp)
METALCUDA_VEC_OF_SCALAR3(fma)
METALCUDA_VEC_OF_SCALAR3(mad)
METALCUDA_VEC_OF_SCALAR3(mix)
METALCUDA_VEC_OF_SCALAR3(min3)
METALCUDA_VEC_OF_SCALAR3(max3)
METALCUDA_VEC_OF_SCALAR3(median3)
template <class T, int N, class A, class B>
__forceinline__ vec<T, N> smoothstep(const A& e0, const B& e1, const vec<T, N>& x) {
  vec<T, N> r;
  for (int i = 0; i < N; ++i)
    r.e[i] = smoothstep(T(detail_vec::at<A, vec<T, N>>(e0, i)),
                        T(detail_vec::at<B, vec<T, N>>(e1, i)), x.e[i]);
  return r;
}

// frexp, modf, ldexp, ilogb (Metal passes the extra result by reference).
template <class T, class = enable_if_t<is_floating_point_v<T>>>
__forceinline__ T frexp(T x, int& exponent) {
  return T(frexpf(float(x), &exponent));
}
template <class T, class = enable_if_t<is_floating_point_v<T>>>
__forceinline__ T modf(T x, T& whole) {
  float w = 0.0f;
  const float f = modff(float(x), &w);
  whole = T(w);
  return T(f);
}
template <class T, class = enable_if_t<is_floating_point_v<T>>>
__forceinline__ T ldexp(T x, int k) {
  return T(ldexpf(float(x), k));
}
template <class T, class = enable_if_t<is_floating_point_v<T>>>
__forceinline__ int ilogb(T x) {
  return ilogbf(float(x));
}

// ---- relational ---------------------------------------------------------------------------
template <class T, class = enable_if_t<is_floating_point_v<T>>>
__forceinline__ bool isnan(T x) {
  const float f = float(x);
  return f != f;
}
template <class T, class = enable_if_t<is_floating_point_v<T>>>
__forceinline__ bool isinf(T x) {
  return fabsf(float(x)) == INFINITY;
}
template <class T, class = enable_if_t<is_floating_point_v<T>>>
__forceinline__ bool isfinite(T x) {
  return fabsf(float(x)) < INFINITY;
}
template <class T, class = enable_if_t<is_floating_point_v<T>>>
__forceinline__ bool isnormal(T x) {
  const float a = fabsf(float(x));
  return a >= float(numeric_limits<T>::min()) && a < INFINITY;
}
template <class T, class = enable_if_t<is_floating_point_v<T>>>
__forceinline__ bool signbit(T x) {
  return ::metalcuda::bit_cast<uint32_t>(float(x)) >> 31;
}
template <class A, class B>
__forceinline__ bool isordered(A a, B b) {
  return !isnan(a) && !isnan(b);
}
template <class A, class B>
__forceinline__ bool isunordered(A a, B b) {
  return isnan(a) || isnan(b);
}
#define METALCUDA_VEC_PREDICATE(name)                     \
  template <class T, int N>                               \
  __forceinline__ vec<bool, N> name(const vec<T, N>& a) { \
    vec<bool, N> r;                                       \
    for (int i = 0; i < N; ++i) r.e[i] = name(a.e[i]);    \
    return r;                                             \
  }
METALCUDA_VEC_PREDICATE(isnan)
METALCUDA_VEC_PREDICATE(isinf)
METALCUDA_VEC_PREDICATE(isfinite)
METALCUDA_VEC_PREDICATE(isnormal)
METALCUDA_VEC_PREDICATE(signbit)
#undef METALCUDA_VEC_PREDICATE

__forceinline__ bool all(bool b) { return b; }
__forceinline__ bool any(bool b) { return b; }
template <class T, int N>
__forceinline__ bool all(const vec<T, N>& v) {
  for (int i = 0; i < N; ++i)
    if (!v.e[i]) return false;
  return true;
}
template <class T, int N>
__forceinline__ bool any(const vec<T, N>& v) {
  for (int i = 0; i < N; ++i)
    if (v.e[i]) return true;
  return false;
}
// select(a, b, c): c ? b : a (element-wise for vectors).
template <class T, class = enable_if_t<is_arithmetic_v<T>>>
__forceinline__ T select(T a, T b, bool c) {
  return c ? b : a;
}
template <class T, int N, class C>
__forceinline__ vec<T, N> select(const vec<T, N>& a, const vec<T, N>& b, const C& c) {
  vec<T, N> r;
  for (int i = 0; i < N; ++i) r.e[i] = detail_vec::at<C, vec<T, N>>(c, i) ? b.e[i] : a.e[i];
  return r;
}

// ---- geometric ----------------------------------------------------------------------------
template <class T, int N>
__forceinline__ T dot(const vec<T, N>& a, const vec<T, N>& b) {
  float sum = 0.0f;
  for (int i = 0; i < N; ++i) sum += float(a.e[i]) * float(b.e[i]);
  return T(sum);
}
template <class T, int N>
__forceinline__ T length_squared(const vec<T, N>& a) {
  return dot(a, a);
}
template <class T, int N>
__forceinline__ T length(const vec<T, N>& a) {
  return T(__fsqrt_rn(float(dot(a, a))));
}
template <class T, int N>
__forceinline__ T distance(const vec<T, N>& a, const vec<T, N>& b) {
  return length(a - b);
}
template <class T, int N>
__forceinline__ T distance_squared(const vec<T, N>& a, const vec<T, N>& b) {
  return length_squared(a - b);
}
template <class T, int N>
__forceinline__ vec<T, N> normalize(const vec<T, N>& a) {
  return a * T(::metalcuda::precise_rsqrt(float(dot(a, a))));
}
template <class T>
__forceinline__ vec<T, 3> cross(const vec<T, 3>& a, const vec<T, 3>& b) {
  return vec<T, 3>(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}
template <class T, int N>
__forceinline__ vec<T, N> reflect(const vec<T, N>& i, const vec<T, N>& n) {
  return i - T(2) * dot(n, i) * n;
}
template <class T, int N>
__forceinline__ vec<T, N> faceforward(const vec<T, N>& n, const vec<T, N>& i,
                                      const vec<T, N>& nref) {
  return float(dot(nref, i)) < 0.0f ? n : -n;
}

// ---- integer ------------------------------------------------------------------------------
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T popcount(T x) {
  if constexpr (sizeof(T) == 8)
    return T(__popcll(static_cast<unsigned long long>(x)));
  else
    return T(__popc(static_cast<uint32_t>(x) & (sizeof(T) == 4   ? 0xffffffffu
                                                : sizeof(T) == 2 ? 0xffffu
                                                                 : 0xffu)));
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T clz(T x) {
  if constexpr (sizeof(T) == 8)
    return T(__clzll(static_cast<long long>(x)));
  else
    return T(__clz(int(static_cast<uint32_t>(make_unsigned_t<T>(x)))) - 32 + 8 * int(sizeof(T)));
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T ctz(T x) {
  const auto u = static_cast<unsigned long long>(make_unsigned_t<T>(x));
  return u == 0 ? T(8 * sizeof(T)) : T(__ffsll(static_cast<long long>(u)) - 1);
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T reverse_bits(T x) {
  if constexpr (sizeof(T) == 8)
    return T(__brevll(static_cast<unsigned long long>(x)));
  else
    return T(__brev(static_cast<uint32_t>(make_unsigned_t<T>(x))) >> (32 - 8 * sizeof(T)));
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T mulhi(T a, T b) {
  if constexpr (sizeof(T) == 8)
    return is_signed_v<T> ? T(__mul64hi(static_cast<long long>(a), static_cast<long long>(b)))
                          : T(__umul64hi(static_cast<unsigned long long>(a),
                                         static_cast<unsigned long long>(b)));
  else
    return T((static_cast<long long>(a) * static_cast<long long>(b)) >> (8 * sizeof(T)));
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T absdiff(T a, T b) {
  return a > b ? T(a - b) : T(b - a);
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T hadd(T a, T b) {
  return T((a >> 1) + (b >> 1) + (a & b & 1));
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T rhadd(T a, T b) {
  return T((a >> 1) + (b >> 1) + ((a | b) & 1));
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T addsat(T a, T b) {
  const T r = T(a + b);
  if constexpr (is_signed_v<T>) {
    if (b > 0 && r < a) return numeric_limits<T>::max();
    if (b < 0 && r > a) return numeric_limits<T>::min();
    return r;
  } else {
    return r < a ? numeric_limits<T>::max() : r;
  }
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T subsat(T a, T b) {
  const T r = T(a - b);
  if constexpr (is_signed_v<T>) {
    if (b < 0 && r < a) return numeric_limits<T>::max();
    if (b > 0 && r > a) return numeric_limits<T>::min();
    return r;
  } else {
    return b > a ? T(0) : r;
  }
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T mul24(T a, T b) {
  return T(a * b);
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T mad24(T a, T b, T c) {
  return T(a * b + c);
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T rotate(T v, T by) {
  constexpr int bits = 8 * sizeof(T);
  using U = make_unsigned_t<T>;
  const int s = int(U(by) % bits);
  return s == 0 ? v : T((U(v) << s) | (U(v) >> (bits - s)));
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T extract_bits(T x, uint offset, uint bits) {
  using U = make_unsigned_t<T>;
  if (bits == 0) return T(0);
  const U field = U(U(x) >> offset) & U(bits >= 8 * sizeof(T) ? ~U(0) : U((U(1) << bits) - 1));
  if constexpr (is_signed_v<T>) {
    const int shift = int(8 * sizeof(T)) - int(bits);
    return T(T(field << shift) >> shift);
  } else {
    return T(field);
  }
}
template <class T, class = enable_if_t<is_integral_v<T>>>
__forceinline__ T insert_bits(T base, T insert, uint offset, uint bits) {
  using U = make_unsigned_t<T>;
  const U mask = U((bits >= 8 * sizeof(T) ? ~U(0) : U((U(1) << bits) - 1)) << offset);
  return T((U(base) & ~mask) | ((U(insert) << offset) & mask));
}
METALCUDA_VEC_OF_SCALAR(popcount)
METALCUDA_VEC_OF_SCALAR(clz)
METALCUDA_VEC_OF_SCALAR(ctz)
METALCUDA_VEC_OF_SCALAR(reverse_bits)
METALCUDA_VEC_OF_SCALAR2(absdiff)
METALCUDA_VEC_OF_SCALAR2(mulhi)
METALCUDA_VEC_OF_SCALAR2(hadd)
METALCUDA_VEC_OF_SCALAR2(rhadd)
METALCUDA_VEC_OF_SCALAR2(addsat)
METALCUDA_VEC_OF_SCALAR2(subsat)
METALCUDA_VEC_OF_SCALAR2(rotate)
#undef METALCUDA_VEC_OF_SCALAR
#undef METALCUDA_VEC_OF_SCALAR2
#undef METALCUDA_VEC_OF_SCALAR3

// metal::fast and metal::precise name every math function; those without a fast form are
// the same function in both.
#define METALCUDA_SHARED_NAMES \
  using metal::fabs;           \
  using metal::abs;            \
  using metal::floor;          \
  using metal::ceil;           \
  using metal::round;          \
  using metal::rint;           \
  using metal::trunc;          \
  using metal::fract;          \
  using metal::saturate;       \
  using metal::sign;           \
  using metal::fmin;           \
  using metal::fmax;           \
  using metal::fmod;           \
  using metal::fdim;           \
  using metal::copysign;       \
  using metal::step;           \
  using metal::min;            \
  using metal::max;            \
  using metal::clamp;          \
  using metal::fma;            \
  using metal::mad;            \
  using metal::mix;            \
  using metal::smoothstep;     \
  using metal::fmin3;          \
  using metal::fmax3;          \
  using metal::fmedian3;       \
  using metal::frexp;          \
  using metal::modf;           \
  using metal::ldexp;          \
  using metal::ilogb;          \
  using metal::isnan;          \
  using metal::isinf;          \
  using metal::isfinite;       \
  using metal::length;         \
  using metal::normalize;      \
  using metal::distance;       \
  using metal::dot;
namespace precise {
METALCUDA_SHARED_NAMES
}  // namespace precise
namespace fast {
METALCUDA_SHARED_NAMES
}  // namespace fast
#undef METALCUDA_SHARED_NAMES

}  // namespace metal

#undef METALCUDA_PRECISION_FUNCTIONS
#undef METALCUDA_DIV
#undef METALCUDA_FAST_DIV
#undef METALCUDA_SQRT_RN
