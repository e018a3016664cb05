// Internal structures of the fiber runtime (not seen by kernel code).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "metalsim/rt.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define METALSIM_ASAN 1
#endif
#endif

namespace metalsim {

// ---- fibers (fiber.cpp) -------------------------------------------------------
struct FiberStack {
  char* mapping = nullptr;  // start of the mmap, guard page included
  size_t mapping_size = 0;
  char* low = nullptr;  // lowest usable byte (just above the guard page)
  size_t size = 0;      // usable bytes
};
FiberStack allocate_stack(size_t usable_bytes);
void free_stack(FiberStack& stack);
size_t default_stack_bytes();
// Lays out a fresh context on `stack` so the first switch to it calls fn(arg).
void* prepare_context(const FiberStack& stack, void (*fn)(void*), void* arg);
// Saves the current context into *save_sp and resumes the one at next_sp.
// `next_low`/`next_size` describe the target stack for AddressSanitizer.
void switch_context(void** save_sp, void* next_sp, const void* next_low, size_t next_size);
// Called first thing on a fresh fiber (AddressSanitizer bookkeeping).
void fiber_started();

// ---- memory checks (check.cpp) -------------------------------------------------
// Device memory: every distinct bound range (bindings that overlap are merged, so
// aliasing is kept) is copied into one mapping where it ends next to a guard page;
// accesses outside the ranges are out of bounds. A shadow records, per 4-byte word of
// that mapping, which threadgroup wrote which of its bytes (and where) and which read
// them during the launch; a word whose bytes have different writers or readers
// (threadgroups sharing a word, e.g. half elements at a row boundary) switches to one
// entry per byte. Both mappings are kept across launches (when not too large), and an
// entry holds a launch generation, so a new launch needs no clearing: an entry of
// another generation reads as "not accessed".
struct Region {
  uintptr_t lo = 0, hi = 0;           // what the kernel sees (the copy, or in place)
  unsigned char* original = nullptr;  // the caller's memory (copied back after the launch)
  uint32_t bindings = 0;              // bitmask of binding indices in this region
  size_t gap_after = 0;               // inaccessible bytes after the copy's last page
  std::atomic<uint64_t> bytes_read{0}, bytes_written{0};
  std::atomic<uint64_t> distinct_read{0}, distinct_written{0};
};
// A shadow entry: generation (7 bits) << 25 | id (21 bits) << 4 | byte mask (4 bits).
// id: linear threadgroup + 1, or one of the markers below; the mask says which bytes of
// the word the entry covers (all four in a per-byte entry). Launches of kFirstMarker - 1
// threadgroups or more are not shadowed.
constexpr int kGenerationShift = 25;
constexpr uint32_t kMaxGeneration = 127;
constexpr uint32_t kIdBits = 0x01FFFFF0u;
constexpr uint32_t kManyId = 0x1FFFFF;   // reader: several threadgroups read these bytes
constexpr uint32_t kSplitId = 0x1FFFFE;  // writer: the word has per-byte entries
constexpr uint32_t kLockId = 0x1FFFFD;   // writer and reader: the word is being split
constexpr uint32_t kFirstMarker = kLockId;

struct DeviceCheck {
  bool enabled = false;
  bool copied = false;                   // the regions are guarded copies (else in place)
  uintptr_t span_lo = 0, span_size = 0;  // [lowest region lo, highest region hi)
  unsigned char* mapping = nullptr;      // the copies' mapping (a gap first)
  size_t mapping_size = 0;
  size_t leading_gap = 0;      // inaccessible bytes before the first copy
  bool mapping_owned = false;  // a one-launch mapping (too large to keep)
  // Shadow (nullptr: not shadowed): per word of the span, the writer and reader entries
  // and the offset of the last writing instruction; the same per byte, used for words
  // that were split.
  uint32_t* word_writer = nullptr;
  uint32_t* word_reader = nullptr;
  uint32_t* word_pc = nullptr;
  uint32_t* byte_writer = nullptr;
  uint32_t* byte_reader = nullptr;
  uint32_t* byte_pc = nullptr;
  void* shadow_owned = nullptr;  // a one-launch shadow mapping (too large to keep)
  size_t shadow_owned_size = 0;
  uint32_t generation = 0;  // of every entry written by this launch, 1..kMaxGeneration
  Region regions[METALSIM_MAX_BINDINGS];
  int region_count = 0;
  uintptr_t image_lo = 0, image_hi = 0;  // the kernel library (program-scope constants)
};

// Threadgroup memory: a shadow entry per byte of the worker's arena.
struct ThreadgroupShadow {
  uint32_t write_stamp;  // epoch of the last write (< threadgroup start: never written)
  uint32_t read_stamp;   // epoch of the last read
  uint32_t write_simd;   // the writer's SIMD-group barrier stamp at the write
  uint32_t read_simd;
  uint32_t write_pc, read_pc;
  uint16_t writer, reader;  // thread index in the threadgroup; reader kManyThreads: several
};
constexpr uint16_t kManyThreads = 0xFFFF;

struct WorkerCheck {
  bool enabled = false;
  uint32_t stamp = 0;        // threadgroup-memory epoch: +1 per ordering barrier
  uint32_t group_start = 0;  // stamp when the current threadgroup started
  uint32_t weak_stamp = 0;   // epoch in which a barrier without mem_threadgroup released
  uint32_t simd_counter = 0;
  std::vector<uint32_t> simd_stamp;       // per SIMD-group: simd_counter at its last barrier
  std::vector<ThreadgroupShadow> shadow;  // per byte of the arena
  uint64_t bytes_read[METALSIM_MAX_BINDINGS] = {};     // per region
  uint64_t bytes_written[METALSIM_MAX_BINDINGS] = {};  // per region
  uint64_t distinct_read[METALSIM_MAX_BINDINGS] = {};
  uint64_t distinct_written[METALSIM_MAX_BINDINGS] = {};
  int last_region = 0;
  uint32_t device_key = 0;  // generation and id of this threadgroup's shadow entries
};

// ---- one launch (launch.cpp) ---------------------------------------------------
struct Launch {
  metalsim_launch_desc* desc;
  uint32_t groups[3];  // threadgroups per grid
  uint32_t total_groups;
  uint32_t dynamic_threadgroup_bytes;
  void* buffers[METALSIM_MAX_BINDINGS];
  std::atomic<uint32_t> next_group{0};
  std::vector<uint32_t> group_order;  // linear threadgroup ids in execution order
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  DeviceCheck device;
  // Records the first error of the launch; later ones are dropped.
  void fail(int kind, const std::string& message);
};

// ---- threadgroup execution (scheduler.cpp) -------------------------------------
enum class ThreadState : uint8_t { Runnable, AtBarrier, InCollective, Finished };

struct Worker;

struct GpuThread {
  void* sp = nullptr;
  FiberStack stack;
  Worker* worker = nullptr;
  metalsim_thread_builtins builtins{};
  metalsim_thread_args args{};
  ThreadState state = ThreadState::Runnable;
  metalsim_call* call = nullptr;    // while InCollective
  const char* wait_file = nullptr;  // while AtBarrier
  int wait_line = 0;
  int wait_flags = 0;
  uint32_t linear = 0;
  uint32_t lane = 0;
  uint32_t simdgroup = 0;
};

struct SimdGroup {
  uint32_t first = 0;  // linear index of lane 0
  uint32_t count = 0;  // lanes present (the last SIMD-group may be partial)
  int running = 0;     // lanes neither blocked nor finished
  int waiting = 0;     // lanes blocked in a collective
};

struct TgAllocation {
  const void* site;  // nullptr for a [[threadgroup(i)]] buffer
  void* address;
  size_t size;
  const char* file;  // declaration (threadgroup variables)
  int line;
  int index;  // [[threadgroup(index)]], -1 for a declaration
};

struct Worker {
  std::vector<GpuThread> threads;  // grows to the largest threadgroup, stacks reused
  std::vector<SimdGroup> simdgroups;
  std::vector<uint32_t> queue;    // ring buffer of runnable threads
  std::vector<uint32_t> scratch;  // thread ids being woken together
  uint32_t queue_head = 0, queue_count = 0;
  void* scheduler_sp = nullptr;
  const void* scheduler_stack_low = nullptr;
  size_t scheduler_stack_size = 0;
  Launch* launch = nullptr;
  uint32_t group_position[3] = {0, 0, 0};
  uint32_t thread_count = 0;
  int live = 0;  // threads not finished
  int finished = 0;
  int at_barrier = 0;
  bool aborted = false;
  uint64_t rng = 0;
  // Threadgroup memory: one arena per worker, reset and poisoned per threadgroup.
  std::vector<unsigned char> arena;
  size_t arena_used = 0;
  std::vector<TgAllocation> allocations;
  void* threadgroup_buffers[METALSIM_MAX_BINDINGS] = {};
  size_t threadgroup_bytes = 0;  // declared + dynamic, without the checker's gaps
  uint32_t linear_group = 0;
  WorkerCheck check;

  unsigned char* arena_base() {
    return reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(arena.data()) + 63) &
                                            ~uintptr_t(63));
  }
  void run_threadgroup(Launch& launch, uint32_t linear_group);
};

// The fibers' thread-local state (scheduler.cpp).
extern thread_local Worker* tls_worker __attribute__((tls_model("initial-exec")));
extern thread_local GpuThread* tls_current __attribute__((tls_model("initial-exec")));
// What the memory checks' load/store hook needs first, in one place (check.cpp): the
// worker whose threadgroup is being checked (nullptr: not checking, or runtime code such
// as a collective's resolver is running on the fiber), its arena, the bound span.
struct FastCheck {
  Worker* worker = nullptr;
  uintptr_t arena_lo = 0;
  uintptr_t span_lo = 0, span_size = 0;
};
extern thread_local FastCheck tls_check __attribute__((tls_model("initial-exec")));
void end_threadgroup_check();
// Ends the running GPU thread's threadgroup with an error (from kernel code: checks).
[[noreturn]] void abandon_thread(int kind, const std::string& message);
std::string group_text(const Worker& w);
std::string site_text(const char* file, int line);

// Memory checks (check.cpp).
void setup_device_check(Launch& l);
void finish_device_check(Launch& l);
void flush_worker_check(Worker& w, Launch& l);  // a worker's counts, at the end of its work
void start_threadgroup_check(Worker& w);
void note_barrier(Worker& w, int flags);
void note_simdgroup_barrier(Worker& w, uint32_t simdgroup, int flags);
// A fault inside a fiber that is not a stack overflow: an access the checks did not
// see (wild pointer); ends the threadgroup with an OutOfBoundsError.
bool recover_from_fault(const void* fault_address, uintptr_t pc);

// Stack-overflow recovery (launch.cpp installs the handler, scheduler.cpp recovers).
bool recover_from_stack_overflow(const void* fault_address);
void unblock_fault_signals();

// Formats a sorted list of thread indices as "[0-35, 40]".
std::string format_ranges(const std::vector<uint32_t>& indices);

}  // namespace metalsim
