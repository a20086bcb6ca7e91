/* A few consecutive queries of a prefill chunk at once (paged_attention_chunk.c deals them out to
 * the pool). Query i of the chunk attends over the first n_i = first_tokens + i tokens, so
 * consecutive queries read almost the same K and V rows: the AVX2 kernel converts each f32/f16
 * row slice once for up to KV_CHUNK_QUERIES queries instead of once per query.
 *
 * Every query keeps the one-query kernel's arithmetic (paged_attention.c with kv_rows.c's AVX2
 * rows), so the chunk's outputs and log-sum-exps stay bit for bit llmem_paged_attention's:
 *  - a score is an 8-lane FMA chain over the head's values in order, reduced by the same two
 *    hadds and a low + high add, the tail values added one by one (multiply, then add), times
 *    scale: nothing in it depends on which other tokens or queries share the pass;
 *  - softmax is the active one over the query's own n_i scores;
 *  - an output value is an FMA chain over the tokens in order from +0 (the tail: multiply, add),
 *    whatever tiles the one-query kernel split the tokens into (it stores and reloads floats).
 * The scalar entry (every other ISA, and every other KV format) runs the one-query kernel per query. */
#include <string.h>

#include "../formats.h"
#include "../quant/quant_internal.h"
#include "kv_rows.h"

void kv_chunk_queries_scalar(const kv_chunk_job *j, size_t i0, size_t nq, float *scratch) {
  const size_t q_floats = j->num_heads * j->head_dim;
  for (size_t i = i0; i < i0 + nq; i++)
    kv_paged_attention_serial(j->format, j->queries + i * q_floats, j->num_heads, j->num_kv_heads, j->head_dim,
                              j->k_pool, j->v_pool, j->block_table, j->block_size, j->first_tokens + i, j->scale,
                              scratch, j->out + i * q_floats, j->lse + i * j->num_heads);
}

#if LLMEM_X86
typedef struct {
  int format;
  const uint8_t *pool;
  const uint32_t *table;
  size_t block_size, token_bytes, block_bytes, head_offset;
} kv_rows_at;

/* Token t's row of the head (its block from the table). */
static inline const uint8_t *row_of(const kv_rows_at *r, size_t t) {
  return r->pool + (size_t)r->table[t / r->block_size] * r->block_bytes + t % r->block_size * r->token_bytes +
         r->head_offset;
}

/* s[q][t] = scale · q_q · K_t for t < n[q], q < nq (n[q] ascending), four tokens per pass from each
 * block's first token, as kv_scores_float_avx2 walks a block. All the group's queries share each
 * pass's row slices (measured on 128 stories15M queries, f16 / f32 pool: ×0.92 / ×0.79 the
 * one-query kernel's time; two queries per pass, which spills no accumulator, ×0.95 / ×0.96). */
LLMEM_AVX2 static inline __attribute__((always_inline)) void scores_queries(const kv_rows_at *k, const float *const q[],
                                                                           size_t nq, const size_t n[], size_t head_dim,
                                                                           float scale, float *const s[]) {
  const int format = k->format;
  const size_t vec = head_dim & ~(size_t)7, total = n[nq - 1];
  for (size_t pos = 0; pos < total; pos += k->block_size) {
    const size_t in_block = total - pos < k->block_size ? total - pos : k->block_size;
    const uint8_t *blk = row_of(k, pos);
    for (size_t t = 0; t < in_block; t += 4) {
      const uint8_t *r[4];
      for (size_t c = 0; c < 4; c++) r[c] = blk + (t + c < in_block ? t + c : in_block - 1) * k->token_bytes;
      __m256 a[KV_CHUNK_QUERIES][4];
      for (size_t i = 0; i < KV_CHUNK_QUERIES; i++)
        for (int c = 0; c < 4; c++) a[i][c] = _mm256_setzero_ps();
      for (size_t d = 0; d < vec; d += 8) {
        const __m256 k0 = kv_load8_avx2(format, r[0], d), k1 = kv_load8_avx2(format, r[1], d);
        const __m256 k2 = kv_load8_avx2(format, r[2], d), k3 = kv_load8_avx2(format, r[3], d);
        for (size_t i = 0; i < KV_CHUNK_QUERIES; i++) {
          if (i >= nq) break;
          const __m256 qv = _mm256_loadu_ps(q[i] + d);
          a[i][0] = _mm256_fmadd_ps(qv, k0, a[i][0]);
          a[i][1] = _mm256_fmadd_ps(qv, k1, a[i][1]);
          a[i][2] = _mm256_fmadd_ps(qv, k2, a[i][2]);
          a[i][3] = _mm256_fmadd_ps(qv, k3, a[i][3]);
        }
      }
      for (size_t i = 0; i < nq; i++) {
        const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a[i][0], a[i][1]), _mm256_hadd_ps(a[i][2], a[i][3]));
        float sums[4];
        _mm_storeu_ps(sums, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
        for (size_t c = 0; c < 4 && pos + t + c < n[i]; c++) {
          float v = sums[c];
          for (size_t d = vec; d < head_dim; d++) v += q[i][d] * kv_load1_avx2(format, r[c], d);
          s[i][pos + t + c] = scale * v;
        }
      }
    }
  }
}

/* acc[k][c] += p[k][t] · V_t[d + 8c .. +8) for tokens [t0, t1), queries k in [k0, nq), c < w:
 * each row slice converted once for all of them. */
LLMEM_AVX2 static inline __attribute__((always_inline)) void weighted_span(const kv_rows_at *v, const float *const p[],
                                                                          size_t k0, size_t nq, size_t t0, size_t t1,
                                                                          size_t d, size_t w,
                                                                          __m256 acc[KV_CHUNK_QUERIES][4]) {
  for (size_t pos = t0; pos < t1;) {
    const size_t in_block = v->block_size - pos % v->block_size, m = t1 - pos < in_block ? t1 - pos : in_block;
    const uint8_t *row = row_of(v, pos);
    for (size_t t = pos; t < pos + m; t++, row += v->token_bytes) {
      for (size_t c = 0; c < 4; c++) {
        if (c >= w) break;
        const __m256 x = kv_load8_avx2(v->format, row, d + 8 * c);
        for (size_t k = 0; k < KV_CHUNK_QUERIES; k++)
          if (k >= k0 && k < nq) acc[k][c] = _mm256_fmadd_ps(_mm256_set1_ps(p[k][t]), x, acc[k][c]);
      }
    }
    pos += m;
  }
}

/* out[q] = Σ_t p[q][t] · V_t over t < n[q] (out[q] written whole): up to four 8-value slices per
 * pass with the sums in registers; the tail values one by one. */
LLMEM_AVX2 static inline __attribute__((always_inline)) void weighted_queries(const kv_rows_at *v, const float *const p[],
                                                                             size_t nq, const size_t n[], size_t head_dim,
                                                                             float *const out[]) {
  const size_t vec = head_dim & ~(size_t)7;
  for (size_t d = 0; d < vec;) {
    const size_t w = vec - d >= 32 ? 4 : (vec - d) / 8; /* slices this pass */
    __m256 a[KV_CHUNK_QUERIES][4];
    for (size_t i = 0; i < KV_CHUNK_QUERIES; i++)
      for (int c = 0; c < 4; c++) a[i][c] = _mm256_setzero_ps();
    /* tokens [n[i-1], n[i]) are read by queries i .. nq-1 (n ascending) */
    if (nq == KV_CHUNK_QUERIES) weighted_span(v, p, 0, KV_CHUNK_QUERIES, 0, n[0], d, w, a);
    else weighted_span(v, p, 0, nq, 0, n[0], d, w, a);
    for (size_t i = 1; i < nq; i++) weighted_span(v, p, i, nq, n[i - 1], n[i], d, w, a);
    for (size_t i = 0; i < nq; i++)
      for (size_t c = 0; c < w; c++) _mm256_storeu_ps(out[i] + d + 8 * c, a[i][c]);
    d += 8 * w;
  }
  for (size_t d = vec; d < head_dim; d++)
    for (size_t i = 0; i < nq; i++) {
      float a = 0.0f;
      for (size_t t = 0; t < n[i]; t++) a += p[i][t] * kv_load1_avx2(v->format, row_of(v, t), d);
      out[i][d] = a;
    }
}

/* scratch: KV_CHUNK_QUERIES · n_max floats of scores (within the one-query kernel's slot when
 * num_heads >= KV_CHUNK_QUERIES; llmem_paged_attention_chunk caps nq by num_heads otherwise). */
/* One format's queries (format a constant where it is inlined). */
LLMEM_AVX2 static inline __attribute__((always_inline)) void chunk_queries(int format, const kv_chunk_job *j, size_t i0,
                                                                          size_t nq, float *scratch) {
  const size_t head_dim = j->head_dim, group = j->num_heads / j->num_kv_heads, q_floats = j->num_heads * head_dim;
  const size_t row_bytes = llmem_kv_row_bytes(format, head_dim), token_bytes = j->num_kv_heads * row_bytes;
  size_t n[KV_CHUNK_QUERIES];
  float *s[KV_CHUNK_QUERIES];
  for (size_t i = 0; i < nq; i++) n[i] = j->first_tokens + i0 + i;
  for (size_t i = 0; i < nq; i++) s[i] = scratch + i * n[nq - 1];
  for (size_t g = 0; g < j->num_kv_heads; g++) {
    const kv_rows_at k = {format, j->k_pool, j->block_table, j->block_size, token_bytes, j->block_size * token_bytes,
                          g * row_bytes};
    kv_rows_at v = k;
    v.pool = j->v_pool;
    for (size_t h = g * group; h < (g + 1) * group; h++) {
      const float *q[KV_CHUNK_QUERIES];
      float *out[KV_CHUNK_QUERIES];
      for (size_t i = 0; i < nq; i++) {
        q[i] = j->queries + (i0 + i) * q_floats + h * head_dim;
        out[i] = j->out + (i0 + i) * q_floats + h * head_dim;
      }
      scores_queries(&k, q, nq, n, head_dim, j->scale, s);
      for (size_t i = 0; i < nq; i++) j->lse[(i0 + i) * j->num_heads + h] = j->softmax(s[i], n[i]);
      weighted_queries(&v, (const float *const *)s, nq, n, head_dim, out);
    }
  }
}

/* scratch: nq · n_max floats of scores (one slot of llmem_paged_attention_chunk_slot holds them:
 * nq <= num_heads). */
LLMEM_AVX2 void kv_chunk_queries_avx2(const kv_chunk_job *j, size_t i0, size_t nq, float *scratch) {
  if (nq > KV_CHUNK_QUERIES || nq > j->num_heads) kv_chunk_queries_scalar(j, i0, nq, scratch);
  else if (j->format == LLMEM_F16) chunk_queries(LLMEM_F16, j, i0, nq, scratch);
  else if (j->format == LLMEM_F32) chunk_queries(LLMEM_F32, j, i0, nq, scratch);
  else kv_chunk_queries_scalar(j, i0, nq, scratch);
}
#endif
