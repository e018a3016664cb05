// Declarations written for torch-metalgen's Linux compile check of csrc/mps/*.mm (see
// ../README.md). NOT Apple's header: only the Metal API the MPS glue and torch's MPS headers
// name, written from Apple's Metal documentation (developer.apple.com/documentation/metal),
// with the types, nullability and availability the documentation gives. A selector or type
// that is wrong here makes the check pass or fail wrongly; only a Mac build is the truth.
#pragma once

#import <Foundation/Foundation.h>
#include <dispatch/dispatch.h>

NS_ASSUME_NONNULL_BEGIN

// developer.apple.com/documentation/metal/mtlsize
typedef struct {
  NSUInteger width;
  NSUInteger height;
  NSUInteger depth;
} MTLSize;

static inline MTLSize MTLSizeMake(NSUInteger width, NSUInteger height, NSUInteger depth) {
  MTLSize size = {width, height, depth};
  return size;
}

// developer.apple.com/documentation/metal/mtllanguageversion
typedef NS_ENUM(NSUInteger, MTLLanguageVersion) {
  MTLLanguageVersion3_0 API_AVAILABLE(macos(13.0), ios(16.0)) = (3 << 16) + 0,
  MTLLanguageVersion3_1 API_AVAILABLE(macos(14.0), ios(17.0)) = (3 << 16) + 1,
  MTLLanguageVersion3_2 API_AVAILABLE(macos(15.0), ios(18.0)) = (3 << 16) + 2,
} API_AVAILABLE(macos(10.11), ios(9.0));

// developer.apple.com/documentation/metal/mtlmathmode
typedef NS_ENUM(NSInteger, MTLMathMode) {
  MTLMathModeSafe = 0,
  MTLMathModeRelaxed = 1,
  MTLMathModeFast = 2,
} API_AVAILABLE(macos(15.0), ios(18.0));

@protocol MTLDevice;
@protocol MTLCommandBuffer;

// developer.apple.com/documentation/metal/mtlresource, .../mtlbuffer
@protocol MTLResource <NSObject>
@end
@protocol MTLBuffer <MTLResource>
@property(readonly) NSUInteger length;
@end

// developer.apple.com/documentation/metal/mtlfunction, .../mtllibrary
@protocol MTLFunction <NSObject>
@end
@protocol MTLLibrary <NSObject>
- (nullable id<MTLFunction>)newFunctionWithName:(NSString*)functionName;
@end

// developer.apple.com/documentation/metal/mtlcompileoptions
@interface MTLCompileOptions : NSObject <NSCopying>
@property(readwrite, nonatomic)
    BOOL fastMathEnabled API_DEPRECATED("Use mathMode instead", macos(10.11, 15.0), ios(8.0, 18.0));
@property(readwrite, nonatomic) MTLMathMode mathMode API_AVAILABLE(macos(15.0), ios(18.0));
@property(readwrite, nonatomic)
    MTLLanguageVersion languageVersion API_AVAILABLE(macos(10.11), ios(9.0));
@end

// developer.apple.com/documentation/metal/mtlcomputepipelinestate
@protocol MTLComputePipelineState <NSObject>
@property(readonly) NSUInteger maxTotalThreadsPerThreadgroup;
@property(readonly) NSUInteger threadExecutionWidth;
@end

// developer.apple.com/documentation/metal/mtlcommandencoder, .../mtlcomputecommandencoder
@protocol MTLCommandEncoder <NSObject>
- (void)endEncoding;
@end
@protocol MTLComputeCommandEncoder <MTLCommandEncoder>
- (void)setComputePipelineState:(id<MTLComputePipelineState>)state;
- (void)setBytes:(const void*)bytes
          length:(NSUInteger)length
         atIndex:(NSUInteger)index API_AVAILABLE(macos(10.11), ios(8.3));
- (void)setBuffer:(nullable id<MTLBuffer>)buffer
           offset:(NSUInteger)offset
          atIndex:(NSUInteger)index;
- (void)setThreadgroupMemoryLength:(NSUInteger)length atIndex:(NSUInteger)index;
- (void)dispatchThreadgroups:(MTLSize)threadgroupsPerGrid
       threadsPerThreadgroup:(MTLSize)threadsPerThreadgroup;
- (void)dispatchThreads:(MTLSize)threadsPerGrid
    threadsPerThreadgroup:(MTLSize)threadsPerThreadgroup API_AVAILABLE(macos(10.13), ios(11.0));
@end

// developer.apple.com/documentation/metal/mtlcommandbuffer, .../mtlcommandbufferhandler
typedef void (^MTLCommandBufferHandler)(id<MTLCommandBuffer>);
@protocol MTLCommandBuffer <NSObject>
@end

// developer.apple.com/documentation/metal/mtlcommandqueue
@protocol MTLCommandQueue <NSObject>
@end

// developer.apple.com/documentation/metal/mtlevent, .../mtlsharedevent
@protocol MTLEvent <NSObject>
@end
@protocol MTLSharedEvent <MTLEvent>
@end

// developer.apple.com/documentation/metal/mtldevice
@protocol MTLDevice <NSObject>
@property(nonnull, readonly) NSString* name;
- (nullable id<MTLLibrary>)newLibraryWithData:(dispatch_data_t)data
                                        error:(__autoreleasing NSError**)error;
- (nullable id<MTLLibrary>)newLibraryWithSource:(NSString*)source
                                        options:(nullable MTLCompileOptions*)options
                                          error:(__autoreleasing NSError**)error;
- (nullable id<MTLComputePipelineState>)
    newComputePipelineStateWithFunction:(id<MTLFunction>)computeFunction
                                  error:(__autoreleasing NSError**)error;
@end

NS_ASSUME_NONNULL_END
