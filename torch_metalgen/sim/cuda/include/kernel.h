// What the simulator's source rewrite expands to (kernel instances, function constants,
// threadgroup variables), and the glue of the generated CUDA entries: launch arguments,
// Metal's builtins from CUDA's thread and block indices, parameter binding.
#pragma once

#include "matrix.h"

#define METALSIM_CONCAT_(a, b) a##b
#define METALSIM_CONCAT(a, b) METALSIM_CONCAT_(a, b)

// `template [[host_name("k")]] [[kernel]] decltype(f<T>) f<T>;` becomes an explicit
// instantiation followed by this (rewrite.py). Here it names the instance for the generated
// entries: metalsim_kernel_instance_line_<L><hash of the host name>, in the namespace of the
// instantiation, L its line (the front end reports both; NVRTC has no __COUNTER__). The
// entry checks the host name at compile time.
#define METALSIM_KERNEL_INSTANCE(host, ...)                                                        \
  template <unsigned long long>                                                                    \
  struct METALSIM_CONCAT(metalsim_kernel_instance_line_, __LINE__);                                \
  template <>                                                                                      \
  struct METALSIM_CONCAT(metalsim_kernel_instance_line_, __LINE__)<::metalcuda::name_hash(host)> { \
    static constexpr const char* host_name = host;                                                 \
    using pointer = decltype(&__VA_ARGS__);                                                        \
    template <class... A>                                                                          \
    static __forceinline__ void call(A&&... arguments) {                                           \
      __VA_ARGS__(static_cast<A&&>(arguments)...);                                                 \
    }                                                                                              \
  };

// `constant T name [[function_constant(i)]];` (rewrite.py): a compile-time constant; the
// values come from function_constant_value_of<i> specialisations written before the source.
#define METALSIM_FUNCTION_CONSTANT(T, name, index)                                             \
  [[maybe_unused]] constexpr const T name = ::metalsim::function_constant_value<T, (index)>(); \
  [[maybe_unused]] constexpr bool metalsim_fc_defined_##name =                                 \
      ::metalsim::function_constant_value_of<(index)>::defined;

namespace metalcuda {
// FNV-1a of a kernel's host name: the key of its instance (METALSIM_KERNEL_INSTANCE).
constexpr unsigned long long name_hash(const char* name) {
  unsigned long long h = 14695981039346656037ull;
  for (; *name; ++name) h = (h ^ static_cast<unsigned char>(*name)) * 1099511628211ull;
  return h;
}
// One tag per `threadgroup T x[N];` declaration: each gets its own __shared__ array. The
// translation replaces METALSIM_THREADGROUP_SITE by site<its own number, __LINE__>().
template <int N, int Line>
struct site {};
}  // namespace metalcuda

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

// `threadgroup T x[N];` in a kernel body becomes `T (&x)[N] = threadgroup_storage<T[N]>(site)`:
// uninitialized shared memory, as threadgroup memory is in Metal.
template <class T, class Site>
__forceinline__ T& threadgroup_storage(Site) {
  __shared__ alignas(alignof(T) > 16 ? alignof(T) : 16) unsigned char storage[sizeof(T)];
  return *reinterpret_cast<T*>(storage);
}
}  // namespace metalsim

namespace metalcuda {

constexpr bool same_name(const char* a, const char* b) {
  while (*a && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

// The I-th parameter type of a function pointer type.
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
  template <int I>
  using param = typename pack_element<I, A...>::type;
};
template <class F, int I>
using param_t = typename function_traits<metal::remove_cv_t<F>>::template param<I>;

template <class P>
using pointee_t = metal::remove_pointer_t<metal::remove_reference_t<P>>;
template <class P>
constexpr uint32_t pointee_size() {
  if constexpr (metal::is_void_v<pointee_t<P>>)
    return 1;
  else
    return uint32_t(sizeof(pointee_t<P>));
}

// Room in the parameter for setBytes data: a reference takes its struct (rounded to 16
// bytes), a pointer up to Metal's 4 KiB setBytes limit.
constexpr uint32_t kMaxSetBytes = 4096;
template <class P>
constexpr uint32_t bytes_slot() {
  if constexpr (metal::is_reference_v<P>)
    return (pointee_size<P>() + 15u) / 16u * 16u;
  else
    return kMaxSetBytes;
}
template <class F, int... Positions>
constexpr uint32_t bytes_capacity() {
  return 16u + (0u + ... + bytes_slot<param_t<F, Positions>>());
}

// Where this launch sits in Metal's dispatch (torch_metalgen/sim/cuda/library.py packs it).
struct launch_geometry {
  uint32_t origin[3];            // threadgroup position of this launch's block (0, 0, 0)
  uint32_t groups[3];            // threadgroups_per_grid of the whole dispatch
  uint32_t grid_threads[3];      // threads_per_grid
  uint32_t full_threadgroup[3];  // threads per threadgroup the dispatch asked for
  uint32_t reserved[4];
};
constexpr int kBindings = 31;
constexpr uint32_t kNotBytes = 0xffffffffu;
// The kernel parameter of every entry (one __grid_constant__ struct, 560 + Bytes bytes).
template <uint32_t Bytes>
struct launch_args {
  uint64_t buffers[kBindings];             // device addresses ([[buffer(i)]] via setBuffer)
  uint32_t bytes_offset[kBindings];        // offset in bytes[] (setBytes), or kNotBytes
  uint32_t threadgroup_offset[kBindings];  // offset in dynamic shared memory ([[threadgroup(i)]])
  launch_geometry geometry;
  alignas(16) unsigned char bytes[Bytes];
};
// library.py packs this layout: 31 addresses, 31 + 31 offsets, the geometry, then bytes.
static_assert(sizeof(launch_geometry) == 64, "launch_geometry layout");
static_assert(sizeof(launch_args<16>) == 576 && sizeof(launch_args<4096>) == 4656,
              "launch_args layout: 560 bytes before the setBytes area");

struct thread_builtins {
  uint32_t thread_position_in_grid[3];
  uint32_t thread_position_in_threadgroup[3];
  uint32_t threadgroup_position_in_grid[3];
  uint32_t threads_per_threadgroup[3];
  uint32_t dispatch_threads_per_threadgroup[3];
  uint32_t threadgroups_per_grid[3];
  uint32_t threads_per_grid[3];
  uint32_t thread_index_in_threadgroup;
  uint32_t thread_index_in_simdgroup;
  uint32_t simdgroup_index_in_threadgroup;
  uint32_t threads_per_simdgroup;
  uint32_t simdgroups_per_threadgroup;
  uint32_t thread_index_in_quadgroup;
  uint32_t quadgroup_index_in_threadgroup;
};

// Metal's builtins for this thread. A dispatchThreads edge threadgroup is launched on its own
// with the partial size (library.py), so threads_per_threadgroup and the SIMD-groups are the
// partial ones, as on the GPU.
__forceinline__ thread_builtins builtins_of(const launch_geometry& g) {
  thread_builtins b;
  const uint32_t local[3] = {threadIdx.x, threadIdx.y, threadIdx.z};
  const uint32_t block[3] = {blockIdx.x, blockIdx.y, blockIdx.z};
  const uint32_t size[3] = {blockDim.x, blockDim.y, blockDim.z};
  for (int d = 0; d < 3; ++d) {
    b.thread_position_in_threadgroup[d] = local[d];
    b.threadgroup_position_in_grid[d] = g.origin[d] + block[d];
    b.threads_per_threadgroup[d] = size[d];
    b.dispatch_threads_per_threadgroup[d] = g.full_threadgroup[d];
    b.threadgroups_per_grid[d] = g.groups[d];
    b.threads_per_grid[d] = g.grid_threads[d];
    b.thread_position_in_grid[d] =
        b.threadgroup_position_in_grid[d] * g.full_threadgroup[d] + local[d];
  }
  const uint32_t threads = size[0] * size[1] * size[2];
  b.thread_index_in_threadgroup = linear_thread();
  b.thread_index_in_simdgroup = b.thread_index_in_threadgroup & 31u;
  b.simdgroup_index_in_threadgroup = b.thread_index_in_threadgroup >> 5;
  b.threads_per_simdgroup = 32u;
  b.simdgroups_per_threadgroup = (threads + 31u) / 32u;
  b.thread_index_in_quadgroup = b.thread_index_in_threadgroup & 3u;
  b.quadgroup_index_in_threadgroup = b.thread_index_in_threadgroup >> 2;
  return b;
}

template <class P, uint32_t B>
__forceinline__ P bind_buffer(const launch_args<B>& a, int index) {
  static_assert(metal::is_pointer_v<P> || metal::is_reference_v<P>,
                "a [[buffer(i)]] parameter must be a device or constant pointer or reference");
  const uint32_t offset = a.bytes_offset[index];
  void* address = offset != kNotBytes ? const_cast<unsigned char*>(a.bytes + offset)
                                      : reinterpret_cast<void*>(a.buffers[index]);
  if constexpr (metal::is_pointer_v<P>)
    return static_cast<P>(address);
  else
    return *static_cast<pointee_t<P>*>(address);
}

template <class P, uint32_t B>
__forceinline__ P bind_threadgroup(const launch_args<B>& a, int index) {
  static_assert(metal::is_pointer_v<P>,
                "a [[threadgroup(i)]] parameter must be a threadgroup pointer");
  extern __shared__ __align__(16) unsigned char metalcuda_dynamic_threadgroup[];
  return reinterpret_cast<P>(metalcuda_dynamic_threadgroup + a.threadgroup_offset[index]);
}

// Position and size builtins accept uint/ushort (x), uint2 (xy) and uint3 forms.
template <class P>
__forceinline__ P builtin_vector(const uint32_t (&v)[3]) {
  using T = metal::remove_cv_t<P>;
  using E = element_t<T>;
  static_assert(metal::is_integral_v<E> && vec_size_v<T> <= 3,
                "a position/size builtin must be declared uint, uint2, uint3 (or ushort forms)");
  if constexpr (vec_size_v<T> == 1)
    return static_cast<E>(v[0]);
  else if constexpr (vec_size_v<T> == 2)
    return T(static_cast<E>(v[0]), static_cast<E>(v[1]));
  else
    return T(static_cast<E>(v[0]), static_cast<E>(v[1]), static_cast<E>(v[2]));
}
template <class P>
__forceinline__ P builtin_scalar(uint32_t v) {
  using T = metal::remove_cv_t<P>;
  static_assert(metal::is_integral_v<T>,
                "this builtin is a scalar: declare it uint or ushort, not a vector");
  return static_cast<T>(v);
}

}  // namespace metalcuda
