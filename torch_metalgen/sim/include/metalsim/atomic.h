// Metal atomics (atomic_int, atomic_uint, atomic_float, atomic<T>) on device and
// threadgroup memory. Device atomics are real CPU atomics because threadgroups run
// on several OS threads; all of them are relaxed, as Metal's are.
#pragma once

#include "types.h"

namespace metal {

enum memory_order {
  memory_order_relaxed = __ATOMIC_RELAXED,
  memory_order_acquire = __ATOMIC_ACQUIRE,
  memory_order_release = __ATOMIC_RELEASE,
  memory_order_acq_rel = __ATOMIC_ACQ_REL,
  memory_order_seq_cst = __ATOMIC_SEQ_CST,
};

template <class T>
struct atomic {
  using value_type = T;
  T value;
};
typedef atomic<int> atomic_int;
typedef atomic<uint> atomic_uint;
typedef atomic<float> atomic_float;
typedef atomic<bool> atomic_bool;
typedef atomic<ulong> atomic_ulong;
typedef atomic<long> atomic_long;

}  // namespace metal

namespace metalsim {
// A (possibly address-space-qualified) atomic object, seen as its plain value.
// The C-style cast is how the simulator drops address spaces on purpose.
template <class A>
inline typename A::value_type* atomic_address(A* object) {
  return (typename A::value_type*)(object);
}
template <class T>
inline T atomic_read(T* p) {
  T value;
  __atomic_load(p, &value, __ATOMIC_RELAXED);  // the generic form also takes float
  return value;
}
template <class T, class F>
inline T atomic_update(T* p, F f) {
  T old = atomic_read(p);
  if constexpr (std::is_same_v<T, float>) {
    uint32_t expected = __builtin_bit_cast(uint32_t, old);
    for (;;) {
      float next = f(__builtin_bit_cast(float, expected));
      if (__atomic_compare_exchange_n(reinterpret_cast<uint32_t*>(p), &expected,
                                      __builtin_bit_cast(uint32_t, next), true, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED))
        return __builtin_bit_cast(float, expected);
    }
  } else {
    while (
        !__atomic_compare_exchange_n(p, &old, f(old), true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
  }
}
}  // namespace metalsim

namespace metal {

template <class A>
using atomic_value_t = typename A::value_type;

template <class A, class U>
inline void atomic_store_explicit(A* object, U desired, memory_order) {
  atomic_value_t<A> value = static_cast<atomic_value_t<A>>(desired);
  __atomic_store(metalsim::atomic_address(object), &value, __ATOMIC_RELAXED);
}
template <class A>
inline atomic_value_t<A> atomic_load_explicit(A* object, memory_order) {
  return metalsim::atomic_read(metalsim::atomic_address(object));
}
template <class A, class U>
inline atomic_value_t<A> atomic_exchange_explicit(A* object, U desired, memory_order) {
  using T = atomic_value_t<A>;
  return metalsim::atomic_update(metalsim::atomic_address(object),
                                 [&](T) { return static_cast<T>(desired); });
}
template <class A, class U>
inline bool atomic_compare_exchange_weak_explicit(A* object, atomic_value_t<A>* expected, U desired,
                                                  memory_order, memory_order) {
  using T = atomic_value_t<A>;
  T* p = metalsim::atomic_address(object);
  if constexpr (std::is_same_v<T, float>) {
    uint32_t e = __builtin_bit_cast(uint32_t, *expected);
    bool ok = __atomic_compare_exchange_n(reinterpret_cast<uint32_t*>(p), &e,
                                          __builtin_bit_cast(uint32_t, static_cast<T>(desired)),
                                          false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    *expected = __builtin_bit_cast(float, e);
    return ok;
  } else {
    return __atomic_compare_exchange_n(p, expected, static_cast<T>(desired), false,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  }
}
template <class A, class U>
inline bool atomic_compare_exchange_strong_explicit(A* object, atomic_value_t<A>* expected,
                                                    U desired, memory_order s, memory_order f) {
  return atomic_compare_exchange_weak_explicit(object, expected, desired, s, f);
}

#define METALSIM_ATOMIC_FETCH(name, expr)                             \
  template <class A, class U>                                         \
  inline atomic_value_t<A> name(A* object, U operand, memory_order) { \
    using T = atomic_value_t<A>;                                      \
    const T b = static_cast<T>(operand);                              \
    return metalsim::atomic_update(metalsim::atomic_address(object),  \
                                   [b](T a) -> T { return expr; });   \
  }
METALSIM_ATOMIC_FETCH(atomic_fetch_add_explicit, a + b)
METALSIM_ATOMIC_FETCH(atomic_fetch_sub_explicit, a - b)
METALSIM_ATOMIC_FETCH(atomic_fetch_and_explicit, a& b)
METALSIM_ATOMIC_FETCH(atomic_fetch_or_explicit, a | b)
METALSIM_ATOMIC_FETCH(atomic_fetch_xor_explicit, a ^ b)
METALSIM_ATOMIC_FETCH(atomic_fetch_min_explicit, b < a ? b : a)
METALSIM_ATOMIC_FETCH(atomic_fetch_max_explicit, a < b ? b : a)
#undef METALSIM_ATOMIC_FETCH

}  // namespace metal
