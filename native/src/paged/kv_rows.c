/* Row decode and axpy for the paged-attention kernel. */
#include "../formats.h"
#include "kv_rows.h"
#include "../quant/quant_internal.h"

/* One row against the query heads of its group (out[j * out_stride] for j < group). */
typedef void (*kv_dot_fn)(const float *q, size_t group, size_t head_dim, const float *row, float scale, float *out,
                          size_t out_stride);

size_t llmem_kv_row_bytes(int format, size_t head_dim) {
  if (!llmem_row_format_ok(format, head_dim)) return 0;
  return head_dim / (size_t)llmem_formats[format].block_size * llmem_formats[format].block_bytes;
}

void kv_decode_row(int format, const uint8_t *row, float *dst, size_t n) {
  /* 16-bit rows sit at even offsets of pools the caller allocated element-aligned. */
  if (format == LLMEM_F32) memcpy(dst, row, n * sizeof(float));
  else llmem_format_kernels_active[format].to_float(row, dst, n);
}

static void kv_dot_group_scalar(const float *q, size_t group, size_t head_dim, const float *row, float scale, float *out,
                         size_t out_stride) {
  for (size_t j = 0; j < group; j++) {
    float s = 0;
    for (size_t d = 0; d < head_dim; d++) s += q[j * head_dim + d] * row[d];
    out[j * out_stride] = scale * s;
  }
}

void kv_weighted_rows_scalar(const float *rows, size_t stride, const float *w, size_t n, float *out, size_t head_dim) {
  for (size_t t = 0; t < n; t++) {
    for (size_t d = 0; d < head_dim; d++) out[d] += w[t] * rows[t * stride + d];
  }
}

void kv_weighted_rows_f16_scalar(const uint16_t *rows, size_t stride, const float *w, size_t n, float *out,
                                 size_t head_dim) {
  for (size_t t = 0; t < n; t++) {
    for (size_t d = 0; d < head_dim; d++) out[d] += w[t] * fp16_to_fp32(rows[t * stride + d]);
  }
}

/* n rows through the per-row group dot: each row decoded (block formats, f16, bf16) into tmp. */
static inline void kv_scores_rows(kv_dot_fn dot, int format, const float *q, size_t group, size_t head_dim,
                                  const uint8_t *rows, size_t row_bytes, size_t n, float scale, float *out,
                                  size_t out_stride, float *tmp) {
  for (size_t t = 0; t < n; t++, rows += row_bytes) {
    const float *row = (const float *)(const void *)rows;
    if (format != LLMEM_F32) {
      kv_decode_row(format, rows, tmp, head_dim);
      row = tmp;
    }
    dot(q, group, head_dim, row, scale, out + t, out_stride);
  }
}

void kv_scores_scalar(int format, const float *q, size_t group, size_t head_dim, const uint8_t *rows, size_t row_bytes,
                      size_t n, float scale, float *out, size_t out_stride, float *tmp) {
  kv_scores_rows(kv_dot_group_scalar, format, q, group, head_dim, rows, row_bytes, n, scale, out, out_stride, tmp);
}

#if LLMEM_X86
/* Four heads at a time: each 8-float slice of the row is loaded once for all four. A last pass
 * of fewer than four heads (every pass when the group is 1-3, as in multi-head attention)
 * repeats its last head in the missing slots, computed and not stored: every head takes the
 * same vector arithmetic whatever its group size (the scalar loop it replaces made MHA's scores
 * ~4x slower than their matvecs' share). */
LLMEM_AVX2 static void kv_dot_group_avx2(const float *q, size_t group, size_t head_dim, const float *row, float scale,
                                  float *out, size_t out_stride) {
  const size_t vec = head_dim & ~(size_t)7;
  for (size_t j = 0; j < group; j += 4) {
    const float *qk[4];
    for (size_t k = 0; k < 4; k++) qk[k] = q + (j + k < group ? j + k : group - 1) * head_dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (size_t d = 0; d < vec; d += 8) {
      const __m256 r = _mm256_loadu_ps(row + d);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(qk[0] + d), r, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(qk[1] + d), r, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(qk[2] + d), r, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(qk[3] + d), r, a3);
    }
    /* Transpose-add the four accumulators into one vector of four sums (lane k from a_k only). */
    const __m256 s01 = _mm256_hadd_ps(a0, a1), s23 = _mm256_hadd_ps(a2, a3);
    const __m256 s = _mm256_hadd_ps(s01, s23);
    const __m128 sums = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    float t[4];
    _mm_storeu_ps(t, sums);
    for (size_t k = 0; k < 4 && j + k < group; k++) {
      for (size_t d = vec; d < head_dim; d++) t[k] += qk[k][d] * row[d];
      out[(j + k) * out_stride] = scale * t[k];
    }
  }
}


/* f32 and f16 rows are scored in place, four tokens per pass (a short last pass repeats its last
 * token, computed and not stored): each query slice is loaded once for four rows and the four
 * sums share one transpose-add. Every score takes the same arithmetic wherever its token falls;
 * no row is copied and there is no call per row (the decode-then-dot path this replaces spent
 * most of MHA's attention time in per-row calls). Other formats decode row by row. */
LLMEM_AVX2 static inline __attribute__((always_inline)) void kv_scores_float_avx2(
    int format, const float *q, size_t group, size_t head_dim, const uint8_t *rows, size_t row_bytes, size_t n,
    float scale, float *out, size_t out_stride) {
  const size_t vec = head_dim & ~(size_t)7;
  for (size_t t = 0; t < n; t += 4) {
    const uint8_t *r[4];
    for (size_t k = 0; k < 4; k++) r[k] = rows + (t + k < n ? t + k : n - 1) * row_bytes;
    for (size_t j = 0; j < group; j++) {
      const float *qj = q + j * head_dim;
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
      for (size_t d = 0; d < vec; d += 8) {
        const __m256 qv = _mm256_loadu_ps(qj + d);
        a0 = _mm256_fmadd_ps(qv, kv_load8_avx2(format, r[0], d), a0);
        a1 = _mm256_fmadd_ps(qv, kv_load8_avx2(format, r[1], d), a1);
        a2 = _mm256_fmadd_ps(qv, kv_load8_avx2(format, r[2], d), a2);
        a3 = _mm256_fmadd_ps(qv, kv_load8_avx2(format, r[3], d), a3);
      }
      const __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
      float sums[4];
      _mm_storeu_ps(sums, _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1)));
      for (size_t k = 0; k < 4 && t + k < n; k++) {
        float v = sums[k];
        for (size_t d = vec; d < head_dim; d++) {
          v += qj[d] * kv_load1_avx2(format, r[k], d);
        }
        out[j * out_stride + t + k] = scale * v;
      }
    }
  }
}

LLMEM_AVX2 void kv_scores_avx2(int format, const float *q, size_t group, size_t head_dim, const uint8_t *rows,
                               size_t row_bytes, size_t n, float scale, float *out, size_t out_stride, float *tmp) {
  if (format == LLMEM_F32) kv_scores_float_avx2(LLMEM_F32, q, group, head_dim, rows, row_bytes, n, scale, out, out_stride);
  else if (format == LLMEM_F16)
    kv_scores_float_avx2(LLMEM_F16, q, group, head_dim, rows, row_bytes, n, scale, out, out_stride);
  else kv_scores_rows(kv_dot_group_avx2, format, q, group, head_dim, rows, row_bytes, n, scale, out, out_stride, tmp);
}

/* out[d] += Σ_t w[t]·rows[t·stride + d], 32 columns at a time with the sums in registers (each
 * sum takes the rows in order, one FMA each), then 8, then one. The f16 copy converts each
 * 8-value slice in the register (vcvtph2ps is exact), so an f16 pool needs no decoded copy and
 * gives the bits of decoding the rows first and running the f32 copy. */
#define KV_WEIGHTED_ROWS(name, T, LOAD8, LOAD1)                                                           \
  LLMEM_AVX2 void name(const T *rows, size_t stride, const float *w, size_t n, float *out, size_t head_dim) { \
    size_t d = 0;                                                                                           \
    for (; d + 32 <= head_dim; d += 32) {                                                                   \
      __m256 a0 = _mm256_loadu_ps(out + d), a1 = _mm256_loadu_ps(out + d + 8);                              \
      __m256 a2 = _mm256_loadu_ps(out + d + 16), a3 = _mm256_loadu_ps(out + d + 24);                        \
      for (size_t t = 0; t < n; t++) {                                                                      \
        const __m256 wt = _mm256_set1_ps(w[t]);                                                             \
        const T *r = rows + t * stride + d;                                                                 \
        a0 = _mm256_fmadd_ps(wt, LOAD8(r), a0);                                                             \
        a1 = _mm256_fmadd_ps(wt, LOAD8(r + 8), a1);                                                         \
        a2 = _mm256_fmadd_ps(wt, LOAD8(r + 16), a2);                                                        \
        a3 = _mm256_fmadd_ps(wt, LOAD8(r + 24), a3);                                                        \
      }                                                                                                     \
      _mm256_storeu_ps(out + d, a0), _mm256_storeu_ps(out + d + 8, a1);                                     \
      _mm256_storeu_ps(out + d + 16, a2), _mm256_storeu_ps(out + d + 24, a3);                               \
    }                                                                                                       \
    for (; d + 8 <= head_dim; d += 8) {                                                                     \
      __m256 a = _mm256_loadu_ps(out + d);                                                                  \
      for (size_t t = 0; t < n; t++) a = _mm256_fmadd_ps(_mm256_set1_ps(w[t]), LOAD8(rows + t * stride + d), a); \
      _mm256_storeu_ps(out + d, a);                                                                         \
    }                                                                                                       \
    for (; d < head_dim; d++) {                                                                             \
      float a = out[d];                                                                                     \
      for (size_t t = 0; t < n; t++) a += w[t] * LOAD1(rows[t * stride + d]);                               \
      out[d] = a;                                                                                           \
    }                                                                                                       \
  }
#define KV_LOAD8_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define KV_LOAD1_F16(v) _cvtsh_ss(v)
#define KV_LOAD1_F32(v) (v)
KV_WEIGHTED_ROWS(kv_weighted_rows_f16_avx2, uint16_t, KV_LOAD8_F16, KV_LOAD1_F16)
KV_WEIGHTED_ROWS(kv_weighted_rows_avx2, float, _mm256_loadu_ps, KV_LOAD1_F32)
#endif

#if LLMEM_ARM
/* Four heads at a time, a short last pass repeating its last head (as the AVX2 path). */
static void kv_dot_group_neon(const float *q, size_t group, size_t head_dim, const float *row, float scale, float *out,
                       size_t out_stride) {
  const size_t vec = head_dim & ~(size_t)3;
  for (size_t j = 0; j < group; j += 4) {
    const float *qk[4];
    for (size_t k = 0; k < 4; k++) qk[k] = q + (j + k < group ? j + k : group - 1) * head_dim;
    float32x4_t a[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    for (size_t d = 0; d < vec; d += 4) {
      const float32x4_t r = vld1q_f32(row + d);
      for (int k = 0; k < 4; k++) a[k] = vfmaq_f32(a[k], vld1q_f32(qk[k] + d), r);
    }
    for (size_t k = 0; k < 4 && j + k < group; k++) {
      float t = vaddvq_f32(a[k]);
      for (size_t d = vec; d < head_dim; d++) t += qk[k][d] * row[d];
      out[(j + k) * out_stride] = scale * t;
    }
  }
}

void kv_scores_neon(int format, const float *q, size_t group, size_t head_dim, const uint8_t *rows, size_t row_bytes,
                    size_t n, float scale, float *out, size_t out_stride, float *tmp) {
  kv_scores_rows(kv_dot_group_neon, format, q, group, head_dim, rows, row_bytes, n, scale, out, out_stride, tmp);
}

/* kv_weighted_rows_neon's loop with fp16 widened in the register (exact). */
void kv_weighted_rows_f16_neon(const uint16_t *rows, size_t stride, const float *w, size_t n, float *out,
                               size_t head_dim) {
  size_t d = 0;
  for (; d + 16 <= head_dim; d += 16) {
    float32x4_t a0 = vld1q_f32(out + d), a1 = vld1q_f32(out + d + 4), a2 = vld1q_f32(out + d + 8), a3 = vld1q_f32(out + d + 12);
    for (size_t t = 0; t < n; t++) {
      const float16x8_t h0 = vreinterpretq_f16_u16(vld1q_u16(rows + t * stride + d));
      const float16x8_t h1 = vreinterpretq_f16_u16(vld1q_u16(rows + t * stride + d + 8));
      a0 = vfmaq_n_f32(a0, vcvt_f32_f16(vget_low_f16(h0)), w[t]);
      a1 = vfmaq_n_f32(a1, vcvt_high_f32_f16(h0), w[t]);
      a2 = vfmaq_n_f32(a2, vcvt_f32_f16(vget_low_f16(h1)), w[t]);
      a3 = vfmaq_n_f32(a3, vcvt_high_f32_f16(h1), w[t]);
    }
    vst1q_f32(out + d, a0), vst1q_f32(out + d + 4, a1), vst1q_f32(out + d + 8, a2), vst1q_f32(out + d + 12, a3);
  }
  for (; d + 4 <= head_dim; d += 4) {
    float32x4_t a = vld1q_f32(out + d);
    for (size_t t = 0; t < n; t++)
      a = vfmaq_n_f32(a, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(rows + t * stride + d))), w[t]);
    vst1q_f32(out + d, a);
  }
  for (; d < head_dim; d++) {
    float a = out[d];
    for (size_t t = 0; t < n; t++) a += w[t] * fp16_to_fp32(rows[t * stride + d]);
    out[d] = a;
  }
}

void kv_weighted_rows_neon(const float *rows, size_t stride, const float *w, size_t n, float *out, size_t head_dim) {
  size_t d = 0;
  for (; d + 16 <= head_dim; d += 16) {
    float32x4_t a0 = vld1q_f32(out + d), a1 = vld1q_f32(out + d + 4), a2 = vld1q_f32(out + d + 8), a3 = vld1q_f32(out + d + 12);
    for (size_t t = 0; t < n; t++) {
      const float *r = rows + t * stride + d;
      a0 = vfmaq_n_f32(a0, vld1q_f32(r), w[t]);
      a1 = vfmaq_n_f32(a1, vld1q_f32(r + 4), w[t]);
      a2 = vfmaq_n_f32(a2, vld1q_f32(r + 8), w[t]);
      a3 = vfmaq_n_f32(a3, vld1q_f32(r + 12), w[t]);
    }
    vst1q_f32(out + d, a0), vst1q_f32(out + d + 4, a1), vst1q_f32(out + d + 8, a2), vst1q_f32(out + d + 12, a3);
  }
  for (; d + 4 <= head_dim; d += 4) {
    float32x4_t a = vld1q_f32(out + d);
    for (size_t t = 0; t < n; t++) a = vfmaq_n_f32(a, vld1q_f32(rows + t * stride + d), w[t]);
    vst1q_f32(out + d, a);
  }
  for (; d < head_dim; d++) {
    float a = out[d];
    for (size_t t = 0; t < n; t++) a += w[t] * rows[t * stride + d];
    out[d] = a;
  }
}
#endif
