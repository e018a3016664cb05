// Scalar and vector types of the Metal Shading Language, as clang C++ types.
//
// Vectors are clang ext_vector_type, which gives swizzles (.xy, .zyx, .rgba),
// element-wise operators and Metal's layouts (float3 is 16 bytes, half3 8 bytes).
// Address spaces are real clang address spaces, so mixing `device` and
// `threadgroup` pointers is a compile error here as it is in Metal.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <type_traits>
#include <utility>

#include "rt.h"

typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;
typedef unsigned long ulong;
typedef _Float16 half;
typedef __bf16 bfloat;

#define METALSIM_VECTORS(S)                           \
  typedef S S##2 __attribute__((ext_vector_type(2))); \
  typedef S S##3 __attribute__((ext_vector_type(3))); \
  typedef S S##4 __attribute__((ext_vector_type(4)));

METALSIM_VECTORS(float)
METALSIM_VECTORS(half)
METALSIM_VECTORS(bfloat)
METALSIM_VECTORS(int)
METALSIM_VECTORS(uint)
METALSIM_VECTORS(short)
METALSIM_VECTORS(ushort)
METALSIM_VECTORS(char)
METALSIM_VECTORS(uchar)
METALSIM_VECTORS(long)
METALSIM_VECTORS(ulong)
#undef METALSIM_VECTORS
// clang's bool vectors are bit-packed and have no swizzles; Metal's boolN take one byte
// per element. signed char keeps that layout and stays a type distinct from charN.
typedef signed char bool2 __attribute__((ext_vector_type(2)));
typedef signed char bool3 __attribute__((ext_vector_type(3)));
typedef signed char bool4 __attribute__((ext_vector_type(4)));

template <class T, int N>
struct metalsim_packed_vec;

namespace metalsim {

// vec_traits<V>::size is 1 for scalars; ::element is the scalar type.
template <class T>
struct vec_traits {
  using element = T;
  static constexpr int size = 1;
};
#define METALSIM_VEC_TRAITS(S)     \
  template <>                      \
  struct vec_traits<S##2> {        \
    using element = S;             \
    static constexpr int size = 2; \
  };                               \
  template <>                      \
  struct vec_traits<S##3> {        \
    using element = S;             \
    static constexpr int size = 3; \
  };                               \
  template <>                      \
  struct vec_traits<S##4> {        \
    using element = S;             \
    static constexpr int size = 4; \
  };
METALSIM_VEC_TRAITS(float)
METALSIM_VEC_TRAITS(half)
METALSIM_VEC_TRAITS(bfloat)
METALSIM_VEC_TRAITS(int)
METALSIM_VEC_TRAITS(uint)
METALSIM_VEC_TRAITS(short)
METALSIM_VEC_TRAITS(ushort)
METALSIM_VEC_TRAITS(char)
METALSIM_VEC_TRAITS(uchar)
METALSIM_VEC_TRAITS(long)
METALSIM_VEC_TRAITS(ulong)
METALSIM_VEC_TRAITS(bool)
#undef METALSIM_VEC_TRAITS

template <class T, int N>
struct vec_traits<metalsim_packed_vec<T, N>> {
  using element = T;
  static constexpr int size = N;
};

template <class T>
using element_t = typename vec_traits<std::remove_cv_t<T>>::element;
template <class T>
constexpr int vec_size_v = vec_traits<std::remove_cv_t<T>>::size;
template <class T>
constexpr bool is_vector_v = vec_size_v<T> > 1;

template <class T, int N>
struct make_vector;
#define METALSIM_MAKE_VECTOR(S) \
  template <>                   \
  struct make_vector<S, 1> {    \
    using type = S;             \
  };                            \
  template <>                   \
  struct make_vector<S, 2> {    \
    using type = S##2;          \
  };                            \
  template <>                   \
  struct make_vector<S, 3> {    \
    using type = S##3;          \
  };                            \
  template <>                   \
  struct make_vector<S, 4> {    \
    using type = S##4;          \
  };
METALSIM_MAKE_VECTOR(float)
METALSIM_MAKE_VECTOR(half)
METALSIM_MAKE_VECTOR(bfloat)
METALSIM_MAKE_VECTOR(int)
METALSIM_MAKE_VECTOR(uint)
METALSIM_MAKE_VECTOR(short)
METALSIM_MAKE_VECTOR(ushort)
METALSIM_MAKE_VECTOR(char)
METALSIM_MAKE_VECTOR(uchar)
METALSIM_MAKE_VECTOR(long)
METALSIM_MAKE_VECTOR(ulong)
METALSIM_MAKE_VECTOR(bool)
#undef METALSIM_MAKE_VECTOR

template <class T>
constexpr bool is_float_v =
    std::is_same_v<std::remove_cv_t<T>, float> || std::is_same_v<std::remove_cv_t<T>, half> ||
    std::is_same_v<std::remove_cv_t<T>, bfloat>;

// half <-> bfloat: MSL converts explicitly; clang rejects every cast between _Float16 and
// __bf16, so such conversions go through float (exact: both widen to float exactly).
template <class To, class From>
constexpr bool is_half_bfloat_pair_v =
    (std::is_same_v<std::remove_cv_t<To>, half> &&
     std::is_same_v<std::remove_cv_t<From>, bfloat>) ||
    (std::is_same_v<std::remove_cv_t<To>, bfloat> && std::is_same_v<std::remove_cv_t<From>, half>);

// Element conversion that treats bool as Metal does (non-zero -> true).
template <class E, class S>
constexpr E convert_element(S s) {
  if constexpr (std::is_same_v<E, bool>)
    return s != S(0);
  else if constexpr (is_half_bfloat_pair_v<E, S>)
    return static_cast<E>(static_cast<float>(s));
  else
    return static_cast<E>(s);
}

// Appends the components of one constructor argument (scalar or vector).
template <class E, int N, class A>
inline void append_components(E (&out)[N], int& at, A a) {
  if constexpr (is_vector_v<A>) {
    for (int i = 0; i < vec_size_v<A>; ++i) out[at++] = convert_element<E>(a[i]);
  } else {
    out[at++] = convert_element<E>(a);
  }
}

template <class... A>
constexpr int total_components() {
  return (0 + ... + vec_size_v<A>);
}

// Metal vector constructors: float4(), float4(s) (splat), float4(int4) (convert),
// float4(a, b, c, d), float4(v.xy, 1, 2). The source rewrite turns `float4(` into
// `::metalsim::make_vec<float4>(` because clang has no multi-argument form.
template <class V, class... A>
inline V make_vec(A... args) {
  using E = element_t<V>;
  constexpr int N = vec_size_v<V>;
  if constexpr (sizeof...(A) == 0) {
    return V{};
  } else if constexpr (sizeof...(A) == 1 && total_components<A...>() == 1) {
    E s = (convert_element<E>(args), ...);
    V r;
    for (int i = 0; i < N; ++i) r[i] = s;
    return r;
  } else {
    static_assert(total_components<A...>() == N,
                  "vector constructor: the arguments' components must add up to the vector size");
    E parts[N];
    int at = 0;
    (append_components<E, N>(parts, at, args), ...);
    V r;
    for (int i = 0; i < N; ++i) r[i] = parts[i];
    return r;
  }
}

// C-style vector casts `(int4)v` convert element-wise in Metal (a scalar is splat);
// clang would reinterpret the bits. The source rewrite turns them into this.
template <class V, class S>
constexpr V vector_cast(S s) {
  if constexpr (is_vector_v<S>) {
    static_assert(vec_size_v<S> == vec_size_v<V>,
                  "vector cast: the source and destination vectors have different sizes");
    V r;
    for (int i = 0; i < vec_size_v<V>; ++i) r[i] = convert_element<element_t<V>>(s[i]);
    return r;
  } else if constexpr (is_vector_v<V> && !std::is_class_v<S>) {
    return make_vec<V>(s);
  } else if constexpr (is_half_bfloat_pair_v<V, S>) {
    return convert_element<V>(s);
  } else {
    return (V)(s);  // not a vector conversion: C semantics
  }
}

// `T(a > b)`, `half4(x < y)`, `(float4)(v == w)`: a comparison converted to a number is
// 1 where it holds, as Metal's boolN converts; clang's vector comparisons give -1 there
// (int masks), so the rewrite routes such conversions through this.
template <class T, class M>
constexpr T from_mask(M m) {
  if constexpr (is_vector_v<M>) {
    static_assert(vec_size_v<T> == vec_size_v<M>,
                  "converting a vector comparison to a vector of another size");
    T r{};
    for (int i = 0; i < vec_size_v<M>; ++i) r[i] = convert_element<element_t<T>>(m[i] != 0);
    return r;
  } else if constexpr (is_vector_v<T>) {
    return make_vec<T>(static_cast<bool>(m));
  } else {
    return convert_element<T>(static_cast<bool>(m));
  }
}

// `static_cast<T>(x)` in Metal source (the rewrite calls this): converts vectors
// element-wise and half <-> bfloat through float, as Metal does (clang would reinterpret
// same-size vectors and rejects half <-> bfloat); everything else is C++'s static_cast.
// Values are taken by value (a vector element `v.x` binds to no reference), references
// are forwarded (`static_cast<Base&>(d)`, `static_cast<T&&>(x)`).
template <class To, class From, std::enable_if_t<!std::is_reference_v<To>, int> = 0>
__attribute__((always_inline)) constexpr To static_cast_(From x) {
  if constexpr ((is_vector_v<To> && is_vector_v<From>) || is_half_bfloat_pair_v<To, From>)
    return vector_cast<std::remove_cv_t<To>>(x);
  else
    return static_cast<To>(x);
}
template <class To, class From, std::enable_if_t<std::is_reference_v<To>, int> = 0>
__attribute__((always_inline)) constexpr To static_cast_(From&& x) {
  return static_cast<To>(static_cast<From&&>(x));
}

// `f({a, b, c}, ...)`: a braced list as a function argument (MLX passes vector
// positions so, `elem_to_loc({x, y, z}, ...)`). clang cannot convert a braced list to an
// ext_vector parameter, so the rewrite passes braced(a, b, c) instead: it converts to
// any type T for which `T{a, b, c}` is valid (vectors, aggregates, constructors), and to
// no other, so overload resolution sees what it would for the braced list.
template <class... A>
struct braced_list;
template <>
struct braced_list<> {};
template <class H, class... R>
struct braced_list<H, R...> {
  H head;
  braced_list<R...> rest;
};
template <size_t I, class H, class... R>
constexpr auto braced_get(const braced_list<H, R...>& list) {
  if constexpr (I == 0)
    return list.head;
  else
    return braced_get<I - 1>(list.rest);
}
template <class... A>
struct braced_args {
  braced_list<A...> values;
  template <class T, class = decltype(T{std::declval<A>()...})>
  constexpr operator T() const {
    return make<T>(std::index_sequence_for<A...>{});
  }

 private:
  template <class T, size_t... I>
  constexpr T make(std::index_sequence<I...>) const {
    return T{braced_get<I>(values)...};
  }
};
constexpr braced_list<> make_braced_list() { return {}; }
template <class H, class... R>
constexpr braced_list<H, R...> make_braced_list(H head, R... rest) {
  braced_list<H, R...> list{};
  list.head = head;
  list.rest = make_braced_list(rest...);
  return list;
}
template <class... A>
constexpr braced_args<A...> braced(A... args) {
  braced_args<A...> result{};
  result.values = make_braced_list(args...);
  return result;
}

}  // namespace metalsim

// Packed vectors: no padding, 4-byte (element) alignment.
template <class T, int N>
struct metalsim_packed_vec {
  using vector_type = typename metalsim::make_vector<T, N>::type;
  T elements[N];
  metalsim_packed_vec() = default;
#ifndef METALSIM_NO_ADDRESS_SPACES
  // Copies out of device, constant and threadgroup memory (C++ has no generic address
  // space for the implicit copy constructor).
  metalsim_packed_vec(const __attribute__((address_space(1))) metalsim_packed_vec& o) {
    for (int i = 0; i < N; ++i) elements[i] = o.elements[i];
  }
  metalsim_packed_vec(const __attribute__((address_space(2))) metalsim_packed_vec& o) {
    for (int i = 0; i < N; ++i) elements[i] = o.elements[i];
  }
  metalsim_packed_vec(const __attribute__((address_space(3))) metalsim_packed_vec& o) {
    for (int i = 0; i < N; ++i) elements[i] = o.elements[i];
  }
#endif
  metalsim_packed_vec(vector_type v) {
    for (int i = 0; i < N; ++i) elements[i] = v[i];
  }
  operator vector_type() const {
    vector_type v;
    for (int i = 0; i < N; ++i) v[i] = elements[i];
    return v;
  }
  T& operator[](int i) { return elements[i]; }
  T operator[](int i) const { return elements[i]; }
};
#define METALSIM_PACKED(S)                         \
  typedef metalsim_packed_vec<S, 2> packed_##S##2; \
  typedef metalsim_packed_vec<S, 3> packed_##S##3; \
  typedef metalsim_packed_vec<S, 4> packed_##S##4;
METALSIM_PACKED(float)
METALSIM_PACKED(half)
METALSIM_PACKED(bfloat)
METALSIM_PACKED(int)
METALSIM_PACKED(uint)
METALSIM_PACKED(short)
METALSIM_PACKED(ushort)
METALSIM_PACKED(char)
METALSIM_PACKED(uchar)
#undef METALSIM_PACKED

namespace metal {
using ::bfloat;
using ::half;
using ::uchar;
using ::uint;
using ::ulong;
using ::ushort;
// vec<T, N> is T with ext_vector_type(N), as in Metal's own headers: deducible
// (`template <class T> struct S<vec<T, 2>>`) and any N (MLX NAX uses vec<T, 8>).
// vec<bool, N> is clang's bool vector here, not the simulator's byte-per-element boolN.
template <class T, int N>
using vec = T __attribute__((ext_vector_type(N)));

// metal::array<T, N> (MSL specification 2.12): a fixed-size aggregate.
template <class T, size_t N>
struct array {
  T elements_[N];
  constexpr size_t size() const { return N; }
  T& operator[](size_t i) { return elements_[i]; }
  constexpr const T& operator[](size_t i) const { return elements_[i]; }
};

// Reinterpret the bits of a value (MSL as_type<T>).
template <class T, class S>
inline T as_type(S s) {
  static_assert(sizeof(T) == sizeof(S), "as_type: source and destination sizes differ");
  return __builtin_bit_cast(T, s);
}

// Type traits as MSL spells them (metal::is_floating_point_v includes half and bfloat).
using std::bool_constant;
using std::conditional;
using std::conditional_t;
using std::decay;
using std::decay_t;
using std::enable_if;
using std::enable_if_t;
using std::false_type;
using std::integral_constant;
using std::is_base_of;
using std::is_base_of_v;
using std::is_const;
using std::is_const_v;
using std::is_convertible;
using std::is_convertible_v;
using std::is_integral;
using std::is_integral_v;
using std::is_pointer;
using std::is_pointer_v;
using std::is_same;
using std::is_same_v;
using std::is_signed;
using std::is_signed_v;
using std::is_unsigned;
using std::is_unsigned_v;
using std::make_signed;
using std::make_signed_t;
using std::make_unsigned;
using std::make_unsigned_t;
using std::remove_const_t;
using std::remove_cv;
using std::remove_cv_t;
using std::remove_pointer;
using std::remove_pointer_t;
using std::remove_reference;
using std::remove_reference_t;
using std::remove_volatile_t;
using std::true_type;
// remove_addrspace<T>: T without its address space (MSL type traits).
template <class T>
struct remove_addrspace {
  using type = T;
};
#ifndef METALSIM_NO_ADDRESS_SPACES
template <class T>
struct remove_addrspace<__attribute__((address_space(1))) T> {
  using type = T;
};
template <class T>
struct remove_addrspace<__attribute__((address_space(2))) T> {
  using type = T;
};
template <class T>
struct remove_addrspace<__attribute__((address_space(3))) T> {
  using type = T;
};
#endif
template <class T>
using remove_addrspace_t = typename remove_addrspace<T>::type;
// Metal's internal trait spellings (`#pragma METAL internals : enable`; MLX atomic.h).
template <class... B>
using _disjunction = std::disjunction<B...>;
template <class... B>
using _conjunction = std::conjunction<B...>;
template <class B>
using _negation = std::negation<B>;

// uniform<T> (MSL specification 2.14): a value the same in every thread; behaves as T.
template <class T>
struct uniform {
  T value;
  uniform() = default;
  constexpr uniform(T v) : value(v) {}
  constexpr operator T() const { return value; }
};
template <class T>
constexpr uniform<T> make_uniform(T v) {
  return uniform<T>(v);
}
template <class T>
struct is_floating_point : std::bool_constant<metalsim::is_float_v<T>> {};
template <class T>
constexpr bool is_floating_point_v = metalsim::is_float_v<T>;
template <class T>
constexpr bool is_arithmetic_v = is_integral_v<T> || is_floating_point_v<T>;
template <class T>
constexpr bool is_scalar_v = is_arithmetic_v<T>;
template <class T>
constexpr bool is_vector_v = metalsim::is_vector_v<T>;
}  // namespace metal
