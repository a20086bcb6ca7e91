/* Paged grouped-query attention (row decode, dot, axpy and softmax come from kv_rows.h): one sweep of
 * scores over the block table, softmax per head, one sweep of weighted values. Each sweep
 * walks the pool in memory order (token by token, every KV head of a token together), so each
 * cache line is fetched once and the hardware prefetcher sees a stream; each K/V row is
 * decoded once and reused by every query head of its group, so a quantized pool moves a
 * quarter of the bytes of an f32 one. */
#include <math.h>
#include <string.h>

#include "kv_rows.h"

static void paged_attention_with(kv_axpy_fn axpy, kv_softmax_fn softmax, int format, const float *query, size_t num_heads,
                                 size_t num_kv_heads, size_t head_dim, const uint8_t *k_pool,
                                 const uint8_t *v_pool, const uint32_t *block_table, size_t block_size,
                                 size_t num_tokens, float scale, float *scratch, float *out, float *lse) {
  const size_t group = num_heads / num_kv_heads;
  const size_t row_bytes = llmem_kv_row_bytes(format, head_dim);
  const size_t token_bytes = num_kv_heads * row_bytes;
  const size_t block_bytes = block_size * token_bytes;
  float *scores = scratch; /* [num_heads][num_tokens] */
  float *tmp = scratch + num_heads * num_tokens;
  const size_t num_blocks = (num_tokens + block_size - 1) / block_size;

  for (size_t b = 0, pos = 0; b < num_blocks; b++) {
    const uint8_t *blk = k_pool + (size_t)block_table[b] * block_bytes;
    const size_t n = num_tokens - pos < block_size ? num_tokens - pos : block_size;
    for (size_t t = 0; t < n; t++, pos++) {
      for (size_t g = 0; g < num_kv_heads; g++) {
        const uint8_t *k = blk + t * token_bytes + g * row_bytes;
        const float *row = (const float *)(const void *)k;
        if (format != LLMEM_F32) {
          kv_decode_row(format, k, tmp, head_dim);
          row = tmp;
        }
        for (size_t h = g * group; h < (g + 1) * group; h++) {
          scores[h * num_tokens + pos] = scale * llmem_dot_f32(query + h * head_dim, row, head_dim);
        }
      }
    }
  }
  for (size_t h = 0; h < num_heads; h++) lse[h] = softmax(scores + h * num_tokens, num_tokens);
  memset(out, 0, num_heads * head_dim * sizeof(float));
  for (size_t b = 0, pos = 0; b < num_blocks; b++) {
    const uint8_t *blk = v_pool + (size_t)block_table[b] * block_bytes;
    const size_t n = num_tokens - pos < block_size ? num_tokens - pos : block_size;
    for (size_t t = 0; t < n; t++, pos++) {
      for (size_t g = 0; g < num_kv_heads; g++) {
        const uint8_t *v = blk + t * token_bytes + g * row_bytes;
        const float *row = (const float *)(const void *)v;
        if (format != LLMEM_F32) {
          kv_decode_row(format, v, tmp, head_dim);
          row = tmp;
        }
        for (size_t h = g * group; h < (g + 1) * group; h++) {
          axpy(scores[h * num_tokens + pos], row, out + h * head_dim, head_dim);
        }
      }
    }
  }
}

void llmem_paged_attention(int format, const float *query, size_t num_heads, size_t num_kv_heads, size_t head_dim,
                           const void *k_pool, const void *v_pool, const uint32_t *block_table, size_t block_size,
                           size_t num_tokens, float scale, float *scratch, float *out, float *lse) {
  if (num_tokens == 0 || llmem_kv_row_bytes(format, head_dim) == 0 || num_kv_heads == 0) {
    memset(out, 0, num_heads * head_dim * sizeof(float));
    for (size_t h = 0; h < num_heads; h++) lse[h] = -INFINITY;
    return;
  }
  kv_axpy_fn axpy = kv_axpy_scalar;
  kv_softmax_fn softmax = kv_softmax_scalar;
  switch (llmem_active_isa()) {
#if LLMEM_X86
  case LLMEM_ISA_AVX2: axpy = kv_axpy_avx2, softmax = kv_softmax_avx2; break;
#endif
#if LLMEM_ARM
  case LLMEM_ISA_NEON: axpy = kv_axpy_neon, softmax = kv_softmax_neon; break;
#endif
  default: break;
  }
  paged_attention_with(axpy, softmax, format, query, num_heads, num_kv_heads, head_dim, k_pool, v_pool, block_table, block_size,
                       num_tokens, scale, scratch, out, lse);
}
