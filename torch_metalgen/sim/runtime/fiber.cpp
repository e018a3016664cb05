// Fibers: guard-paged stacks and a hand-written x86-64 context switch.
//
// ucontext's swapcontext makes a sigprocmask system call per switch (~8x slower);
// this switch saves only the callee-saved registers. Kernels never change the
// floating-point environment, so MXCSR and the x87 control word are not switched.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "internal.h"

#ifdef METALSIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__)
#error "the simulator's context switch is written for x86-64"
#endif

extern "C" void metalsim_switch(void** save_sp, void* next_sp);
extern "C" void metalsim_fiber_trampoline();

// System V x86-64. The trampoline receives the fiber function in r13 and its
// argument in r12 (restored from the prepared frame).
asm(R"(
  .text
  .globl metalsim_switch
  .type metalsim_switch, @function
metalsim_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size metalsim_switch, .-metalsim_switch

  .globl metalsim_fiber_trampoline
  .type metalsim_fiber_trampoline, @function
metalsim_fiber_trampoline:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size metalsim_fiber_trampoline, .-metalsim_fiber_trampoline
)");

namespace metalsim {

size_t default_stack_bytes() {
  // Read once: stacks are pooled across launches, so a later change of the variable could
  // not apply to the stacks that already exist.
  static const size_t bytes = [] {
    size_t kib = 0;
    if (const char* env = std::getenv("METALGEN_SIM_STACK_KIB"))
      kib = std::strtoul(env, nullptr, 10);
#ifdef METALSIM_ASAN
    if (kib == 0) kib = 512;  // redzones around every stack array
#else
    if (kib == 0) kib = 128;
#endif
    return kib * 1024;
  }();
  return bytes;
}

FiberStack allocate_stack(size_t usable_bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  usable_bytes = (usable_bytes + page - 1) / page * page;
  FiberStack s;
  s.mapping_size = usable_bytes + page;
  void* m = mmap(nullptr, s.mapping_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    std::perror("metalsim: mmap of a fiber stack failed");
    std::abort();
  }
  s.mapping = static_cast<char*>(m);
  // Guard page below the stack: an overflow faults instead of corrupting a neighbour.
  mprotect(s.mapping, page, PROT_NONE);
  s.low = s.mapping + page;
  s.size = usable_bytes;
  return s;
}

void free_stack(FiberStack& s) {
  if (s.mapping) munmap(s.mapping, s.mapping_size);
  s = FiberStack{};
}

void* prepare_context(const FiberStack& stack, void (*fn)(void*), void* arg) {
#ifdef METALSIM_ASAN
  // A fiber abandoned after an error leaves poisoned frames behind.
  __asan_unpoison_memory_region(stack.low, stack.size);
#endif
  uintptr_t top = reinterpret_cast<uintptr_t>(stack.low + stack.size) & ~uintptr_t(15);
  // Popped by metalsim_switch: r15 r14 r13 r12 rbx rbp, then `ret` to the trampoline
  // with rsp 16-byte aligned, so the call in the trampoline enters fn as the ABI expects.
  uint64_t* frame = reinterpret_cast<uint64_t*>(top - 56);
  frame[0] = 0;                                                       // r15
  frame[1] = 0;                                                       // r14
  frame[2] = reinterpret_cast<uint64_t>(fn);                          // r13
  frame[3] = reinterpret_cast<uint64_t>(arg);                         // r12
  frame[4] = 0;                                                       // rbx
  frame[5] = 0;                                                       // rbp
  frame[6] = reinterpret_cast<uint64_t>(&metalsim_fiber_trampoline);  // return address
  return frame;
}

void switch_context(void** save_sp, void* next_sp, const void* next_low, size_t next_size) {
#ifdef METALSIM_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, next_low, next_size);
  metalsim_switch(save_sp, next_sp);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
  (void)next_low;
  (void)next_size;
  metalsim_switch(save_sp, next_sp);
#endif
}

void fiber_started() {
#ifdef METALSIM_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

}  // namespace metalsim
