/* Metal buffers for @llmem/bucket-pool (macOS): shared-storage MTLBuffers whose contents
 * the CPU reads and writes directly, and residency sets (macOS 15+) that keep a pool's
 * buffers resident for every command buffer of llmem's queue. Handles crossing the C API
 * are retained Objective-C objects (CFBridgingRetain), released by the matching release. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metal_internal.h"

#if __has_include(<Metal/MTLResidencySet.h>)
#define LLMEM_HAS_RESIDENCY_SETS 1
#endif

static id<MTLBuffer> as_buffer(void *handle) { return (__bridge id<MTLBuffer>)handle; }

void *llmem_metal_buffer_new(uint64_t bytes) {
  id<MTLDevice> device = llmem_metal_device();
  if (!device || bytes == 0 || bytes > (uint64_t)device.maxBufferLength) return NULL;
  @autoreleasepool {
    id<MTLBuffer> buffer = [device newBufferWithLength:(NSUInteger)bytes options:MTLResourceStorageModeShared];
    if (!buffer || !buffer.contents) return NULL;
    /* A fresh buffer must never expose an earlier owner's bytes, whatever the driver hands back. */
    memset(buffer.contents, 0, (size_t)bytes);
    return (void *)CFBridgingRetain(buffer);
  }
}

void llmem_metal_buffer_release(void *buffer) {
  if (buffer) CFRelease((CFTypeRef)buffer);
}

void *llmem_metal_buffer_contents(void *buffer) { return buffer ? as_buffer(buffer).contents : NULL; }

uint64_t llmem_metal_buffer_length(void *buffer) { return buffer ? (uint64_t)as_buffer(buffer).length : 0; }

int llmem_metal_buffer_on_device(void *buffer) {
  id<MTLDevice> device = llmem_metal_device();
  return buffer && device && as_buffer(buffer).device == device ? 1 : 0;
}

void *llmem_metal_residency_new(void) {
#ifdef LLMEM_HAS_RESIDENCY_SETS
  const char *off = getenv("LLMEM_NO_RESIDENCY");
  if (off && strcmp(off, "1") == 0) return NULL;
  id<MTLDevice> device = llmem_metal_device();
  id<MTLCommandQueue> queue = llmem_metal_queue();
  if (!device || !queue) return NULL;
  if (@available(macOS 15.0, *)) {
    @autoreleasepool {
      MTLResidencySetDescriptor *descriptor = [[MTLResidencySetDescriptor alloc] init];
      descriptor.label = @"llmem bucket pool";
      NSError *error = nil;
      id<MTLResidencySet> set = [device newResidencySetWithDescriptor:descriptor error:&error];
      if (!set) {
        fprintf(stderr, "llmem: residency set unavailable: %s\n",
                error ? error.localizedDescription.UTF8String : "unknown error");
        return NULL;
      }
      [queue addResidencySet:set];
      return (void *)CFBridgingRetain(set);
    }
  }
#endif
  return NULL;
}

void llmem_metal_residency_release(void *set) {
  if (!set) return;
#ifdef LLMEM_HAS_RESIDENCY_SETS
  if (@available(macOS 15.0, *)) {
    id<MTLResidencySet> s = (__bridge id<MTLResidencySet>)set;
    [s endResidency];
    [llmem_metal_queue() removeResidencySet:s];
  }
#endif
  CFRelease((CFTypeRef)set);
}

int llmem_metal_residency_add(void *set, void *buffer) {
#ifdef LLMEM_HAS_RESIDENCY_SETS
  if (!set || !buffer || !llmem_metal_buffer_on_device(buffer)) return -1;
  if (@available(macOS 15.0, *)) {
    [(__bridge id<MTLResidencySet>)set addAllocation:as_buffer(buffer)];
    return 0;
  }
#else
  (void)set;
  (void)buffer;
#endif
  return -1;
}

int llmem_metal_residency_remove(void *set, void *buffer) {
#ifdef LLMEM_HAS_RESIDENCY_SETS
  if (!set || !buffer) return -1;
  if (@available(macOS 15.0, *)) {
    [(__bridge id<MTLResidencySet>)set removeAllocation:as_buffer(buffer)];
    return 0;
  }
#else
  (void)set;
  (void)buffer;
#endif
  return -1;
}

void llmem_metal_residency_commit(void *set) {
#ifdef LLMEM_HAS_RESIDENCY_SETS
  if (!set) return;
  if (@available(macOS 15.0, *)) {
    id<MTLResidencySet> s = (__bridge id<MTLResidencySet>)set;
    [s commit];
    /* Start paging in now rather than at the first command buffer that needs the buffers. */
    [s requestResidency];
  }
#else
  (void)set;
#endif
}

uint64_t llmem_metal_residency_count(void *set) {
#ifdef LLMEM_HAS_RESIDENCY_SETS
  if (!set) return 0;
  if (@available(macOS 15.0, *)) return (uint64_t)((__bridge id<MTLResidencySet>)set).allocationCount;
#else
  (void)set;
#endif
  return 0;
}
