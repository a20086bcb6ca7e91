/* Off macOS there are no Metal buffers: every pool function fails, so the TS pool stays on
 * host memory. The real implementation is src/metal/pool.m. */
#include "internal.h"

#ifndef __APPLE__
void *llmem_metal_buffer_new(uint64_t bytes) {
  (void)bytes;
  return NULL;
}
void llmem_metal_buffer_release(void *buffer) { (void)buffer; }
void *llmem_metal_buffer_contents(void *buffer) {
  (void)buffer;
  return NULL;
}
uint64_t llmem_metal_buffer_length(void *buffer) {
  (void)buffer;
  return 0;
}
int llmem_metal_buffer_on_device(void *buffer) {
  (void)buffer;
  return 0;
}
void *llmem_metal_residency_new(void) { return NULL; }
void llmem_metal_residency_release(void *set) { (void)set; }
int llmem_metal_residency_add(void *set, void *buffer) {
  (void)set;
  (void)buffer;
  return -1;
}
int llmem_metal_residency_remove(void *set, void *buffer) {
  (void)set;
  (void)buffer;
  return -1;
}
void llmem_metal_residency_commit(void *set) { (void)set; }
int llmem_metal_holds(const void *p, uint64_t bytes) {
  (void)p;
  (void)bytes;
  return 0;
}
uint64_t llmem_metal_residency_count(void *set) {
  (void)set;
  return 0;
}
#endif
