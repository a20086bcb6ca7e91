/* Shared by the Objective-C Metal sources (macOS only). */
#ifndef LLMEM_METAL_INTERNAL_H
#define LLMEM_METAL_INTERNAL_H

#import <Metal/Metal.h>

#include "../internal.h"

/* The process-wide device and command queue, created on first use (nil without Metal). */
id<MTLDevice> llmem_metal_device(void);
id<MTLCommandQueue> llmem_metal_queue(void);
/* Compiles Metal shader source once per name and returns its pipeline for `function`
 * (nil and a message on stderr if it fails). */
id<MTLComputePipelineState> llmem_metal_pipeline(NSString *source, NSString *function);
/* The live llmem_metal_buffer_new buffer whose contents hold [p, p + bytes), with the offset
 * of p in it, or nil (src/metal/pool.m). */
id<MTLBuffer> llmem_metal_buffer_holding(const void *p, uint64_t bytes, uint64_t *offset);
/* Encodes one compute pass (buffers at indices 0..n-1, then `params` by setBytes at index n),
 * commits it and waits; 0 when the GPU finished without error. `grid` counts threadgroups
 * when grid_is_threadgroups, else threads (non-uniform threadgroups, Apple GPUs). */
int llmem_metal_run(id<MTLComputePipelineState> pipeline, NSArray<id<MTLBuffer>> *buffers, const void *params,
                    size_t params_len, MTLSize grid, MTLSize group, BOOL grid_is_threadgroups);

#endif
