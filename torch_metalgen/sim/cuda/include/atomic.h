// Metal atomics (atomic_int, atomic_uint, atomic_float, atomic_bool, atomic_ulong,
// atomic<T>) on device and threadgroup memory: CUDA atomics where one exists, a
// compare-and-swap loop on the containing 32-bit word otherwise. All relaxed, as Metal's.
#pragma once

#include "simd.h"

namespace metal {

enum memory_order {
  memory_order_relaxed,
  memory_order_acquire,
  memory_order_release,
  memory_order_acq_rel,
  memory_order_seq_cst,
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

template <class A>
using atomic_value_t = typename remove_cv_t<A>::value_type;

}  // namespace metal

namespace metalcuda {

template <class T>
using uint_of = metal::conditional_t<
    sizeof(T) == 8, unsigned long long,
    metal::conditional_t<sizeof(T) == 4, unsigned int,
                         metal::conditional_t<sizeof(T) == 2, unsigned short, unsigned char>>>;

template <class T>
__forceinline__ uint32_t as_word_bits(T v) {
  uint32_t w = 0;
  memcpy(&w, &v, sizeof(T));
  return w;
}

// Atomically replaces *p by f(*p) (p may be 1, 2, 4 or 8 bytes); returns the old value.
template <class T, class F>
__forceinline__ T atomic_update(T* p, F f) {
  if constexpr (sizeof(T) == 8) {
    auto* bits = reinterpret_cast<unsigned long long*>(p);
    unsigned long long old = *reinterpret_cast<volatile unsigned long long*>(bits);
    for (;;) {
      const T next = f(bit_cast<T>(old));
      const unsigned long long seen = atomicCAS(bits, old, bit_cast<unsigned long long>(next));
      if (seen == old) return bit_cast<T>(old);
      old = seen;
    }
  } else {
    // The aligned 32-bit word holding *p, and where in it *p sits.
    const uintptr_t address = reinterpret_cast<uintptr_t>(p);
    auto* word = reinterpret_cast<unsigned int*>(address & ~uintptr_t(3));
    const int shift = int(address & 3) * 8;
    const unsigned int field =
        sizeof(T) == 4 ? 0xffffffffu : (((1u << (8 * sizeof(T))) - 1u) << shift);
    unsigned int old = *reinterpret_cast<volatile unsigned int*>(word);
    for (;;) {
      const unsigned int current_bits = (old & field) >> shift;
      T current;
      memcpy(&current, &current_bits, sizeof(T));
      const T next = f(current);
      const unsigned int next_word = (old & ~field) | ((as_word_bits(next) << shift) & field);
      const unsigned int seen = atomicCAS(word, old, next_word);
      if (seen == old) return current;
      old = seen;
    }
  }
}

template <class T>
__forceinline__ T atomic_read(T* p) {
  if constexpr (sizeof(T) == 4 || sizeof(T) == 8) {
    using U = metal::conditional_t<sizeof(T) == 4, unsigned int, unsigned long long>;
    return bit_cast<T>(*reinterpret_cast<volatile U*>(p));
  } else {
    return atomic_update(p, [](T v) { return v; });
  }
}

}  // namespace metalcuda

namespace metal {

template <class A, class U>
__forceinline__ void atomic_store_explicit(A* object, U desired, memory_order) {
  using T = atomic_value_t<A>;
  const T value = static_cast<T>(desired);
  ::metalcuda::atomic_update(&object->value, [value](T) { return value; });
}
template <class A>
__forceinline__ atomic_value_t<A> atomic_load_explicit(A* object, memory_order) {
  return ::metalcuda::atomic_read(&object->value);
}
template <class A, class U>
__forceinline__ atomic_value_t<A> atomic_exchange_explicit(A* object, U desired, memory_order) {
  using T = atomic_value_t<A>;
  const T value = static_cast<T>(desired);
  if constexpr (is_same_v<T, int> || is_same_v<T, uint> || is_same_v<T, float>)
    return atomicExch(&object->value, value);
  else
    return ::metalcuda::atomic_update(&object->value, [value](T) { return value; });
}
template <class A, class U>
__forceinline__ bool atomic_compare_exchange_weak_explicit(A* object, atomic_value_t<A>* expected,
                                                           U desired, memory_order, memory_order) {
  using T = atomic_value_t<A>;
  const T want = *expected;
  const T value = static_cast<T>(desired);
  bool swapped = false;
  using Bits = ::metalcuda::uint_of<T>;
  const T old = ::metalcuda::atomic_update(&object->value, [&](T current) {
    swapped = ::metalcuda::bit_cast<Bits>(current) == ::metalcuda::bit_cast<Bits>(want);
    return swapped ? value : current;
  });
  *expected = old;
  return swapped;
}
template <class A, class U>
__forceinline__ bool atomic_compare_exchange_strong_explicit(A* object, atomic_value_t<A>* expected,
                                                             U desired, memory_order s,
                                                             memory_order f) {
  return atomic_compare_exchange_weak_explicit(object, expected, desired, s, f);
}

// fetch_op: CUDA's native atomic when it has one for T, else a CAS loop computing `expr`.
#define METALCUDA_ATOMIC_FETCH(name, native_ok, native, expr)                            \
  template <class A, class U>                                                            \
  __forceinline__ atomic_value_t<A> name(A* object, U operand, memory_order) {           \
    using T = atomic_value_t<A>;                                                         \
    const T b = static_cast<T>(operand);                                                 \
    if constexpr (native_ok)                                                             \
      return native;                                                                     \
    else                                                                                 \
      return ::metalcuda::atomic_update(&object->value, [b](T a) -> T { return expr; }); \
  }
#define METALCUDA_INT32 (is_same_v<T, int> || is_same_v<T, uint>)
#define METALCUDA_NATIVE_ADD (METALCUDA_INT32 || is_same_v<T, float>)
METALCUDA_ATOMIC_FETCH(atomic_fetch_add_explicit, METALCUDA_NATIVE_ADD,
                       atomicAdd(&object->value, b), T(a + b))
METALCUDA_ATOMIC_FETCH(atomic_fetch_sub_explicit, METALCUDA_INT32, atomicSub(&object->value, b),
                       T(a - b))
METALCUDA_ATOMIC_FETCH(atomic_fetch_and_explicit, METALCUDA_INT32, atomicAnd(&object->value, b),
                       T(a& b))
METALCUDA_ATOMIC_FETCH(atomic_fetch_or_explicit, METALCUDA_INT32, atomicOr(&object->value, b),
                       T(a | b))
METALCUDA_ATOMIC_FETCH(atomic_fetch_xor_explicit, METALCUDA_INT32, atomicXor(&object->value, b),
                       T(a ^ b))
METALCUDA_ATOMIC_FETCH(atomic_fetch_min_explicit, METALCUDA_INT32, atomicMin(&object->value, b),
                       b < a ? b : a)
METALCUDA_ATOMIC_FETCH(atomic_fetch_max_explicit, METALCUDA_INT32, atomicMax(&object->value, b),
                       a < b ? b : a)
#undef METALCUDA_ATOMIC_FETCH
#undef METALCUDA_INT32
#undef METALCUDA_NATIVE_ADD

}  // namespace metal
