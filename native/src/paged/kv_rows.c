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

void kv_axpy_scalar(float w, const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += w * x[i];
}

#if LLMEM_X86
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
