/* Mock of the part of Foundation, CoreFoundation and libdispatch that native/src/metal/*.m
 * uses, declared as Apple documents them (Foundation.h also pulls in the C headers the real
 * one does, so a missing #include is only caught where Apple's would catch it too). */
#ifndef LLMEM_MOCK_FOUNDATION_H
#define LLMEM_MOCK_FOUNDATION_H
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <limits.h>

typedef long NSInteger;
typedef unsigned long NSUInteger;
typedef signed char BOOL; /* arm64 Apple uses bool; signed char keeps YES/NO comparisons honest */
#define YES ((BOOL)1)
#define NO ((BOOL)0)
#define nil ((id)0)
#define NS_ASSUME_NONNULL_BEGIN _Pragma("clang assume_nonnull begin")
#define NS_ASSUME_NONNULL_END _Pragma("clang assume_nonnull end")

/* Handles crossing the C API are retained with CFBridgingRetain and dropped with
 * CFBridgingRelease, both inline in Foundation's NSObject.h. CFRelease/CFRetain are left out
 * on purpose: they live in CoreFoundation, which native/Makefile does not link. */
typedef const void *CFTypeRef;
static inline CFTypeRef CFBridgingRetain(id X) { return (__bridge_retained CFTypeRef)X; }
static inline id CFBridgingRelease(CFTypeRef X) { return (__bridge_transfer id)X; }

/* libdispatch */
typedef long dispatch_once_t;
typedef void (^dispatch_block_t)(void);
void dispatch_once(dispatch_once_t *predicate, dispatch_block_t block);

@class NSString;
@protocol NSObject
- (BOOL)isEqual:(id)object;
@property(readonly) NSUInteger hash;
@end
@protocol NSCopying
- (id)copyWithZone:(void *)zone;
@end

__attribute__((objc_root_class))
@interface NSObject <NSObject>
+ (instancetype)alloc;
+ (instancetype)new;
- (instancetype)init;
- (id)copy;
@end

@interface NSString : NSObject <NSCopying>
@property(readonly) NSUInteger length;
@property(readonly) const char *UTF8String __attribute__((objc_returns_inner_pointer));
+ (instancetype)stringWithUTF8String:(const char *)nullTerminatedCString;
+ (instancetype)stringWithFormat:(NSString *)format, ...;
@end
/* clang's Apple runtime types @"..." literals with this class */
@interface NSConstantString : NSString
@end

@interface NSError : NSObject
@property(readonly, copy) NSString *localizedDescription;
@property(readonly) NSInteger code;
@end

@interface NSArray<__covariant ObjectType> : NSObject
@property(readonly) NSUInteger count;
+ (instancetype)arrayWithObjects:(const ObjectType _Nonnull[_Nonnull])objects count:(NSUInteger)cnt;
- (ObjectType)objectAtIndexedSubscript:(NSUInteger)idx;
@end

@interface NSDictionary<KeyType, ObjectType> : NSObject
+ (instancetype)dictionaryWithObjects:(const ObjectType _Nonnull[_Nullable])objects
                              forKeys:(const KeyType<NSCopying> _Nonnull[_Nullable])keys
                                count:(NSUInteger)cnt;
- (ObjectType)objectForKeyedSubscript:(KeyType)key;
@end
@interface NSMutableDictionary<KeyType, ObjectType> : NSDictionary<KeyType, ObjectType>
+ (instancetype)dictionary;
- (void)setObject:(ObjectType)obj forKeyedSubscript:(KeyType<NSCopying>)key;
@end

@interface NSNumber : NSObject
+ (NSNumber *)numberWithUnsignedLongLong:(unsigned long long)value;
@end

#endif
