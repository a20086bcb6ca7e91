#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* A 64-byte header in front of each block remembers its size for the live-bytes
 * count, and keeps the payload at the requested alignment. */
typedef struct {
  void *base;
  size_t bytes;
} alloc_header;

static _Atomic uint64_t live_bytes = 0;

void *llmem_alloc(size_t bytes, size_t align) {
  if (bytes == 0 || align < sizeof(void *) || (align & (align - 1)) != 0) return NULL;
  const size_t pad = align > sizeof(alloc_header) ? align : 64;
  if (bytes > SIZE_MAX - pad - align) return NULL;
  void *base = NULL;
  if (posix_memalign(&base, align, bytes + pad) != 0) return NULL;
  memset(base, 0, bytes + pad);
  char *payload = (char *)base + pad;
  alloc_header *h = (alloc_header *)(payload - sizeof(alloc_header));
  h->base = base;
  h->bytes = bytes;
  live_bytes += bytes;
  return payload;
}

void llmem_free(void *p) {
  if (!p) return;
  alloc_header *h = (alloc_header *)((char *)p - sizeof(alloc_header));
  live_bytes -= h->bytes;
  free(h->base);
}

void llmem_free_deallocator(void *bytes, void *ctx) {
  (void)ctx;
  llmem_free(bytes);
}

void llmem_zero(void *p, size_t bytes) {
  if (bytes) memset(p, 0, bytes);
}

void llmem_copy(void *dst, const void *src, size_t bytes) {
  if (bytes) memmove(dst, src, bytes);
}

uint64_t llmem_live_bytes(void) { return live_bytes; }
