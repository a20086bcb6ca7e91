/* Metal buffers for @llmem/bucket-pool (macOS): shared-storage MTLBuffers whose contents
 * the CPU reads and writes directly, and residency sets (macOS 15+) that keep a pool's
 * buffers resident for every command buffer of llmem's queue. Handles crossing the C API
 * are retained Objective-C objects (CFBridgingRetain, inline: no CoreFoundation link needed),
 * released by the matching release. Entry points that touch Objective-C objects run in their
 * own @autoreleasepool: the JS thread calling them has no pool that is ever drained. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metal_internal.h"

#if __has_include(<Metal/MTLResidencySet.h>)
#define LLMEM_HAS_RESIDENCY_SETS 1
#endif

static id<MTLBuffer> as_buffer(void *handle) { return (__bridge id<MTLBuffer>)handle; }

/* Drops the reference CFBridgingRetain gave a handle: a strong local takes it over and
 * releases it at the end of the scope, never through an autorelease pool (callers from JS
 * have none that is ever drained). */
static void release_handle(void *handle) {
  __attribute__((unused)) id object = (__bridge_transfer id)handle;
}

/* Every live buffer's contents range, so kernels handed a plain pointer (a typed array over a
 * pool buffer) can find the MTLBuffer behind it and read it in place instead of copying.
 * A pool holds at most a few thousand buffers and lookups happen once per kernel call:
 * a linear scan is cheaper than keeping an index sorted. */
typedef struct {
  const uint8_t *base;
  uint64_t length;
  void *handle;
} region;
static region *g_regions;
static size_t g_region_count, g_region_cap;
static pthread_mutex_t g_region_lock = PTHREAD_MUTEX_INITIALIZER;

static void region_add(void *handle, id<MTLBuffer> buffer) {
  pthread_mutex_lock(&g_region_lock);
  if (g_region_count == g_region_cap) {
    const size_t cap = g_region_cap ? g_region_cap * 2 : 64;
    region *grown = realloc(g_regions, cap * sizeof *grown);
    if (grown) g_regions = grown, g_region_cap = cap;
  }
  /* Without room the buffer stays unregistered: kernels then copy its bytes, still correct. */
  if (g_region_count < g_region_cap)
    g_regions[g_region_count++] = (region){buffer.contents, buffer.length, handle};
  pthread_mutex_unlock(&g_region_lock);
}

static void region_remove(void *handle) {
  pthread_mutex_lock(&g_region_lock);
  for (size_t i = 0; i < g_region_count; i++) {
    if (g_regions[i].handle == handle) {
      g_regions[i] = g_regions[--g_region_count];
      break;
    }
  }
  pthread_mutex_unlock(&g_region_lock);
}

id<MTLBuffer> llmem_metal_buffer_holding(const void *p, uint64_t bytes, uint64_t *offset) {
  const uint8_t *q = p;
  id<MTLBuffer> found = nil;
  pthread_mutex_lock(&g_region_lock);
  for (size_t i = 0; q && i < g_region_count; i++) {
    const region r = g_regions[i];
    if (q >= r.base && (uint64_t)(q - r.base) <= r.length && bytes <= r.length - (uint64_t)(q - r.base)) {
      found = as_buffer(r.handle); /* a strong reference: the buffer outlives a concurrent release */
      *offset = (uint64_t)(q - r.base);
      break;
    }
  }
  pthread_mutex_unlock(&g_region_lock);
  return found;
}

int llmem_metal_holds(const void *p, uint64_t bytes) {
  @autoreleasepool {
    uint64_t offset;
    return llmem_metal_buffer_holding(p, bytes, &offset) != nil;
  }
}

void *llmem_metal_buffer_new(uint64_t bytes) {
  id<MTLDevice> device = llmem_metal_device();
  if (!device || bytes == 0 || bytes > (uint64_t)device.maxBufferLength) return NULL;
  @autoreleasepool {
    id<MTLBuffer> buffer = [device newBufferWithLength:(NSUInteger)bytes options:MTLResourceStorageModeShared];
    if (!buffer || !buffer.contents) return NULL;
    /* A fresh buffer must never expose an earlier owner's bytes, whatever the driver hands back. */
    memset(buffer.contents, 0, (size_t)bytes);
    void *handle = (void *)CFBridgingRetain(buffer);
    region_add(handle, buffer);
    return handle;
  }
}

void llmem_metal_buffer_release(void *buffer) {
  if (!buffer) return;
  region_remove(buffer);
  release_handle(buffer);
}

void *llmem_metal_buffer_contents(void *buffer) { return buffer ? as_buffer(buffer).contents : NULL; }

uint64_t llmem_metal_buffer_length(void *buffer) { return buffer ? (uint64_t)as_buffer(buffer).length : 0; }

int llmem_metal_buffer_on_device(void *buffer) {
  @autoreleasepool {
    id<MTLDevice> device = llmem_metal_device();
    return buffer && device && as_buffer(buffer).device == device ? 1 : 0;
  }
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
    @autoreleasepool {
      id<MTLResidencySet> s = (__bridge id<MTLResidencySet>)set;
      [s endResidency];
      [llmem_metal_queue() removeResidencySet:s];
    }
  }
#endif
  release_handle(set);
}

/* Adding and removing share their checks and fallback; only the message differs (and only a
 * buffer that lives on the device can be made resident). */
static int residency_edit(void *set, void *buffer, int add) {
#ifdef LLMEM_HAS_RESIDENCY_SETS
  if (!set || !buffer || (add && !llmem_metal_buffer_on_device(buffer))) return -1;
  if (@available(macOS 15.0, *)) {
    @autoreleasepool {
      id<MTLResidencySet> s = (__bridge id<MTLResidencySet>)set;
      if (add) [s addAllocation:as_buffer(buffer)];
      else [s removeAllocation:as_buffer(buffer)];
    }
    return 0;
  }
#else
  (void)set;
  (void)buffer;
  (void)add;
#endif
  return -1;
}

int llmem_metal_residency_add(void *set, void *buffer) { return residency_edit(set, buffer, 1); }

int llmem_metal_residency_remove(void *set, void *buffer) { return residency_edit(set, buffer, 0); }

void llmem_metal_residency_commit(void *set) {
#ifdef LLMEM_HAS_RESIDENCY_SETS
  if (!set) return;
  if (@available(macOS 15.0, *)) {
    @autoreleasepool {
      id<MTLResidencySet> s = (__bridge id<MTLResidencySet>)set;
      [s commit];
      /* Start paging in now rather than at the first command buffer that needs the buffers. */
      [s requestResidency];
    }
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
