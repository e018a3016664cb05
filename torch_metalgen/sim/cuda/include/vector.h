// Metal's vector types for the CUDA back end: vec<T, N> (N = 2, 3, 4) with Metal's sizes and
// alignments (float3 is 16 bytes, half3 8), element-wise operators, comparisons giving boolN,
// components .x .y .z .w / .r .g .b .a, swizzles and conversions.
//
// CUDA has no ext_vector_type, so two things are done by the translation
// (torch_metalgen/sim/cuda/translate.py): Metal's names (float4, half2, ...) become
// metal_float4, ... (CUDA's own float4 is another type), and a multi-component swizzle
// `v.zyx` becomes `v.template metal_swizzle<2, 1, 0>()`, which returns a vector (a proxy that
// writes back through `=` and `op=` when v is not const). `float4(a, b)` and `(float4)v`
// arrive as ::metalsim::make_vec / ::metalsim::vector_cast, as in the simulator.
#pragma once

#include "scalar.h"

namespace metal {
template <class T, int N>
struct vec;
template <class T, int N>
struct packed_vec;
}  // namespace metal

namespace metalcuda {

template <class T, int N, int... I>
struct swizzle_ref;

// size: 1 for scalars; element: the scalar type. Swizzle proxies count as their vector.
template <class T>
struct vec_info {
  using element = T;
  static constexpr int size = 1;
};
template <class T, int N>
struct vec_info<metal::vec<T, N>> {
  using element = T;
  static constexpr int size = N;
};
template <class T, int N, int... I>
struct vec_info<swizzle_ref<T, N, I...>> {
  using element = T;
  static constexpr int size = sizeof...(I);
};
template <class T, int N>
struct vec_info<metal::packed_vec<T, N>> {
  using element = T;
  static constexpr int size = N;
};
template <class V>
using element_t = typename vec_info<metal::remove_cv_t<metal::remove_reference_t<V>>>::element;
template <class V>
constexpr int vec_size_v = vec_info<metal::remove_cv_t<metal::remove_reference_t<V>>>::size;
template <class V>
constexpr bool is_vector_v = vec_size_v<V> > 1;
template <class S>
constexpr bool is_scalar_v = metal::is_arithmetic_v<metal::remove_cv_t<S>>;

template <int... I>
constexpr bool distinct() {
  constexpr int list[] = {I...};
  for (int a = 0; a < int(sizeof...(I)); ++a)
    for (int b = a + 1; b < int(sizeof...(I)); ++b)
      if (list[a] == list[b]) return false;
  return true;
}

// Element conversion as Metal does it: to bool means "not zero".
template <class E, class S>
constexpr E convert_element(S s) {
  if constexpr (metal::is_same_v<E, bool>)
    return float(s) != 0.0f;
  else
    return E(s);
}

}  // namespace metalcuda

// The members every vec<T, N> has: component access, conversion from another element type,
// swizzles.
#define METALCUDA_VEC_MEMBERS(N)                                                       \
  vec() = default;                                                                     \
  constexpr T& operator[](int i) { return e[i]; }                                      \
  constexpr const T& operator[](int i) const { return e[i]; }                          \
  template <int... I>                                                                  \
  constexpr ::metalcuda::swizzle_ref<T, N, I...> metal_swizzle() {                     \
    static_assert(((I < N) && ...), "swizzle component out of range for this vector"); \
    return ::metalcuda::swizzle_ref<T, N, I...>(*this);                                \
  }                                                                                    \
  template <int... I>                                                                  \
  constexpr vec<T, int(sizeof...(I))> metal_swizzle() const {                          \
    static_assert(((I < N) && ...), "swizzle component out of range for this vector"); \
    return vec<T, int(sizeof...(I))>(e[I]...);                                         \
  }

namespace metal {

template <class T>
struct alignas(2 * sizeof(T)) vec<T, 2> {
  union {
    T e[2];
    struct {
      T x, y;
    };
    struct {
      T r, g;
    };
  };
  METALCUDA_VEC_MEMBERS(2)
  template <class S, class = enable_if_t<::metalcuda::is_scalar_v<S>>>
  constexpr vec(S s) : e{::metalcuda::convert_element<T>(s), ::metalcuda::convert_element<T>(s)} {}
  template <class A, class B,
            class = enable_if_t<::metalcuda::is_scalar_v<A>&& ::metalcuda::is_scalar_v<B>>>
  constexpr vec(A a, B b)
      : e{::metalcuda::convert_element<T>(a), ::metalcuda::convert_element<T>(b)} {}
  template <class U>
  constexpr explicit vec(const vec<U, 2>& o)
      : e{::metalcuda::convert_element<T>(o.e[0]), ::metalcuda::convert_element<T>(o.e[1])} {}
};

template <class T>
struct alignas(4 * sizeof(T)) vec<T, 3> {
  union {
    T e[3];
    struct {
      T x, y, z;
    };
    struct {
      T r, g, b;
    };
  };
  METALCUDA_VEC_MEMBERS(3)
  template <class S, class = enable_if_t<::metalcuda::is_scalar_v<S>>>
  constexpr vec(S s)
      : e{::metalcuda::convert_element<T>(s), ::metalcuda::convert_element<T>(s),
          ::metalcuda::convert_element<T>(s)} {}
  template <class A, class B, class C,
            class = enable_if_t<::metalcuda::is_scalar_v<A>&& ::metalcuda::is_scalar_v<
                B>&& ::metalcuda::is_scalar_v<C>>>
  constexpr vec(A a, B b, C c)
      : e{::metalcuda::convert_element<T>(a), ::metalcuda::convert_element<T>(b),
          ::metalcuda::convert_element<T>(c)} {}
  template <class U>
  constexpr explicit vec(const vec<U, 3>& o)
      : e{::metalcuda::convert_element<T>(o.e[0]), ::metalcuda::convert_element<T>(o.e[1]),
          ::metalcuda::convert_element<T>(o.e[2])} {}
};

template <class T>
struct alignas(4 * sizeof(T)) vec<T, 4> {
  union {
    T e[4];
    struct {
      T x, y, z, w;
    };
    struct {
      T r, g, b, a;
    };
  };
  METALCUDA_VEC_MEMBERS(4)
  template <class S, class = enable_if_t<::metalcuda::is_scalar_v<S>>>
  constexpr vec(S s)
      : e{::metalcuda::convert_element<T>(s), ::metalcuda::convert_element<T>(s),
          ::metalcuda::convert_element<T>(s), ::metalcuda::convert_element<T>(s)} {}
  template <class A, class B, class C, class D,
            class = enable_if_t<::metalcuda::is_scalar_v<A>&& ::metalcuda::is_scalar_v<
                B>&& ::metalcuda::is_scalar_v<C>&& ::metalcuda::is_scalar_v<D>>>
  constexpr vec(A a, B b, C c, D d)
      : e{::metalcuda::convert_element<T>(a), ::metalcuda::convert_element<T>(b),
          ::metalcuda::convert_element<T>(c), ::metalcuda::convert_element<T>(d)} {}
  template <class U>
  constexpr explicit vec(const vec<U, 4>& o)
      : e{::metalcuda::convert_element<T>(o.e[0]), ::metalcuda::convert_element<T>(o.e[1]),
          ::metalcuda::convert_element<T>(o.e[2]), ::metalcuda::convert_element<T>(o.e[3])} {}
};

#undef METALCUDA_VEC_MEMBERS

// packed_floatN and friends: no padding, element alignment; they convert to and from vec.
template <class T, int N>
struct packed_storage;
template <class T>
struct packed_storage<T, 2> {
  union {
    T e[2];
    struct {
      T x, y;
    };
  };
};
template <class T>
struct packed_storage<T, 3> {
  union {
    T e[3];
    struct {
      T x, y, z;
    };
  };
};
template <class T>
struct packed_storage<T, 4> {
  union {
    T e[4];
    struct {
      T x, y, z, w;
    };
  };
};

template <class T, int N>
struct packed_vec : packed_storage<T, N> {
  packed_vec() = default;
  constexpr packed_vec(const vec<T, N>& v) {
    for (int i = 0; i < N; ++i) this->e[i] = v.e[i];
  }
  constexpr operator vec<T, N>() const {
    vec<T, N> v;
    for (int i = 0; i < N; ++i) v.e[i] = this->e[i];
    return v;
  }
  constexpr T& operator[](int i) { return this->e[i]; }
  constexpr const T& operator[](int i) const { return this->e[i]; }
};

}  // namespace metal

namespace metalcuda {

// `v.yx`: a copy of the components that also writes back to v (assignment, op=).
template <class T, int N, int... I>
struct swizzle_ref : metal::vec<T, int(sizeof...(I))> {
  using base = metal::vec<T, int(sizeof...(I))>;
  metal::vec<T, N>* owner;
  constexpr explicit swizzle_ref(metal::vec<T, N>& v) : base(v.e[I]...), owner(&v) {}
  constexpr swizzle_ref& operator=(const base& v) {
    static_assert(distinct<I...>(), "a swizzle with a repeated component cannot be assigned");
    int k = 0;
    ((owner->e[I] = v.e[k++]), ...);
    static_cast<base&>(*this) = v;
    return *this;
  }
  constexpr swizzle_ref& operator=(const swizzle_ref& v) {
    return *this = static_cast<const base&>(v);
  }
  template <class S, class = metal::enable_if_t<is_scalar_v<S>>>
  constexpr swizzle_ref& operator=(S s) {
    return *this = base(s);
  }
#define METALCUDA_SWIZZLE_COMPOUND(op)                             \
  template <class U>                                               \
  constexpr swizzle_ref& operator op## = (const U& other) {        \
    return *this = base(static_cast<const base&>(*this) op other); \
  }
  METALCUDA_SWIZZLE_COMPOUND(+)
  METALCUDA_SWIZZLE_COMPOUND(-)
  METALCUDA_SWIZZLE_COMPOUND(*)
  METALCUDA_SWIZZLE_COMPOUND(/)
  METALCUDA_SWIZZLE_COMPOUND(%)
  METALCUDA_SWIZZLE_COMPOUND(&)
  METALCUDA_SWIZZLE_COMPOUND(|)
  METALCUDA_SWIZZLE_COMPOUND(^)
  METALCUDA_SWIZZLE_COMPOUND(<<)
  METALCUDA_SWIZZLE_COMPOUND(>>)
#undef METALCUDA_SWIZZLE_COMPOUND
};

}  // namespace metalcuda

namespace metal {

#define METALCUDA_VEC_BINARY(op)                                                       \
  template <class T, int N>                                                            \
  constexpr vec<T, N> operator op(const vec<T, N>& a, const vec<T, N>& b) {            \
    vec<T, N> r;                                                                       \
    for (int i = 0; i < N; ++i) r.e[i] = T(a.e[i] op b.e[i]);                          \
    return r;                                                                          \
  }                                                                                    \
  template <class T, int N, class S, class = enable_if_t<::metalcuda::is_scalar_v<S>>> \
  constexpr vec<T, N> operator op(const vec<T, N>& a, S s) {                           \
    vec<T, N> r;                                                                       \
    const T b = T(s);                                                                  \
    for (int i = 0; i < N; ++i) r.e[i] = T(a.e[i] op b);                               \
    return r;                                                                          \
  }                                                                                    \
  template <class T, int N, class S, class = enable_if_t<::metalcuda::is_scalar_v<S>>> \
  constexpr vec<T, N> operator op(S s, const vec<T, N>& b) {                           \
    vec<T, N> r;                                                                       \
    const T a = T(s);                                                                  \
    for (int i = 0; i < N; ++i) r.e[i] = T(a op b.e[i]);                               \
    return r;                                                                          \
  }                                                                                    \
  template <class T, int N, class U>                                                   \
  constexpr vec<T, N>& operator op## = (vec<T, N> & a, const U& b) {                   \
    return a = a op b;                                                                 \
  }
METALCUDA_VEC_BINARY(+)
METALCUDA_VEC_BINARY(-)
METALCUDA_VEC_BINARY(*)
METALCUDA_VEC_BINARY(/)
METALCUDA_VEC_BINARY(%)
METALCUDA_VEC_BINARY(&)
METALCUDA_VEC_BINARY(|)
METALCUDA_VEC_BINARY(^)
METALCUDA_VEC_BINARY(<<)
METALCUDA_VEC_BINARY(>>)
#undef METALCUDA_VEC_BINARY

#define METALCUDA_VEC_COMPARE(op)                                                      \
  template <class T, int N>                                                            \
  constexpr vec<bool, N> operator op(const vec<T, N>& a, const vec<T, N>& b) {         \
    vec<bool, N> r;                                                                    \
    for (int i = 0; i < N; ++i) r.e[i] = a.e[i] op b.e[i];                             \
    return r;                                                                          \
  }                                                                                    \
  template <class T, int N, class S, class = enable_if_t<::metalcuda::is_scalar_v<S>>> \
  constexpr vec<bool, N> operator op(const vec<T, N>& a, S s) {                        \
    return a op vec<T, N>(s);                                                          \
  }                                                                                    \
  template <class T, int N, class S, class = enable_if_t<::metalcuda::is_scalar_v<S>>> \
  constexpr vec<bool, N> operator op(S s, const vec<T, N>& b) {                        \
    return vec<T, N>(s) op b;                                                          \
  }
METALCUDA_VEC_COMPARE(==)
METALCUDA_VEC_COMPARE(!=)
METALCUDA_VEC_COMPARE(<)
METALCUDA_VEC_COMPARE(>)
METALCUDA_VEC_COMPARE(<=)
METALCUDA_VEC_COMPARE(>=)
METALCUDA_VEC_COMPARE(&&)
METALCUDA_VEC_COMPARE(||)
#undef METALCUDA_VEC_COMPARE

template <class T, int N>
constexpr vec<T, N> operator-(const vec<T, N>& a) {
  vec<T, N> r;
  for (int i = 0; i < N; ++i) r.e[i] = T(-a.e[i]);
  return r;
}
template <class T, int N>
constexpr vec<T, N> operator+(const vec<T, N>& a) {
  return a;
}
template <class T, int N>
constexpr vec<T, N> operator~(const vec<T, N>& a) {
  vec<T, N> r;
  for (int i = 0; i < N; ++i) r.e[i] = T(~a.e[i]);
  return r;
}
template <class T, int N>
constexpr vec<bool, N> operator!(const vec<T, N>& a) {
  vec<bool, N> r;
  for (int i = 0; i < N; ++i) r.e[i] = !a.e[i];
  return r;
}
template <class T, int N>
constexpr vec<T, N>& operator++(vec<T, N>& a) {
  return a += T(1);
}
template <class T, int N>
constexpr vec<T, N>& operator--(vec<T, N>& a) {
  return a -= T(1);
}

template <class T>
struct is_vector : bool_constant<::metalcuda::is_vector_v<T>> {};
template <class T>
constexpr bool is_vector_v = ::metalcuda::is_vector_v<T>;
template <class T>
struct vec_elements : integral_constant<int, ::metalcuda::vec_size_v<T>> {};
template <class T>
struct is_scalar : bool_constant<::metalcuda::is_scalar_v<T>> {};
template <class T>
constexpr bool is_scalar_v = ::metalcuda::is_scalar_v<T>;

// Metal's vector type names, renamed by the translation (CUDA owns float4, ...).
#define METALCUDA_VECTOR_NAMES(S)         \
  typedef vec<S, 2> metal_##S##2;         \
  typedef vec<S, 3> metal_##S##3;         \
  typedef vec<S, 4> metal_##S##4;         \
  typedef packed_vec<S, 2> packed_##S##2; \
  typedef packed_vec<S, 3> packed_##S##3; \
  typedef packed_vec<S, 4> packed_##S##4;
METALCUDA_VECTOR_NAMES(float)
METALCUDA_VECTOR_NAMES(half)
METALCUDA_VECTOR_NAMES(bfloat)
METALCUDA_VECTOR_NAMES(int)
METALCUDA_VECTOR_NAMES(uint)
METALCUDA_VECTOR_NAMES(short)
METALCUDA_VECTOR_NAMES(ushort)
METALCUDA_VECTOR_NAMES(char)
METALCUDA_VECTOR_NAMES(uchar)
METALCUDA_VECTOR_NAMES(long)
METALCUDA_VECTOR_NAMES(ulong)
METALCUDA_VECTOR_NAMES(bool)
#undef METALCUDA_VECTOR_NAMES

}  // namespace metal

#define METALCUDA_GLOBAL_VECTOR_NAMES(S) \
  using metal::metal_##S##2;             \
  using metal::metal_##S##3;             \
  using metal::metal_##S##4;             \
  using metal::packed_##S##2;            \
  using metal::packed_##S##3;            \
  using metal::packed_##S##4;
METALCUDA_GLOBAL_VECTOR_NAMES(float)
METALCUDA_GLOBAL_VECTOR_NAMES(half)
METALCUDA_GLOBAL_VECTOR_NAMES(bfloat)
METALCUDA_GLOBAL_VECTOR_NAMES(int)
METALCUDA_GLOBAL_VECTOR_NAMES(uint)
METALCUDA_GLOBAL_VECTOR_NAMES(short)
METALCUDA_GLOBAL_VECTOR_NAMES(ushort)
METALCUDA_GLOBAL_VECTOR_NAMES(char)
METALCUDA_GLOBAL_VECTOR_NAMES(uchar)
METALCUDA_GLOBAL_VECTOR_NAMES(long)
METALCUDA_GLOBAL_VECTOR_NAMES(ulong)
METALCUDA_GLOBAL_VECTOR_NAMES(bool)
#undef METALCUDA_GLOBAL_VECTOR_NAMES

namespace metal {
// as_type<T>(x): the same bits seen as another type of the same size.
template <class To, class From>
__forceinline__ To as_type(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "as_type: the types have different sizes");
  To to;
  memcpy(&to, &from, sizeof(To));
  return to;
}
}  // namespace metal

// What the simulator's source rewrite emits for `float4(a, b)` and `(float4)v`.
namespace metalsim {

template <class E, int N, class A>
constexpr void append_components(E (&out)[N], int& at, const A& a) {
  if constexpr (::metalcuda::is_vector_v<A>) {
    for (int i = 0; i < ::metalcuda::vec_size_v<A>; ++i)
      out[at++] = ::metalcuda::convert_element<E>(a[i]);
  } else {
    out[at++] = ::metalcuda::convert_element<E>(a);
  }
}

template <class V, class... A>
constexpr V make_vec(const A&... args) {
  using E = ::metalcuda::element_t<V>;
  constexpr int N = ::metalcuda::vec_size_v<V>;
  if constexpr (sizeof...(A) == 0) {
    return V{};
  } else if constexpr (sizeof...(A) == 1 && (::metalcuda::vec_size_v<A> + ...) == 1) {
    return V((::metalcuda::convert_element<E>(args), ...));
  } else {
    static_assert((0 + ... + ::metalcuda::vec_size_v<A>) == N,
                  "vector constructor: the arguments' components must add up to the vector size");
    E parts[N] = {};
    int at = 0;
    (append_components<E, N>(parts, at, args), ...);
    V r;
    for (int i = 0; i < N; ++i) r.e[i] = parts[i];
    return r;
  }
}

// C-style casts to a vector type convert element-wise in Metal (a scalar is splat); casts to
// anything else keep their C meaning.
template <class V, class S>
constexpr V vector_cast(const S& s) {
  if constexpr (::metalcuda::is_vector_v<V> && ::metalcuda::is_vector_v<S>) {
    static_assert(::metalcuda::vec_size_v<S> == ::metalcuda::vec_size_v<V>,
                  "vector cast: the source and destination vectors have different sizes");
    V r;
    for (int i = 0; i < ::metalcuda::vec_size_v<V>; ++i)
      r.e[i] = ::metalcuda::convert_element<::metalcuda::element_t<V>>(s[i]);
    return r;
  } else if constexpr (::metalcuda::is_vector_v<V>) {
    return V(s);
  } else {
    return (V)s;
  }
}

// `static_cast<T>(x)` and `T(x)` for a template type parameter T arrive as static_cast_<T>
// (the simulator's rewrite; Metal semantics): vectors convert element-wise, half <-> bfloat
// through float, references and everything else as C++'s static_cast.
template <class To, class From, metal::enable_if_t<!metal::is_reference_v<To>, int> = 0>
__forceinline__ constexpr To static_cast_(From x) {
  if constexpr (::metalcuda::is_vector_v<To> && ::metalcuda::is_vector_v<From>)
    return vector_cast<metal::remove_cv_t<To>>(x);
  else if constexpr (::metalcuda::is_low_float_v<To> && ::metalcuda::is_low_float_v<From>)
    return To(float(x));
  else
    return static_cast<To>(x);
}
template <class To, class From, metal::enable_if_t<metal::is_reference_v<To>, int> = 0>
__forceinline__ constexpr To static_cast_(From&& x) {
  return static_cast<To>(x);
}

// `T(a > b)` / `(float4)(a > b)`: a comparison converted in place gives 1 where it holds
// (Metal), not the -1 of a vector comparison mask.
template <class T, class M>
__forceinline__ constexpr T from_mask(M m) {
  if constexpr (::metalcuda::is_vector_v<M>) {
    T r{};
    for (int i = 0; i < ::metalcuda::vec_size_v<M>; ++i)
      r[i] = ::metalcuda::convert_element<::metalcuda::element_t<T>>(m[i] != 0);
    return r;
  } else if constexpr (::metalcuda::is_vector_v<T>) {
    return T(::metalcuda::convert_element<::metalcuda::element_t<T>>(static_cast<bool>(m)));
  } else {
    return ::metalcuda::convert_element<T>(static_cast<bool>(m));
  }
}

}  // namespace metalsim
