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
  const void* site;
  void* address;
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

  void run_threadgroup(Launch& launch, uint32_t linear_group);
};

// Stack-overflow recovery (launch.cpp installs the handler, scheduler.cpp recovers).
bool recover_from_stack_overflow(const void* fault_address);
void unblock_fault_signals();

// Formats a sorted list of thread indices as "[0-35, 40]".
std::string format_ranges(const std::vector<uint32_t>& indices);

}  // namespace metalsim
