/* Metal device, queue and shader pipelines shared by every Metal backend of libllmem. */
#include "metal_internal.h"

static id<MTLDevice> g_device;
static id<MTLCommandQueue> g_queue;
/* Libraries by source text and pipelines by "source name/function", so each shader source is
 * compiled once however many of its functions are used, and two sources may share a name. */
static NSMutableDictionary<NSString *, id<MTLLibrary>> *g_libraries;
static NSMutableDictionary<NSString *, id<MTLComputePipelineState>> *g_pipelines;

static void metal_init(void) {
  static dispatch_once_t once;
  dispatch_once(&once, ^{
    @autoreleasepool {
      g_device = MTLCreateSystemDefaultDevice();
      if (g_device) g_queue = [g_device newCommandQueue];
      g_libraries = [NSMutableDictionary dictionary];
      g_pipelines = [NSMutableDictionary dictionary];
    }
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

int llmem_metal_available(void) {
  @autoreleasepool {
    return llmem_metal_device() != nil && llmem_metal_queue() != nil;
  }
}

id<MTLComputePipelineState> llmem_metal_pipeline(NSString *source, NSString *function) {
  metal_init();
  if (!g_device) return nil;
  @synchronized(g_pipelines) {
    NSString *key = [NSString stringWithFormat:@"%p/%@", (__bridge const void *)source, function];
    id<MTLComputePipelineState> cached = g_pipelines[key];
    if (cached) return cached;
    NSError *error = nil;
    id<MTLLibrary> library = g_libraries[source];
    if (!library) {
      library = [g_device newLibraryWithSource:source options:nil error:&error];
      if (library) g_libraries[source] = library;
    }
    id<MTLFunction> fn = library ? [library newFunctionWithName:function] : nil;
    id<MTLComputePipelineState> pipeline = fn ? [g_device newComputePipelineStateWithFunction:fn error:&error] : nil;
    if (!pipeline) {
      fprintf(stderr, "llmem: Metal pipeline %s failed: %s\n", function.UTF8String,
              error ? error.localizedDescription.UTF8String : "function not found");
      return nil;
    }
    g_pipelines[key] = pipeline;
    return pipeline;
  }
}

void llmem_metal_encode(id<MTLComputeCommandEncoder> enc, id<MTLComputePipelineState> pipeline,
                        NSArray<id<MTLBuffer>> *buffers, const void *params, size_t params_len, MTLSize grid,
                        MTLSize group, BOOL grid_is_threadgroups) {
  [enc setComputePipelineState:pipeline];
  for (NSUInteger i = 0; i < buffers.count; i++) [enc setBuffer:buffers[i] offset:0 atIndex:i];
  [enc setBytes:params length:params_len atIndex:buffers.count];
  if (grid_is_threadgroups) [enc dispatchThreadgroups:grid threadsPerThreadgroup:group];
  else [enc dispatchThreads:grid threadsPerThreadgroup:group];
}

int llmem_metal_finish(id<MTLCommandBuffer> cb) {
  [cb commit];
  [cb waitUntilCompleted];
  if (cb.status != MTLCommandBufferStatusCompleted) {
    fprintf(stderr, "llmem: Metal command buffer failed: %s\n",
            cb.error ? cb.error.localizedDescription.UTF8String : "unknown error");
    return -1;
  }
  return 0;
}

int llmem_metal_run(id<MTLComputePipelineState> pipeline, NSArray<id<MTLBuffer>> *buffers, const void *params,
                    size_t params_len, MTLSize grid, MTLSize group, BOOL grid_is_threadgroups) {
  id<MTLCommandQueue> queue = llmem_metal_queue();
  if (!pipeline || !queue) return -1;
  if (group.width * group.height * group.depth > pipeline.maxTotalThreadsPerThreadgroup) return -1;
  id<MTLCommandBuffer> cb = [queue commandBuffer];
  id<MTLComputeCommandEncoder> enc = [cb computeCommandEncoder];
  if (!cb || !enc) return -1;
  llmem_metal_encode(enc, pipeline, buffers, params, params_len, grid, group, grid_is_threadgroups);
  [enc endEncoding];
  return llmem_metal_finish(cb);
}
