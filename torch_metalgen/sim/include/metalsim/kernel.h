// Helpers that the source rewrite (torch_metalgen/sim/rewrite.py) expands to.
#pragma once

#include "rt.h"

#define METALSIM_CONCAT_(a, b) a##b
#define METALSIM_CONCAT(a, b) METALSIM_CONCAT_(a, b)

// `template [[host_name("k")]] [[kernel]] decltype(f<T>) f<T>;` becomes an explicit
// instantiation followed by this: a named pointer to the instance, annotated with the
// host name so the front end finds it in clang's AST.
#define METALSIM_KERNEL_INSTANCE(host, ...)                                                        \
  [[clang::annotate("metal", "host_name", host),                                                   \
    maybe_unused]] static constexpr auto METALSIM_CONCAT(metalsim_kernel_instance_, __COUNTER__) = \
      &__VA_ARGS__;

// `constant T name [[function_constant(i)]];` becomes this (rewrite.py): a compile-time
// constant, as after MTLFunctionConstantValues specialised the pipeline. The values come
// from function_constant_value_of<i> specialisations that build.py writes into a header
// included before the source; is_function_constant_defined(name) reads
// metalsim_fc_defined_name.
#define METALSIM_FUNCTION_CONSTANT(T, name, index)                                                \
  [[clang::annotate("metal", "function_constant", (index), #name),                                \
    maybe_unused]] constexpr constant T name = ::metalsim::function_constant_value<T, (index)>(); \
  [[maybe_unused]] constexpr constant bool metalsim_fc_defined_##name =                           \
      ::metalsim::function_constant_value_of<(index)>::defined;

namespace metalsim {
template <int I>
struct function_constant_value_of {
  static constexpr bool defined = false;
  static constexpr int value = 0;
};
template <class T, int I>
constexpr T function_constant_value() {
  return static_cast<T>(function_constant_value_of<I>::value);
}

// One tag per `threadgroup T x[N];` declaration: the key of its per-threadgroup copy.
template <int N>
inline char threadgroup_site = 0;
}  // namespace metalsim

// `threadgroup T x[N];` in a kernel body becomes
// `threadgroup T (&x)[N] = ::metalsim::threadgroup_storage<threadgroup T[N]>(
// METALSIM_THREADGROUP_SITE);`: the threadgroup's copy of the variable.
#define METALSIM_THREADGROUP_SITE &::metalsim::threadgroup_site<__COUNTER__>, __FILE__, __LINE__

namespace metalsim {
template <class T>
inline T& threadgroup_storage(const void* site, const char* file, int line) {
  return *(T*)metalsim_threadgroup_alloc(sizeof(T), alignof(T), site, file, line);
}
}  // namespace metalsim
