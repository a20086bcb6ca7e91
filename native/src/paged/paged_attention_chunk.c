/* Causal attention of a prefill chunk in one call: query i of the chunk attends over the first
 * first_tokens + i tokens of the block table (the cached prefix plus the chunk up to itself).
 * Each query runs the one-query kernel (kv_paged_attention_serial), so every query's output and
 * log-sum-exp are bit for bit what llmem_paged_attention gives it alone; the saving is the
 * per-call cost on the JS side (one call per layer instead of one per chunk token).
 *
 * Threads: the queries are dealt round-robin to a few pool tasks (query i to task i % tasks:
 * later queries see more tokens, so dealing them out evens the work), each task with its own
 * slice of scratch. A query's arithmetic does not depend on the task that runs it. */
#include <math.h>
#include <string.h>

#include "../formats.h"
#include "../quant/quant_internal.h"
#include "kv_rows.h"

typedef struct {
  int format;
  const float *queries;
  size_t num_queries, num_heads, num_kv_heads, head_dim, block_size, first_tokens, tasks, slot_floats;
  const void *k_pool, *v_pool;
  const uint32_t *block_table;
  float scale;
  float *scratch, *out, *lse;
} chunk_job;

static void chunk_task(void *ctx, size_t task) {
  const chunk_job *j = ctx;
  const size_t q_floats = j->num_heads * j->head_dim;
  float *scratch = j->scratch + task * j->slot_floats;
  for (size_t i = task; i < j->num_queries; i += j->tasks)
    kv_paged_attention_serial(j->format, j->queries + i * q_floats, j->num_heads, j->num_kv_heads, j->head_dim,
                              j->k_pool, j->v_pool, j->block_table, j->block_size, j->first_tokens + i, j->scale,
                              scratch, j->out + i * q_floats, j->lse + i * j->num_heads);
}

size_t llmem_paged_attention_chunk_slot(size_t num_queries, size_t num_heads, size_t head_dim, size_t first_tokens) {
  if (num_queries == 0) return 0;
  return (first_tokens + num_queries - 1) * num_heads + 32 * head_dim;
}

int llmem_paged_attention_chunk(int format, const float *queries, size_t num_queries, size_t num_heads,
                                size_t num_kv_heads, size_t head_dim, const void *k_pool, const void *v_pool,
                                const uint32_t *block_table, size_t block_size, size_t first_tokens, float scale,
                                float *scratch, size_t scratch_floats, float *out, float *lse) {
  if (num_queries == 0) return 0;
  if (num_kv_heads == 0 || num_heads % num_kv_heads || block_size == 0 || first_tokens == 0 ||
      llmem_kv_row_bytes(format, head_dim) == 0)
    return -1;
  const size_t slot = llmem_paged_attention_chunk_slot(num_queries, num_heads, head_dim, first_tokens);
  const size_t slots = scratch_floats / slot;
  if (slots == 0) return -1;
  /* A few tasks per thread (the pool's caller takes what a busy worker does not), never more
   * than there are queries or scratch slots. */
  const size_t threads = (size_t)llmem_get_threads();
  size_t tasks = threads == 1 ? 1 : threads * 4;
  if (tasks > num_queries) tasks = num_queries;
  if (tasks > slots) tasks = slots;
  const chunk_job j = {format, queries, num_queries, num_heads, num_kv_heads, head_dim, block_size, first_tokens,
                       tasks, slot, k_pool, v_pool, block_table, scale, scratch, out, lse};
  llmem_pool_run(chunk_task, (void *)&j, tasks);
  return 0;
}
