// The C interface between compiled kernels (compat headers, generated launcher)
// and the fiber runtime (runtime/*.cpp). Kept C-compatible and small: the Python
// driver mirrors metalsim_launch_desc with ctypes.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define METALSIM_MAX_BINDINGS 31
#define METALSIM_SIMD_WIDTH 32
#define METALSIM_MAX_THREADS_PER_THREADGROUP 1024
#define METALSIM_THREADGROUP_MEMORY_LIMIT 32768

// Error kinds, mirrored by torch_metalgen/sim/errors.py.
enum metalsim_error_kind {
  METALSIM_OK = 0,
  METALSIM_ERR_BARRIER_DIVERGENCE = 1,
  METALSIM_ERR_NON_UNIFORM = 2,
  METALSIM_ERR_INACTIVE_LANE_READ = 3,
  METALSIM_ERR_RESOURCE_LIMIT = 4,
  METALSIM_ERR_LAUNCH = 5,
  METALSIM_ERR_OUT_OF_BOUNDS = 6,
  METALSIM_ERR_DATA_RACE = 7,
  METALSIM_ERR_UNINITIALIZED_READ = 8,
  METALSIM_ERR_SIMD_WIDTH = 9,
};

// Builtin values of one GPU thread, read by the generated launcher.
typedef struct metalsim_thread_builtins {
  uint32_t thread_position_in_grid[3];
  uint32_t thread_position_in_threadgroup[3];
  uint32_t threadgroup_position_in_grid[3];
  uint32_t threads_per_threadgroup[3];
  uint32_t threadgroups_per_grid[3];
  uint32_t threads_per_grid[3];
  uint32_t thread_index_in_threadgroup;
  uint32_t thread_index_in_simdgroup;
  uint32_t simdgroup_index_in_threadgroup;
  uint32_t threads_per_simdgroup;
  uint32_t simdgroups_per_threadgroup;
} metalsim_thread_builtins;

// What a generated kernel entry receives for one GPU thread.
typedef struct metalsim_thread_args {
  void* const* buffers;              // [[buffer(i)]] addresses, METALSIM_MAX_BINDINGS
  void* const* threadgroup_buffers;  // [[threadgroup(i)]] addresses of this threadgroup
  const metalsim_thread_builtins* builtins;
} metalsim_thread_args;

typedef void (*metalsim_entry_fn)(const metalsim_thread_args*);

// One lane's part in a SIMD-group collective (simd_sum, simd_shuffle, ...).
// Lanes that reach the same call site (file, line, column, resolver) execute it
// together; `resolve` computes every participating lane's `out`.
struct metalsim_call;
typedef struct metalsim_diag {
  int kind;             // metalsim_error_kind, 0 when the resolver succeeded
  int poison_inactive;  // 1: reads of inactive lanes give poison instead of an error
  char message[512];    // what went wrong, without kernel/threadgroup (the runtime adds those)
} metalsim_diag;
typedef void (*metalsim_resolve_fn)(struct metalsim_call* const* lanes, uint32_t active_mask,
                                    metalsim_diag* diag);
typedef struct metalsim_call {
  const char* file;
  int line;
  int column;
  metalsim_resolve_fn resolve;
  const void* in;
  void* out;
  int64_t arg;      // lane / delta / mask argument
  const void* ptr;  // memory operand of simdgroup_load / simdgroup_store
  int64_t arg2;     // elements per row
  int64_t arg3;     // packed origin
  int64_t arg4;     // transpose flag
  uint32_t lane;    // filled in by the runtime
} metalsim_call;

// Simulator glue in kernel code (collective call records, the generated launcher's
// argument reads): kept out of line and out of the memory checks' load/store tracing
// (instrument.py), which is meant for the kernel's own accesses.
#if defined(__clang__)
#define METALSIM_GLUE __attribute__((noinline, no_sanitize("coverage")))
#else
#define METALSIM_GLUE __attribute__((noinline))
#endif

// Runtime entry points used by kernel code.
void metalsim_collective(metalsim_call* call);
void metalsim_threadgroup_barrier(int flags, const char* file, int line);
void* metalsim_threadgroup_alloc(size_t size, size_t align, const void* site, const char* file,
                                 int line);
uint32_t metalsim_lane_id(void);
void metalsim_fail(int kind, const char* message, const char* file, int line);
// simdgroup_barrier: a collective that also orders the SIMD-group's memory accesses for
// the race checker (runtime/check.cpp).
void metalsim_simdgroup_barrier(int flags, const char* file, int line, int column);
// Atomic operations are not instrumented loads/stores (include/metalsim/atomic.h): they
// report here, so they count as traffic and are bounds-checked but never race.
void metalsim_atomic_access(const void* address, uint32_t size, int is_write);

// Kernel table exported by every compiled library (generated launcher).
enum metalsim_param_kind {
  METALSIM_PARAM_BUFFER = 1,
  METALSIM_PARAM_THREADGROUP = 2,
  METALSIM_PARAM_BUILTIN = 3,
};
typedef struct metalsim_param_info {
  int kind;
  int index;              // binding index for buffer/threadgroup parameters
  uint64_t pointee_size;  // sizeof the pointed-to/referenced type
  int is_reference;       // `constant Params& p` rather than a pointer
  const char* name;
  const char* type;
} metalsim_param_info;
typedef struct metalsim_kernel_info {
  const char* host_name;
  metalsim_entry_fn entry;
  int num_params;
  const metalsim_param_info* params;
  uint32_t max_total_threads_per_threadgroup;  // 0 when the kernel does not say
} metalsim_kernel_info;

// Host side: run one dispatch. Returns 0 or a metalsim_error_kind, with the message
// in `error`.
typedef struct metalsim_launch_desc {
  const char* kernel_name;
  metalsim_entry_fn entry;
  void* buffers[METALSIM_MAX_BINDINGS];
  uint32_t threadgroup_lengths[METALSIM_MAX_BINDINGS];
  uint32_t grid[3];
  uint32_t threadgroup[3];
  int dispatch_threadgroups;  // 0: grid counts threads; 1: grid counts threadgroups
  int order;                  // 0 forward, 1 reverse, 2 random
  uint64_t seed;
  int num_workers;  // OS threads; 0 = default
  int poison_inactive;
  int error_kind;
  char error[4096];
  // Memory checks (runtime/check.cpp); all zero means off (the ASan driver leaves them so).
  // buffer_sizes[i]: bytes the binding at buffers[i] may be accessed over; 0 = unbound.
  uint64_t buffer_sizes[METALSIM_MAX_BINDINGS];
  int check_memory;  // bounds, races, uninitialized threadgroup reads, traffic
  // Filled in by the launch when check_memory: bytes read / written through each binding,
  // in total and distinct (each byte once); aliased bindings share their numbers.
  // distinct_* are UINT64_MAX when the buffers were too large to shadow.
  uint64_t bytes_read[METALSIM_MAX_BINDINGS];
  uint64_t bytes_written[METALSIM_MAX_BINDINGS];
  uint64_t distinct_read[METALSIM_MAX_BINDINGS];
  uint64_t distinct_written[METALSIM_MAX_BINDINGS];
  uint64_t image_base;  // load address of the kernel library (for symbolizing pcs)
} metalsim_launch_desc;

int metalsim_launch(metalsim_launch_desc* desc);

#ifdef __cplusplus
}
#endif
