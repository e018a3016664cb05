// The one hand-written piece of Metal API code: library loading, the pipeline cache and
// encoding a LaunchPlan on PyTorch's MPS stream. Written against reference/metal-glue.md:
//   - encode on the stream's own compute encoder (stream->commandEncoder()), inside
//     dispatch_sync_with_rethrow on the stream's serial queue; never open a second encoder
//     on PyTorch's command buffer and never call endEncoding (PyTorch coalesces kernels
//     into its open encoder and ends it itself);
//   - a tensor's storage data pointer on MPS is its id<MTLBuffer>; bind it at the tensor's
//     byte offset (plans only carry contiguous tensors);
//   - pipelines are created once per kernel name and cached under a lock;
//   - the metallib is embedded in the extension and loaded with newLibraryWithData; a build
//     without the Metal toolchain embeds the sources instead, compiled here at first use.
// Built with -fno-objc-arc (as PyTorch is): objects created with new* are owned here and
// live for the process (caches), so nothing is released.
#include "mps/dispatch.h"

#include <ATen/mps/MPSDevice.h>
#include <ATen/mps/MPSStream.h>
#include <ATen/native/mps/OperationUtils.h>
#include <c10/util/Exception.h>

#import <Foundation/Foundation.h>
#import <Metal/Metal.h>

#include <cstring>
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

namespace mps {
namespace {

id<MTLDevice> device() { return at::mps::MPSDevice::getInstance()->device(); }

id<MTLLibrary> load_embedded_metallib() {
  dispatch_data_t data =
      dispatch_data_create(kMetallib, kMetallibSize, nullptr, DISPATCH_DATA_DESTRUCTOR_DEFAULT);
  NSError* error = nil;
  id<MTLLibrary> library = [device() newLibraryWithData:data error:&error];
  dispatch_release(data);
  TORCH_CHECK(library != nil, "torch_metalgen: could not load the embedded metallib: ",
              error ? error.localizedDescription.UTF8String : "unknown error",
              ". Reinstall torch-metalgen; the wheel may be for another macOS version.");
  return library;
}

id<MTLLibrary> compile_embedded_source(const std::string& name) {
  TORCH_WARN_ONCE("torch_metalgen was built without the Metal toolchain (no precompiled metallib); "
                  "compiling its kernels from source at first use. Install it with "
                  "`xcodebuild -downloadComponent MetalToolchain` and rebuild to avoid this.");
  for (size_t i = 0; i < kMetalSourceCount; ++i) {
    if (name != kMetalSources[i].library) continue;
    MTLCompileOptions* options = [[MTLCompileOptions alloc] init];
    options.languageVersion = MTLLanguageVersion3_1;
    NSError* error = nil;
    id<MTLLibrary> library =
        [device() newLibraryWithSource:[NSString stringWithUTF8String:kMetalSources[i].source]
                               options:options
                                 error:&error];
    [options release];
    TORCH_CHECK(library != nil, "torch_metalgen: compiling Metal library ", name,
                " failed: ", error ? error.localizedDescription.UTF8String : "unknown error");
    return library;
  }
  TORCH_CHECK(false, "torch_metalgen: no Metal source named ", name, " in this build");
  return nil;
}

// Caller holds cache_mutex.
id<MTLLibrary> library_for(const std::string& name) {
  static std::unordered_map<std::string, id<MTLLibrary>> libraries;
  if (kMetallibSize > 0) {
    static id<MTLLibrary> metallib = load_embedded_metallib();
    return metallib;
  }
  auto found = libraries.find(name);
  if (found != libraries.end()) return found->second;
  id<MTLLibrary> library = compile_embedded_source(name);
  libraries.emplace(name, library);
  return library;
}

std::mutex cache_mutex;

id<MTLComputePipelineState> pipeline_for(const LaunchPlan& plan) {
  static std::unordered_map<std::string, id<MTLComputePipelineState>> pipelines;
  std::lock_guard<std::mutex> lock(cache_mutex);
  auto found = pipelines.find(plan.kernel);
  if (found != pipelines.end()) return found->second;

  id<MTLLibrary> library = library_for(plan.library);
  id<MTLFunction> function =
      [library newFunctionWithName:[NSString stringWithUTF8String:plan.kernel.c_str()]];
  TORCH_CHECK(function != nil, "torch_metalgen: kernel ", plan.kernel,
              " is missing from the Metal library; the build and the plan disagree");
  NSError* error = nil;
  id<MTLComputePipelineState> pipeline = [device() newComputePipelineStateWithFunction:function
                                                                                 error:&error];
  [function release];
  TORCH_CHECK(pipeline != nil, "torch_metalgen: pipeline for ", plan.kernel,
              " failed: ", error ? error.localizedDescription.UTF8String : "unknown error");
  pipelines.emplace(plan.kernel, pipeline);
  return pipeline;
}

}  // namespace

void dispatch(const LaunchPlan& plan) {
  if (plan.empty()) return;
  for (const auto& binding : plan.buffers) {
    TORCH_CHECK(binding.tensor.is_mps(), "torch_metalgen: kernel ", plan.kernel, " buffer ",
                binding.index, " is on ", binding.tensor.device(),
                "; every tensor of an MPS launch must be on mps");
  }
  id<MTLComputePipelineState> pipeline = pipeline_for(plan);
  const uint64_t threads = plan.threadgroup[0] * plan.threadgroup[1] * plan.threadgroup[2];
  TORCH_CHECK(threads <= pipeline.maxTotalThreadsPerThreadgroup, "torch_metalgen: kernel ",
              plan.kernel, " needs ", threads, " threads per threadgroup; this device allows ",
              pipeline.maxTotalThreadsPerThreadgroup);

  const LaunchPlan* launch = &plan;  // dispatch_sync runs the block before returning
  at::mps::MPSStream* stream = at::mps::getCurrentMPSStream();
  // Unqualified on purpose: torch >= 2.10 declares dispatch_sync_with_rethrow globally,
  // older releases in at::native::mps; the using-directive finds either.
  using namespace at::native::mps;
  dispatch_sync_with_rethrow(stream->queue(), ^() {
    @autoreleasepool {
      id<MTLComputeCommandEncoder> encoder = stream->commandEncoder();
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

}  // namespace mps
}  // namespace metalgen
