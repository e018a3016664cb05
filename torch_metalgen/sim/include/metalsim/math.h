// metal:: math, common, integer, relational and geometric functions.
//
// Every float function computes in float with the C library (correctly rounded or
// close) and rounds to the argument type; half/bfloat round after the operation,
// as the hardware does. metal::fast and metal::precise map to the same code except
// fast::exp, computed as GPUs do (below); the GPU's other fast variants are less
// accurate than these (docs/simulator.md).
// There is deliberately no erf, no double: Metal has neither.
#pragma once

#include "types.h"

namespace metalsim {

// Applies f element-wise, computing in float for half/bfloat.
template <class T, class F>
inline T map_float(T x, F f) {
  using E = element_t<T>;
  if constexpr (is_vector_v<T>) {
    T r;
    for (int i = 0; i < vec_size_v<T>; ++i) r[i] = static_cast<E>(f(static_cast<float>(x[i])));
    return r;
  } else {
    return static_cast<T>(f(static_cast<float>(x)));
  }
}
template <class T, class F>
inline T map_float2(T x, T y, F f) {
  using E = element_t<T>;
  if constexpr (is_vector_v<T>) {
    T r;
    for (int i = 0; i < vec_size_v<T>; ++i)
      r[i] = static_cast<E>(f(static_cast<float>(x[i]), static_cast<float>(y[i])));
    return r;
  } else {
    return static_cast<T>(f(static_cast<float>(x), static_cast<float>(y)));
  }
}
template <class T, class F>
inline T map_float3(T x, T y, T z, F f) {
  using E = element_t<T>;
  if constexpr (is_vector_v<T>) {
    T r;
    for (int i = 0; i < vec_size_v<T>; ++i)
      r[i] = static_cast<E>(
          f(static_cast<float>(x[i]), static_cast<float>(y[i]), static_cast<float>(z[i])));
    return r;
  } else {
    return static_cast<T>(f(static_cast<float>(x), static_cast<float>(y), static_cast<float>(z)));
  }
}
template <class T, class F>
inline T map_any(T x, F f) {
  if constexpr (is_vector_v<T>) {
    T r;
    for (int i = 0; i < vec_size_v<T>; ++i) r[i] = f(x[i]);
    return r;
  } else {
    return f(x);
  }
}
template <class T, class F>
inline T map_any2(T x, T y, F f) {
  if constexpr (is_vector_v<T>) {
    T r;
    for (int i = 0; i < vec_size_v<T>; ++i) r[i] = f(x[i], y[i]);
    return r;
  } else {
    return f(x, y);
  }
}
// Widens a scalar argument to the vector type of the other argument (min(v, 0.0f)).
template <class T, class U>
inline T widen(U u) {
  if constexpr (std::is_same_v<T, U>)
    return u;
  else if constexpr (!is_vector_v<T>)
    return convert_element<T>(u);
  else if constexpr (is_vector_v<U>)
    return vector_cast<T>(u);
  else
    return make_vec<T>(convert_element<element_t<T>>(u));
}
template <class T>
constexpr bool float_like = is_float_v<element_t<T>>;
template <class T>
constexpr bool int_like = std::is_integral_v<element_t<T>>;
template <class T>
using bool_result_t = typename make_vector<bool, vec_size_v<T>>::type;

// Mixed scalar arguments, `pow(x, 2)`, `fmax(0, h)`: Metal's overloads are per float
// type (float f(float, float), half f(half, half)), so an integer argument converts to
// the type of the one floating argument. Two different floating types stay ambiguous.
template <class A, class B>
constexpr bool mixed_scalars =
    !is_vector_v<A> && !is_vector_v<B> && !std::is_same_v<A, B> &&
    ((is_float_v<A> && std::is_integral_v<B>) || (std::is_integral_v<A> && is_float_v<B>));
template <class A, class B>
using mixed_float_t = std::conditional_t<is_float_v<A>, A, B>;
// intN with the shape of T (frexp, ldexp, ilogb).
template <class T>
using int_vector_t = typename make_vector<int, vec_size_v<T>>::type;
template <class E>
constexpr E int_max() {
  using U = std::make_unsigned_t<E>;
  return std::is_signed_v<E> ? static_cast<E>(static_cast<U>(~U(0)) >> 1) : static_cast<E>(~U(0));
}
template <class E>
constexpr E int_min() {
  return std::is_signed_v<E> ? static_cast<E>(-int_max<E>() - 1) : E(0);
}

}  // namespace metalsim

namespace metal {

#define METALSIM_FLOAT_T template <class T, std::enable_if_t<metalsim::float_like<T>, int> = 0>
#define METALSIM_INT_T template <class T, std::enable_if_t<metalsim::int_like<T>, int> = 0>

#define METALSIM_UNARY(name, expr)                                        \
  METALSIM_FLOAT_T inline T name(T x) {                                   \
    return metalsim::map_float(x, [](float v) -> float { return expr; }); \
  }
METALSIM_UNARY(acos, __builtin_acosf(v))
METALSIM_UNARY(acosh, __builtin_acoshf(v))
METALSIM_UNARY(asin, __builtin_asinf(v))
METALSIM_UNARY(asinh, __builtin_asinhf(v))
METALSIM_UNARY(atan, __builtin_atanf(v))
METALSIM_UNARY(atanh, __builtin_atanhf(v))
METALSIM_UNARY(ceil, __builtin_ceilf(v))
METALSIM_UNARY(cos, __builtin_cosf(v))
METALSIM_UNARY(cosh, __builtin_coshf(v))
METALSIM_UNARY(cospi, __builtin_cosf(v * 3.14159265358979323846f))
METALSIM_UNARY(exp, __builtin_expf(v))
METALSIM_UNARY(exp2, __builtin_exp2f(v))
METALSIM_UNARY(exp10, __builtin_powf(10.0f, v))
METALSIM_UNARY(fabs, __builtin_fabsf(v))
METALSIM_UNARY(floor, __builtin_floorf(v))
METALSIM_UNARY(fract, __builtin_fminf(v - __builtin_floorf(v), 0x1.fffffep-1f))
METALSIM_UNARY(log, __builtin_logf(v))
METALSIM_UNARY(log2, __builtin_log2f(v))
METALSIM_UNARY(log10, __builtin_log10f(v))
METALSIM_UNARY(rint, __builtin_rintf(v))
METALSIM_UNARY(round, __builtin_roundf(v))
METALSIM_UNARY(rsqrt, 1.0f / __builtin_sqrtf(v))
METALSIM_UNARY(sin, __builtin_sinf(v))
METALSIM_UNARY(sinh, __builtin_sinhf(v))
METALSIM_UNARY(sinpi, __builtin_sinf(v * 3.14159265358979323846f))
METALSIM_UNARY(sqrt, __builtin_sqrtf(v))
METALSIM_UNARY(tan, __builtin_tanf(v))
METALSIM_UNARY(tanh, __builtin_tanhf(v))
METALSIM_UNARY(tanpi, __builtin_tanf(v * 3.14159265358979323846f))
METALSIM_UNARY(trunc, __builtin_truncf(v))
METALSIM_UNARY(saturate, __builtin_fminf(__builtin_fmaxf(v, 0.0f), 1.0f))
METALSIM_UNARY(sign, v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : v == v ? 0.0f * v : 0.0f)
#undef METALSIM_UNARY

#define METALSIM_BINARY(name, expr)                                                     \
  METALSIM_FLOAT_T inline T name(T x, T y) {                                            \
    return metalsim::map_float2(x, y, [](float a, float b) -> float { return expr; });  \
  }                                                                                     \
  template <class T, class U,                                                           \
            std::enable_if_t<metalsim::float_like<T> && metalsim::is_vector_v<T> &&     \
                                 !metalsim::is_vector_v<U>,                             \
                             int> = 0>                                                  \
  inline T name(T x, U y) {                                                             \
    return name(x, metalsim::widen<T>(y));                                              \
  }                                                                                     \
  template <class A, class B, std::enable_if_t<metalsim::mixed_scalars<A, B>, int> = 0> \
  inline metalsim::mixed_float_t<A, B> name(A x, B y) {                                 \
    using R = metalsim::mixed_float_t<A, B>;                                            \
    return name(static_cast<R>(x), static_cast<R>(y));                                  \
  }                                                                                     \
  template <class A, class V,                                                           \
            std::enable_if_t<!metalsim::is_vector_v<A> && metalsim::is_vector_v<V> &&   \
                                 metalsim::float_like<V>,                               \
                             int> = 0>                                                  \
  inline V name(A x, V y) {                                                             \
    return name(metalsim::widen<V>(x), y);                                              \
  }
METALSIM_BINARY(atan2, __builtin_atan2f(a, b))
METALSIM_BINARY(copysign, __builtin_copysignf(a, b))
METALSIM_BINARY(fdim, __builtin_fdimf(a, b))
METALSIM_BINARY(fmax, __builtin_fmaxf(a, b))
METALSIM_BINARY(fmin, __builtin_fminf(a, b))
METALSIM_BINARY(fmod, __builtin_fmodf(a, b))
METALSIM_BINARY(pow, __builtin_powf(a, b))
METALSIM_BINARY(powr, __builtin_powf(a, b))
METALSIM_BINARY(divide, a / b)
METALSIM_BINARY(step, b < a ? 0.0f : 1.0f)
#undef METALSIM_BINARY

METALSIM_FLOAT_T inline T fma(T a, T b, T c) {
  return metalsim::map_float3(a, b, c,
                              [](float x, float y, float z) { return __builtin_fmaf(x, y, z); });
}
METALSIM_FLOAT_T inline T mix(T x, T y, T a) { return x + (y - x) * a; }
template <
    class T, class U,
    std::enable_if_t<
        metalsim::float_like<T> && metalsim::is_vector_v<T> && !metalsim::is_vector_v<U>, int> = 0>
inline T mix(T x, T y, U a) {
  return mix(x, y, metalsim::widen<T>(a));
}
METALSIM_FLOAT_T inline T smoothstep(T e0, T e1, T x) {
  return metalsim::map_float3(e0, e1, x, [](float a, float b, float v) {
    float t = __builtin_fminf(__builtin_fmaxf((v - a) / (b - a), 0.0f), 1.0f);
    return t * t * (3.0f - 2.0f * t);
  });
}

// min / max / clamp / abs for floats (fmin semantics) and integers.
template <class T, class U = T,
          std::enable_if_t<(metalsim::float_like<T> || metalsim::int_like<T>) &&
                               !(std::is_integral_v<T> && metalsim::is_float_v<U>) &&
                               !(!metalsim::is_vector_v<T> && metalsim::is_vector_v<U>),
                           int> = 0>
inline T max(T x, U y) {
  T b = metalsim::widen<T>(y);
  if constexpr (metalsim::float_like<T>)
    return metalsim::map_float2(x, b, [](float p, float q) { return __builtin_fmaxf(p, q); });
  else
    return metalsim::map_any2(x, b, [](auto p, auto q) { return p < q ? q : p; });
}
template <class T, class U = T,
          std::enable_if_t<(metalsim::float_like<T> || metalsim::int_like<T>) &&
                               !(std::is_integral_v<T> && metalsim::is_float_v<U>) &&
                               !(!metalsim::is_vector_v<T> && metalsim::is_vector_v<U>),
                           int> = 0>
inline T min(T x, U y) {
  T b = metalsim::widen<T>(y);
  if constexpr (metalsim::float_like<T>)
    return metalsim::map_float2(x, b, [](float p, float q) { return __builtin_fminf(p, q); });
  else
    return metalsim::map_any2(x, b, [](auto p, auto q) { return q < p ? q : p; });
}
template <class T, class U,
          std::enable_if_t<std::is_integral_v<T> && metalsim::is_float_v<U>, int> = 0>
inline U max(T x, U y) {
  return max(static_cast<U>(x), y);
}
template <class T, class V,
          std::enable_if_t<!metalsim::is_vector_v<T> && metalsim::is_vector_v<V>, int> = 0>
inline V max(T x, V y) {
  return max(metalsim::widen<V>(x), y);
}
template <class T, class U,
          std::enable_if_t<std::is_integral_v<T> && metalsim::is_float_v<U>, int> = 0>
inline U min(T x, U y) {
  return min(static_cast<U>(x), y);
}
template <class T, class V,
          std::enable_if_t<!metalsim::is_vector_v<T> && metalsim::is_vector_v<V>, int> = 0>
inline V min(T x, V y) {
  return min(metalsim::widen<V>(x), y);
}
template <class T, class U, class V,
          std::enable_if_t<metalsim::float_like<T> || metalsim::int_like<T>, int> = 0>
inline T clamp(T x, U lo, V hi) {
  return min(max(x, metalsim::widen<T>(lo)), metalsim::widen<T>(hi));
}
METALSIM_FLOAT_T inline T abs(T x) { return fabs(x); }
template <class T, std::enable_if_t<metalsim::int_like<T>, int> = 0, int = 0>
inline T abs(T x) {
  return metalsim::map_any(x, [](auto v) { return v < 0 ? -v : v; });
}
METALSIM_INT_T inline T absdiff(T x, T y) {
  return metalsim::map_any2(x, y, [](auto a, auto b) { return a > b ? a - b : b - a; });
}
METALSIM_INT_T inline T popcount(T x) {
  return metalsim::map_any(x, [](auto v) {
    return static_cast<decltype(v)>(__builtin_popcountll(
        static_cast<uint64_t>(static_cast<std::make_unsigned_t<decltype(v)>>(v))));
  });
}
METALSIM_INT_T inline T clz(T x) {
  return metalsim::map_any(x, [](auto v) {
    using E = decltype(v);
    auto u = static_cast<uint64_t>(static_cast<std::make_unsigned_t<E>>(v));
    return static_cast<E>(u == 0 ? sizeof(E) * 8 : __builtin_clzll(u) - (64 - sizeof(E) * 8));
  });
}
METALSIM_INT_T inline T ctz(T x) {
  return metalsim::map_any(x, [](auto v) {
    using E = decltype(v);
    auto u = static_cast<uint64_t>(static_cast<std::make_unsigned_t<E>>(v));
    return static_cast<E>(u == 0 ? sizeof(E) * 8 : __builtin_ctzll(u));
  });
}
METALSIM_INT_T inline T mulhi(T x, T y) {
  return metalsim::map_any2(x, y, [](auto a, auto b) {
    using E = decltype(a);
    if constexpr (sizeof(E) == 8)
      return static_cast<E>((static_cast<__int128>(a) * b) >> 64);
    else
      return static_cast<E>((static_cast<int64_t>(a) * b) >> (sizeof(E) * 8));
  });
}

// Relational functions return bool (scalars) or boolN (vectors).
#define METALSIM_PREDICATE(name, expr)                    \
  METALSIM_FLOAT_T inline auto name(T x) {                \
    if constexpr (metalsim::is_vector_v<T>) {             \
      metalsim::bool_result_t<T> r;                       \
      for (int i = 0; i < metalsim::vec_size_v<T>; ++i) { \
        float v = static_cast<float>(x[i]);               \
        r[i] = (expr);                                    \
      }                                                   \
      return r;                                           \
    } else {                                              \
      float v = static_cast<float>(x);                    \
      return static_cast<bool>(expr);                     \
    }                                                     \
  }
METALSIM_PREDICATE(isnan, __builtin_isnan(v))
METALSIM_PREDICATE(isinf, __builtin_isinf(v))
METALSIM_PREDICATE(isfinite, __builtin_isfinite(v))
METALSIM_PREDICATE(isnormal, __builtin_isnormal(v))
METALSIM_PREDICATE(signbit, __builtin_signbit(v))
#undef METALSIM_PREDICATE

inline bool all(bool b) { return b; }
inline bool any(bool b) { return b; }
template <class T, std::enable_if_t<metalsim::is_vector_v<T>, int> = 0>
inline bool all(T v) {
  for (int i = 0; i < metalsim::vec_size_v<T>; ++i)
    if (!v[i]) return false;
  return true;
}
template <class T, std::enable_if_t<metalsim::is_vector_v<T>, int> = 0>
inline bool any(T v) {
  for (int i = 0; i < metalsim::vec_size_v<T>; ++i)
    if (v[i]) return true;
  return false;
}
// select(a, b, c): c ? b : a, element-wise for vectors.
template <class T>
inline T select(T a, T b, bool c) {
  return c ? b : a;
}
template <class T, class C,
          std::enable_if_t<metalsim::is_vector_v<T> && metalsim::is_vector_v<C>, int> = 0>
inline T select(T a, T b, C c) {
  static_assert(metalsim::vec_size_v<T> == metalsim::vec_size_v<C>, "select: mask size differs");
  T r;
  for (int i = 0; i < metalsim::vec_size_v<T>; ++i) r[i] = c[i] ? b[i] : a[i];
  return r;
}

// Geometric functions (float vectors).
template <class T, std::enable_if_t<metalsim::float_like<T>, int> = 0>
inline metalsim::element_t<T> dot(T x, T y) {
  if constexpr (metalsim::is_vector_v<T>) {
    float s = 0.0f;
    for (int i = 0; i < metalsim::vec_size_v<T>; ++i)
      s = __builtin_fmaf(static_cast<float>(x[i]), static_cast<float>(y[i]), s);
    return static_cast<metalsim::element_t<T>>(s);
  } else {
    return x * y;
  }
}
METALSIM_FLOAT_T inline metalsim::element_t<T> length_squared(T x) { return dot(x, x); }
METALSIM_FLOAT_T inline metalsim::element_t<T> length(T x) {
  return static_cast<metalsim::element_t<T>>(__builtin_sqrtf(static_cast<float>(dot(x, x))));
}
METALSIM_FLOAT_T inline metalsim::element_t<T> distance(T x, T y) { return length(x - y); }
METALSIM_FLOAT_T inline T normalize(T x) { return x * rsqrt(metalsim::widen<T>(dot(x, x))); }
template <class T, std::enable_if_t<metalsim::vec_size_v<T> == 3, int> = 0>
inline T cross(T a, T b) {
  return metalsim::make_vec<T>(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}

// More of the MSL standard library (MSL specification 6.5 math, 6.4 integer,
// 6.7 geometric functions).
METALSIM_FLOAT_T inline T frexp(T x, metalsim::int_vector_t<T>& e) {
  T r;
  if constexpr (metalsim::is_vector_v<T>) {
    for (int i = 0; i < metalsim::vec_size_v<T>; ++i) {
      int k;
      r[i] = static_cast<metalsim::element_t<T>>(__builtin_frexpf(static_cast<float>(x[i]), &k));
      e[i] = k;
    }
  } else {
    int k;
    r = static_cast<T>(__builtin_frexpf(static_cast<float>(x), &k));
    e = k;
  }
  return r;
}
METALSIM_FLOAT_T inline T ldexp(T x, metalsim::int_vector_t<T> e) {
  T r;
  if constexpr (metalsim::is_vector_v<T>) {
    for (int i = 0; i < metalsim::vec_size_v<T>; ++i)
      r[i] = static_cast<metalsim::element_t<T>>(__builtin_ldexpf(static_cast<float>(x[i]), e[i]));
  } else {
    r = static_cast<T>(__builtin_ldexpf(static_cast<float>(x), e));
  }
  return r;
}
METALSIM_FLOAT_T inline T modf(T x, T& whole) {
  whole = trunc(x);
  return metalsim::map_float2(x, whole, [](float a, float w) {
    return __builtin_isinf(a) ? __builtin_copysignf(0.0f, a) : a - w;
  });
}
METALSIM_FLOAT_T inline metalsim::int_vector_t<T> ilogb(T x) {
  metalsim::int_vector_t<T> r;
  if constexpr (metalsim::is_vector_v<T>) {
    for (int i = 0; i < metalsim::vec_size_v<T>; ++i)
      r[i] = __builtin_ilogbf(static_cast<float>(x[i]));
  } else {
    r = __builtin_ilogbf(static_cast<float>(x));
  }
  return r;
}
METALSIM_FLOAT_T inline T nextafter(T x, T y) {
  if constexpr (std::is_same_v<metalsim::element_t<T>, float>) {
    return metalsim::map_float2(x, y, [](float a, float b) { return __builtin_nextafterf(a, b); });
  } else {  // half / bfloat: one step of the narrow type
    using E = metalsim::element_t<T>;
    using U = std::conditional_t<sizeof(E) == 2, uint16_t, uint8_t>;
    T r;
    for (int i = 0; i < metalsim::vec_size_v<T>; ++i) {
      E a = metalsim::vec_size_v<T> > 1 ? ((E*)&x)[i] : *(E*)&x;
      E b = metalsim::vec_size_v<T> > 1 ? ((E*)&y)[i] : *(E*)&y;
      E out;
      if (a != a || b != b) {
        out = a + b;
      } else if (a == b) {
        out = b;
      } else {
        U bits = __builtin_bit_cast(U, a);
        if (a == E(0)) {
          bits = U(1) | (b < E(0) ? U(U(1) << (sizeof(E) * 8 - 1)) : U(0));
        } else {
          bool away = (a < b) == (a > E(0));
          bits = away ? U(bits + 1) : U(bits - 1);
        }
        out = __builtin_bit_cast(E, bits);
      }
      if constexpr (metalsim::vec_size_v<T> > 1)
        r[i] = out;
      else
        r = out;
    }
    return r;
  }
}
METALSIM_FLOAT_T inline T sincos(T x, T& cosval) {
  cosval = cos(x);
  return sin(x);
}
METALSIM_FLOAT_T inline T fmin3(T x, T y, T z) { return fmin(fmin(x, y), z); }
METALSIM_FLOAT_T inline T fmax3(T x, T y, T z) { return fmax(fmax(x, y), z); }
METALSIM_FLOAT_T inline T fmedian3(T x, T y, T z) { return fmax(fmin(x, y), fmin(fmax(x, y), z)); }
template <class T, std::enable_if_t<metalsim::float_like<T> || metalsim::int_like<T>, int> = 0>
inline T min3(T x, T y, T z) {
  return min(min(x, y), z);
}
template <class T, std::enable_if_t<metalsim::float_like<T> || metalsim::int_like<T>, int> = 0>
inline T max3(T x, T y, T z) {
  return max(max(x, y), z);
}
template <class T, std::enable_if_t<metalsim::float_like<T> || metalsim::int_like<T>, int> = 0>
inline T median3(T x, T y, T z) {
  return max(min(x, y), min(max(x, y), z));
}
METALSIM_FLOAT_T inline T reflect(T i, T n) { return i - metalsim::widen<T>(2 * dot(n, i)) * n; }
METALSIM_FLOAT_T inline T faceforward(T n, T i, T nref) { return dot(nref, i) < 0 ? n : -n; }

// Integer functions, element-wise in the element type.
METALSIM_INT_T inline T reverse_bits(T x) {
  return metalsim::map_any(x, [](auto v) {
    using E = decltype(v);
    using U = std::make_unsigned_t<E>;
    U u = static_cast<U>(v), r = 0;
    for (unsigned b = 0; b < sizeof(E) * 8; ++b)
      r = U(r | (((u >> b) & 1u) << (sizeof(E) * 8 - 1 - b)));
    return static_cast<E>(r);
  });
}
METALSIM_INT_T inline T extract_bits(T x, uint offset, uint bits) {
  return metalsim::map_any(x, [offset, bits](auto v) {
    using E = decltype(v);
    if (bits == 0) return E(0);
    constexpr unsigned width = sizeof(E) * 8;
    if constexpr (std::is_signed_v<E>) {  // sign-extends the field
      int64_t shifted = static_cast<int64_t>(static_cast<uint64_t>(v) << (64 - offset - bits));
      return static_cast<E>(shifted >> (64 - bits));
    } else {
      uint64_t field =
          (static_cast<uint64_t>(v) >> offset) & (bits >= 64 ? ~0ull : ((1ull << bits) - 1));
      (void)width;
      return static_cast<E>(field);
    }
  });
}
METALSIM_INT_T inline T insert_bits(T base, T insert, uint offset, uint bits) {
  return metalsim::map_any2(base, insert, [offset, bits](auto b, auto v) {
    using E = decltype(b);
    using U = std::make_unsigned_t<E>;
    if (bits == 0) return b;
    uint64_t mask = (bits >= 64 ? ~0ull : ((1ull << bits) - 1)) << offset;
    uint64_t r = (static_cast<uint64_t>(static_cast<U>(b)) & ~mask) |
                 ((static_cast<uint64_t>(static_cast<U>(v)) << offset) & mask);
    return static_cast<E>(static_cast<U>(r));
  });
}
METALSIM_INT_T inline T rotate(T v, T i) {
  return metalsim::map_any2(v, i, [](auto a, auto n) {
    using E = decltype(a);
    using U = std::make_unsigned_t<E>;
    constexpr unsigned width = sizeof(E) * 8;
    unsigned k = static_cast<unsigned>(static_cast<U>(n)) % width;
    U u = static_cast<U>(a);
    return static_cast<E>(k ? U((u << k) | (u >> (width - k))) : u);
  });
}
#define METALSIM_INT_BINARY(name, expr)                                               \
  METALSIM_INT_T inline T name(T x, T y) {                                            \
    return metalsim::map_any2(x, y, [](auto a, auto b) {                              \
      using E = decltype(a);                                                          \
      using W = std::conditional_t<std::is_signed_v<E>, __int128, unsigned __int128>; \
      constexpr W lo = static_cast<W>(metalsim::int_min<E>());                        \
      constexpr W hi = static_cast<W>(metalsim::int_max<E>());                        \
      W p = static_cast<W>(a), q = static_cast<W>(b);                                 \
      (void)lo;                                                                       \
      (void)hi;                                                                       \
      return static_cast<E>(expr);                                                    \
    });                                                                               \
  }
METALSIM_INT_BINARY(addsat, p + q > hi ? hi : (p + q < lo ? lo : p + q))
METALSIM_INT_BINARY(subsat, (std::is_signed_v<E> ? (p - q > hi ? hi : (p - q < lo ? lo : p - q))
                                                 : (p < q ? W(0) : p - q)))
METALSIM_INT_BINARY(hadd, (p + q) >> 1)
METALSIM_INT_BINARY(rhadd, (p + q + 1) >> 1)
#undef METALSIM_INT_BINARY
METALSIM_INT_T inline T mul24(T x, T y) {
  return metalsim::map_any2(x, y, [](auto a, auto b) {
    using E = decltype(a);
    auto low24 = [](E v) -> int64_t {
      if constexpr (std::is_signed_v<E>)
        return static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(v) << 8) >> 8);
      else
        return static_cast<int64_t>(static_cast<uint32_t>(v) & 0xFFFFFFu);
    };
    return static_cast<E>(low24(a) * low24(b));
  });
}
METALSIM_INT_T inline T mad24(T x, T y, T z) { return mul24(x, y) + z; }
METALSIM_INT_T inline T madhi(T a, T b, T c) { return mulhi(a, b) + c; }
METALSIM_INT_T inline T mulsat(T x, T y) {
  return metalsim::map_any2(x, y, [](auto a, auto b) {
    using E = decltype(a);
    using W = std::conditional_t<std::is_signed_v<E>, __int128, unsigned __int128>;
    W m = static_cast<W>(a) * static_cast<W>(b);
    W lo = static_cast<W>(metalsim::int_min<E>()), hi = static_cast<W>(metalsim::int_max<E>());
    return static_cast<E>(m > hi ? hi : (m < lo ? lo : m));
  });
}
METALSIM_INT_T inline T madsat(T a, T b, T c) { return addsat(mulsat(a, b), c); }

#undef METALSIM_FLOAT_T
#undef METALSIM_INT_T

// metal::fast and metal::precise name the same functions (see the top of this file).
// Using-declarations, not a using-directive: MLX adds its own overloads to
// metal::precise, and those must overload the float versions, not hide them.
#define METALSIM_FAST_PRECISE(X) \
  X(abs)                         \
  X(acos)                        \
  X(acosh)                       \
  X(asin)                        \
  X(asinh)                       \
  X(atan)                        \
  X(atan2)                       \
  X(atanh)                       \
  X(ceil)                        \
  X(clamp)                       \
  X(copysign)                    \
  X(cos)                         \
  X(cosh)                        \
  X(cospi)                       \
  X(cross)                       \
  X(distance)                    \
  X(divide)                      \
  X(dot)                         \
  X(exp10)                       \
  X(exp2)                        \
  X(fabs)                        \
  X(faceforward)                 \
  X(fdim)                        \
  X(floor)                       \
  X(fma)                         \
  X(fmax)                        \
  X(fmax3)                       \
  X(fmin)                        \
  X(fmin3)                       \
  X(fmod)                        \
  X(fract)                       \
  X(frexp)                       \
  X(ilogb)                       \
  X(isfinite)                    \
  X(isinf)                       \
  X(isnan)                       \
  X(ldexp)                       \
  X(length)                      \
  X(length_squared)              \
  X(log)                         \
  X(log10)                       \
  X(log2)                        \
  X(max)                         \
  X(median3)                     \
  X(min)                         \
  X(mix)                         \
  X(modf)                        \
  X(nextafter)                   \
  X(normalize)                   \
  X(pow)                         \
  X(powr)                        \
  X(reflect)                     \
  X(rint)                        \
  X(round)                       \
  X(rsqrt)                       \
  X(saturate)                    \
  X(sign)                        \
  X(sin)                         \
  X(sincos)                      \
  X(sinh)                        \
  X(sinpi)                       \
  X(smoothstep)                  \
  X(sqrt)                        \
  X(step)                        \
  X(tan)                         \
  X(tanh)                        \
  X(tanpi)                       \
  X(trunc)
#define METALSIM_USING(name) using metal::name;
namespace fast {
METALSIM_FAST_PRECISE(METALSIM_USING)
// fast::exp as GPUs evaluate it: exp2 of x * log2(e) rounded to float. The rounding of that
// product makes the error grow with |x| (about |x| * 2^-24 relative), which a kernel
// relying on fast exp must survive on a GPU: softmax with fast::exp over 32k logits was
// 4.08x over float32's tolerance on an H100 (CUDA's __expf) and is 4.18x here (1.68x with
// precise::exp). Every other fast:: function is the precise one here.
template <class T, std::enable_if_t<metalsim::float_like<T>, int> = 0>
inline T exp(T x) {
  return metalsim::map_float(
      x, [](float v) -> float { return __builtin_exp2f(v * 1.44269504088896341f); });
}
}  // namespace fast
namespace precise {
METALSIM_FAST_PRECISE(METALSIM_USING)
using metal::exp;
}  // namespace precise
#undef METALSIM_USING
#undef METALSIM_FAST_PRECISE

// numeric_limits with half and bfloat.
template <class T>
struct numeric_limits;
template <>
struct numeric_limits<float> {
  static constexpr float min() { return 0x1p-126f; }
  static constexpr float max() { return 0x1.fffffep127f; }
  static constexpr float lowest() { return -0x1.fffffep127f; }
  static constexpr float epsilon() { return 0x1p-23f; }
  static constexpr float infinity() { return __builtin_inff(); }
  static constexpr float quiet_NaN() { return __builtin_nanf(""); }
  static constexpr bool is_signed = true;
  static constexpr int digits = 24;
};
template <>
struct numeric_limits<half> {
  static constexpr half min() { return static_cast<half>(0x1p-14f); }
  static constexpr half max() { return static_cast<half>(65504.0f); }
  static constexpr half lowest() { return static_cast<half>(-65504.0f); }
  static constexpr half epsilon() { return static_cast<half>(0x1p-10f); }
  static constexpr half infinity() { return static_cast<half>(__builtin_inff()); }
  static constexpr half quiet_NaN() { return static_cast<half>(__builtin_nanf("")); }
  static constexpr bool is_signed = true;
  static constexpr int digits = 11;
};
template <>
struct numeric_limits<bfloat> {
  static constexpr bfloat min() { return static_cast<bfloat>(0x1p-126f); }
  static constexpr bfloat max() { return static_cast<bfloat>(0x1.fep127f); }
  static constexpr bfloat lowest() { return static_cast<bfloat>(-0x1.fep127f); }
  static constexpr bfloat epsilon() { return static_cast<bfloat>(0x1p-7f); }
  static constexpr bfloat infinity() { return static_cast<bfloat>(__builtin_inff()); }
  static constexpr bfloat quiet_NaN() { return static_cast<bfloat>(__builtin_nanf("")); }
  static constexpr bool is_signed = true;
  static constexpr int digits = 8;
};
#define METALSIM_INT_LIMITS(T, LO, HI)           \
  template <>                                    \
  struct numeric_limits<T> {                     \
    static constexpr T min() { return LO; }      \
    static constexpr T max() { return HI; }      \
    static constexpr T lowest() { return LO; }   \
    static constexpr bool is_signed = (LO) != 0; \
  };
METALSIM_INT_LIMITS(int, INT32_MIN, INT32_MAX)
METALSIM_INT_LIMITS(uint, 0u, UINT32_MAX)
METALSIM_INT_LIMITS(short, INT16_MIN, INT16_MAX)
METALSIM_INT_LIMITS(ushort, 0, UINT16_MAX)
METALSIM_INT_LIMITS(char, INT8_MIN, INT8_MAX)
METALSIM_INT_LIMITS(signed char, INT8_MIN, INT8_MAX)
METALSIM_INT_LIMITS(uchar, 0, UINT8_MAX)
METALSIM_INT_LIMITS(long, INT64_MIN, INT64_MAX)
METALSIM_INT_LIMITS(ulong, 0ul, UINT64_MAX)
#undef METALSIM_INT_LIMITS

}  // namespace metal

#define MAXFLOAT 0x1.fffffep127f
#define HUGE_VALF __builtin_inff()
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define FLT_MAX 0x1.fffffep127f
#define FLT_MIN 0x1p-126f
#define FLT_EPSILON 0x1p-23f
#define HALF_MAX ((half)65504.0f)
#define HALF_MIN ((half)0x1p-14f)
#define HALF_EPSILON ((half)0x1p-10f)
#define MAXHALF ((half)65504.0f)
#define M_E_F 2.71828182845904523536f
#define M_LOG2E_F 1.44269504088896340736f
#define M_LOG10E_F 0.434294481903251827651f
#define M_LN2_F 0.693147180559945309417f
#define M_LN10_F 2.30258509299404568402f
#define M_PI_F 3.14159265358979323846f
#define M_PI_2_F 1.57079632679489661923f
#define M_PI_4_F 0.785398163397448309616f
#define M_1_PI_F 0.318309886183790671538f
#define M_2_PI_F 0.636619772367581343076f
#define M_2_SQRTPI_F 1.12837916709551257390f
#define M_SQRT2_F 1.41421356237309504880f
#define M_SQRT1_2_F 0.707106781186547524401f
