/* Off macOS there is no Metal: paged attention on the GPU reports "unavailable" (-1) and
 * kv-cache keeps the CPU kernel. The real one is src/metal/paged.m. */
#include "internal.h"

#ifndef __APPLE__
int llmem_metal_paged_attention(int format, const float *query, size_t num_heads, size_t num_kv_heads,
                                size_t head_dim, const void *k_pool, size_t k_bytes, const void *v_pool,
                                size_t v_bytes, const uint32_t *block_table,
                                size_t block_size, size_t num_tokens, float scale, float *out, float *lse) {
  (void)format, (void)query, (void)num_heads, (void)num_kv_heads, (void)head_dim, (void)k_pool, (void)k_bytes;
  (void)v_pool, (void)v_bytes, (void)block_table, (void)block_size;
  (void)num_tokens, (void)scale, (void)out, (void)lse;
  return -1;
}
#endif
