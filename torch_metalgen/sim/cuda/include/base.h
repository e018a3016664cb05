// Metal's scalar type names, type traits and limits for the CUDA back end.
//
// Compiled by NVRTC with -default-device (every function without an execution space is a
// __device__ function, as every Metal function is a GPU function) and without any CUDA
// header: NVRTC's built-in declarations (threadIdx, __shfl_*_sync, expf, ...) are all it
// needs. CUDA's own vector types (float4, uint3, ...) exist at global scope there, so the
// translation renames Metal's vector types to metal_float4, ... (torch_metalgen/sim/cuda/
// translate.py); everything Metal-visible lives in namespace metal.
#pragma once

typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;
typedef unsigned long ulong;  // 64-bit, as in Metal
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long int64_t;
typedef unsigned long uint64_t;
typedef long ptrdiff_t;
typedef unsigned long uintptr_t;
typedef long intptr_t;

namespace metal {

template <class T, T v>
struct integral_constant {
  static constexpr T value = v;
  constexpr operator T() const { return v; }
};
typedef integral_constant<bool, true> true_type;
typedef integral_constant<bool, false> false_type;
template <bool B>
using bool_constant = integral_constant<bool, B>;

template <bool B, class T = void>
struct enable_if {};
template <class T>
struct enable_if<true, T> {
  typedef T type;
};
template <bool B, class T = void>
using enable_if_t = typename enable_if<B, T>::type;

template <bool B, class T, class F>
struct conditional {
  typedef T type;
};
template <class T, class F>
struct conditional<false, T, F> {
  typedef F type;
};
template <bool B, class T, class F>
using conditional_t = typename conditional<B, T, F>::type;

template <class A, class B>
struct is_same : false_type {};
template <class A>
struct is_same<A, A> : true_type {};
template <class A, class B>
constexpr bool is_same_v = is_same<A, B>::value;

template <class T>
struct remove_const {
  typedef T type;
};
template <class T>
struct remove_const<const T> {
  typedef T type;
};
template <class T>
struct remove_volatile {
  typedef T type;
};
template <class T>
struct remove_volatile<volatile T> {
  typedef T type;
};
template <class T>
struct remove_cv {
  typedef typename remove_volatile<typename remove_const<T>::type>::type type;
};
template <class T>
using remove_cv_t = typename remove_cv<T>::type;
template <class T>
using remove_const_t = typename remove_const<T>::type;
template <class T>
struct remove_reference {
  typedef T type;
};
template <class T>
struct remove_reference<T&> {
  typedef T type;
};
template <class T>
struct remove_reference<T&&> {
  typedef T type;
};
template <class T>
using remove_reference_t = typename remove_reference<T>::type;
template <class T>
struct remove_pointer {
  typedef T type;
};
template <class T>
struct remove_pointer<T*> {
  typedef T type;
};
template <class T>
struct remove_pointer<T* const> {
  typedef T type;
};
template <class T>
using remove_pointer_t = typename remove_pointer<T>::type;
template <class T>
using decay_t = remove_cv_t<remove_reference_t<T>>;
// Metal's address spaces are erased in the CUDA translation: nothing to remove.
template <class T>
struct remove_addrspace {
  typedef T type;
};
template <class T>
using remove_addrspace_t = T;

template <class T>
struct is_pointer : false_type {};
template <class T>
struct is_pointer<T*> : true_type {};
template <class T>
struct is_pointer<T* const> : true_type {};
template <class T>
constexpr bool is_pointer_v = is_pointer<T>::value;
template <class T>
struct is_reference : false_type {};
template <class T>
struct is_reference<T&> : true_type {};
template <class T>
struct is_reference<T&&> : true_type {};
template <class T>
constexpr bool is_reference_v = is_reference<T>::value;
template <class T>
struct is_const : false_type {};
template <class T>
struct is_const<const T> : true_type {};
template <class T>
constexpr bool is_const_v = is_const<T>::value;
template <class T>
struct is_void : is_same<remove_cv_t<T>, void> {};
template <class T>
constexpr bool is_void_v = is_void<T>::value;

template <class T>
struct is_integral_base : false_type {};
#define METALCUDA_INTEGRAL(T) \
  template <>                 \
  struct is_integral_base<T> : true_type {};
METALCUDA_INTEGRAL(bool)
METALCUDA_INTEGRAL(char)
METALCUDA_INTEGRAL(signed char)
METALCUDA_INTEGRAL(unsigned char)
METALCUDA_INTEGRAL(short)
METALCUDA_INTEGRAL(unsigned short)
METALCUDA_INTEGRAL(int)
METALCUDA_INTEGRAL(unsigned int)
METALCUDA_INTEGRAL(long)
METALCUDA_INTEGRAL(unsigned long)
METALCUDA_INTEGRAL(long long)
METALCUDA_INTEGRAL(unsigned long long)
#undef METALCUDA_INTEGRAL
template <class T>
struct is_integral : is_integral_base<remove_cv_t<T>> {};
template <class T>
constexpr bool is_integral_v = is_integral<T>::value;

template <class T>
struct is_signed_base : bool_constant<(static_cast<T>(-1) < static_cast<T>(0))> {};
template <class T>
constexpr bool is_signed_v = is_integral_v<T> && is_signed_base<remove_cv_t<T>>::value;
template <class T>
constexpr bool is_unsigned_v = is_integral_v<T> && !is_signed_base<remove_cv_t<T>>::value;

template <class T>
struct make_unsigned;
#define METALCUDA_SIGNS(S, U) \
  template <>                 \
  struct make_unsigned<S> {   \
    typedef U type;           \
  };                          \
  template <>                 \
  struct make_unsigned<U> {   \
    typedef U type;           \
  };
METALCUDA_SIGNS(signed char, unsigned char)
METALCUDA_SIGNS(short, unsigned short)
METALCUDA_SIGNS(int, unsigned int)
METALCUDA_SIGNS(long, unsigned long)
#undef METALCUDA_SIGNS
template <class T>
using make_unsigned_t = typename make_unsigned<T>::type;

}  // namespace metal

namespace metalcuda {
// Bit casts without <cstring> (NVRTC has no C++ library); __builtin_bit_cast is constexpr.
template <class To, class From>
constexpr To bit_cast(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast between types of different sizes");
  return __builtin_bit_cast(To, from);
}
}  // namespace metalcuda

// Metal's float constants (metal_math). INFINITY and NAN must be constant expressions.
#define INFINITY (::metalcuda::bit_cast<float>(0x7f800000u))
#define HUGE_VALF INFINITY
#define NAN (::metalcuda::bit_cast<float>(0x7fc00000u))
#define MAXFLOAT 3.40282346638528859812e+38f
#define FLT_MAX 3.40282346638528859812e+38f
#define FLT_MIN 1.17549435082228750797e-38f
#define FLT_EPSILON 1.1920928955078125e-7f
#define FLT_MANT_DIG 24
#define HALF_MAX 65504.0f
#define HALF_MIN 6.103515625e-05f
#define HALF_EPSILON 0.0009765625f
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
#define CHAR_BIT 8
#define INT_MAX 2147483647
#define INT_MIN (-2147483647 - 1)
#define UINT_MAX 4294967295u
#define SHRT_MAX 32767
#define USHRT_MAX 65535
