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
#include "../quant/quant_internal.h"

#define KV_TILE 32 /* value rows decoded at once (scratch: KV_TILE * head_dim floats) */
/* Work (tokens × query heads × head_dim) from which a call splits its KV heads over the thread
 * pool, and the widest head a split takes (each task decodes into its own stack tile of
 * KV_TILE × head_dim floats). Below the bound the hand-off (~1 µs) is a large share. */
#define SPLIT_WORK ((size_t)16384)
#define SPLIT_MAX_HEAD_DIM 256

typedef struct {
  kv_scores_fn scores_fn;
  kv_weighted_rows_fn weighted_rows;
  kv_weighted_rows_f16_fn weighted_rows_f16;
  kv_softmax_fn softmax;
  int format;
  const float *query;
  size_t num_heads, num_kv_heads, head_dim, block_size, num_tokens;
  const uint8_t *k_pool, *v_pool;
  const uint32_t *block_table;
  float scale;
  float *scores; /* [num_heads][num_tokens] */
  float *out, *lse;
} attn_job;

/* KV heads [g0, g1) and their query heads: scores, softmax, weighted values. tmp holds
 * KV_TILE * head_dim floats. Heads touch disjoint parts of scores, out and lse, so ranges run
 * on any threads in any order with the same results. */
static void attend_kv_heads(const attn_job *j, size_t g0, size_t g1, float *tmp) {
  const size_t num_tokens = j->num_tokens, head_dim = j->head_dim, block_size = j->block_size;
  const size_t group = j->num_heads / j->num_kv_heads;
  const size_t row_bytes = llmem_kv_row_bytes(j->format, head_dim);
  const size_t token_bytes = j->num_kv_heads * row_bytes;
  const size_t block_bytes = block_size * token_bytes;
  const size_t num_blocks = (num_tokens + block_size - 1) / block_size;
  float *scores = j->scores;

  for (size_t b = 0, pos = 0; b < num_blocks; b++) {
    const uint8_t *blk = j->k_pool + (size_t)j->block_table[b] * block_bytes;
    const size_t n = num_tokens - pos < block_size ? num_tokens - pos : block_size;
    for (size_t g = g0; g < g1; g++)
      j->scores_fn(j->format, j->query + g * group * head_dim, group, head_dim, blk + g * row_bytes, token_bytes, n,
                   j->scale, scores + g * group * num_tokens + pos, num_tokens, tmp);
    pos += n;
  }
  for (size_t h = g0 * group; h < g1 * group; h++) j->lse[h] = j->softmax(scores + h * num_tokens, num_tokens);
  /* Values: per block and KV head, up to KV_TILE rows are decoded together and every query head
   * of the group accumulates all of them with its output held in registers. */
  memset(j->out + g0 * group * head_dim, 0, (g1 - g0) * group * head_dim * sizeof(float));
  for (size_t b = 0, pos = 0; b < num_blocks; b++) {
    const uint8_t *blk = j->v_pool + (size_t)j->block_table[b] * block_bytes;
    const size_t n = num_tokens - pos < block_size ? num_tokens - pos : block_size;
    for (size_t t0 = 0; t0 < n; t0 += KV_TILE) {
      const size_t m = n - t0 < KV_TILE ? n - t0 : KV_TILE;
      for (size_t g = g0; g < g1; g++) {
        const uint8_t *first = blk + t0 * token_bytes + g * row_bytes;
        if (j->format == LLMEM_F16) { /* read in place: no decoded copy */
          for (size_t h = g * group; h < (g + 1) * group; h++)
            j->weighted_rows_f16((const uint16_t *)(const void *)first, token_bytes / 2, scores + h * num_tokens + pos + t0,
                                 m, j->out + h * head_dim, head_dim);
          continue;
        }
        const float *rows = (const float *)(const void *)first;
        size_t stride = token_bytes / sizeof(float);
        if (j->format != LLMEM_F32) {
          for (size_t t = 0; t < m; t++) kv_decode_row(j->format, first + t * token_bytes, tmp + t * head_dim, head_dim);
          rows = tmp;
          stride = head_dim;
        }
        for (size_t h = g * group; h < (g + 1) * group; h++) {
          j->weighted_rows(rows, stride, scores + h * num_tokens + pos + t0, m, j->out + h * head_dim, head_dim);
        }
      }
    }
    pos += n;
  }
}

/* One pool task: one KV head and its query heads, decoding into a tile on this thread's stack. */
static void attend_task(void *ctx, size_t task) {
  float tmp[KV_TILE * SPLIT_MAX_HEAD_DIM];
  attend_kv_heads(ctx, task, task + 1, tmp);
}

/* The job of one query (false: nothing to attend, out zeroed and lse -inf). */
static int attention_job(attn_job *j, int format, const float *query, size_t num_heads, size_t num_kv_heads,
                         size_t head_dim, const void *k_pool, const void *v_pool, const uint32_t *block_table,
                         size_t block_size, size_t num_tokens, float scale, float *scratch, float *out, float *lse) {
  if (num_tokens == 0 || llmem_kv_row_bytes(format, head_dim) == 0 || num_kv_heads == 0) {
    memset(out, 0, num_heads * head_dim * sizeof(float));
    for (size_t h = 0; h < num_heads; h++) lse[h] = -INFINITY;
    return 0;
  }
  const llmem_isa_kernels *k = &llmem_isa_kernels_active;
  *j = (attn_job){k->kv_scores, k->kv_weighted_rows, k->kv_weighted_rows_f16, k->kv_softmax, format, query, num_heads, num_kv_heads,
                  head_dim, block_size, num_tokens, k_pool, v_pool, block_table, scale, scratch, out, lse};
  return 1;
}

void kv_paged_attention_serial(int format, const float *query, size_t num_heads, size_t num_kv_heads, size_t head_dim,
                               const void *k_pool, const void *v_pool, const uint32_t *block_table, size_t block_size,
                               size_t num_tokens, float scale, float *scratch, float *out, float *lse) {
  attn_job j;
  if (attention_job(&j, format, query, num_heads, num_kv_heads, head_dim, k_pool, v_pool, block_table, block_size,
                    num_tokens, scale, scratch, out, lse))
    attend_kv_heads(&j, 0, num_kv_heads, scratch + num_heads * num_tokens);
}

void llmem_paged_attention(int format, const float *query, size_t num_heads, size_t num_kv_heads, size_t head_dim,
                           const void *k_pool, const void *v_pool, const uint32_t *block_table, size_t block_size,
                           size_t num_tokens, float scale, float *scratch, float *out, float *lse) {
  attn_job j;
  if (!attention_job(&j, format, query, num_heads, num_kv_heads, head_dim, k_pool, v_pool, block_table, block_size,
                     num_tokens, scale, scratch, out, lse))
    return;
  /* With several threads and enough work, KV heads go to the pool (each head's results are the
   * same on any thread); otherwise the calling thread takes them all with the caller's tile. */
  if (num_kv_heads > 1 && head_dim <= SPLIT_MAX_HEAD_DIM && llmem_get_threads() > 1 &&
      num_tokens * num_heads * head_dim >= SPLIT_WORK) {
    llmem_pool_run(attend_task, (void *)&j, num_kv_heads);
    return;
  }
  attend_kv_heads(&j, 0, num_kv_heads, scratch + num_heads * num_tokens);
}
