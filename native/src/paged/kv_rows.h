/* What the paged-attention kernel needs per row: decode to f32 (quant-kernels' converters and
 * dequantizers, through the format table), and here, each with its scalar reference
 * beside the AVX2 and NEON paths, the grouped dot, weighted rows and softmax. Internal to libllmem. */
#ifndef LLMEM_PAGED_KV_ROWS_H
#define LLMEM_PAGED_KV_ROWS_H

#include <string.h>

#include "../formats.h"

/* Decodes one row of n values (n a multiple of 32 for block formats) into dst. */
void kv_decode_row(int format, const uint8_t *row, float *dst, size_t n);

/* The query heads of one KV group against n rows of `format` (row t at rows + t*row_bytes):
 * out[j * out_stride + t] = scale * (q + j*head_dim) . row_t for j < group, t < n. tmp holds
 * head_dim floats (a block-format row decoded there). */
typedef void (*kv_scores_fn)(int format, const float *q, size_t group, size_t head_dim, const uint8_t *rows,
                             size_t row_bytes, size_t n, float scale, float *out, size_t out_stride, float *tmp);
#define KV_SCORES_DECL(isa)                                                                                      \
  void kv_scores_##isa(int format, const float *q, size_t group, size_t head_dim, const uint8_t *rows,           \
                       size_t row_bytes, size_t n, float scale, float *out, size_t out_stride, float *tmp);
KV_SCORES_DECL(scalar)
#if LLMEM_X86
KV_SCORES_DECL(avx2)
#endif
#if LLMEM_ARM
KV_SCORES_DECL(neon)
#endif

/* out[d] += Σ_t w[t] · rows[t*stride + d] for t < n, d < head_dim: the output stays in registers
 * across the n rows, so it is loaded and stored once per call instead of once per row. */
typedef void (*kv_weighted_rows_fn)(const float *rows, size_t stride, const float *w, size_t n, float *out,
                                    size_t head_dim);
void kv_weighted_rows_scalar(const float *rows, size_t stride, const float *w, size_t n, float *out, size_t head_dim);
#if LLMEM_X86
void kv_weighted_rows_avx2(const float *rows, size_t stride, const float *w, size_t n, float *out, size_t head_dim);
#endif
#if LLMEM_ARM
void kv_weighted_rows_neon(const float *rows, size_t stride, const float *w, size_t n, float *out, size_t head_dim);
#endif

/* kv_weighted_rows over f16 rows read in place (no decoded copy): rows[t*stride + d] is fp16. */
typedef void (*kv_weighted_rows_f16_fn)(const uint16_t *rows, size_t stride, const float *w, size_t n, float *out,
                                        size_t head_dim);
void kv_weighted_rows_f16_scalar(const uint16_t *rows, size_t stride, const float *w, size_t n, float *out,
                                 size_t head_dim);
#if LLMEM_X86
void kv_weighted_rows_f16_avx2(const uint16_t *rows, size_t stride, const float *w, size_t n, float *out,
                               size_t head_dim);
#endif
#if LLMEM_ARM
void kv_weighted_rows_f16_neon(const uint16_t *rows, size_t stride, const float *w, size_t n, float *out,
                               size_t head_dim);
#endif

#if LLMEM_X86
/* Eight values of an f32 or f16 row from value d on, and value d alone (exact: vcvtph2ps). */
LLMEM_AVX2 static inline __m256 kv_load8_avx2(int format, const uint8_t *row, size_t d) {
  if (format == LLMEM_F32) return _mm256_loadu_ps((const float *)(const void *)row + d);
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(row + 2 * d)));
}
LLMEM_AVX2 static inline float kv_load1_avx2(int format, const uint8_t *row, size_t d) {
  return format == LLMEM_F32 ? ((const float *)(const void *)row)[d] : _cvtsh_ss(((const uint16_t *)(const void *)row)[d]);
}
#endif

/* In place s[i] = exp(s[i] - max) / Σ; returns max + log Σ (the log-sum-exp). */
typedef float (*kv_softmax_fn)(float *s, size_t n);
float kv_softmax_scalar(float *s, size_t n);
#if LLMEM_X86
float kv_softmax_avx2(float *s, size_t n);
#endif
#if LLMEM_ARM
float kv_softmax_neon(float *s, size_t n);
#endif

/* A prefill chunk's causal attention (llmem_paged_attention_chunk): query i (queries + i·num_heads·head_dim)
 * attends over the first first_tokens + i tokens of the block table. */
typedef struct kv_chunk_job {
  int format;
  const float *queries;
  size_t num_queries, num_heads, num_kv_heads, head_dim, block_size, first_tokens;
  const void *k_pool, *v_pool;
  const uint32_t *block_table;
  float scale;
  float *out, *lse;
  kv_softmax_fn softmax; /* the active ISA's */
} kv_chunk_job;

/* Queries i0 .. i0+nq-1 of the chunk (nq <= KV_CHUNK_QUERIES and <= num_heads: the scratch is one
 * slot of llmem_paged_attention_chunk_slot floats), each bit for bit llmem_paged_attention alone
 * (kv_chunk_queries.c). */
#define KV_CHUNK_QUERIES 3

/* llmem_paged_attention on the calling thread alone (same arguments, same bits): the chunk kernel
 * runs one per query inside its own pool tasks, where a nested pool job would deadlock. */
void kv_paged_attention_serial(int format, const float *query, size_t num_heads, size_t num_kv_heads, size_t head_dim,
                               const void *k_pool, const void *v_pool, const uint32_t *block_table, size_t block_size,
                               size_t num_tokens, float scale, float *scratch, float *out, float *lse);

#endif
