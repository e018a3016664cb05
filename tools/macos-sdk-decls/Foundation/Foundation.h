// Declarations written for torch-metalgen's Linux compile check of csrc/mps/*.mm (see
// ../README.md). NOT Apple's header: only the Foundation API the MPS glue and torch's MPS
// headers use, written from Apple's Foundation documentation (developer.apple.com/
// documentation/foundation). The Objective-C runtime, NSObject, NSInteger/NSUInteger, blocks
// and dispatch come from the real Apple headers that ship with zig (ziglang on PyPI).
#pragma once

#import <Availability.h>
#import <os/availability.h>
#import <objc/NSObjCRuntime.h>
#import <objc/NSObject.h>
#import <objc/objc.h>

#include <stddef.h>

// Foundation's NSObjCRuntime.h macros, as the SDK spells them.
#define NS_ENUM(_type, _name) \
  enum _name : _type _name;   \
  enum _name : _type
#define NS_OPTIONS(_type, _name) NS_ENUM(_type, _name)
#define NS_ASSUME_NONNULL_BEGIN _Pragma("clang assume_nonnull begin")
#define NS_ASSUME_NONNULL_END _Pragma("clang assume_nonnull end")
#define NS_RETURNS_INNER_POINTER __attribute__((objc_returns_inner_pointer))
#define NS_SWIFT_NAME(_name)

NS_ASSUME_NONNULL_BEGIN

@protocol NSCopying
- (id)copyWithZone:(nullable struct _NSZone*)zone;
@end

// developer.apple.com/documentation/foundation/nsstring
@interface NSString : NSObject <NSCopying>
+ (nullable instancetype)stringWithUTF8String:(const char*)nullTerminatedCString;
@property(nullable, readonly) const char* UTF8String NS_RETURNS_INNER_POINTER;
@end

// developer.apple.com/documentation/foundation/nserror
@interface NSError : NSObject <NSCopying>
@property(readonly, copy) NSString* localizedDescription;
@end

// developer.apple.com/documentation/foundation/nsdictionary (torch's MPSStream.h names it).
@interface NSDictionary<__covariant KeyType, __covariant ObjectType> : NSObject <NSCopying>
@end

NS_ASSUME_NONNULL_END
