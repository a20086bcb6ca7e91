/* Mock of <Metal/MTLResidencySet.h> (macOS 15), checked against Apple's MTLResidencySet and
 * MTLResidencySetDescriptor documentation. Its presence is what pool.m's __has_include tests. */
#ifndef LLMEM_MOCK_MTL_RESIDENCY_SET_H
#define LLMEM_MOCK_MTL_RESIDENCY_SET_H
#import <Metal/Metal.h>

LLMEM_MOCK_MACOS(15.0)
@interface MTLResidencySetDescriptor : NSObject <NSCopying>
@property(copy, nonatomic) NSString *label;
@property(nonatomic) NSUInteger initialCapacity;
@end

LLMEM_MOCK_MACOS(15.0)
@protocol MTLResidencySet <NSObject>
@property(readonly) id<MTLDevice> device;
@property(readonly) NSString *label;
@property(readonly) uint64_t allocatedSize;
@property(readonly) NSUInteger allocationCount;
- (void)requestResidency;
- (void)endResidency;
- (void)addAllocation:(id<MTLAllocation>)allocation;
- (void)removeAllocation:(id<MTLAllocation>)allocation;
- (void)removeAllAllocations;
- (BOOL)containsAllocation:(id<MTLAllocation>)anAllocation;
- (void)commit;
@end
#endif
