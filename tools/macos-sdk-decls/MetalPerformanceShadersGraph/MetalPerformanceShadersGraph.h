// Declarations written for torch-metalgen's Linux compile check (see ../README.md). NOT
// Apple's header: only the class names torch's ATen/mps/MPSStream.h uses, from Apple's
// documentation (developer.apple.com/documentation/metalperformanceshadersgraph). The glue
// itself uses nothing from MPSGraph.
#pragma once

#import <MetalPerformanceShaders/MetalPerformanceShaders.h>

API_AVAILABLE(macos(11.0), ios(14.0))
@interface MPSGraphObject : NSObject
@end

API_AVAILABLE(macos(11.0), ios(14.0))
@interface MPSGraph : MPSGraphObject
@end

API_AVAILABLE(macos(11.0), ios(14.0))
@interface MPSGraphExecutionDescriptor : MPSGraphObject
@end

API_AVAILABLE(macos(12.0), ios(15.0))
@interface MPSGraphCompilationDescriptor : MPSGraphObject <NSCopying>
@end
