// SIMD-group and quad-group functions and barriers on CUDA warps (32 lanes, as on Apple GPUs).
//
// Metal runs a SIMD-group function over its *active* lanes. Here that set is __activemask()
// at the call. When it holds every lane of the warp that exists (all 32, or the lanes of a
// partial last warp), the result is exact. When it does not (divergent code, lanes that
// returned early), CUDA's __activemask() is not guaranteed to be the set Metal would use
// (independent thread scheduling may split lanes that are on the same path), so the call is
// computed over __activemask() and *recorded*; the launcher refuses the launch's results
// unless it was asked to accept such calls (torch_metalgen/sim/cuda/library.py). Reads of an
// inactive lane and non-uniform delta/mask/lane arguments are recorded the same way.
//
// Reductions use the simulator's order (a pairwise tree over lanes 0..31), so full-warp
// results match the simulator's bit for bit; prefix scans fold in lane order as it does.
#pragma once

#include "math.h"

namespace metalcuda {

// What the kernel recorded in this launch (read back by the launcher, then reset).
enum status_kind : uint32_t {
  kPartialCollective = 1,
  kInactiveRead = 2,
  kNonUniform = 3,
  kPartialMatrix = 4,
};
struct status_t {
  uint32_t count[8];     // per status_kind
  uint32_t first_taken;  // 0 until the first record
  uint32_t first_kind;
  uint32_t first_line;
  uint32_t first_mask;      // active lanes at that call
  uint32_t first_lanes;     // lanes of the warp that exist
  uint32_t first_function;  // index into function_names
  uint32_t first_block[3];
  uint32_t first_thread;
  uint64_t first_file;  // device address of the file name (a string in the module)
};

}  // namespace metalcuda

// One per module (each translated .metal file is one NVRTC program).
extern "C" {
__device__ metalcuda::status_t metalcuda_status;
}

namespace metalcuda {

enum function_id : uint32_t {
  fn_simd_sum,
  fn_simd_product,
  fn_simd_min,
  fn_simd_max,
  fn_simd_and,
  fn_simd_or,
  fn_simd_xor,
  fn_quad_sum,
  fn_quad_product,
  fn_quad_min,
  fn_quad_max,
  fn_quad_and,
  fn_quad_or,
  fn_quad_xor,
  fn_simd_prefix_inclusive_sum,
  fn_simd_prefix_exclusive_sum,
  fn_simd_prefix_inclusive_product,
  fn_simd_prefix_exclusive_product,
  fn_simd_shuffle,
  fn_simd_shuffle_up,
  fn_simd_shuffle_down,
  fn_simd_shuffle_xor,
  fn_simd_shuffle_rotate_up,
  fn_simd_shuffle_rotate_down,
  fn_simd_broadcast,
  fn_simd_broadcast_first,
  fn_quad_shuffle,
  fn_quad_shuffle_up,
  fn_quad_shuffle_down,
  fn_quad_shuffle_xor,
  fn_quad_broadcast,
  fn_simd_shuffle_and_fill_up,
  fn_simd_shuffle_and_fill_down,
  fn_simd_ballot,
  fn_simd_all,
  fn_simd_any,
  fn_simd_is_first,
  fn_simd_active_threads_mask,
  fn_simdgroup_barrier,
  fn_simdgroup_matrix,
};

__forceinline__ uint32_t linear_thread() {
  return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}
__forceinline__ uint32_t lane_id() {
  uint32_t lane;
  asm("mov.u32 %0, %%laneid;" : "=r"(lane));
  return lane;
}
// The lanes of this thread's warp that exist in the threadgroup (a partial last warp has
// fewer than 32, as a partial last SIMD-group has in Metal).
__forceinline__ uint32_t existing_lanes() {
  const uint32_t threads = blockDim.x * blockDim.y * blockDim.z;
  const uint32_t first = linear_thread() & ~31u;
  const uint32_t count = threads - first < 32u ? threads - first : 32u;
  return count == 32u ? 0xffffffffu : (1u << count) - 1u;
}

__noinline__ void record(uint32_t kind, uint32_t function, uint32_t mask, const char* file,
                         int line) {
  atomicAdd(&metalcuda_status.count[kind], 1u);
  if (atomicCAS(&metalcuda_status.first_taken, 0u, 1u) == 0u) {
    metalcuda_status.first_kind = kind;
    metalcuda_status.first_function = function;
    metalcuda_status.first_line = uint32_t(line);
    metalcuda_status.first_mask = mask;
    metalcuda_status.first_lanes = existing_lanes();
    metalcuda_status.first_block[0] = blockIdx.x;
    metalcuda_status.first_block[1] = blockIdx.y;
    metalcuda_status.first_block[2] = blockIdx.z;
    metalcuda_status.first_thread = linear_thread();
    metalcuda_status.first_file = reinterpret_cast<uint64_t>(file);
  }
}

// The active lanes of a collective; records a call that does not have all existing lanes.
__forceinline__ uint32_t collective_mask(uint32_t function, const char* file, int line) {
  const uint32_t mask = __activemask();
  if (mask != existing_lanes()) record(kPartialCollective, function, mask, file, line);
  return mask;
}

// Any trivially copyable value, moved between lanes as 32-bit words.
template <class T>
struct words {
  static constexpr int count = (int(sizeof(T)) + 3) / 4;
  uint32_t w[count];
};
template <class T>
__forceinline__ words<T> to_words(const T& v) {
  words<T> out{};
  memcpy(out.w, &v, sizeof(T));
  return out;
}
template <class T>
__forceinline__ T from_words(const words<T>& in) {
  T v;
  memcpy(&v, in.w, sizeof(T));
  return v;
}
template <class T>
__forceinline__ T shfl_idx(const T& v, int source, uint32_t mask) {
  words<T> w = to_words(v);
  for (int k = 0; k < words<T>::count; ++k) w.w[k] = __shfl_sync(mask, w.w[k], source);
  return from_words<T>(w);
}
template <class T>
__forceinline__ T shfl_xor(const T& v, int lane_mask, uint32_t mask) {
  words<T> w = to_words(v);
  for (int k = 0; k < words<T>::count; ++k) w.w[k] = __shfl_xor_sync(mask, w.w[k], lane_mask);
  return from_words<T>(w);
}

struct OpSum {
  template <class T>
  __forceinline__ T operator()(const T& a, const T& b) const {
    return T(a + b);
  }
};
struct OpProduct {
  template <class T>
  __forceinline__ T operator()(const T& a, const T& b) const {
    return T(a * b);
  }
};
struct OpMin {
  template <class T>
  __forceinline__ T operator()(const T& a, const T& b) const {
    return metal::min(a, b);
  }
};
struct OpMax {
  template <class T>
  __forceinline__ T operator()(const T& a, const T& b) const {
    return metal::max(a, b);
  }
};
struct OpAnd {
  template <class T>
  __forceinline__ T operator()(const T& a, const T& b) const {
    return T(a & b);
  }
};
struct OpOr {
  template <class T>
  __forceinline__ T operator()(const T& a, const T& b) const {
    return T(a | b);
  }
};
struct OpXor {
  template <class T>
  __forceinline__ T operator()(const T& a, const T& b) const {
    return T(a ^ b);
  }
};

// Reduction over the active lanes of each group of `width` lanes, in the simulator's order:
// a pairwise tree over lane slots, lower slot first (runtime/.. resolve_reduce).
template <class T, class Op, int width>
__forceinline__ T reduce(T value, uint32_t mask) {
  const uint32_t lane = lane_id();
  const uint32_t group_shift = lane & ~uint32_t(width - 1);
  const uint32_t group_mask = (width == 32 ? 0xffffffffu : ((1u << width) - 1u)) << group_shift;
  if ((mask & group_mask) == group_mask) {
    for (int stride = 1; stride < width; stride *= 2) {
      const T other = shfl_xor(value, stride, mask);
      value = (lane & stride) ? Op()(other, value) : Op()(value, other);
    }
    return value;
  }
  T slots[width];
  bool has[width];
  for (int i = 0; i < width; ++i) {
    const uint32_t source = group_shift + i;
    has[i] = (mask >> source) & 1u;
    // Every active lane of the warp takes part in every shuffle (same mask, same calls).
    T v{};
    for (int g = 0; g < 32; g += width) {
      const T got = ((mask >> (g + i)) & 1u) ? shfl_idx(value, g + i, mask) : T{};
      if (uint32_t(g) == group_shift) v = got;
    }
    slots[i] = v;
  }
  for (int stride = 1; stride < width; stride *= 2) {
    for (int i = 0; i + stride < width; i += 2 * stride) {
      if (!has[i + stride]) continue;
      slots[i] = has[i] ? Op()(slots[i], slots[i + stride]) : slots[i + stride];
      has[i] = true;
    }
  }
  return slots[0];
}

// Inclusive or exclusive scan over the active lanes in lane order, as the simulator.
template <class T, class Op, bool inclusive>
__forceinline__ T prefix(T value, uint32_t mask) {
  const uint32_t lane = lane_id();
  T acc = metal::is_same_v<Op, OpProduct> ? T(1) : T(0);
  for (int source = 0; source < 32; ++source) {
    if (!((mask >> source) & 1u)) continue;
    const T x = shfl_idx(value, source, mask);
    if (uint32_t(source) < lane || (inclusive && uint32_t(source) == lane)) acc = Op()(acc, x);
  }
  return acc;
}

// The value of lane `source`; reading an inactive lane (or one outside the warp) is recorded
// and gives the caller's own value (undefined in Metal).
template <class T>
__forceinline__ T read_lane(const T& value, int source, uint32_t mask, uint32_t function,
                            const char* file, int line) {
  const bool ok = source >= 0 && source < 32 && ((mask >> source) & 1u);
  if (!ok) record(kInactiveRead, function, mask, file, line);
  return shfl_idx(value, ok ? source : int(lane_id()), mask);
}

// delta, mask and lane arguments must be the same in every active lane.
__forceinline__ void check_uniform(uint32_t argument, uint32_t mask, uint32_t function,
                                   const char* file, int line) {
  int uniform = 0;
  __match_all_sync(mask, argument, &uniform);
  if (!uniform && lane_id() == uint32_t(__ffs(mask) - 1))
    record(kNonUniform, function, mask, file, line);
}

}  // namespace metalcuda

#define METALCUDA_SITE \
  const char *metalcuda_file = __builtin_FILE(), int metalcuda_line = __builtin_LINE()
#define METALCUDA_SITE_ARGS metalcuda_file, metalcuda_line

namespace metal {

typedef ulong vote_t;
struct simd_vote {
  vote_t v = 0;
  simd_vote() = default;
  constexpr explicit simd_vote(vote_t x) : v(x) {}
  constexpr explicit operator vote_t() const { return v; }
  constexpr bool all() const { return v == 0xFFFFFFFFul; }
  constexpr bool any() const { return v != 0; }
};

#define METALCUDA_REDUCTION(name, Op, width)                                       \
  template <class T>                                                               \
  __forceinline__ T name(T x, METALCUDA_SITE) {                                    \
    const uint32_t mask =                                                          \
        ::metalcuda::collective_mask(::metalcuda::fn_##name, METALCUDA_SITE_ARGS); \
    return ::metalcuda::reduce<T, ::metalcuda::Op, width>(x, mask);                \
  }
METALCUDA_REDUCTION(simd_sum, OpSum, 32)
METALCUDA_REDUCTION(simd_product, OpProduct, 32)
METALCUDA_REDUCTION(simd_min, OpMin, 32)
METALCUDA_REDUCTION(simd_max, OpMax, 32)
METALCUDA_REDUCTION(simd_and, OpAnd, 32)
METALCUDA_REDUCTION(simd_or, OpOr, 32)
METALCUDA_REDUCTION(simd_xor, OpXor, 32)
METALCUDA_REDUCTION(quad_sum, OpSum, 4)
METALCUDA_REDUCTION(quad_product, OpProduct, 4)
METALCUDA_REDUCTION(quad_min, OpMin, 4)
METALCUDA_REDUCTION(quad_max, OpMax, 4)
METALCUDA_REDUCTION(quad_and, OpAnd, 4)
METALCUDA_REDUCTION(quad_or, OpOr, 4)
METALCUDA_REDUCTION(quad_xor, OpXor, 4)
#undef METALCUDA_REDUCTION

#define METALCUDA_PREFIX(name, Op, inclusive)                                      \
  template <class T>                                                               \
  __forceinline__ T name(T x, METALCUDA_SITE) {                                    \
    const uint32_t mask =                                                          \
        ::metalcuda::collective_mask(::metalcuda::fn_##name, METALCUDA_SITE_ARGS); \
    return ::metalcuda::prefix<T, ::metalcuda::Op, inclusive>(x, mask);            \
  }
METALCUDA_PREFIX(simd_prefix_inclusive_sum, OpSum, true)
METALCUDA_PREFIX(simd_prefix_exclusive_sum, OpSum, false)
METALCUDA_PREFIX(simd_prefix_inclusive_product, OpProduct, true)
METALCUDA_PREFIX(simd_prefix_exclusive_product, OpProduct, false)
#undef METALCUDA_PREFIX

// Shuffles: `source` is the lane read, given this lane and the (uniform) argument `a`.
#define METALCUDA_SHUFFLE(name, uniform, source)                                                   \
  template <class T>                                                                               \
  __forceinline__ T name(T x, ushort a_, METALCUDA_SITE) {                                         \
    const uint32_t mask =                                                                          \
        ::metalcuda::collective_mask(::metalcuda::fn_##name, METALCUDA_SITE_ARGS);                 \
    const int a = int(a_);                                                                         \
    if (uniform)                                                                                   \
      ::metalcuda::check_uniform(uint32_t(a), mask, ::metalcuda::fn_##name, METALCUDA_SITE_ARGS);  \
    const int i = int(::metalcuda::lane_id());                                                     \
    const int quad = i & ~3;                                                                       \
    (void)quad;                                                                                    \
    return ::metalcuda::read_lane(x, (source), mask, ::metalcuda::fn_##name, METALCUDA_SITE_ARGS); \
  }
METALCUDA_SHUFFLE(simd_shuffle, false, a)
METALCUDA_SHUFFLE(simd_shuffle_up, true, i >= a ? i - a : i)
METALCUDA_SHUFFLE(simd_shuffle_down, true, i + a < 32 ? i + a : i)
METALCUDA_SHUFFLE(simd_shuffle_xor, true, i ^ a)
METALCUDA_SHUFFLE(simd_shuffle_rotate_up, true, ((i - a) % 32 + 32) % 32)
METALCUDA_SHUFFLE(simd_shuffle_rotate_down, true, (i + a) % 32)
METALCUDA_SHUFFLE(simd_broadcast, true, a)
METALCUDA_SHUFFLE(quad_shuffle, false, quad + (a & 3))
METALCUDA_SHUFFLE(quad_shuffle_up, true, (i & 3) >= a ? i - a : i)
METALCUDA_SHUFFLE(quad_shuffle_down, true, (i & 3) + a < 4 ? i + a : i)
METALCUDA_SHUFFLE(quad_shuffle_xor, true, quad + ((i & 3) ^ (a & 3)))
METALCUDA_SHUFFLE(quad_broadcast, true, quad + (a & 3))
#undef METALCUDA_SHUFFLE

template <class T>
__forceinline__ T simd_broadcast_first(T x, METALCUDA_SITE) {
  const uint32_t mask =
      ::metalcuda::collective_mask(::metalcuda::fn_simd_broadcast_first, METALCUDA_SITE_ARGS);
  return ::metalcuda::shfl_idx(x, __ffs(mask) - 1, mask);
}

// Within windows of `modulo` lanes: up reads data of lane i - delta, or filling_data of
// lane i - delta + modulo below the window; down mirrors it (the simulator's semantics).
template <class T>
__forceinline__ T metalcuda_shuffle_and_fill(T data, T filling, ushort delta, ushort modulo,
                                             bool up, uint32_t function, const char* file,
                                             int line) {
  const uint32_t mask = ::metalcuda::collective_mask(function, file, line);
  ::metalcuda::check_uniform(delta, mask, function, file, line);
  const int i = int(::metalcuda::lane_id());
  const int window = modulo ? int(modulo) : 32;
  const int base = i / window * window, in_window = i - base;
  int source = up ? in_window - int(delta) : in_window + int(delta);
  const bool fill = source < 0 || source >= window;
  source = base + (source < 0 ? source + window : source >= window ? source - window : source);
  const T d = ::metalcuda::read_lane(data, source, mask, function, file, line);
  const T f = ::metalcuda::read_lane(filling, source, mask, function, file, line);
  return fill ? f : d;
}
template <class T>
__forceinline__ T simd_shuffle_and_fill_up(T data, T filling, ushort delta, ushort modulo,
                                           METALCUDA_SITE) {
  return metalcuda_shuffle_and_fill(data, filling, delta, modulo, true,
                                    ::metalcuda::fn_simd_shuffle_and_fill_up, METALCUDA_SITE_ARGS);
}
template <class T>
__forceinline__ T simd_shuffle_and_fill_up(T data, T filling, ushort delta, METALCUDA_SITE) {
  return metalcuda_shuffle_and_fill(data, filling, delta, ushort(32), true,
                                    ::metalcuda::fn_simd_shuffle_and_fill_up, METALCUDA_SITE_ARGS);
}
template <class T>
__forceinline__ T simd_shuffle_and_fill_down(T data, T filling, ushort delta, ushort modulo,
                                             METALCUDA_SITE) {
  return metalcuda_shuffle_and_fill(data, filling, delta, modulo, false,
                                    ::metalcuda::fn_simd_shuffle_and_fill_down,
                                    METALCUDA_SITE_ARGS);
}
template <class T>
__forceinline__ T simd_shuffle_and_fill_down(T data, T filling, ushort delta, METALCUDA_SITE) {
  return metalcuda_shuffle_and_fill(data, filling, delta, ushort(32), false,
                                    ::metalcuda::fn_simd_shuffle_and_fill_down,
                                    METALCUDA_SITE_ARGS);
}

__forceinline__ simd_vote simd_ballot(bool predicate, METALCUDA_SITE) {
  const uint32_t mask =
      ::metalcuda::collective_mask(::metalcuda::fn_simd_ballot, METALCUDA_SITE_ARGS);
  return simd_vote(vote_t(__ballot_sync(mask, predicate)));
}
__forceinline__ simd_vote simd_active_threads_mask(METALCUDA_SITE) {
  return simd_vote(vote_t(
      ::metalcuda::collective_mask(::metalcuda::fn_simd_active_threads_mask, METALCUDA_SITE_ARGS)));
}
__forceinline__ bool simd_all(bool predicate, METALCUDA_SITE) {
  const uint32_t mask = ::metalcuda::collective_mask(::metalcuda::fn_simd_all, METALCUDA_SITE_ARGS);
  return __all_sync(mask, predicate);
}
__forceinline__ bool simd_any(bool predicate, METALCUDA_SITE) {
  const uint32_t mask = ::metalcuda::collective_mask(::metalcuda::fn_simd_any, METALCUDA_SITE_ARGS);
  return __any_sync(mask, predicate);
}
__forceinline__ bool simd_is_first(METALCUDA_SITE) {
  const uint32_t mask =
      ::metalcuda::collective_mask(::metalcuda::fn_simd_is_first, METALCUDA_SITE_ARGS);
  return ::metalcuda::lane_id() == uint32_t(__ffs(mask) - 1);
}

enum class mem_flags : uint {
  mem_none = 0,
  mem_device = 1,
  mem_threadgroup = 2,
  mem_texture = 4,
  mem_threadgroup_imageblock = 8,
  mem_object_data = 16,
};
constexpr mem_flags operator|(mem_flags a, mem_flags b) {
  return static_cast<mem_flags>(static_cast<uint>(a) | static_cast<uint>(b));
}

// A CUDA block barrier orders device and shared memory for every flag: mem_none and
// mem_device barriers that leave threadgroup memory unordered in Metal (the simulator
// reports races through them) are ordinary barriers here.
__forceinline__ void threadgroup_barrier(mem_flags) { __syncthreads(); }

__forceinline__ void simdgroup_barrier(mem_flags, METALCUDA_SITE) {
  const uint32_t mask =
      ::metalcuda::collective_mask(::metalcuda::fn_simdgroup_barrier, METALCUDA_SITE_ARGS);
  __syncwarp(mask);
}

enum class thread_scope : uint {
  thread_scope_thread,
  thread_scope_simdgroup,
  thread_scope_threadgroup,
  thread_scope_device
};
constexpr thread_scope thread_scope_thread = thread_scope::thread_scope_thread;
constexpr thread_scope thread_scope_simdgroup = thread_scope::thread_scope_simdgroup;
constexpr thread_scope thread_scope_threadgroup = thread_scope::thread_scope_threadgroup;
constexpr thread_scope thread_scope_device = thread_scope::thread_scope_device;
template <class Order>
__forceinline__ void atomic_thread_fence(mem_flags, Order,
                                         thread_scope scope = thread_scope_device) {
  if (scope == thread_scope_device)
    __threadfence();
  else
    __threadfence_block();
}

}  // namespace metal
