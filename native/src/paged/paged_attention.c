/* Paged grouped-query attention (row decode, grouped dot, weighted rows and softmax come from kv_rows.h): one sweep of
 * scores over the block table, softmax per head, one sweep of weighted values. Each sweep
 * walks the pool block by block (scores: per KV head, the block's rows of that head; values:
 * token by token, every KV head of a token together), so the rows of a block are fetched once
 * while they sit in L1; each K/V row is
 * decoded once and reused by every query head of its group, so a quantized pool moves a
 * quarter of the bytes of an f32 one. */
#include <math.h>
#include <string.h>

#include "../formats.h"
#include "kv_rows.h"

#define KV_TILE 32 /* value rows decoded at once (scratch: KV_TILE * head_dim floats) */

static void paged_attention_with(kv_scores_fn scores_fn, kv_weighted_rows_fn weighted_rows, kv_softmax_fn softmax, int format, const float *query, size_t num_heads,
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
    for (size_t g = 0; g < num_kv_heads; g++)
      scores_fn(format, query + g * group * head_dim, group, head_dim, blk + g * row_bytes, token_bytes, n, scale,
                scores + g * group * num_tokens + pos, num_tokens, tmp);
    pos += n;
  }
  for (size_t h = 0; h < num_heads; h++) lse[h] = softmax(scores + h * num_tokens, num_tokens);
  /* Values: per block and KV head, up to KV_TILE rows are decoded together and every query head
   * of the group accumulates all of them with its output held in registers. */
  memset(out, 0, num_heads * head_dim * sizeof(float));
  for (size_t b = 0, pos = 0; b < num_blocks; b++) {
    const uint8_t *blk = v_pool + (size_t)block_table[b] * block_bytes;
    const size_t n = num_tokens - pos < block_size ? num_tokens - pos : block_size;
    for (size_t t0 = 0; t0 < n; t0 += KV_TILE) {
      const size_t m = n - t0 < KV_TILE ? n - t0 : KV_TILE;
      for (size_t g = 0; g < num_kv_heads; g++) {
        const uint8_t *first = blk + t0 * token_bytes + g * row_bytes;
        const float *rows = (const float *)(const void *)first;
        size_t stride = token_bytes / sizeof(float);
        if (format != LLMEM_F32) {
          for (size_t t = 0; t < m; t++) kv_decode_row(format, first + t * token_bytes, tmp + t * head_dim, head_dim);
          rows = tmp;
          stride = head_dim;
        }
        for (size_t h = g * group; h < (g + 1) * group; h++) {
          weighted_rows(rows, stride, scores + h * num_tokens + pos + t0, m, out + h * head_dim, head_dim);
        }
      }
    }
    pos += n;
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
  const llmem_isa_kernels *k = &llmem_isa_kernels_active;
  paged_attention_with(k->kv_scores, k->kv_weighted_rows, k->kv_softmax, format, query, num_heads, num_kv_heads, head_dim, k_pool, v_pool, block_table, block_size,
                       num_tokens, scale, scratch, out, lse);
}
