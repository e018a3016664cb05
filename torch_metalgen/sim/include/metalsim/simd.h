// SIMD-group and quad-group functions, barriers.
//
// Each call is a collective: the lane blocks in the runtime until the lanes of its
// SIMD-group that reach the same call site (file, line, column) are gathered; one
// resolver then computes every participating lane's result. Lanes not at that call
// site are inactive for it, as on the GPU. Uniform arguments (delta, mask, lane of a
// broadcast) are checked; reading an inactive lane is an error (or poison).
#pragma once

#include <stdio.h>
#include <string.h>

#include "math.h"

#define METALSIM_SITE                                                                 \
  const char *metalsim_file = __builtin_FILE(), int metalsim_line = __builtin_LINE(), \
             int metalsim_column = __builtin_COLUMN()
#define METALSIM_SITE_ARGS metalsim_file, metalsim_line, metalsim_column

namespace metalsim {

template <class T>
inline T poison() {
  T v;
  memset(&v, 0xFF, sizeof v);
  return v;
}

// Appends "lanes [a-b, c]" for the set bits of mask.
inline int format_lanes(char* out, size_t cap, uint32_t mask) {
  int n = snprintf(out, cap, "[");
  bool first = true;
  for (int i = 0; i < 32; ++i) {
    if (!(mask >> i & 1u)) continue;
    int j = i;
    while (j + 1 < 32 && (mask >> (j + 1) & 1u)) ++j;
    n += snprintf(out + n, cap > size_t(n) ? cap - n : 0, first ? "%d" : ", %d", i);
    if (j > i) n += snprintf(out + n, cap > size_t(n) ? cap - n : 0, "-%d", j);
    first = false;
    i = j;
  }
  n += snprintf(out + n, cap > size_t(n) ? cap - n : 0, "]");
  return n;
}

// Checks that `arg` is the same in every active lane; describes the split otherwise.
inline bool check_uniform(metalsim_call* const* lanes, uint32_t mask, metalsim_diag* d,
                          const char* function, const char* argument) {
  int64_t first_value = 0;
  bool have = false;
  uint32_t differing = 0, same = 0;
  for (int i = 0; i < 32; ++i) {
    if (!(mask >> i & 1u)) continue;
    if (!have) {
      first_value = lanes[i]->arg;
      have = true;
    }
    (lanes[i]->arg == first_value ? same : differing) |= 1u << i;
  }
  if (!differing) return true;
  d->kind = METALSIM_ERR_NON_UNIFORM;
  int n = snprintf(d->message, sizeof d->message,
                   "%s: argument '%s' must be the same in every active lane of the SIMD-group, "
                   "but lanes ",
                   function, argument);
  n += format_lanes(d->message + n, sizeof d->message - n, same);
  n += snprintf(d->message + n, sizeof d->message - n, " pass %lld and lanes ",
                static_cast<long long>(first_value));
  n += format_lanes(d->message + n, sizeof d->message - n, differing);
  snprintf(d->message + n, sizeof d->message - n, " pass other values");
  return false;
}

inline bool inactive_read(metalsim_diag* d, const char* function, int reader, int source) {
  if (d->poison_inactive) return true;
  d->kind = METALSIM_ERR_INACTIVE_LANE_READ;
  snprintf(d->message, sizeof d->message,
           "%s: lane %d reads lane %d, which is not active here (it returned, is outside a "
           "partial SIMD-group, or is in another branch); the value would be undefined on the GPU",
           function, reader, source);
  return false;
}

template <class T>
inline T load_in(const metalsim_call* c) {
  return *static_cast<const T*>(c->in);
}

// ---- reductions -----------------------------------------------------------------
struct OpSum {
  template <class T>
  T operator()(T a, T b) const {
    return a + b;
  }
};
struct OpProduct {
  template <class T>
  T operator()(T a, T b) const {
    return a * b;
  }
};
struct OpMin {
  template <class T>
  T operator()(T a, T b) const {
    return metal::min(a, b);
  }
};
struct OpMax {
  template <class T>
  T operator()(T a, T b) const {
    return metal::max(a, b);
  }
};
struct OpAnd {
  template <class T>
  T operator()(T a, T b) const {
    return a & b;
  }
};
struct OpOr {
  template <class T>
  T operator()(T a, T b) const {
    return a | b;
  }
};
struct OpXor {
  template <class T>
  T operator()(T a, T b) const {
    return a ^ b;
  }
};

// Pairwise tree over lane slots (within groups of `width` lanes): the hardware order
// is undocumented; a tree is closer to it than a sequential sum.
template <class T, class Op, int width>
void resolve_reduce(metalsim_call* const* lanes, uint32_t mask, metalsim_diag*) {
  for (int base = 0; base < 32; base += width) {
    T vals[width];
    bool has[width];
    for (int i = 0; i < width; ++i) {
      has[i] = mask >> (base + i) & 1u;
      if (has[i]) vals[i] = load_in<T>(lanes[base + i]);
    }
    for (int stride = 1; stride < width; stride *= 2) {
      for (int i = 0; i + stride < width; i += 2 * stride) {
        if (!has[i + stride]) continue;
        vals[i] = has[i] ? Op()(vals[i], vals[i + stride]) : vals[i + stride];
        has[i] = true;
      }
    }
    for (int i = 0; i < width; ++i)
      if (mask >> (base + i) & 1u) *static_cast<T*>(lanes[base + i]->out) = vals[0];
  }
}

template <class T, class Op, bool inclusive>
void resolve_prefix(metalsim_call* const* lanes, uint32_t mask, metalsim_diag*) {
  T acc = T(0);
  if constexpr (std::is_same_v<Op, OpProduct>) acc = T(1);
  for (int i = 0; i < 32; ++i) {
    if (!(mask >> i & 1u)) continue;
    T x = load_in<T>(lanes[i]);
    if (inclusive) acc = Op()(acc, x);
    *static_cast<T*>(lanes[i]->out) = acc;
    if (!inclusive) acc = Op()(acc, x);
  }
}

// ---- shuffles ---------------------------------------------------------------------
enum ShuffleKind {
  kShuffle,
  kShuffleUp,
  kShuffleDown,
  kShuffleXor,
  kRotateUp,
  kRotateDown,
  kBroadcast,
  kBroadcastFirst,
  kQuadShuffle,
  kQuadShuffleUp,
  kQuadShuffleDown,
  kQuadShuffleXor,
  kQuadBroadcast,
};
constexpr const char* shuffle_name(int k) {
  constexpr const char* names[] = {
      "simd_shuffle",     "simd_shuffle_up",        "simd_shuffle_down",
      "simd_shuffle_xor", "simd_shuffle_rotate_up", "simd_shuffle_rotate_down",
      "simd_broadcast",   "simd_broadcast_first",   "quad_shuffle",
      "quad_shuffle_up",  "quad_shuffle_down",      "quad_shuffle_xor",
      "quad_broadcast"};
  return names[k];
}

template <class T, int kind>
void resolve_shuffle(metalsim_call* const* lanes, uint32_t mask, metalsim_diag* d) {
  const char* name = shuffle_name(kind);
  if (kind != kShuffle && kind != kQuadShuffle && kind != kBroadcastFirst) {
    const char* argument = kind == kShuffleXor || kind == kQuadShuffleXor ? "mask"
                           : kind == kBroadcast || kind == kQuadBroadcast ? "broadcast_lane_id"
                                                                          : "delta";
    if (!check_uniform(lanes, mask, d, name, argument)) return;
    // A delta or mask of 32 or more reaches no other lane of a 32-wide SIMD-group: the
    // code assumes wider SIMD-groups (a reduction tree starting at 32 is written for 64).
    const int64_t a = lanes[__builtin_ctz(mask)]->arg;
    const bool simd_wide = kind == kShuffleUp || kind == kShuffleDown || kind == kShuffleXor;
    if (simd_wide && a >= 32) {
      d->kind = METALSIM_ERR_SIMD_WIDTH;
      snprintf(d->message, sizeof d->message,
               "%s with %s %lld, but SIMD-groups on Apple GPUs are 32 lanes wide, so no "
               "lane can reach another (each keeps its own value): the code assumes "
               "64-wide SIMD-groups. Use threads_per_simdgroup (32) for the widths.",
               name, argument, static_cast<long long>(a));
      return;
    }
  }
  const int first_active = __builtin_ctz(mask);
  T results[32];
  for (int i = 0; i < 32; ++i) {
    if (!(mask >> i & 1u)) continue;
    const int64_t a = lanes[i]->arg;
    const int quad = i & ~3;
    int64_t src = i;
    switch (kind) {
      case kShuffle:
        src = a;
        break;
      case kShuffleUp:
        src = i >= a ? i - a : i;
        break;
      case kShuffleDown:
        src = i + a < 32 ? i + a : i;
        break;
      case kShuffleXor:
        src = i ^ a;
        break;
      case kRotateUp:
        src = ((i - a) % 32 + 32) % 32;
        break;
      case kRotateDown:
        src = (i + a) % 32;
        break;
      case kBroadcast:
        src = a;
        break;
      case kBroadcastFirst:
        src = first_active;
        break;
      case kQuadShuffle:
        src = quad + (a & 3);
        break;
      case kQuadShuffleUp:
        src = (i & 3) >= a ? i - a : i;
        break;
      case kQuadShuffleDown:
        src = (i & 3) + a < 4 ? i + a : i;
        break;
      case kQuadShuffleXor:
        src = quad + ((i & 3) ^ (a & 3));
        break;
      case kQuadBroadcast:
        src = quad + (a & 3);
        break;
    }
    if (src < 0 || src >= 32 || !(mask >> src & 1u)) {
      if (!inactive_read(d, name, i, static_cast<int>(src))) return;
      results[i] = poison<T>();
    } else {
      results[i] = load_in<T>(lanes[src]);
    }
  }
  for (int i = 0; i < 32; ++i)
    if (mask >> i & 1u) *static_cast<T*>(lanes[i]->out) = results[i];
}

// simd_shuffle_and_fill_up/down: each lane's input is {data, filling_data}; arg packs
// delta (low 16 bits) and the window width `modulo` (high bits, 32 when not given).
// Within each window of `modulo` lanes, up: lane i reads data of lane i - delta, or,
// when that falls below the window, filling_data of lane i - delta + modulo; down:
// data of lane i + delta, or filling_data of lane i + delta - modulo.
template <class T>
struct fill_pair {
  T data;
  T fill;
};
template <class T, bool up>
void resolve_shuffle_and_fill(metalsim_call* const* lanes, uint32_t mask, metalsim_diag* d) {
  const char* name = up ? "simd_shuffle_and_fill_up" : "simd_shuffle_and_fill_down";
  if (!check_uniform(lanes, mask, d, name, "delta")) return;
  T results[32];
  for (int i = 0; i < 32; ++i) {
    if (!(mask >> i & 1u)) continue;
    const int64_t delta = lanes[i]->arg & 0xFFFF, modulo = lanes[i]->arg >> 16;
    const int64_t base = i / modulo * modulo, in_window = i - base;
    int64_t src = up ? in_window - delta : in_window + delta;
    bool fill = src < 0 || src >= modulo;
    src = base + (src < 0 ? src + modulo : src >= modulo ? src - modulo : src);
    if (src < 0 || src >= 32 || !(mask >> src & 1u)) {
      if (!inactive_read(d, name, i, static_cast<int>(src))) return;
      results[i] = poison<T>();
    } else {
      const fill_pair<T> pair = load_in<fill_pair<T>>(lanes[src]);
      results[i] = fill ? pair.fill : pair.data;
    }
  }
  for (int i = 0; i < 32; ++i)
    if (mask >> i & 1u) *static_cast<T*>(lanes[i]->out) = results[i];
}

// A call resolved by `fn`, made at a kernel's source position (METALSIM_SITE_ARGS): lanes
// at the same position and resolver execute it together.
inline metalsim_call site_call(metalsim_resolve_fn fn, const char* file, int line, int column) {
  metalsim_call c{};
  c.file = file;
  c.line = line;
  c.column = column;
  c.resolve = fn;
  return c;
}

// Not inlined and not traced by the memory checks (METALSIM_GLUE, rt.h): the call record
// and the argument live on the lane's stack only for the runtime, and tracing those
// stack accesses in every kernel cost more than the collective itself.
template <class T, class R>
METALSIM_GLUE R collective(T x, metalsim_resolve_fn fn, int64_t arg, const char* file, int line,
                           int column) {
  R out;
  metalsim_call c = site_call(fn, file, line, column);
  c.in = &x;
  c.out = &out;
  c.arg = arg;
  metalsim_collective(&c);
  return out;
}

}  // namespace metalsim

namespace metal {

// simd_vote: the result of simd_ballot / simd_active_threads_mask.
struct simd_vote {
  using vote_t = ulong;
  vote_t v = 0;
  simd_vote() = default;
  explicit simd_vote(vote_t x) : v(x) {}
  explicit operator vote_t() const { return v; }
  bool all() const { return v == 0xFFFFFFFFul; }
  bool any() const { return v != 0; }
};

#define METALSIM_REDUCTION(name, Op, width)                                                    \
  template <class T>                                                                           \
  inline T name(T x, METALSIM_SITE) {                                                          \
    return metalsim::collective<T, T>(x, &metalsim::resolve_reduce<T, metalsim::Op, width>, 0, \
                                      METALSIM_SITE_ARGS);                                     \
  }
METALSIM_REDUCTION(simd_sum, OpSum, 32)
METALSIM_REDUCTION(simd_product, OpProduct, 32)
METALSIM_REDUCTION(simd_min, OpMin, 32)
METALSIM_REDUCTION(simd_max, OpMax, 32)
METALSIM_REDUCTION(simd_and, OpAnd, 32)
METALSIM_REDUCTION(simd_or, OpOr, 32)
METALSIM_REDUCTION(simd_xor, OpXor, 32)
METALSIM_REDUCTION(quad_sum, OpSum, 4)
METALSIM_REDUCTION(quad_product, OpProduct, 4)
METALSIM_REDUCTION(quad_min, OpMin, 4)
METALSIM_REDUCTION(quad_max, OpMax, 4)
METALSIM_REDUCTION(quad_and, OpAnd, 4)
METALSIM_REDUCTION(quad_or, OpOr, 4)
METALSIM_REDUCTION(quad_xor, OpXor, 4)
#undef METALSIM_REDUCTION

#define METALSIM_PREFIX(name, Op, inclusive)                                                       \
  template <class T>                                                                               \
  inline T name(T x, METALSIM_SITE) {                                                              \
    return metalsim::collective<T, T>(x, &metalsim::resolve_prefix<T, metalsim::Op, inclusive>, 0, \
                                      METALSIM_SITE_ARGS);                                         \
  }
METALSIM_PREFIX(simd_prefix_inclusive_sum, OpSum, true)
METALSIM_PREFIX(simd_prefix_exclusive_sum, OpSum, false)
METALSIM_PREFIX(simd_prefix_inclusive_product, OpProduct, true)
METALSIM_PREFIX(simd_prefix_exclusive_product, OpProduct, false)
#undef METALSIM_PREFIX

#define METALSIM_SHUFFLE(name, kind)                                                         \
  template <class T>                                                                         \
  inline T name(T x, ushort arg, METALSIM_SITE) {                                            \
    return metalsim::collective<T, T>(x, &metalsim::resolve_shuffle<T, metalsim::kind>, arg, \
                                      METALSIM_SITE_ARGS);                                   \
  }
METALSIM_SHUFFLE(simd_shuffle, kShuffle)
METALSIM_SHUFFLE(simd_shuffle_up, kShuffleUp)
METALSIM_SHUFFLE(simd_shuffle_down, kShuffleDown)
METALSIM_SHUFFLE(simd_shuffle_xor, kShuffleXor)
METALSIM_SHUFFLE(simd_shuffle_rotate_up, kRotateUp)
METALSIM_SHUFFLE(simd_shuffle_rotate_down, kRotateDown)
METALSIM_SHUFFLE(simd_broadcast, kBroadcast)
METALSIM_SHUFFLE(quad_shuffle, kQuadShuffle)
METALSIM_SHUFFLE(quad_shuffle_up, kQuadShuffleUp)
METALSIM_SHUFFLE(quad_shuffle_down, kQuadShuffleDown)
METALSIM_SHUFFLE(quad_shuffle_xor, kQuadShuffleXor)
METALSIM_SHUFFLE(quad_broadcast, kQuadBroadcast)
#undef METALSIM_SHUFFLE

#define METALSIM_SHUFFLE_AND_FILL(name, up)                                                \
  template <class T>                                                                       \
  inline T name(T data, T filling_data, ushort delta, ushort modulo, METALSIM_SITE) {      \
    const metalsim::fill_pair<T> pair{data, filling_data};                                 \
    const int64_t window = modulo ? modulo : 32;                                           \
    return metalsim::collective<metalsim::fill_pair<T>, T>(                                \
        pair, &metalsim::resolve_shuffle_and_fill<T, up>, int64_t(delta) | (window << 16), \
        METALSIM_SITE_ARGS);                                                               \
  }                                                                                        \
  template <class T>                                                                       \
  inline T name(T data, T filling_data, ushort delta, METALSIM_SITE) {                     \
    return name(data, filling_data, delta, ushort(32), METALSIM_SITE_ARGS);                \
  }
METALSIM_SHUFFLE_AND_FILL(simd_shuffle_and_fill_up, true)
METALSIM_SHUFFLE_AND_FILL(simd_shuffle_and_fill_down, false)
#undef METALSIM_SHUFFLE_AND_FILL

template <class T>
inline T simd_broadcast_first(T x, METALSIM_SITE) {
  return metalsim::collective<T, T>(x, &metalsim::resolve_shuffle<T, metalsim::kBroadcastFirst>, 0,
                                    METALSIM_SITE_ARGS);
}

namespace detail {
inline void resolve_ballot(metalsim_call* const* lanes, uint32_t mask, metalsim_diag*) {
  ulong bits = 0;
  for (int i = 0; i < 32; ++i)
    if ((mask >> i & 1u) && metalsim::load_in<bool>(lanes[i])) bits |= 1ul << i;
  for (int i = 0; i < 32; ++i)
    if (mask >> i & 1u) *static_cast<ulong*>(lanes[i]->out) = bits;
}
inline void resolve_active(metalsim_call* const* lanes, uint32_t mask, metalsim_diag*) {
  for (int i = 0; i < 32; ++i)
    if (mask >> i & 1u) *static_cast<ulong*>(lanes[i]->out) = mask;
}
inline void resolve_is_first(metalsim_call* const* lanes, uint32_t mask, metalsim_diag*) {
  const int first = __builtin_ctz(mask);
  for (int i = 0; i < 32; ++i)
    if (mask >> i & 1u) *static_cast<bool*>(lanes[i]->out) = i == first;
}
inline void resolve_all(metalsim_call* const* lanes, uint32_t mask, metalsim_diag*) {
  bool all = true;
  for (int i = 0; i < 32; ++i)
    if ((mask >> i & 1u) && !metalsim::load_in<bool>(lanes[i])) all = false;
  for (int i = 0; i < 32; ++i)
    if (mask >> i & 1u) *static_cast<bool*>(lanes[i]->out) = all;
}
inline void resolve_nothing(metalsim_call* const*, uint32_t, metalsim_diag*) {}
}  // namespace detail

inline simd_vote simd_ballot(bool predicate, METALSIM_SITE) {
  return simd_vote(
      metalsim::collective<bool, ulong>(predicate, &detail::resolve_ballot, 0, METALSIM_SITE_ARGS));
}
inline simd_vote simd_active_threads_mask(METALSIM_SITE) {
  return simd_vote(
      metalsim::collective<bool, ulong>(true, &detail::resolve_active, 0, METALSIM_SITE_ARGS));
}
inline bool simd_all(bool predicate, METALSIM_SITE) {
  return metalsim::collective<bool, bool>(predicate, &detail::resolve_all, 0, METALSIM_SITE_ARGS);
}
inline bool simd_any(bool predicate, METALSIM_SITE) {
  return metalsim::collective<bool, ulong>(predicate, &detail::resolve_ballot, 0,
                                           METALSIM_SITE_ARGS) != 0;
}
inline bool simd_is_first(METALSIM_SITE) {
  return metalsim::collective<bool, bool>(true, &detail::resolve_is_first, 0, METALSIM_SITE_ARGS);
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

inline void threadgroup_barrier(mem_flags flags, const char* file = __builtin_FILE(),
                                int line = __builtin_LINE()) {
  metalsim_threadgroup_barrier(static_cast<int>(flags), file, line);
}
// atomic_thread_fence(flags, order, scope): orders memory accesses. The simulator's
// device atomics are sequentially consistent CPU atomics, so a fence is a CPU fence.
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
inline void atomic_thread_fence(mem_flags, Order, thread_scope = thread_scope_device) {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
inline void simdgroup_barrier(mem_flags flags, METALSIM_SITE) {
  // A collective in the runtime, which also orders the SIMD-group's memory accesses for
  // the race checker (runtime/check.cpp).
  metalsim_simdgroup_barrier(static_cast<int>(flags), METALSIM_SITE_ARGS);
}

}  // namespace metal
