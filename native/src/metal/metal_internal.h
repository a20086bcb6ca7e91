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

#endif
