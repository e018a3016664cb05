// The one hand-written piece of Metal API code: library loading, the pipeline cache and
// encoding a LaunchPlan on PyTorch's MPS stream. Written against reference/metal-glue.md and
// the Mac review (docs/mac.md lists what is checked where):
//   - encode on the stream's own compute encoder (stream->commandEncoder()) inside a
//     dispatch_sync on the stream's serial queue; never open a second encoder on PyTorch's
//     command buffer and never call endEncoding (PyTorch coalesces kernels into its open
//     encoder and ends it itself);
//   - only public torch API (ATen/mps/MPSStream.h, MPSDevice.h): no ATen/native headers and
//     no at::mps::dispatch_sync_with_rethrow, which is not TORCH_API (sync_with_rethrow below);
//   - a tensor's storage data pointer on MPS is its id<MTLBuffer>; bind it at the tensor's
//     byte offset (plans only carry contiguous tensors);
//   - pipelines are created once per kernel name and cached under a lock, their SIMD width
//     checked once (the kernels assume 32);
//   - the metallib is embedded in the extension and loaded with newLibraryWithData; when it
//     cannot load (or the build had no Metal toolchain) the embedded sources are compiled at
//     first use, with one warning, and without fast math, like the shipped metallib and the
//     simulator.
// Built with -fno-objc-arc (as PyTorch is): objects created with new*/alloc are owned here;
// libraries and pipelines live for the process (caches), everything else is released.
#include "mps/dispatch.h"

#include <ATen/mps/MPSDevice.h>
#include <ATen/mps/MPSStream.h>
#include <c10/util/Exception.h>

#import <Foundation/Foundation.h>
#import <Metal/Metal.h>

#include <cstddef>
#include <exception>
#include <mutex>
#include <string>
#include <unordered_map>

namespace metalgen {

// Written by setup.py into build/metal/embedded_metal.cpp.
struct EmbeddedSource {
  const char* library;
  const char* source;
};
extern const unsigned char kMetallib[];
extern const size_t kMetallibSize;
extern const EmbeddedSource kMetalSources[];
extern const size_t kMetalSourceCount;

bool mps_kernels_available() { return true; }

size_t metallib_size() { return kMetallibSize; }

namespace mps {
namespace {

// setBytes is for single-use data of up to 4 KB (Apple, setBytes:length:atIndex:).
constexpr size_t kMaxSetBytesLength = 4096;

// The oldest macOS the kernels support: MSL 3.1 (bfloat) needs macOS 14, as does torch 2.14.
[[noreturn]] void fail_unsupported_macos() {
  TORCH_CHECK(false, "torch_metalgen: its Metal kernels need macOS 14.0 or newer (Metal "
                     "Shading Language 3.1); update macOS, or run the op on a CPU tensor");
}

std::string describe(NSError* error) {
  return error != nil ? std::string(error.localizedDescription.UTF8String) : "unknown error";
}

// Runs `block` synchronously on `queue` and rethrows here whatever it threw: a C++ exception
// must not unwind through libdispatch. PyTorch's own helper does the same but is not API.
void sync_with_rethrow(dispatch_queue_t queue, void (^block)()) {
  __block std::exception_ptr failure;
  dispatch_sync(queue, ^() {
    try {
      block();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  if (failure) std::rethrow_exception(failure);
}

id<MTLDevice> device() { return at::mps::MPSDevice::getInstance()->device(); }

// nil (and one warning) when the OS refuses the metallib, e.g. one built for a newer macOS.
id<MTLLibrary> load_embedded_metallib() {
  @autoreleasepool {
    dispatch_data_t data =
        dispatch_data_create(kMetallib, kMetallibSize, nullptr, DISPATCH_DATA_DESTRUCTOR_DEFAULT);
    NSError* error = nil;
    id<MTLLibrary> library = [device() newLibraryWithData:data error:&error];
    dispatch_release(data);
    if (library == nil) {
      TORCH_WARN_ONCE("torch_metalgen: the embedded metallib did not load (", describe(error),
                      "); compiling the embedded kernel sources instead. Reinstall "
                      "torch-metalgen for this macOS to avoid the compile time.");
    }
    return library;
  }
}

API_AVAILABLE(macos(14.0))
id<MTLLibrary> compile_embedded_source(const std::string& name) {
  const char* source = nullptr;
  for (size_t i = 0; i < kMetalSourceCount; ++i) {
    if (name == kMetalSources[i].library) source = kMetalSources[i].source;
  }
  TORCH_CHECK(source != nullptr, "torch_metalgen: no Metal source named ", name, " in this build");
  std::string failure;
  id<MTLLibrary> library = nil;
  @autoreleasepool {
    MTLCompileOptions* options = [[MTLCompileOptions alloc] init];
    options.languageVersion = MTLLanguageVersion3_1;
    // No fast math: the shipped metallib (-fno-fast-math) and the simulator agree on it.
    if (@available(macOS 15.0, *)) {
      options.mathMode = MTLMathModeSafe;
    } else {
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
      options.fastMathEnabled = NO;  // deprecated in macOS 15 in favour of mathMode
#pragma clang diagnostic pop
    }
    NSError* error = nil;
    library = [device() newLibraryWithSource:[NSString stringWithUTF8String:source]
                                     options:options
                                       error:&error];
    [options release];
    if (library == nil) failure = describe(error);
  }
  TORCH_CHECK(library != nil, "torch_metalgen: compiling Metal library ", name,
              " failed: ", failure);
  return library;
}

// Caller holds cache_mutex.
API_AVAILABLE(macos(14.0))
id<MTLLibrary> library_for(const std::string& name) {
  if (kMetallibSize > 0) {
    static id<MTLLibrary> metallib = load_embedded_metallib();
    if (metallib != nil) return metallib;
  } else {
    TORCH_WARN_ONCE("torch_metalgen was built without the Metal toolchain (no precompiled "
                    "metallib); compiling its kernels from source at first use. Install it "
                    "with `xcodebuild -downloadComponent MetalToolchain` and rebuild.");
  }
  static std::unordered_map<std::string, id<MTLLibrary>> compiled;
  auto found = compiled.find(name);
  if (found != compiled.end()) return found->second;
  id<MTLLibrary> library = compile_embedded_source(name);
  compiled.emplace(name, library);
  return library;
}

std::mutex cache_mutex;

API_AVAILABLE(macos(14.0))
id<MTLComputePipelineState> pipeline_for(const LaunchPlan& plan) {
  static std::unordered_map<std::string, id<MTLComputePipelineState>> pipelines;
  std::lock_guard<std::mutex> lock(cache_mutex);
  auto found = pipelines.find(plan.kernel);
  if (found != pipelines.end()) return found->second;

  id<MTLLibrary> library = library_for(plan.library);
  std::string failure;
  id<MTLComputePipelineState> pipeline = nil;
  @autoreleasepool {
    id<MTLFunction> function =
        [library newFunctionWithName:[NSString stringWithUTF8String:plan.kernel.c_str()]];
    if (function == nil) {
      failure = "it is missing from the Metal library; the build and the plan disagree";
    } else {
      NSError* error = nil;
      pipeline = [device() newComputePipelineStateWithFunction:function error:&error];
      [function release];
      if (pipeline == nil) failure = describe(error);
    }
  }
  TORCH_CHECK(pipeline != nil, "torch_metalgen: pipeline for kernel ", plan.kernel,
              " failed: ", failure);
  // The kernels' reductions (simd_sum, 32 partials per threadgroup) assume 32 lanes.
  if (pipeline.threadExecutionWidth != kSimdSize) {
    const uint64_t width = pipeline.threadExecutionWidth;
    [pipeline release];
    TORCH_CHECK(false, "torch_metalgen: kernel ", plan.kernel, " runs with SIMD width ", width,
                " on this GPU; its kernels assume ", kSimdSize, " (Apple-silicon GPUs)");
  }
  pipelines.emplace(plan.kernel, pipeline);
  return pipeline;
}

API_AVAILABLE(macos(14.0))
void encode(const LaunchPlan& plan) {
  for (const auto& binding : plan.buffers) {
    TORCH_CHECK(binding.tensor.is_mps(), "torch_metalgen: kernel ", plan.kernel, " buffer ",
                binding.index, " is on ", binding.tensor.device(),
                "; every tensor of an MPS launch must be on mps");
  }
  for (const auto& binding : plan.bytes) {
    TORCH_CHECK(binding.data.size() <= kMaxSetBytesLength, "torch_metalgen: kernel ", plan.kernel,
                " passes ", binding.data.size(), " bytes at index ", binding.index,
                " with setBytes; Metal allows at most ", kMaxSetBytesLength);
  }
  id<MTLComputePipelineState> pipeline = pipeline_for(plan);
  const uint64_t threads = plan.threadgroup[0] * plan.threadgroup[1] * plan.threadgroup[2];
  TORCH_CHECK(threads <= pipeline.maxTotalThreadsPerThreadgroup, "torch_metalgen: kernel ",
              plan.kernel, " needs ", threads, " threads per threadgroup; this pipeline allows ",
              pipeline.maxTotalThreadsPerThreadgroup,
              " (the plan should have asked max_threads_per_threadgroup)");

  const LaunchPlan* launch = &plan;  // dispatch_sync runs the block before returning
  at::mps::MPSStream* stream = at::mps::getCurrentMPSStream();
  sync_with_rethrow(stream->queue(), ^() {
    @autoreleasepool {
      id<MTLComputeCommandEncoder> encoder = stream->commandEncoder();
      TORCH_CHECK(encoder != nil,
                  "torch_metalgen: PyTorch's MPS stream gave no compute "
                  "command encoder for kernel ",
                  launch->kernel);
      [encoder setComputePipelineState:pipeline];
      for (const auto& binding : launch->buffers) {
        id<MTLBuffer> buffer = __builtin_bit_cast(id<MTLBuffer>, binding.tensor.storage().data());
        [encoder setBuffer:buffer offset:binding.byte_offset() atIndex:binding.index];
      }
      for (const auto& binding : launch->bytes) {
        [encoder setBytes:binding.data.data() length:binding.data.size() atIndex:binding.index];
      }
      for (const auto& binding : launch->threadgroup_memory) {
        [encoder setThreadgroupMemoryLength:binding.length atIndex:binding.index];
      }
      const MTLSize grid = MTLSizeMake(launch->grid[0], launch->grid[1], launch->grid[2]);
      const MTLSize group =
          MTLSizeMake(launch->threadgroup[0], launch->threadgroup[1], launch->threadgroup[2]);
      if (launch->dispatch == DispatchKind::Threadgroups) {
        [encoder dispatchThreadgroups:grid threadsPerThreadgroup:group];
      } else {
        [encoder dispatchThreads:grid threadsPerThreadgroup:group];
      }
    }
  });
}

}  // namespace

uint64_t max_threads_per_threadgroup(const LaunchPlan& plan) {
  if (@available(macOS 14.0, *)) {
    return pipeline_for(plan).maxTotalThreadsPerThreadgroup;
  }
  fail_unsupported_macos();
}

void dispatch(const LaunchPlan& plan) {
  if (plan.empty()) return;
  if (@available(macOS 14.0, *)) {
    encode(plan);
  } else {
    fail_unsupported_macos();
  }
}

}  // namespace mps
}  // namespace metalgen
