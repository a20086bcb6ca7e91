/* Metal device, queue and shader pipelines shared by every Metal backend of libllmem. */
#include "metal_internal.h"

static id<MTLDevice> g_device;
static id<MTLCommandQueue> g_queue;
static NSMutableDictionary<NSString *, id<MTLComputePipelineState>> *g_pipelines;

static void metal_init(void) {
  static dispatch_once_t once;
  dispatch_once(&once, ^{
    g_device = MTLCreateSystemDefaultDevice();
    if (g_device) g_queue = [g_device newCommandQueue];
    g_pipelines = [NSMutableDictionary dictionary];
  });
}

id<MTLDevice> llmem_metal_device(void) {
  metal_init();
  return g_device;
}

id<MTLCommandQueue> llmem_metal_queue(void) {
  metal_init();
  return g_queue;
}

int llmem_metal_available(void) { return llmem_metal_device() != nil; }

id<MTLComputePipelineState> llmem_metal_pipeline(NSString *source, NSString *function) {
  metal_init();
  if (!g_device) return nil;
  @synchronized(g_pipelines) {
    id<MTLComputePipelineState> cached = g_pipelines[function];
    if (cached) return cached;
    NSError *error = nil;
    id<MTLLibrary> library = [g_device newLibraryWithSource:source options:nil error:&error];
    id<MTLFunction> fn = library ? [library newFunctionWithName:function] : nil;
    id<MTLComputePipelineState> pipeline = fn ? [g_device newComputePipelineStateWithFunction:fn error:&error] : nil;
    if (!pipeline) {
      fprintf(stderr, "llmem: Metal pipeline %s failed: %s\n", function.UTF8String,
              error ? error.localizedDescription.UTF8String : "function not found");
      return nil;
    }
    g_pipelines[function] = pipeline;
    return pipeline;
  }
}
