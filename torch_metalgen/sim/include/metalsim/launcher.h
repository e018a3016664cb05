// Binding of launch arguments to kernel parameters, used by the generated launcher.
// Parameter types are checked here, in C++, from decltype of the kernel: Python only
// says which attribute each parameter carries.
#pragma once

#include <type_traits>  // already included by types.h, before the Metal keyword macros

#include "rt.h"
#include "types.h"

namespace metalsim {

// The I-th type of a pack (no <tuple>: this header is read after the Metal keyword
// macros, and some C++ libraries' <tuple> pulls in <cmath>, which uses `double`).
template <int I, class First, class... Rest>
struct pack_element {
  using type = typename pack_element<I - 1, Rest...>::type;
};
template <class First, class... Rest>
struct pack_element<0, First, Rest...> {
  using type = First;
};

template <class F>
struct function_traits;
template <class R, class... A>
struct function_traits<R (*)(A...)> {
  using result = R;
  template <int I>
  using param = typename pack_element<I, A...>::type;
};
template <class C>
using function_pointer_t = std::remove_cv_t<C>;
template <class C, int I>
using param_t = typename function_traits<function_pointer_t<C>>::template param<I>;

template <class P>
using pointee_t = std::remove_pointer_t<std::remove_reference_t<P>>;
template <class P>
constexpr uint64_t pointee_size() {
  if constexpr (std::is_void_v<std::remove_cv_t<metal::remove_addrspace_t<pointee_t<P>>>>)
    return 1;
  else
    return sizeof(pointee_t<P>);
}

// A pointer in the generic (thread) address space converts to `const volatile void*`;
// device, constant and threadgroup pointers do not.
template <class P>
constexpr bool in_thread_address_space() {
  using Q = std::conditional_t<std::is_reference_v<P>, pointee_t<P>*, P>;
  return std::is_convertible_v<Q, const volatile void*>;
}

template <class P>
inline P bind_buffer(const metalsim_thread_args* a, int index) {
  static_assert(std::is_pointer_v<P> || std::is_reference_v<P>,
                "a [[buffer(i)]] parameter must be a device or constant pointer or reference");
#ifndef METALSIM_NO_ADDRESS_SPACES
  static_assert(!in_thread_address_space<P>(),
                "a [[buffer(i)]] parameter must point to the device or constant address space");
#endif
  if constexpr (std::is_pointer_v<P>) {
    return (P)(a->buffers[index]);
  } else {
    return *(pointee_t<P>*)(a->buffers[index]);
  }
}

template <class P>
inline P bind_threadgroup(const metalsim_thread_args* a, int index) {
  static_assert(std::is_pointer_v<P>,
                "a [[threadgroup(i)]] parameter must be a threadgroup pointer");
#ifndef METALSIM_NO_ADDRESS_SPACES
  static_assert(!in_thread_address_space<P>(),
                "a [[threadgroup(i)]] parameter must point to the threadgroup address space");
#endif
  return (P)(a->threadgroup_buffers[index]);
}

// Builtins that are 3-vectors in Metal accept uint/ushort (x), uint2/ushort2 (xy), uint3.
template <class P>
inline P builtin_vector(const uint32_t (&v)[3]) {
  using T = std::remove_cv_t<P>;
  static_assert(std::is_integral_v<element_t<T>> && vec_size_v<T> <= 3,
                "a position/size builtin must be declared uint, uint2, uint3 (or ushort forms)");
  using E = element_t<T>;
  if constexpr (vec_size_v<T> == 1) {
    return static_cast<E>(v[0]);
  } else if constexpr (vec_size_v<T> == 2) {
    return T{static_cast<E>(v[0]), static_cast<E>(v[1])};
  } else {
    return T{static_cast<E>(v[0]), static_cast<E>(v[1]), static_cast<E>(v[2])};
  }
}

template <class P>
inline P builtin_scalar(uint32_t v) {
  using T = std::remove_cv_t<P>;
  static_assert(std::is_integral_v<T>,
                "this builtin is a scalar: declare it uint or ushort, not a vector");
  return static_cast<T>(v);
}

}  // namespace metalsim
