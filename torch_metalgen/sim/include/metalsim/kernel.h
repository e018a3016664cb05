// Helpers that the source rewrite (torch_metalgen/sim/rewrite.py) expands to.
#pragma once

#include "rt.h"

#define METALSIM_CONCAT_(a, b) a##b
#define METALSIM_CONCAT(a, b) METALSIM_CONCAT_(a, b)

// `template [[host_name("k")]] [[kernel]] decltype(f<T>) f<T>;` becomes an explicit
// instantiation followed by this: a named pointer to the instance, annotated with the
// host name so the front end finds it in clang's AST.
#define METALSIM_KERNEL_INSTANCE(host, ...)                                              \
  [[clang::annotate("metal", "host_name", host)]] static constexpr auto METALSIM_CONCAT( \
      metalsim_kernel_instance_, __COUNTER__) = &__VA_ARGS__;

namespace metalsim {
// One tag per `threadgroup T x[N];` declaration: the key of its per-threadgroup copy.
template <int N>
inline char threadgroup_site = 0;
}  // namespace metalsim

#define METALSIM_THREADGROUP_ALLOC(T)                                                           \
  metalsim_threadgroup_alloc(sizeof(T), alignof(T), &::metalsim::threadgroup_site<__COUNTER__>, \
                             __FILE__, __LINE__)
