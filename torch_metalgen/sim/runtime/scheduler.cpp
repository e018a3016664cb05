// Executes one threadgroup: one fiber per GPU thread, with Metal's barrier and
// SIMD-group semantics.
//
// A fiber runs until it blocks (threadgroup barrier, SIMD-group collective) or
// returns, then switches straight to the next runnable fiber; the scheduler's own
// context is entered only when the run queue is empty (threadgroup done) or on error.
//   - Collective: lanes of one SIMD-group that block at the same call site execute it
//     together once no lane of that SIMD-group can still run. Lanes elsewhere (another
//     branch, a barrier, returned) are inactive for it, as on the GPU.
//   - Barrier: releases when every live thread waits at the same barrier; if some
//     threads returned or wait at another barrier, that is barrier divergence.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "internal.h"

#ifdef METALSIM_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace metalsim {

// initial-exec: no __tls_get_addr call per access (the library is loaded once, early).
thread_local Worker* tls_worker __attribute__((tls_model("initial-exec"))) = nullptr;
thread_local GpuThread* tls_current __attribute__((tls_model("initial-exec"))) = nullptr;

std::string format_ranges(const std::vector<uint32_t>& indices) {
  std::string out = "[";
  size_t i = 0;
  while (i < indices.size()) {
    size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    if (i > 0) out += ", ";
    out += std::to_string(indices[i]);
    if (j > i) out += "-" + std::to_string(indices[j]);
    i = j + 1;
  }
  return out + "]";
}

static std::string basename_of(const char* path) {
  if (!path) return "?";
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

std::string site_text(const char* file, int line) {
  return basename_of(file) + ":" + std::to_string(line);
}

static uint64_t next_random(uint64_t& state) {
  // splitmix64: small, seedable, good enough for scheduling permutations
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string group_text(const Worker& w) {
  return "(" + std::to_string(w.group_position[0]) + "," + std::to_string(w.group_position[1]) +
         "," + std::to_string(w.group_position[2]) + ")";
}

namespace {

void abort_threadgroup(Worker& w, int kind, const std::string& what) {
  if (!w.aborted) {
    w.aborted = true;
    w.launch->fail(kind, "kernel '" + std::string(w.launch->desc->kernel_name) + "': " + what);
  }
}

// Queues threads made runnable together, in the launch's scheduling order.
void enqueue(Worker& w, uint32_t* ids, uint32_t count) {
  const int order = w.launch->desc->order;
  if (order == 1) {
    std::reverse(ids, ids + count);
  } else if (order == 2) {
    for (uint32_t i = count; i > 1; --i) std::swap(ids[i - 1], ids[next_random(w.rng) % i]);
  }
  const uint32_t cap = static_cast<uint32_t>(w.queue.size());
  for (uint32_t k = 0; k < count; ++k) {
    uint32_t slot = w.queue_head + w.queue_count;
    if (slot >= cap) slot -= cap;
    w.queue[slot] = ids[k];
    ++w.queue_count;
  }
}

// Leaves the current fiber for the next runnable one (or the scheduler) and
// returns when this fiber is resumed.
void switch_away(GpuThread* self) {
  Worker& w = *self->worker;
  if (w.aborted || w.queue_count == 0) {
    switch_context(&self->sp, w.scheduler_sp, w.scheduler_stack_low, w.scheduler_stack_size);
  } else {
    GpuThread* next = &w.threads[w.queue[w.queue_head]];
    if (++w.queue_head == w.queue.size()) w.queue_head = 0;
    --w.queue_count;
    if (next == self) return;
    tls_current = next;
    switch_context(&self->sp, next->sp, next->stack.low, next->stack.size);
  }
  tls_current = self;
}

bool same_site(const metalsim_call* a, const metalsim_call* b) {
  return a->line == b->line && a->column == b->column && a->resolve == b->resolve &&
         (a->file == b->file || std::strcmp(a->file, b->file) == 0);
}

// simdgroup_barrier is a collective with nothing to compute; resolve_collective
// recognises it by this resolver to advance the SIMD-group's memory-ordering stamp.
void resolve_simdgroup_barrier(metalsim_call* const*, uint32_t, metalsim_diag*) {}

// Runs the collective that the lowest waiting lane of `sg` is blocked in, for
// every lane waiting at the same call site.
void resolve_collective(Worker& w, SimdGroup& sg) {
  metalsim_call* lanes[METALSIM_SIMD_WIDTH] = {};
  metalsim_call* leader = nullptr;
  uint32_t mask = 0;
  for (uint32_t lane = 0; lane < sg.count; ++lane) {
    GpuThread& t = w.threads[sg.first + lane];
    if (t.state != ThreadState::InCollective) continue;
    if (!leader) leader = t.call;
    if (same_site(leader, t.call)) {
      t.call->lane = lane;
      lanes[lane] = t.call;
      mask |= 1u << lane;
    }
  }
  metalsim_diag diag{};
  diag.poison_inactive = w.launch->desc->poison_inactive;
  // The resolver reads and writes other lanes' stacks (and simdgroup_load/store operands):
  // runtime work, not accesses of the running thread.
  Worker* const checking = tls_check.worker;
  tls_check.worker = nullptr;
  leader->resolve(lanes, mask, &diag);
  tls_check.worker = checking;
  if (diag.kind != METALSIM_OK) {
    std::vector<uint32_t> ids;
    for (uint32_t lane = 0; lane < sg.count; ++lane)
      if (mask >> lane & 1u) ids.push_back(sg.first + lane);
    const char* what = diag.kind == METALSIM_ERR_NON_UNIFORM          ? "non-uniform argument"
                       : diag.kind == METALSIM_ERR_INACTIVE_LANE_READ ? "read of an inactive lane"
                       : diag.kind == METALSIM_ERR_SIMD_WIDTH ? "SIMD-group width assumption"
                                                              : "SIMD-group error";
    abort_threadgroup(w, diag.kind,
                      std::string(what) + " at " + site_text(leader->file, leader->line) +
                          " in threadgroup " + group_text(w) + ", SIMD-group " +
                          std::to_string(sg.first / METALSIM_SIMD_WIDTH) + " (threads " +
                          format_ranges(ids) + " active): " + diag.message);
    return;
  }
  if (leader->resolve == &resolve_simdgroup_barrier)
    note_simdgroup_barrier(w, static_cast<uint32_t>(&sg - w.simdgroups.data()),
                           static_cast<int>(leader->arg));
  uint32_t woken[METALSIM_SIMD_WIDTH];
  uint32_t count = 0;
  for (uint32_t lane = 0; lane < sg.count; ++lane) {
    if (!(mask >> lane & 1u)) continue;
    GpuThread& t = w.threads[sg.first + lane];
    t.state = ThreadState::Runnable;
    t.call = nullptr;
    woken[count++] = t.linear;
  }
  sg.waiting -= static_cast<int>(count);
  sg.running += static_cast<int>(count);
  enqueue(w, woken, count);
}

// Called whenever a thread stops running; resolves what became resolvable.
void after_block(Worker& w, SimdGroup& sg) {
  if (sg.running == 0 && sg.waiting > 0) resolve_collective(w, sg);
  if (w.aborted || w.at_barrier == 0 || w.at_barrier != w.live) return;

  // Every live thread waits at a barrier: release, or report divergence.
  const GpuThread* first = nullptr;
  bool same = true;
  int flags = 0;
  for (uint32_t i = 0; i < w.thread_count; ++i) {
    const GpuThread& t = w.threads[i];
    if (t.state != ThreadState::AtBarrier) continue;
    flags |= t.wait_flags;
    if (!first)
      first = &t;
    else if (t.wait_line != first->wait_line ||
             (t.wait_file != first->wait_file && std::strcmp(t.wait_file, first->wait_file) != 0))
      same = false;
  }
  if (same && w.finished == 0) {
    // Not a stack array: this runs on a fiber's small stack, on every barrier.
    uint32_t* woken = w.scratch.data();
    for (uint32_t i = 0; i < w.thread_count; ++i) {
      w.threads[i].state = ThreadState::Runnable;
      woken[i] = i;
    }
    for (SimdGroup& g : w.simdgroups) g.running = static_cast<int>(g.count);
    w.at_barrier = 0;
    note_barrier(w, flags);
    enqueue(w, woken, w.thread_count);
    return;
  }
  // Group threads by where they are, in order of first appearance.
  std::vector<std::pair<std::string, std::vector<uint32_t>>> groups;
  for (uint32_t i = 0; i < w.thread_count; ++i) {
    const GpuThread& t = w.threads[i];
    std::string where = t.state == ThreadState::Finished
                            ? "already returned"
                            : "wait at barrier " + site_text(t.wait_file, t.wait_line);
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == where; });
    if (it == groups.end())
      groups.push_back({where, {i}});
    else
      it->second.push_back(i);
  }
  std::string message = "barrier divergence in threadgroup " + group_text(w) + ":";
  for (size_t g = 0; g < groups.size(); ++g) {
    message +=
        (g ? "; threads " : " threads ") + format_ranges(groups[g].second) + " " + groups[g].first;
  }
  message += w.finished > 0
                 ? ". Every thread of a threadgroup must reach each threadgroup_barrier: move "
                   "the early return after the barrier (guard the loads and stores instead)."
                 : ". Every thread of a threadgroup must reach the same threadgroup_barrier: "
                   "make the branch around it uniform across the threadgroup.";
  abort_threadgroup(w, METALSIM_ERR_BARRIER_DIVERGENCE, message);
}

void fiber_main(void* arg) {
  fiber_started();
  GpuThread* self = static_cast<GpuThread*>(arg);
  tls_current = self;
  Worker& w = *self->worker;
  w.launch->desc->entry(&self->args);
  self->state = ThreadState::Finished;
  --w.live;
  ++w.finished;
  SimdGroup& sg = w.simdgroups[self->simdgroup];
  --sg.running;
  after_block(w, sg);
  switch_away(self);
  std::fprintf(stderr, "metalsim: a finished GPU thread was resumed\n");
  std::abort();
}

}  // namespace

void Worker::run_threadgroup(Launch& l, uint32_t linear_group) {
  launch = &l;
  this->linear_group = linear_group;
  tls_worker = this;
  const metalsim_launch_desc& d = *l.desc;
  group_position[0] = linear_group % l.groups[0];
  group_position[1] = linear_group / l.groups[0] % l.groups[1];
  group_position[2] = linear_group / (l.groups[0] * l.groups[1]);
  // Threads present in this threadgroup: dispatchThreads allows partial edge groups.
  uint32_t size[3];
  uint32_t grid_threads[3];
  for (int k = 0; k < 3; ++k) {
    grid_threads[k] = d.dispatch_threadgroups ? l.groups[k] * d.threadgroup[k] : d.grid[k];
    size[k] = std::min(d.threadgroup[k], grid_threads[k] - group_position[k] * d.threadgroup[k]);
  }
  thread_count = size[0] * size[1] * size[2];
  if (threads.size() < thread_count) {
    const size_t old = threads.size();
    threads.resize(thread_count);
    for (size_t i = old; i < thread_count; ++i)
      threads[i].stack = allocate_stack(default_stack_bytes());
  }
  if (queue.size() < thread_count) queue.resize(thread_count);
  if (scratch.size() < thread_count) scratch.resize(thread_count);
  queue_head = queue_count = 0;
  const uint32_t simd_count = (thread_count + METALSIM_SIMD_WIDTH - 1) / METALSIM_SIMD_WIDTH;
  simdgroups.assign(simd_count, SimdGroup{});
  for (uint32_t s = 0; s < simd_count; ++s) {
    simdgroups[s].first = s * METALSIM_SIMD_WIDTH;
    simdgroups[s].count = std::min<uint32_t>(METALSIM_SIMD_WIDTH, thread_count - s * 32);
    simdgroups[s].running = static_cast<int>(simdgroups[s].count);
  }
  live = static_cast<int>(thread_count);
  finished = 0;
  at_barrier = 0;
  aborted = false;
  rng = d.seed ^ (0x632BE59BD9B4E019ull * (linear_group + 1));

  // Threadgroup memory: poisoned with 0xFF bytes (NaN for float, half and bfloat).
  if (arena.size() < 2 * METALSIM_THREADGROUP_MEMORY_LIMIT)
    arena.resize(2 * METALSIM_THREADGROUP_MEMORY_LIMIT + 64);
  unsigned char* base = arena_base();
#ifdef METALSIM_ASAN
  __asan_unpoison_memory_region(arena.data(), arena.size());
#endif
  std::memset(base, 0xFF, 2 * METALSIM_THREADGROUP_MEMORY_LIMIT);
#ifdef METALSIM_ASAN
  __asan_poison_memory_region(arena.data(), arena.size());
#endif
  arena_used = 0;
  threadgroup_bytes = 0;
  allocations.clear();
  check.enabled = d.check_memory != 0;
  for (int i = 0; i < METALSIM_MAX_BINDINGS; ++i) {
    threadgroup_buffers[i] = nullptr;
    if (d.threadgroup_lengths[i] == 0) continue;
    threadgroup_buffers[i] = base + arena_used;
    allocations.push_back({nullptr, base + arena_used, d.threadgroup_lengths[i], nullptr, 0, i});
#ifdef METALSIM_ASAN
    __asan_unpoison_memory_region(base + arena_used, d.threadgroup_lengths[i]);
    arena_used += 32;  // redzone after each buffer
#endif
    if (check.enabled) arena_used += 32;  // a gap, so overflows are out of bounds
    arena_used += (d.threadgroup_lengths[i] + 15) & ~15u;
    threadgroup_bytes += (d.threadgroup_lengths[i] + 15) & ~15u;
  }
  if (check.enabled) start_threadgroup_check(*this);

  for (uint32_t i = 0; i < thread_count; ++i) {
    GpuThread& t = threads[i];
    t.worker = this;
    t.linear = i;
    t.lane = i % METALSIM_SIMD_WIDTH;
    t.simdgroup = i / METALSIM_SIMD_WIDTH;
    t.state = ThreadState::Runnable;
    t.call = nullptr;
    metalsim_thread_builtins& b = t.builtins;
    const uint32_t local[3] = {i % size[0], i / size[0] % size[1], i / (size[0] * size[1])};
    for (int k = 0; k < 3; ++k) {
      b.thread_position_in_threadgroup[k] = local[k];
      b.threadgroup_position_in_grid[k] = group_position[k];
      b.thread_position_in_grid[k] = group_position[k] * d.threadgroup[k] + local[k];
      b.threads_per_threadgroup[k] = size[k];
      b.threadgroups_per_grid[k] = l.groups[k];
      b.threads_per_grid[k] = grid_threads[k];
    }
    b.thread_index_in_threadgroup = i;
    b.thread_index_in_simdgroup = t.lane;
    b.simdgroup_index_in_threadgroup = t.simdgroup;
    b.threads_per_simdgroup = METALSIM_SIMD_WIDTH;
    b.simdgroups_per_threadgroup = simd_count;
    t.args.buffers = l.buffers;
    t.args.threadgroup_buffers = threadgroup_buffers;
    t.args.builtins = &t.builtins;
    t.sp = prepare_context(t.stack, &fiber_main, &t);
  }
  for (uint32_t i = 0; i < thread_count; ++i) scratch[i] = i;
  enqueue(*this, scratch.data(), thread_count);

  GpuThread* first = &threads[queue[queue_head]];
  queue_head = (queue_head + 1) % queue.size();
  --queue_count;
  tls_current = first;
  switch_context(&scheduler_sp, first->sp, first->stack.low, first->stack.size);
  tls_current = nullptr;
  end_threadgroup_check();
  if (aborted) unblock_fault_signals();  // we may have left a SIGSEGV handler by switching
  if (!aborted && live > 0) {
    std::vector<uint32_t> stuck;
    for (uint32_t i = 0; i < thread_count; ++i)
      if (threads[i].state != ThreadState::Finished) stuck.push_back(i);
    abort_threadgroup(*this, METALSIM_ERR_LAUNCH,
                      "internal scheduler error in threadgroup " + group_text(*this) +
                          ": threads " + format_ranges(stuck) + " can never run again");
  }
}

}  // namespace metalsim

using metalsim::GpuThread;
using metalsim::SimdGroup;
using metalsim::ThreadState;
using metalsim::Worker;

extern "C" void metalsim_collective(metalsim_call* call) {
  GpuThread* self = metalsim::tls_current;
  Worker& w = *self->worker;
  SimdGroup& sg = w.simdgroups[self->simdgroup];
  self->state = ThreadState::InCollective;
  self->call = call;
  ++sg.waiting;
  --sg.running;
  if (sg.running == 0) metalsim::resolve_collective(w, sg);
  metalsim::switch_away(self);
}

extern "C" void metalsim_threadgroup_barrier(int flags, const char* file, int line) {
  // Execution is ordered by every barrier; memory only by the flags (check.cpp).
  GpuThread* self = metalsim::tls_current;
  Worker& w = *self->worker;
  self->state = ThreadState::AtBarrier;
  self->wait_file = file;
  self->wait_line = line;
  self->wait_flags = flags;
  ++w.at_barrier;
  SimdGroup& sg = w.simdgroups[self->simdgroup];
  --sg.running;
  metalsim::after_block(w, sg);
  metalsim::switch_away(self);
}

extern "C" void* metalsim_threadgroup_alloc(size_t size, size_t align, const void* site,
                                            const char* file, int line) {
  Worker& w = *metalsim::tls_current->worker;
  for (const auto& a : w.allocations)
    if (a.site == site) return a.address;
  if (align < 16) align = 16;
  // The checker leaves a gap before each allocation (an overflow lands in no variable);
  // the 32 KiB limit counts the declarations alone, as on the GPU.
  size_t offset = (w.arena_used + (w.check.enabled ? 32 : 0) + align - 1) / align * align;
  unsigned char* base = w.arena_base();
  const size_t logical = (w.threadgroup_bytes + align - 1) / align * align;
  if (logical + size > METALSIM_THREADGROUP_MEMORY_LIMIT ||
      offset + size > 2 * METALSIM_THREADGROUP_MEMORY_LIMIT) {
    metalsim_fail(METALSIM_ERR_RESOURCE_LIMIT,
                  ("threadgroup memory over the 32 KiB (32768-byte) limit: the declaration at " +
                   metalsim::site_text(file, line) + " needs " + std::to_string(size) +
                   " bytes at offset " + std::to_string(logical) +
                   " (threadgroup declarations and [[threadgroup(i)]] lengths together)")
                      .c_str(),
                  file, line);
  }
  void* address = base + offset;
#ifdef METALSIM_ASAN
  __asan_unpoison_memory_region(address, size);
  offset += 32;  // redzone between declarations
#endif
  w.arena_used = offset + size;
  w.threadgroup_bytes = logical + size;
  w.allocations.push_back({site, address, size, file, line, -1});
  return address;
}

extern "C" uint32_t metalsim_lane_id(void) { return metalsim::tls_current->lane; }

extern "C" void metalsim_simdgroup_barrier(int flags, const char* file, int line, int column) {
  metalsim_call call{};
  call.file = file;
  call.line = line;
  call.column = column;
  call.resolve = &metalsim::resolve_simdgroup_barrier;
  call.arg = flags;
  metalsim_collective(&call);
}

namespace metalsim {

// Called from the SIGSEGV handler (on the alternate signal stack) when a fault hits the
// guard page of the running fiber: abandons the threadgroup and resumes the scheduler,
// so a stack overflow becomes an error of the launch instead of killing the process.
bool recover_from_stack_overflow(const void* fault_address) {
  GpuThread* self = tls_current;
  if (!self || !self->worker || self->worker->aborted) return false;
  const char* address = static_cast<const char*>(fault_address);
  if (address < self->stack.mapping || address >= self->stack.low) return false;
  Worker& w = *self->worker;
  abort_threadgroup(w, METALSIM_ERR_RESOURCE_LIMIT,
                    "GPU thread " + std::to_string(self->linear) + " of threadgroup " +
                        group_text(w) + " overflowed its " +
                        std::to_string(self->stack.size / 1024) +
                        " KiB fiber stack (large thread-local arrays or deep recursion); "
                        "Metal would spill or fail to compile. Raise METALGEN_SIM_STACK_KIB "
                        "if the kernel is right.");
  void* discarded = nullptr;
  switch_context(&discarded, w.scheduler_sp, w.scheduler_stack_low, w.scheduler_stack_size);
  return true;  // not reached
}

bool recover_from_fault(const void* fault_address, uintptr_t pc) {
  GpuThread* self = tls_current;
  if (!self || !self->worker || self->worker->aborted || !self->worker->launch) return false;
  Worker& w = *self->worker;
  const DeviceCheck& c = w.launch->device;
  char address[32];
  std::snprintf(address, sizeof address, "%p", fault_address);
  std::string where = "an instruction outside the kernel library";
  if (c.image_lo && pc >= c.image_lo && pc < c.image_hi)
    where = "{pc:" + std::to_string(pc - c.image_lo) + "}";
  abort_threadgroup(w, METALSIM_ERR_OUT_OF_BOUNDS,
                    std::string("invalid memory access (SIGSEGV at address ") + address + ") at " +
                        where + " by thread " + std::to_string(self->linear) + " of threadgroup " +
                        group_text(w) +
                        ": the address is in no bound buffer, threadgroup variable or the "
                        "thread's stack (an index far out of range, e.g. an overflowing "
                        "32-bit offset); check the index arithmetic");
  void* discarded = nullptr;
  switch_context(&discarded, w.scheduler_sp, w.scheduler_stack_low, w.scheduler_stack_size);
  return true;  // not reached
}

}  // namespace metalsim

namespace metalsim {

void abandon_thread(int kind, const std::string& message) {
  GpuThread* self = tls_current;
  Worker& w = *self->worker;
  tls_check.worker = nullptr;  // the scheduler's own accesses from here on are not the kernel's
  abort_threadgroup(w, kind, message);
  switch_away(self);
  std::abort();  // an aborted threadgroup never resumes its fibers
}

}  // namespace metalsim

extern "C" void metalsim_fail(int kind, const char* message, const char* file, int line) {
  GpuThread* self = metalsim::tls_current;
  Worker& w = *self->worker;
  metalsim::abort_threadgroup(w, kind,
                              std::string(message) + " (thread " + std::to_string(self->linear) +
                                  " of threadgroup " + metalsim::group_text(w) + ", " +
                                  metalsim::site_text(file, line) + ")");
  metalsim::switch_away(self);
  std::abort();  // an aborted threadgroup never resumes its fibers
}
