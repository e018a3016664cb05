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
// Every access below is a read-modify-write instruction, which the memory checker's
// load/store tracing does not see (runtime/check.cpp): each operation reports itself
// through metalsim_atomic_access instead, so atomics count as traffic and are
// bounds-checked, but are never data races.
template <class T>
using atomic_bits_t = std::make_unsigned_t<std::conditional_t<
    sizeof(T) == 1, char,
    std::conditional_t<sizeof(T) == 2, short, std::conditional_t<sizeof(T) == 4, int, long long>>>>;
template <class T>
inline T atomic_read(T* p) {
  using U = atomic_bits_t<T>;
  metalsim_atomic_access(p, sizeof(T), 0);
  return __builtin_bit_cast(T, __atomic_fetch_or(reinterpret_cast<U*>(p), U(0), __ATOMIC_RELAXED));
}
template <class T>
inline void atomic_write(T* p, T value) {
  using U = atomic_bits_t<T>;
  metalsim_atomic_access(p, sizeof(T), 1);
  __atomic_exchange_n(reinterpret_cast<U*>(p), __builtin_bit_cast(U, value), __ATOMIC_RELAXED);
}
template <class T, class F>
inline T atomic_update(T* p, F f) {
  using U = atomic_bits_t<T>;
  metalsim_atomic_access(p, sizeof(T), 1);
  U* bits = reinterpret_cast<U*>(p);
  U expected = __atomic_fetch_or(bits, U(0), __ATOMIC_RELAXED);
  for (;;) {
    const U next = __builtin_bit_cast(U, static_cast<T>(f(__builtin_bit_cast(T, expected))));
    if (__atomic_compare_exchange_n(bits, &expected, next, true, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
      return __builtin_bit_cast(T, expected);
  }
}
}  // namespace metalsim

namespace metal {

template <class A>
using atomic_value_t = typename A::value_type;

template <class A, class U>
inline void atomic_store_explicit(A* object, U desired, memory_order) {
  metalsim::atomic_write(metalsim::atomic_address(object), static_cast<atomic_value_t<A>>(desired));
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
  using Bits = metalsim::atomic_bits_t<T>;
  T* p = metalsim::atomic_address(object);
  metalsim_atomic_access(p, sizeof(T), 1);
  Bits e = __builtin_bit_cast(Bits, *expected);
  const bool ok = __atomic_compare_exchange_n(reinterpret_cast<Bits*>(p), &e,
                                              __builtin_bit_cast(Bits, static_cast<T>(desired)),
                                              false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  *expected = __builtin_bit_cast(T, e);
  return ok;
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
