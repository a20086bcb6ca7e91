/* Causal attention of a prefill chunk in one call: query i of the chunk attends over the first
 * first_tokens + i tokens of the block table (the cached prefix plus the chunk up to itself).
 * Every query's output and log-sum-exp are bit for bit what llmem_paged_attention gives it alone:
 * the active ISA's kv_chunk_queries takes a few consecutive queries at once (kv_chunk_queries.c:
 * on AVX2 with an f32/f16 pool each K/V row slice is converted once for all of them; elsewhere the
 * one-query kernel per query), and one call per layer replaces one per chunk token on the JS side.
 *
 * Threads: the groups of queries are dealt round-robin to a few pool tasks (group g to task
 * g % tasks: later queries see more tokens, so dealing them out evens the work), each task with
 * its own slot of scratch. A query's arithmetic does not depend on the task or group that runs it. */
#include <math.h>
#include <string.h>

#include "../formats.h"
#include "../quant/quant_internal.h"
#include "kv_rows.h"

/* The pool's view of the chunk: groups of `per_group` consecutive queries dealt round-robin. */
typedef struct {
  kv_chunk_job q;
  size_t per_group, tasks, slot_floats;
  float *scratch;
} chunk_tasks;

static void chunk_task(void *ctx, size_t task) {
  const chunk_tasks *c = ctx;
  const size_t n = c->q.num_queries, per = c->per_group;
  float *scratch = c->scratch + task * c->slot_floats;
  for (size_t i = task * per; i < n; i += c->tasks * per)
    llmem_isa_kernels_active.kv_chunk_queries(&c->q, i, n - i < per ? n - i : per, scratch);
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
  /* A group's scores (one head of each of its queries) fit in the slot's num_heads rows. */
  const size_t per_group = num_heads < KV_CHUNK_QUERIES ? num_heads : KV_CHUNK_QUERIES;
  const size_t groups = (num_queries + per_group - 1) / per_group;
  if (tasks > groups) tasks = groups;
  const chunk_tasks c = {{format, queries, num_queries, num_heads, num_kv_heads, head_dim, block_size, first_tokens,
                          k_pool, v_pool, block_table, scale, out, lse, llmem_isa_kernels_active.kv_softmax},
                         per_group, tasks, slot, scratch};
  llmem_pool_run(chunk_task, (void *)&c, tasks);
  return 0;
}
