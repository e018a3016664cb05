// One dispatch: validates the geometry, spreads threadgroups over a pool of OS
// threads that lives across launches (fiber stacks are reused), collects the first error.
#include <pthread.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "internal.h"

namespace metalsim {

void Launch::fail(int kind, const std::string& message) {
  std::lock_guard<std::mutex> lock(error_mutex);
  if (failed.exchange(true)) return;
  desc->error_kind = kind;
  std::snprintf(desc->error, sizeof(desc->error), "%s", message.c_str());
}

namespace {

[[maybe_unused]] void record_scheduler_stack(Worker& w) {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* low = nullptr;
    size_t size = 0;
    pthread_attr_getstack(&attr, &low, &size);
    w.scheduler_stack_low = low;
    w.scheduler_stack_size = size;
    pthread_attr_destroy(&attr);
  }
}

// ---- stack overflow: SIGSEGV on the guard page of a fiber ------------------------
struct sigaction previous_segv;
struct sigaction previous_bus;

void on_fault(int signal, siginfo_t* info, void* context) {
  if (recover_from_stack_overflow(info->si_addr)) return;  // never returns when it recovers
  const uintptr_t pc =
      static_cast<uintptr_t>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
  if (recover_from_fault(info->si_addr, pc)) return;  // likewise
  // Not ours: restore the previous handler and let the fault happen again under it.
  sigaction(signal, signal == SIGSEGV ? &previous_segv : &previous_bus, nullptr);
  (void)context;
}

// The overflowing fiber has no stack left, so the handler needs an alternate one.
void ensure_signal_stack() {
  static thread_local bool installed = false;
  if (installed) return;
  stack_t current{};
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) {
    installed = true;  // keep the one already there (Python's faulthandler sets one)
    return;
  }
  stack_t ours{};
  ours.ss_size = 64 * 1024;
  ours.ss_sp = std::malloc(ours.ss_size);  // lives as long as the thread
  sigaltstack(&ours, nullptr);
  installed = true;
}

class FaultHandler {
 public:
  FaultHandler() {
    struct sigaction action{};
    action.sa_sigaction = &on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
    sigaction(SIGBUS, &action, &previous_bus);
  }
  ~FaultHandler() {
    sigaction(SIGSEGV, &previous_segv, nullptr);
    sigaction(SIGBUS, &previous_bus, nullptr);
  }
};

void work(Worker& w, Launch& l) {
  ensure_signal_stack();
#ifdef METALSIM_ASAN
  // AddressSanitizer needs the bounds of the stack it switches back to.
  record_scheduler_stack(w);
#endif
  while (!l.failed.load(std::memory_order_relaxed)) {
    uint32_t i = l.next_group.fetch_add(1);
    if (i >= l.total_groups) break;
    w.run_threadgroup(l, l.group_order[i]);
  }
  flush_worker_check(w, l);
}

// Worker 0 is the calling thread; workers 1.. are pooled OS threads.
class Pool {
 public:
  void run(Launch& l, int wanted) {
    if (owner_ != getpid()) {
      // After fork() the pool's threads do not exist in this process: start over (the
      // parent's Worker objects are leaked on purpose; their fibers may be mid-use).
      for (auto& w : workers_) w.release();
      workers_.clear();
      owner_ = getpid();
    }
    ensure(wanted);
    if (wanted == 1) {  // one threadgroup, or one worker: no need to wake the pool
      work(*workers_[0], l);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &l;
      active_ = wanted - 1;
      pending_ = active_;
      ++generation_;
    }
    start_.notify_all();
    work(*workers_[0], l);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void ensure(int wanted) {
    while (static_cast<int>(workers_.size()) < wanted) {
      workers_.push_back(std::make_unique<Worker>());
      const int index = static_cast<int>(workers_.size()) - 1;
      if (index == 0) continue;
      std::thread([this, index] { loop(index); }).detach();
    }
  }
  void loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      Launch* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        start_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (index > active_) continue;
        job = job_;
      }
      work(*workers_[index], *job);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable start_, done_;
  std::vector<std::unique_ptr<Worker>> workers_;
  Launch* job_ = nullptr;
  pid_t owner_ = getpid();
  int active_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: detached threads outlive static destructors
  return *p;
}

std::mutex& launch_mutex() {
  static std::mutex m;
  return m;
}

int default_workers() {
  if (const char* env = std::getenv("METALGEN_SIM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(std::min(n, 64u)) : 1;
}

}  // namespace

void unblock_fault_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGSEGV);
  sigaddset(&set, SIGBUS);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace metalsim

extern "C" int metalsim_launch(metalsim_launch_desc* d) {
  using namespace metalsim;
  d->error_kind = 0;
  d->error[0] = 0;
  auto reject = [&](const std::string& message) {
    d->error_kind = METALSIM_ERR_LAUNCH;
    std::snprintf(d->error, sizeof(d->error), "kernel '%s': %s", d->kernel_name, message.c_str());
    return d->error_kind;
  };
  uint64_t per_group = 1;
  for (int k = 0; k < 3; ++k) {
    if (d->threadgroup[k] == 0) return reject("threadgroup size has a zero dimension");
    per_group *= d->threadgroup[k];
  }
  if (per_group > METALSIM_MAX_THREADS_PER_THREADGROUP) {
    d->error_kind = METALSIM_ERR_RESOURCE_LIMIT;
    std::snprintf(d->error, sizeof(d->error),
                  "kernel '%s': threadgroup (%u,%u,%u) has %llu threads; Apple GPUs allow at most "
                  "1024 per threadgroup",
                  d->kernel_name, d->threadgroup[0], d->threadgroup[1], d->threadgroup[2],
                  static_cast<unsigned long long>(per_group));
    return d->error_kind;
  }
  uint64_t dynamic = 0;
  for (int i = 0; i < METALSIM_MAX_BINDINGS; ++i)
    dynamic += (d->threadgroup_lengths[i] + 15) & ~15u;
  if (dynamic > METALSIM_THREADGROUP_MEMORY_LIMIT) {
    d->error_kind = METALSIM_ERR_RESOURCE_LIMIT;
    std::snprintf(d->error, sizeof(d->error),
                  "kernel '%s': [[threadgroup(i)]] lengths add up to %llu bytes, over the 32 KiB "
                  "(32768-byte) threadgroup memory limit",
                  d->kernel_name, static_cast<unsigned long long>(dynamic));
    return d->error_kind;
  }
  Launch l;
  l.desc = d;
  l.dynamic_threadgroup_bytes = static_cast<uint32_t>(dynamic);
  std::memcpy(l.buffers, d->buffers, sizeof(l.buffers));
  for (int i = 0; i < METALSIM_MAX_BINDINGS; ++i) {
    d->bytes_read[i] = d->bytes_written[i] = d->distinct_read[i] = d->distinct_written[i] = 0;
  }
  uint64_t total = 1;
  for (int k = 0; k < 3; ++k) {
    l.groups[k] = d->dispatch_threadgroups
                      ? d->grid[k]
                      : (d->grid[k] + d->threadgroup[k] - 1) / d->threadgroup[k];
    total *= l.groups[k];
  }
  if (total == 0) return 0;  // an empty grid runs nothing, as on the GPU
  if (total > 0xFFFFFFFFull) return reject("more than 2^32 threadgroups");
  l.total_groups = static_cast<uint32_t>(total);
  l.group_order.resize(l.total_groups);
  for (uint32_t i = 0; i < l.total_groups; ++i) l.group_order[i] = i;
  if (d->order == 1) {
    std::reverse(l.group_order.begin(), l.group_order.end());
  } else if (d->order == 2) {
    uint64_t s = d->seed * 0x9E3779B97F4A7C15ull + 1;
    for (uint32_t i = l.total_groups; i > 1; --i) {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      std::swap(l.group_order[i - 1], l.group_order[s % i]);
    }
  }
  int workers = d->num_workers > 0 ? d->num_workers : default_workers();
  workers = static_cast<int>(std::min<uint64_t>(workers, l.total_groups));
  std::lock_guard<std::mutex> lock(launch_mutex());
#ifndef METALSIM_ASAN
  FaultHandler fault_handler;  // ASan reports stack overflows itself
#endif
  setup_device_check(l);  // may move the bindings into guarded copies (l.buffers)
  pool().run(l, workers);
  finish_device_check(l);  // copies them back
  return d->error_kind;
}
