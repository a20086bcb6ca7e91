/* Row decode and axpy for the paged-attention kernel. */
#include "kv_rows.h"

size_t llmem_kv_row_bytes(int format, size_t head_dim) {
  const int block = format == LLMEM_Q8_0 || format == LLMEM_Q4_0 || format == LLMEM_Q4_1;
  if (block && head_dim % LLMEM_QK != 0) return 0;
  switch (format) {
  case LLMEM_F32: return head_dim * 4;
  case LLMEM_F16:
  case LLMEM_BF16: return head_dim * 2;
  case LLMEM_Q8_0: return head_dim / 32 * 34;
  case LLMEM_Q4_0: return head_dim / 32 * 18;
  case LLMEM_Q4_1: return head_dim / 32 * 20;
  default: return 0;
  }
}

void kv_decode_row(int format, const uint8_t *row, float *dst, size_t n) {
  switch (format) {
  case LLMEM_F32: memcpy(dst, row, n * sizeof(float)); return;
  /* 16-bit rows sit at even offsets of pools the caller allocated element-aligned. */
  case LLMEM_F16: llmem_f16_to_f32((const uint16_t *)(const void *)row, dst, n); return;
  case LLMEM_BF16: llmem_bf16_to_f32((const uint16_t *)(const void *)row, dst, n); return;
  default: llmem_dequantize(format, row, dst, n);
  }
}

void kv_dot_group_scalar(const float *q, size_t group, size_t head_dim, const float *row, float scale, float *out,
                         size_t out_stride) {
  for (size_t j = 0; j < group; j++) {
    float s = 0;
    for (size_t d = 0; d < head_dim; d++) s += q[j * head_dim + d] * row[d];
    out[j * out_stride] = scale * s;
  }
}

void kv_axpy_scalar(float w, const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += w * x[i];
}

#if LLMEM_X86
/* Four heads at a time: each 8-float slice of the row is loaded once for all four. */
LLMEM_AVX2 void kv_dot_group_avx2(const float *q, size_t group, size_t head_dim, const float *row, float scale,
                                  float *out, size_t out_stride) {
  size_t j = 0;
  const size_t vec = head_dim & ~(size_t)7;
  for (; j + 4 <= group; j += 4) {
    const float *q0 = q + j * head_dim, *q1 = q0 + head_dim, *q2 = q1 + head_dim, *q3 = q2 + head_dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (size_t d = 0; d < vec; d += 8) {
      const __m256 r = _mm256_loadu_ps(row + d);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q0 + d), r, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q1 + d), r, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(q2 + d), r, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(q3 + d), r, a3);
    }
    /* Transpose-add the four accumulators into one vector of four sums. */
    const __m256 s01 = _mm256_hadd_ps(a0, a1), s23 = _mm256_hadd_ps(a2, a3);
    const __m256 s = _mm256_hadd_ps(s01, s23);
    const __m128 sums = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    float t[4];
    _mm_storeu_ps(t, sums);
    for (int k = 0; k < 4; k++) {
      const float *qk = q0 + (size_t)k * head_dim;
      for (size_t d = vec; d < head_dim; d++) t[k] += qk[d] * row[d];
      out[(j + (size_t)k) * out_stride] = scale * t[k];
    }
  }
  if (j < group) kv_dot_group_scalar(q + j * head_dim, group - j, head_dim, row, scale, out + j * out_stride, out_stride);
}

LLMEM_AVX2 void kv_axpy_avx2(float w, const float *x, float *y, size_t n) {
  const __m256 vw = _mm256_set1_ps(w);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vw, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(vw, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8)));
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vw, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += w * x[i];
}
#endif

#if LLMEM_ARM
void kv_dot_group_neon(const float *q, size_t group, size_t head_dim, const float *row, float scale, float *out,
                       size_t out_stride) {
  size_t j = 0;
  const size_t vec = head_dim & ~(size_t)3;
  for (; j + 4 <= group; j += 4) {
    const float *q0 = q + j * head_dim;
    float32x4_t a[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    for (size_t d = 0; d < vec; d += 4) {
      const float32x4_t r = vld1q_f32(row + d);
      for (int k = 0; k < 4; k++) a[k] = vfmaq_f32(a[k], vld1q_f32(q0 + (size_t)k * head_dim + d), r);
    }
    for (int k = 0; k < 4; k++) {
      const float *qk = q0 + (size_t)k * head_dim;
      float t = vaddvq_f32(a[k]);
      for (size_t d = vec; d < head_dim; d++) t += qk[d] * row[d];
      out[(j + (size_t)k) * out_stride] = scale * t;
    }
  }
  if (j < group) kv_dot_group_scalar(q + j * head_dim, group - j, head_dim, row, scale, out + j * out_stride, out_stride);
}

void kv_axpy_neon(float w, const float *x, float *y, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), w));
    vst1q_f32(y + i + 4, vfmaq_n_f32(vld1q_f32(y + i + 4), vld1q_f32(x + i + 4), w));
  }
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), w));
  for (; i < n; i++) y[i] += w * x[i];
}
#endif
