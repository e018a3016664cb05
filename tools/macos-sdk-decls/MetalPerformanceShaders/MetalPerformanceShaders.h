// Declarations written for torch-metalgen's Linux compile check (see ../README.md). NOT
// Apple's header: only the name torch's ATen/mps/MPSStream.h uses, from Apple's
// documentation (developer.apple.com/documentation/metalperformanceshaders/mpscommandbuffer).
// The glue itself uses nothing from MetalPerformanceShaders.
#pragma once

#import <Metal/Metal.h>

API_AVAILABLE(macos(10.15), ios(13.0))
@interface MPSCommandBuffer : NSObject <MTLCommandBuffer>
@end
