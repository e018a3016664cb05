// Memory checks of the in-process build: bounds, data races, reads of uninitialized
// threadgroup memory, and memory traffic.
//
// Kernel code is compiled with clang's SanitizerCoverage load/store tracing
// (sim/instrument.py), so every load and store of 1, 2, 4, 8 or 16 bytes first calls
// __sanitizer_cov_load<N>/__sanitizer_cov_store<N>(address) here; the return address is
// the instruction, which Python turns into a .metal line (llvm-symbolizer) only when an
// error is reported. Classification is by address:
//   - the worker's threadgroup arena: bounds against the threadgroup allocations, and a
//     shadow entry per byte (last writer and reader, with the barrier epoch);
//   - a bound buffer: traffic counts, and a shadow entry per byte (which threadgroups
//     wrote and read it during the launch);
//   - the running fiber's stack (thread memory) and the runtime's own structures the
//     generated launcher reads: ignored;
//   - anything else: out of bounds.
// Bound buffers are copied into one mapping where each ends next to an inaccessible gap at
// least as large as its neighbours, so an index off by up to a buffer's size does not land
// in another tensor (and faults if not instrumented).
#include <dlfcn.h>
#include <link.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "internal.h"

namespace metalsim {
namespace {

constexpr uint64_t kShadowLimit = 64ull << 20;  // bound bytes shadowed (races, distinct)
constexpr uint64_t kCopyLimit = 1ull << 30;     // bound bytes copied into guarded memory
constexpr size_t kPage = 4096;
constexpr size_t kArenaBytes = 2 * METALSIM_THREADGROUP_MEMORY_LIMIT;
constexpr int kMemDevice = 1, kMemThreadgroup = 2;  // metal::mem_flags

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

std::string pc_token(const Launch& l, uintptr_t pc) {
  const DeviceCheck& c = l.device;
  if (!c.image_lo || pc <= c.image_lo || pc > c.image_hi) return "an unknown location";
  return "{pc:" + std::to_string(pc - c.image_lo - 1) + "}";  // -1: the call, not after it
}
std::string pc_token_offset(uint32_t offset) { return "{pc:" + std::to_string(offset) + "}"; }
uint32_t pc_offset(const Launch& l, uintptr_t pc) {
  const DeviceCheck& c = l.device;
  return pc > c.image_lo && pc <= c.image_hi ? static_cast<uint32_t>(pc - c.image_lo - 1) : 0;
}

std::string thread_text(const Worker& w, const GpuThread& t) {
  return "thread " + std::to_string(t.linear) + " of threadgroup " + group_text(w);
}

std::string group_position_text(const Launch& l, uint32_t linear) {
  return "(" + std::to_string(linear % l.groups[0]) + "," +
         std::to_string(linear / l.groups[0] % l.groups[1]) + "," +
         std::to_string(linear / (l.groups[0] * l.groups[1])) + ")";
}

const char* access_text(bool write) { return write ? "write" : "read"; }

// "buffer(2) byte 40" for an address inside a bound binding.
std::string binding_text(const Launch& l, uintptr_t a) {
  const metalsim_launch_desc& d = *l.desc;
  for (int i = 0; i < METALSIM_MAX_BINDINGS; ++i) {
    const uintptr_t lo = reinterpret_cast<uintptr_t>(l.buffers[i]);
    if (d.buffer_sizes[i] && a >= lo && a < lo + d.buffer_sizes[i])
      return "buffer(" + std::to_string(i) + ") byte " + std::to_string(a - lo);
  }
  return "a bound buffer";
}

// Where an address lies relative to the nearest binding: "8 bytes past the end of
// buffer(1) (4000 bytes)".
std::string nearest_binding_text(const Launch& l, uintptr_t a) {
  const metalsim_launch_desc& d = *l.desc;
  std::string best;
  uint64_t best_distance = UINT64_MAX;
  for (int i = 0; i < METALSIM_MAX_BINDINGS; ++i) {
    if (!d.buffer_sizes[i]) continue;
    const uintptr_t lo = reinterpret_cast<uintptr_t>(l.buffers[i]);
    const uintptr_t hi = lo + d.buffer_sizes[i];
    const std::string name =
        "buffer(" + std::to_string(i) + ") (" + std::to_string(d.buffer_sizes[i]) + " bytes)";
    if (a >= hi && a - hi < best_distance) {
      best_distance = a - hi;
      best = std::to_string(a - hi) + " bytes past the end of " + name;
    } else if (a < lo && lo - a < best_distance) {
      best_distance = lo - a;
      best = std::to_string(lo - a) + " bytes before the start of " + name;
    } else if (a >= lo && a < hi) {
      return "runs past the end of " + name + " (starts at byte " + std::to_string(a - lo) + ")";
    }
  }
  return best.empty() ? "no buffer is bound" : best;
}

[[noreturn]] __attribute__((noinline, cold)) void out_of_bounds(Worker& w, GpuThread& t,
                                                                uintptr_t a, uint32_t size,
                                                                bool write, uintptr_t pc) {
  const Launch& l = *w.launch;
  char address[32];
  std::snprintf(address, sizeof address, "0x%llx", static_cast<unsigned long long>(a));
  abandon_thread(METALSIM_ERR_OUT_OF_BOUNDS,
                 "out-of-bounds " + std::string(access_text(write)) + " of " +
                     std::to_string(size) + " bytes at " + pc_token(l, pc) + " by " +
                     thread_text(w, t) + ": address " + address + " is " +
                     nearest_binding_text(l, a) +
                     ", and in no threadgroup variable or the thread's own memory. Check the "
                     "index arithmetic and the bounds test against the buffer's length.");
}

// ---- threadgroup memory -------------------------------------------------------------

std::string allocation_text(const TgAllocation& a) {
  std::string what = a.index >= 0
                         ? "the [[threadgroup(" + std::to_string(a.index) + ")]] buffer"
                         : "the threadgroup variable declared at " + site_text(a.file, a.line);
  return what + " (" + std::to_string(a.size) + " bytes)";
}

const TgAllocation* find_allocation(const Worker& w, uintptr_t a) {
  for (const TgAllocation& alloc : w.allocations) {
    const uintptr_t lo = reinterpret_cast<uintptr_t>(alloc.address);
    if (a >= lo && a < lo + alloc.size) return &alloc;
  }
  return nullptr;
}

[[noreturn]] __attribute__((noinline, cold)) void threadgroup_out_of_bounds(
    Worker& w, GpuThread& t, uintptr_t a, uint32_t size, bool write, uintptr_t pc) {
  // The allocation just below the address is the one the index ran past.
  const TgAllocation* below = nullptr;
  for (const TgAllocation& alloc : w.allocations) {
    const uintptr_t lo = reinterpret_cast<uintptr_t>(alloc.address);
    if (lo <= a && (!below || lo > reinterpret_cast<uintptr_t>(below->address))) below = &alloc;
  }
  std::string where = "outside every threadgroup allocation";
  if (below) {
    const uintptr_t lo = reinterpret_cast<uintptr_t>(below->address);
    where = a < lo + below->size ? "running past the end of " + allocation_text(*below)
                                 : std::to_string(a - lo - below->size) +
                                       " bytes past the end of " + allocation_text(*below);
  }
  abandon_thread(METALSIM_ERR_OUT_OF_BOUNDS,
                 "out-of-bounds threadgroup memory " + std::string(access_text(write)) + " of " +
                     std::to_string(size) + " bytes at " + pc_token(*w.launch, pc) + " by " +
                     thread_text(w, t) + ": " + where +
                     ". Check the index against the array size.");
}

// True when SIMD-group barriers order the earlier access by `other` before thread `t`.
bool simd_ordered(const WorkerCheck& k, const GpuThread& t, uint16_t other, uint32_t other_simd) {
  return other / METALSIM_SIMD_WIDTH == t.simdgroup && k.simd_stamp[t.simdgroup] != other_simd;
}

[[noreturn]] __attribute__((noinline, cold)) void threadgroup_race(
    Worker& w, GpuThread& t, const TgAllocation& alloc, uintptr_t a, bool write, uintptr_t pc,
    uint16_t other, bool other_wrote, uint32_t other_pc) {
  const WorkerCheck& k = w.check;
  const std::string offset = std::to_string(a - reinterpret_cast<uintptr_t>(alloc.address));
  std::string other_text = other == kManyThreads ? "other threads read it"
                                                 : "thread " + std::to_string(other) +
                                                       (other_wrote ? " wrote" : " read") +
                                                       " it at " + pc_token_offset(other_pc);
  std::string hint;
  if (k.weak_stamp == k.stamp)
    hint =
        " The barrier between them orders no threadgroup memory: its flags lack "
        "mem_flags::mem_threadgroup.";
  else if (other != kManyThreads && other / METALSIM_SIMD_WIDTH == t.simdgroup)
    hint =
        " Both are in one SIMD-group, whose lanes are not guaranteed to run in lockstep: "
        "use simdgroup_barrier(mem_flags::mem_threadgroup) or a threadgroup_barrier.";
  else if (other_wrote && !write)
    hint = " If several threads update it (+=), use an atomic instead.";
  abandon_thread(METALSIM_ERR_DATA_RACE,
                 "data race on threadgroup memory in threadgroup " + group_text(w) + ": thread " +
                     std::to_string(t.linear) + " " + (write ? "writes" : "reads") + " byte " +
                     offset + " of " + allocation_text(alloc) + " at " + pc_token(*w.launch, pc) +
                     ", and " + other_text +
                     ", with no threadgroup_barrier(mem_flags::mem_threadgroup) in between." +
                     hint);
}

__attribute__((noinline)) void threadgroup_access(Worker& w, GpuThread& t, uintptr_t a,
                                                  uint32_t size, bool write, uintptr_t pc) {
  const TgAllocation* alloc = find_allocation(w, a);
  if (!alloc || a + size > reinterpret_cast<uintptr_t>(alloc->address) + alloc->size)
    threadgroup_out_of_bounds(w, t, a, size, write, pc);
  WorkerCheck& k = w.check;
  const uintptr_t base = reinterpret_cast<uintptr_t>(w.arena_base());
  ThreadgroupShadow* shadow = k.shadow.data() + (a - base);
  const uint16_t me = static_cast<uint16_t>(t.linear);
  const uint32_t my_simd = k.simd_stamp[t.simdgroup];
  const uint32_t stamp = k.stamp;
  for (uint32_t b = 0; b < size; ++b) {
    ThreadgroupShadow& e = shadow[b];
    if (!write) {
      if (e.write_stamp < k.group_start) {
        // Untraced writes (struct copies through memcpy) are not seen: only report a
        // byte that still holds the 0xFF poison of a fresh threadgroup.
        if (reinterpret_cast<const unsigned char*>(a)[b] != 0xFF) continue;
        abandon_thread(
            METALSIM_ERR_UNINITIALIZED_READ,
            "read of uninitialized threadgroup memory at " + pc_token(*w.launch, pc) + " by " +
                thread_text(w, t) + ": byte " +
                std::to_string(a + b - reinterpret_cast<uintptr_t>(alloc->address)) + " of " +
                allocation_text(*alloc) +
                " was not written by any thread of this threadgroup (threadgroup memory is "
                "undefined when a threadgroup starts). Write every element before reading it, "
                "or do not read past the elements that were written.");
      }
      if (e.write_stamp == stamp && e.writer != me && !simd_ordered(k, t, e.writer, e.write_simd))
        threadgroup_race(w, t, *alloc, a + b, false, pc, e.writer, true, e.write_pc);
      if (e.read_stamp != stamp) {
        e.read_stamp = stamp;
        e.reader = me;
        e.read_simd = my_simd;
        e.read_pc = pc_offset(*w.launch, pc);
      } else if (e.reader != me && e.reader != kManyThreads) {
        e.reader = kManyThreads;
      }
    } else {
      if (e.write_stamp == stamp && e.writer != me && !simd_ordered(k, t, e.writer, e.write_simd))
        threadgroup_race(w, t, *alloc, a + b, true, pc, e.writer, true, e.write_pc);
      if (e.read_stamp == stamp && e.reader != me &&
          (e.reader == kManyThreads || !simd_ordered(k, t, e.reader, e.read_simd)))
        threadgroup_race(w, t, *alloc, a + b, true, pc, e.reader, false, e.read_pc);
      e.write_stamp = stamp;
      e.writer = me;
      e.write_simd = my_simd;
      e.write_pc = pc_offset(*w.launch, pc);
      e.read_stamp = 0;  // earlier reads were this thread's or ordered before it
    }
  }
}

// ---- device memory ------------------------------------------------------------------

int find_region(const DeviceCheck& c, WorkerCheck& k, uintptr_t a) {
  const Region& hint = c.regions[k.last_region];
  if (a >= hint.lo && a < hint.hi) return k.last_region;
  for (int r = 0; r < c.region_count; ++r) {
    if (a >= c.regions[r].lo && a < c.regions[r].hi) {
      k.last_region = r;
      return r;
    }
  }
  return -1;
}

[[noreturn]] __attribute__((noinline, cold)) void device_race(Worker& w, GpuThread& t, uintptr_t a,
                                                              bool write, uintptr_t pc,
                                                              uint32_t other_id, bool other_wrote,
                                                              uint32_t other_pc) {
  const Launch& l = *w.launch;
  std::string other =
      other_id == kManyId
          ? "other threadgroups read it"
          : "threadgroup " + group_position_text(l, other_id - 1) +
                (other_wrote ? " wrote it at " + pc_token_offset(other_pc) : " read it");
  abandon_thread(METALSIM_ERR_DATA_RACE,
                 "data race on device memory: " + thread_text(w, t) + " " +
                     (write ? "writes " : "reads ") + binding_text(l, a) + " at " +
                     pc_token(l, pc) + ", and " + other +
                     " during the same launch. Threadgroups run in no fixed order and their "
                     "non-atomic accesses to one address are unordered: use atomics, or let "
                     "each threadgroup write only its own elements.");
}

// ---- the device shadow: entries, and the slow path that updates them -----------------

inline uint32_t key_of(uint32_t entry) { return entry & ~0xFu; }  // generation and id
inline uint32_t id_of(uint32_t entry) { return (entry & kIdBits) >> 4; }
inline uint32_t marker(uint32_t generation_base, uint32_t id) {
  return generation_base | id << 4 | 0xFu;
}

struct ShadowContext {
  const DeviceCheck& c;
  Worker& w;
  GpuThread& t;
  int kind;  // 0 load, 1 store, 2 atomic load, 3 atomic store / read-modify-write
  uintptr_t pc;
  int region;
  uint32_t base;  // this launch's generation << kGenerationShift
  uint32_t me;    // this threadgroup's key
  uint32_t many;  // the key of several readers
  bool write() const { return kind == 1 || kind == 3; }
  bool atomic() const { return kind >= 2; }
  // The entry as this launch sees it: 0 when written by an earlier launch.
  uint32_t fresh(uint32_t raw) const {
    return (raw >> kGenerationShift) == (base >> kGenerationShift) ? raw : 0u;
  }
};

inline void pause() { __builtin_ia32_pause(); }

// One byte of a split word, by its own entries.
void byte_step(ShadowContext& x, size_t i) {
  const DeviceCheck& c = x.c;
  WorkerCheck& k = x.w.check;
  const uintptr_t a = c.span_lo + i;
  const uint32_t me = x.me | 0xFu, many = x.many | 0xFu;
  const uint32_t writer_raw = __atomic_load_n(c.byte_writer + i, __ATOMIC_ACQUIRE);
  const uint32_t reader_raw = __atomic_load_n(c.byte_reader + i, __ATOMIC_ACQUIRE);
  const uint32_t writer = x.fresh(writer_raw);
  const uint32_t reader = x.fresh(reader_raw);
  if (!x.atomic()) {
    if (writer && writer != me)
      device_race(x.w, x.t, a, x.write(), x.pc, id_of(writer), true,
                  __atomic_load_n(c.byte_pc + i, __ATOMIC_RELAXED));
    if (x.write() && reader && reader != me)
      device_race(x.w, x.t, a, true, x.pc, id_of(reader), false, 0);
  }
  if (x.kind != 1 && reader != me && reader != many) {  // reads, read-modify-writes
    // The first reader claims the byte with a compare-exchange, so two workers reading
    // it at once count it once; a second threadgroup makes it `many`.
    uint32_t seen = reader_raw;
    if (!reader && __atomic_compare_exchange_n(c.byte_reader + i, &seen, me, false,
                                               __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
      ++k.distinct_read[x.region];
    } else {
      const uint32_t current = reader ? reader : x.fresh(seen);
      if (!x.atomic() && current != me && current != many)
        __atomic_store_n(c.byte_reader + i, many, __ATOMIC_RELAXED);
    }
  }
  if (x.write() && writer != me) {
    uint32_t seen = writer_raw;
    const bool first = !writer && __atomic_compare_exchange_n(c.byte_writer + i, &seen, me, false,
                                                              __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    if (first) ++k.distinct_written[x.region];
    if (first || (!x.atomic() && x.fresh(seen) != me)) {
      __atomic_store_n(c.byte_writer + i, me, __ATOMIC_RELAXED);
      __atomic_store_n(c.byte_pc + i, pc_offset(*x.w.launch, x.pc), __ATOMIC_RELAXED);
    }
  }
}

// Gives word `word` per-byte entries (from its word entries), once; other workers wait
// while it happens (the word's entries hold kLockId).
void split_word(const ShadowContext& x, size_t word) {
  const DeviceCheck& c = x.c;
  const uint32_t lock = marker(x.base, kLockId);
  for (;;) {
    uint32_t writer_raw = __atomic_load_n(c.word_writer + word, __ATOMIC_ACQUIRE);
    const uint32_t writer = x.fresh(writer_raw);
    if (writer && id_of(writer) == kSplitId) return;
    if (writer && id_of(writer) == kLockId) {
      pause();
      continue;
    }
    if (!__atomic_compare_exchange_n(c.word_writer + word, &writer_raw, lock, false,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
      continue;
    uint32_t reader_raw = __atomic_load_n(c.word_reader + word, __ATOMIC_ACQUIRE);
    while (!__atomic_compare_exchange_n(c.word_reader + word, &reader_raw, lock, false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
    }
    const uint32_t reader = x.fresh(reader_raw);
    const uint32_t pc = __atomic_load_n(c.word_pc + word, __ATOMIC_RELAXED);
    for (uint32_t b = 0; b < 4; ++b) {
      const size_t i = 4 * word + b;
      __atomic_store_n(c.byte_writer + i, writer >> b & 1 ? key_of(writer) | 0xFu : 0u,
                       __ATOMIC_RELAXED);
      __atomic_store_n(c.byte_reader + i, reader >> b & 1 ? key_of(reader) | 0xFu : 0u,
                       __ATOMIC_RELAXED);
      __atomic_store_n(c.byte_pc + i, pc, __ATOMIC_RELAXED);
    }
    __atomic_store_n(c.word_writer + word, marker(x.base, kSplitId), __ATOMIC_RELEASE);
    return;
  }
}

// The bytes `mask` of word `word`, by the word's entries; false when the word has
// per-byte entries (it was split now or before): then the caller goes byte by byte.
bool word_step(ShadowContext& x, size_t word, uint32_t mask) {
  const DeviceCheck& c = x.c;
  WorkerCheck& k = x.w.check;
  const uintptr_t address = c.span_lo + 4 * word;
  for (;;) {
    uint32_t writer_raw = __atomic_load_n(c.word_writer + word, __ATOMIC_ACQUIRE);
    const uint32_t writer = x.fresh(writer_raw);
    if (writer && id_of(writer) == kSplitId) return false;
    uint32_t reader_raw = __atomic_load_n(c.word_reader + word, __ATOMIC_ACQUIRE);
    const uint32_t reader = x.fresh(reader_raw);
    if ((writer && id_of(writer) == kLockId) || (reader && id_of(reader) == kLockId)) {
      pause();
      continue;
    }
    if (!x.atomic()) {
      if (writer && key_of(writer) != x.me && (writer & mask))
        device_race(x.w, x.t, address + __builtin_ctz(writer & mask), x.write(), x.pc,
                    id_of(writer), true, __atomic_load_n(c.word_pc + word, __ATOMIC_RELAXED));
      if (x.write() && reader && key_of(reader) != x.me && (reader & mask))
        device_race(x.w, x.t, address + __builtin_ctz(reader & mask), true, x.pc, id_of(reader),
                    false, 0);
    }
    // The new entries, or a split when the word's bytes would differ in writer or reader.
    uint32_t new_writer = writer_raw, new_reader = reader_raw;
    bool split = false;
    if (x.kind != 1) {
      if (!reader)
        new_reader = x.me | mask;
      else if (key_of(reader) == x.me)
        new_reader = reader | mask;
      else if ((reader & 0xFu) == mask && !x.atomic())
        new_reader = x.many | mask;  // another threadgroup (or several) read these bytes
      else if ((reader & mask) != mask || (key_of(reader) != x.many && !x.atomic()))
        split = true;
    }
    if (x.write()) {
      if (!writer)
        new_writer = x.me | mask;
      else if (key_of(writer) == x.me)
        new_writer = writer | mask;
      else if ((writer & mask) != mask)  // bytes of another writer's word (atomic, or not
        split = true;                    // overlapping: other bytes)
    }
    if (split) {
      split_word(x, word);
      return false;
    }
    if (new_writer != writer_raw) {
      if (!__atomic_compare_exchange_n(c.word_writer + word, &writer_raw, new_writer, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        continue;
      k.distinct_written[x.region] += __builtin_popcount((new_writer & ~writer) & 0xFu);
      __atomic_store_n(c.word_pc + word, pc_offset(*x.w.launch, x.pc), __ATOMIC_RELAXED);
    }
    if (new_reader != reader_raw) {
      if (!__atomic_compare_exchange_n(c.word_reader + word, &reader_raw, new_reader, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        continue;  // the writer entry is ours now: the retry leaves it
      k.distinct_read[x.region] += __builtin_popcount((new_reader & ~reader) & 0xFu);
    }
    return true;
  }
}

// The shadow of `size` bytes at `a`, word by word (byte by byte in split words).
__attribute__((noinline)) void device_shadow_slow(Worker& w, GpuThread& t, uintptr_t a,
                                                  uint32_t size, int kind, uintptr_t pc, int r) {
  const DeviceCheck& c = w.launch->device;
  const uint32_t base = c.generation << kGenerationShift;
  ShadowContext x{c, w, t, kind, pc, r, base, w.check.device_key, base | kManyId << 4};
  const size_t end = a - c.span_lo + size;
  for (size_t at = a - c.span_lo; at < end;) {
    const size_t word = at >> 2;
    const uint32_t first = at & 3;
    const uint32_t count = static_cast<uint32_t>(std::min<size_t>(4 - first, end - at));
    if (!word_step(x, word, ((1u << count) - 1) << first))
      for (uint32_t b = first; b < first + count; ++b) byte_step(x, 4 * word + b);
    at += count;
  }
}

// The common case, checked without branches: a plain load of bytes this threadgroup
// already read (or several did) and no other threadgroup wrote, or a plain store to
// bytes this threadgroup already wrote and no other read: nothing changes then.
template <uint32_t N>
inline bool device_shadow_unchanged(const DeviceCheck& c, size_t offset, uint32_t me, int kind) {
  constexpr uint32_t M = N < 4 ? 1 : N / 4;  // words
  uint32_t mask = 0xFu;
  if constexpr (N < 4) {
    if ((offset & 3) + N > 4) return false;  // straddles two words
    mask = ((1u << N) - 1) << (offset & 3);
  } else if (offset & 3) {
    return false;
  }
  const size_t word = offset >> 2;
  const uint32_t generation = me >> kGenerationShift;
  const uint32_t many = (me & ~kIdBits) | kManyId << 4;
  uint32_t writer[M], reader[M];
  std::memcpy(writer, c.word_writer + word, sizeof writer);
  std::memcpy(reader, c.word_reader + word, sizeof reader);
  bool same = true;
  if (kind == 0) {
    for (uint32_t i = 0; i < M; ++i)
      same &= ((key_of(reader[i]) == me) | (key_of(reader[i]) == many)) &
              ((reader[i] & mask) == mask) &
              (((writer[i] >> kGenerationShift) != generation) | (key_of(writer[i]) == me) |
               ((writer[i] & mask) == 0));
  } else {
    for (uint32_t i = 0; i < M; ++i)
      same &= (key_of(writer[i]) == me) & ((writer[i] & mask) == mask) &
              (((reader[i] >> kGenerationShift) != generation) | (key_of(reader[i]) == me) |
               ((reader[i] & mask) == 0));
  }
  return same;
}

// False when the address is in no region (the caller decides what it is).
template <uint32_t N>
inline bool device_access(Worker& w, GpuThread& t, uintptr_t a, int kind, uintptr_t pc) {
  const DeviceCheck& c = w.launch->device;
  WorkerCheck& k = w.check;
  const bool write = kind == 1 || kind == 3;
  const int r = find_region(c, k, a);
  if (r < 0) {
    if (c.copied) out_of_bounds(w, t, a, N, write, pc);  // guard gaps hold nothing else
    return false;
  }
  if (a + N > c.regions[r].hi) out_of_bounds(w, t, a, N, write, pc);
  if (kind != 1) k.bytes_read[r] += N;
  if (write) k.bytes_written[r] += N;
  if (!c.word_writer) return true;
  if (kind <= 1 && device_shadow_unchanged<N>(c, a - c.span_lo, k.device_key, kind)) return true;
  device_shadow_slow(w, t, a, N, kind, pc, r);
  return true;
}

// Not threadgroup memory, not a bound buffer, not this thread's stack.
__attribute__((noinline, cold)) void other_access(Worker& w, GpuThread& t, uintptr_t a,
                                                  uint32_t size, bool write, uintptr_t pc) {
  const DeviceCheck& c = w.launch->device;
  auto inside = [a](const void* lo, size_t bytes) {
    return a - reinterpret_cast<uintptr_t>(lo) < bytes;
  };
  // Program-scope constants, and what the generated launcher reads: its arguments and
  // builtins (GpuThread), the threadgroup buffer table (Worker), the bindings (Launch).
  if (a >= c.image_lo && a < c.image_hi) return;
  if (inside(&w, sizeof w) || inside(w.launch, sizeof *w.launch)) return;
  if (inside(w.threads.data(), w.threads.size() * sizeof(GpuThread))) return;
  out_of_bounds(w, t, a, size, write, pc);
}

__attribute__((noinline)) void threadgroup_atomic(Worker& w, GpuThread& t, uintptr_t a,
                                                  uint32_t size, int kind, uintptr_t pc) {
  // Atomics: bounds, and the bytes count as written (they are never raced).
  const TgAllocation* alloc = find_allocation(w, a);
  if (!alloc || a + size > reinterpret_cast<uintptr_t>(alloc->address) + alloc->size)
    threadgroup_out_of_bounds(w, t, a, size, kind == 3, pc);
  if (kind != 3) return;
  const uintptr_t arena = reinterpret_cast<uintptr_t>(w.arena_base());
  for (uint32_t b = 0; b < size; ++b) {
    ThreadgroupShadow& e = w.check.shadow[a - arena + b];
    if (e.write_stamp < w.check.group_start) e.write_stamp = w.check.group_start;
  }
}

// kind: 0 load, 1 store, 2 atomic load, 3 atomic store / read-modify-write.
// The hot path of every instrumented access: one TLS load when not checking, two range
// tests for threadgroup and device memory.
template <uint32_t N>
__attribute__((always_inline)) inline void on_access(const void* p, int kind, uintptr_t pc) {
  const FastCheck& fast = tls_check;
  Worker* w = fast.worker;
  if (!w) return;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  GpuThread& t = *tls_current;
  if (a - fast.arena_lo < kArenaBytes) {
    if (kind >= 2)
      threadgroup_atomic(*w, t, a, N, kind, pc);
    else
      threadgroup_access(*w, t, a, N, kind == 1, pc);
    return;
  }
  if (a - fast.span_lo < fast.span_size && device_access<N>(*w, t, a, kind, pc)) return;
  if (a - reinterpret_cast<uintptr_t>(t.stack.low) < t.stack.size) return;
  other_access(*w, t, a, N, kind == 1 || kind == 3, pc);
}

// Atomics report one operation of any size (atomic.h).
__attribute__((noinline)) void on_atomic_access(const void* p, uint32_t size, bool write,
                                                uintptr_t pc) {
  switch (size) {
    case 1:
      return on_access<1>(p, write ? 3 : 2, pc);
    case 2:
      return on_access<2>(p, write ? 3 : 2, pc);
    case 4:
      return on_access<4>(p, write ? 3 : 2, pc);
    case 8:
      return on_access<8>(p, write ? 3 : 2, pc);
    case 16:
      return on_access<16>(p, write ? 3 : 2, pc);
    default:
      for (uint32_t b = 0; b < size; ++b)
        on_access<1>(static_cast<const char*>(p) + b, write ? 3 : 2, pc);
  }
}

// The kernel library's address range, for program-scope constants and for pcs.
struct ImageSearch {
  uintptr_t base;
  uintptr_t hi;
};
int find_image_end(struct dl_phdr_info* info, size_t, void* data) {
  auto* search = static_cast<ImageSearch*>(data);
  if (info->dlpi_addr != search->base) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr) & ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD)
      search->hi = std::max<uintptr_t>(search->hi, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
  }
  return 1;
}

// ---- mappings kept across launches (launches run one at a time: launch_mutex) ------

unsigned char* map_anonymous(size_t size) {
  void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return map == MAP_FAILED ? nullptr : static_cast<unsigned char*>(map);
}

// Mapping fresh pages per launch cost more than the checks themselves (two page faults
// per shadow page), so launches up to these sizes reuse one mapping each.
// Both are address space: the gaps between copies are never touched.
constexpr size_t kKeptCopyBytes = 64u << 20;                // the guarded copies, gaps included
constexpr size_t kKeptShadowSpan = 32u << 20;               // bytes of span the kept shadow covers
constexpr size_t kMinGap = 64u << 10, kMaxGap = 64u << 20;  // between the copies

struct Kept {
  unsigned char* base = nullptr;
  size_t size = 0;
};
Kept kept_copies, kept_shadow;
uint32_t kept_generation = 0;  // of the kept shadow's entries, 1..kMaxGeneration

// The copies' mapping; `owned`: a one-launch mapping to unmap after.
unsigned char* copies_mapping(size_t size, bool& owned) {
  owned = size > kKeptCopyBytes;
  if (owned) return map_anonymous(size);
  if (kept_copies.size < size) {
    if (kept_copies.base) munmap(kept_copies.base, kept_copies.size);
    const size_t grown = std::max(size, std::min(2 * kept_copies.size, kKeptCopyBytes));
    kept_copies.base = map_anonymous(grown);
    kept_copies.size = kept_copies.base ? grown : 0;
  }
  return kept_copies.base;
}

// The shadow arrays for the launch's span, in the kept shadow (a new generation: no
// clearing) or a one-launch mapping. 15 bytes per byte of span: 3 word arrays (3 bytes
// per byte) and 3 byte arrays (12 per byte), whose pages are touched only for split words.
void attach_shadow(DeviceCheck& c) {
  constexpr size_t kBytesPerByte = 15;
  const size_t span = round_up(c.span_size, 4);
  unsigned char* base = nullptr;
  size_t capacity = span;
  if (span > kKeptShadowSpan) {
    c.shadow_owned_size = kBytesPerByte * span;
    base = map_anonymous(c.shadow_owned_size);
    c.shadow_owned = base;
    c.generation = 1;
  } else {
    capacity = kept_shadow.size / kBytesPerByte;
    if (capacity < span) {
      if (kept_shadow.base) munmap(kept_shadow.base, kept_shadow.size);
      capacity = round_up(std::max(span, std::min(2 * capacity, kKeptShadowSpan)), 4);
      kept_shadow.size = kBytesPerByte * capacity;
      kept_shadow.base = map_anonymous(kept_shadow.size);
      if (!kept_shadow.base) kept_shadow.size = 0;
      kept_generation = 0;  // fresh zero pages: generation 0, never a launch's
    }
    if (++kept_generation > kMaxGeneration) {  // generations wrap: zero pages again
      madvise(kept_shadow.base, kept_shadow.size, MADV_DONTNEED);
      kept_generation = 1;
    }
    base = kept_shadow.base;
    c.generation = kept_generation;
  }
  if (!base) return;  // no shadow: no race checks, distinct counts unknown
  const size_t words = capacity / 4;
  c.word_writer = reinterpret_cast<uint32_t*>(base);
  c.word_reader = c.word_writer + words;
  c.word_pc = c.word_reader + words;
  c.byte_writer = c.word_pc + words;
  c.byte_reader = c.byte_writer + capacity;
  c.byte_pc = c.byte_reader + capacity;
}

}  // namespace

void setup_device_check(Launch& l) {
  metalsim_launch_desc& d = *l.desc;
  DeviceCheck& c = l.device;
  Dl_info info{};
  if (d.entry && dladdr(reinterpret_cast<void*>(d.entry), &info) && info.dli_fbase) {
    ImageSearch search{reinterpret_cast<uintptr_t>(info.dli_fbase), 0};
    dl_iterate_phdr(&find_image_end, &search);
    c.image_lo = search.base;
    c.image_hi = search.hi ? search.hi : search.base;
  }
  d.image_base = c.image_lo;
  for (int i = 0; i < METALSIM_MAX_BINDINGS; ++i) {
    d.bytes_read[i] = d.bytes_written[i] = 0;
    d.distinct_read[i] = d.distinct_written[i] = 0;
  }
  if (!d.check_memory) return;
  c.enabled = true;

  // Distinct ranges: overlapping bindings (one tensor bound twice, views) share a region.
  struct Range {
    uintptr_t lo, hi;
    int index;
  };
  Range ranges[METALSIM_MAX_BINDINGS];
  int count = 0;
  for (int i = 0; i < METALSIM_MAX_BINDINGS; ++i) {
    if (!l.buffers[i] || !d.buffer_sizes[i]) continue;
    const uintptr_t lo = reinterpret_cast<uintptr_t>(l.buffers[i]);
    ranges[count++] = {lo, lo + d.buffer_sizes[i], i};
  }
  std::sort(ranges, ranges + count, [](const Range& a, const Range& b) { return a.lo < b.lo; });
  uint64_t total = 0;
  for (int i = 0; i < count; ++i) {
    if (c.region_count && ranges[i].lo < c.regions[c.region_count - 1].hi) {
      Region& last = c.regions[c.region_count - 1];
      total += ranges[i].hi > last.hi ? ranges[i].hi - last.hi : 0;
      last.hi = std::max(last.hi, ranges[i].hi);
      last.bindings |= 1u << ranges[i].index;
      continue;
    }
    Region& r = c.regions[c.region_count++];
    r.lo = ranges[i].lo;
    r.hi = ranges[i].hi;
    r.original = reinterpret_cast<unsigned char*>(ranges[i].lo);
    r.bindings = 1u << ranges[i].index;
    total += r.hi - r.lo;
  }
  if (!c.region_count) return;

  if (total <= kCopyLimit) {
    // [gap] then per region: its pages (the copy ends 0-63 bytes before the next gap, at
    // the original's alignment modulo 64), a gap. Gaps are inaccessible and at least as
    // large as their neighbours (64 KiB to 64 MiB), so an index off by up to a buffer's
    // size (out[-n], a row past the end) lands in a gap, not in another tensor.
    auto bytes_of = [&c](int r) {
      return r < 0 || r >= c.region_count ? size_t{0} : size_t(c.regions[r].hi - c.regions[r].lo);
    };
    auto gap_after = [&bytes_of](int r) {  // r = -1: the gap before the first region
      const size_t larger = std::max(bytes_of(r), bytes_of(r + 1));
      return std::clamp(round_up(larger, kPage), kMinGap, kMaxGap);
    };
    size_t size = gap_after(-1);
    for (int r = 0; r < c.region_count; ++r)
      size += round_up(bytes_of(r) + 64, kPage) + gap_after(r);
    c.mapping = copies_mapping(size, c.mapping_owned);
    if (c.mapping) {
      c.copied = true;
      c.mapping_size = size;
      c.leading_gap = gap_after(-1);
      mprotect(c.mapping, c.leading_gap, PROT_NONE);
      size_t at = c.leading_gap;
      for (int r = 0; r < c.region_count; ++r) {
        Region& region = c.regions[r];
        const size_t bytes = region.hi - region.lo;
        const size_t pages = round_up(bytes + 64, kPage);
        uintptr_t lo = reinterpret_cast<uintptr_t>(c.mapping + at + pages) - bytes;
        lo -= (lo - region.lo) & 63;
        std::memcpy(reinterpret_cast<void*>(lo), region.original, bytes);
        for (int i = 0; i < METALSIM_MAX_BINDINGS; ++i)
          if (region.bindings >> i & 1u)
            l.buffers[i] = reinterpret_cast<void*>(
                lo + (reinterpret_cast<uintptr_t>(d.buffers[i]) - region.lo));
        region.lo = lo;
        region.hi = lo + bytes;
        region.gap_after = gap_after(r);
        at += pages;
        mprotect(c.mapping + at, region.gap_after, PROT_NONE);
        at += region.gap_after;
      }
      c.span_lo = reinterpret_cast<uintptr_t>(c.mapping);
      c.span_size = size;
    }
  }
  if (!c.copied) {  // bound in place: bounds are checked, but neighbours are not apart
    c.span_lo = c.regions[0].lo;
    c.span_size = c.regions[c.region_count - 1].hi - c.span_lo;
  }
  if (total <= kShadowLimit && c.copied && l.total_groups < kFirstMarker - 1) attach_shadow(c);
}

void flush_worker_check(Worker& w, Launch& l) {
  WorkerCheck& k = w.check;
  for (int r = 0; r < l.device.region_count; ++r) {
    Region& region = l.device.regions[r];
    region.bytes_read += k.bytes_read[r];
    region.bytes_written += k.bytes_written[r];
    region.distinct_read += k.distinct_read[r];
    region.distinct_written += k.distinct_written[r];
  }
  for (int r = 0; r < METALSIM_MAX_BINDINGS; ++r)
    k.bytes_read[r] = k.bytes_written[r] = k.distinct_read[r] = k.distinct_written[r] = 0;
  k.last_region = 0;
  k.enabled = false;
}

void finish_device_check(Launch& l) {
  DeviceCheck& c = l.device;
  metalsim_launch_desc& d = *l.desc;
  if (!c.enabled) return;
  for (int r = 0; r < c.region_count; ++r) {
    Region& region = c.regions[r];
    if (c.copied) {
      std::memcpy(region.original, reinterpret_cast<void*>(region.lo), region.hi - region.lo);
      // The gap after the copy (a kept mapping is laid out anew next launch).
      if (!c.mapping_owned)
        mprotect(reinterpret_cast<void*>(round_up(region.hi, kPage)), region.gap_after,
                 PROT_READ | PROT_WRITE);
    }
    for (int i = 0; i < METALSIM_MAX_BINDINGS; ++i) {
      if (!(region.bindings >> i & 1u)) continue;
      d.bytes_read[i] = region.bytes_read;
      d.bytes_written[i] = region.bytes_written;
      d.distinct_read[i] = c.word_writer ? region.distinct_read.load() : UINT64_MAX;
      d.distinct_written[i] = c.word_writer ? region.distinct_written.load() : UINT64_MAX;
    }
  }
  if (c.copied && !c.mapping_owned) mprotect(c.mapping, c.leading_gap, PROT_READ | PROT_WRITE);
  if (c.shadow_owned) munmap(c.shadow_owned, c.shadow_owned_size);
  if (c.mapping_owned) munmap(c.mapping, c.mapping_size);
  c.word_writer = c.word_reader = c.word_pc = nullptr;
  c.byte_writer = c.byte_reader = c.byte_pc = nullptr;
  c.shadow_owned = nullptr;
  c.mapping = nullptr;
  c.copied = false;
  c.enabled = false;
}

thread_local FastCheck tls_check __attribute__((tls_model("initial-exec")));

void start_threadgroup_check(Worker& w) {
  WorkerCheck& k = w.check;
  if (k.shadow.size() < kArenaBytes) k.shadow.resize(kArenaBytes);  // zero: never written
  k.group_start = ++k.stamp;
  k.weak_stamp = 0;
  k.simd_stamp.assign(w.simdgroups.size(), 0);
  const DeviceCheck& c = w.launch->device;
  k.device_key = c.generation << kGenerationShift | (w.linear_group + 1) << 4;
  tls_check = {&w, reinterpret_cast<uintptr_t>(w.arena_base()), c.span_lo, c.span_size};
}

void end_threadgroup_check() { tls_check.worker = nullptr; }

void note_barrier(Worker& w, int flags) {
  WorkerCheck& k = w.check;
  if (!k.enabled) return;
  if (flags & kMemThreadgroup)
    ++k.stamp;
  else
    k.weak_stamp = k.stamp;
  (void)kMemDevice;  // device ordering inside a threadgroup is not tracked
}

void note_simdgroup_barrier(Worker& w, uint32_t simdgroup, int flags) {
  WorkerCheck& k = w.check;
  if (k.enabled && (flags & kMemThreadgroup) && simdgroup < k.simd_stamp.size())
    k.simd_stamp[simdgroup] = ++k.simd_counter;
}

}  // namespace metalsim

extern "C" void metalsim_atomic_access(const void* address, uint32_t size, int is_write) {
  metalsim::on_atomic_access(address, size, is_write != 0,
                             reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
}

#ifndef METALSIM_ASAN
// SanitizerCoverage's load/store callbacks (-fsanitize-coverage=trace-loads,trace-stores).
#define METALSIM_TRACE(bytes, type)                                                             \
  extern "C" void __sanitizer_cov_load##bytes(type* p) {                                        \
    metalsim::on_access<bytes>(p, 0, reinterpret_cast<uintptr_t>(__builtin_return_address(0))); \
  }                                                                                             \
  extern "C" void __sanitizer_cov_store##bytes(type* p) {                                       \
    metalsim::on_access<bytes>(p, 1, reinterpret_cast<uintptr_t>(__builtin_return_address(0))); \
  }
METALSIM_TRACE(1, uint8_t)
METALSIM_TRACE(2, uint16_t)
METALSIM_TRACE(4, uint32_t)
METALSIM_TRACE(8, uint64_t)
METALSIM_TRACE(16, __int128)
#undef METALSIM_TRACE
#endif
