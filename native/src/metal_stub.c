/* Off macOS there is no Metal device; the real implementation is src/metal/device.m. */
#include "internal.h"

#ifndef __APPLE__
int llmem_metal_available(void) { return 0; }
#endif
