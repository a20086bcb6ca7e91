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
/* Encodes one dispatch: buffers at indices 0..n-1, then `params` by setBytes at index n.
 * `grid` counts threadgroups when grid_is_threadgroups, else threads (non-uniform
 * threadgroups, Apple GPUs). Dispatches of one encoder run in order, each seeing the
 * previous one's writes (serial dispatch, hazard-tracked buffers). */
void llmem_metal_encode(id<MTLComputeCommandEncoder> enc, id<MTLComputePipelineState> pipeline,
                        NSArray<id<MTLBuffer>> *buffers, const void *params, size_t params_len, MTLSize grid,
                        MTLSize group, BOOL grid_is_threadgroups);
/* Commits and waits; 0 when the GPU finished without error (else a message on stderr). */
int llmem_metal_finish(id<MTLCommandBuffer> cb);
/* One dispatch in its own command buffer, committed and waited for (0 on success). */
int llmem_metal_run(id<MTLComputePipelineState> pipeline, NSArray<id<MTLBuffer>> *buffers, const void *params,
                    size_t params_len, MTLSize grid, MTLSize group, BOOL grid_is_threadgroups);

#endif
