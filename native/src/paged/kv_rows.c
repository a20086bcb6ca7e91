/* Row codecs for KV pools: the scalar reference beside the AVX2 and NEON paths. */
#include <string.h>

#include "kv_rows.h"

size_t llmem_kv_row_bytes(int format, size_t head_dim) {
  const int block = format == LLMEM_KV_Q8_0 || format == LLMEM_KV_Q4_0 || format == LLMEM_KV_Q4_1;
  if (block && head_dim % 32 != 0) return 0;
  switch (format) {
  case LLMEM_KV_F32: return head_dim * 4;
  case LLMEM_KV_F16:
  case LLMEM_KV_BF16: return head_dim * 2;
  case LLMEM_KV_Q8_0: return head_dim / 32 * 34;
  case LLMEM_KV_Q4_0: return head_dim / 32 * 18;
  case LLMEM_KV_Q4_1: return head_dim / 32 * 20;
  default: return 0;
  }
}

/* ---- scalar reference --------------------------------------------------- */

static void decode_scalar(int format, const uint8_t *row, float *dst, size_t n) {
  switch (format) {
  case LLMEM_KV_F32: memcpy(dst, row, n * 4); return;
  case LLMEM_KV_F16:
    for (size_t i = 0; i < n; i++) dst[i] = kv_f16_to_f32(kv_load_u16(row + 2 * i));
    return;
  case LLMEM_KV_BF16:
    for (size_t i = 0; i < n; i++) dst[i] = kv_bf16_to_f32(kv_load_u16(row + 2 * i));
    return;
  case LLMEM_KV_Q8_0:
    for (size_t b = 0; b < n; b += 32, row += 34) {
      const float d = kv_f16_to_f32(kv_load_u16(row));
      for (int j = 0; j < 32; j++) dst[b + j] = (float)(int8_t)row[2 + j] * d;
    }
    return;
  case LLMEM_KV_Q4_0:
    for (size_t b = 0; b < n; b += 32, row += 18) {
      const float d = kv_f16_to_f32(kv_load_u16(row));
      for (int j = 0; j < 16; j++) {
        dst[b + j] = (float)((row[2 + j] & 15) - 8) * d;
        dst[b + j + 16] = (float)((row[2 + j] >> 4) - 8) * d;
      }
    }
    return;
  case LLMEM_KV_Q4_1:
    for (size_t b = 0; b < n; b += 32, row += 20) {
      const float d = kv_f16_to_f32(kv_load_u16(row)), m = kv_f16_to_f32(kv_load_u16(row + 2));
      for (int j = 0; j < 16; j++) {
        dst[b + j] = (float)(row[4 + j] & 15) * d + m;
        dst[b + j + 16] = (float)(row[4 + j] >> 4) * d + m;
      }
    }
    return;
  default: memset(dst, 0, n * 4);
  }
}

static float dot_scalar(const float *a, const float *b, size_t n) {
  float s = 0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static void axpy_scalar(float w, const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += w * x[i];
}

const kv_row_ops kv_row_ops_scalar = {decode_scalar, dot_scalar, axpy_scalar};

/* ---- AVX2 + FMA + F16C --------------------------------------------------- */
#if LLMEM_X86

LLMEM_AVX2 static void decode_avx2(int format, const uint8_t *row, float *dst, size_t n) {
  switch (format) {
  case LLMEM_KV_F16: {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * i))));
    for (; i < n; i++) dst[i] = kv_f16_to_f32(kv_load_u16(row + 2 * i));
    return;
  }
  case LLMEM_KV_BF16: {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(row + 2 * i)));
      _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    for (; i < n; i++) dst[i] = kv_bf16_to_f32(kv_load_u16(row + 2 * i));
    return;
  }
  case LLMEM_KV_Q8_0:
    for (size_t b = 0; b < n; b += 32, row += 34) {
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(kv_load_u16(row)));
      for (int k = 0; k < 4; k++) {
        const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(row + 2 + 8 * k)));
        _mm256_storeu_ps(dst + b + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
      }
    }
    return;
  case LLMEM_KV_Q4_0:
  case LLMEM_KV_Q4_1: {
    const int q41 = format == LLMEM_KV_Q4_1;
    const size_t stride = q41 ? 20 : 18;
    const __m128i low4 = _mm_set1_epi8(15);
    for (size_t b = 0; b < n; b += 32, row += stride) {
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(kv_load_u16(row)));
      const __m256 m = q41 ? _mm256_set1_ps(_cvtsh_ss(kv_load_u16(row + 2))) : _mm256_set1_ps(-8.0f * _cvtsh_ss(kv_load_u16(row)));
      const __m128i qs = _mm_loadu_si128((const __m128i *)(row + (q41 ? 4 : 2)));
      const __m128i lo = _mm_and_si128(qs, low4), hi = _mm_and_si128(_mm_srli_epi16(qs, 4), low4);
      /* value = q·d + m, with m = -8d for q4_0: one FMA per 8 values. */
      const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
      for (int k = 0; k < 4; k++) {
        const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[k]));
        _mm256_storeu_ps(dst + b + 8 * k, _mm256_fmadd_ps(q, d, m));
      }
    }
    return;
  }
  default: decode_scalar(format, row, dst, n);
  }
}

LLMEM_AVX2 static float dot_avx2(const float *a, const float *b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  const __m256 acc = _mm256_add_ps(acc0, acc1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  float sum = _mm_cvtss_f32(s);
  for (; i < n; i++) sum += a[i] * b[i];
  return sum;
}

LLMEM_AVX2 static void axpy_avx2(float w, const float *x, float *y, size_t n) {
  const __m256 vw = _mm256_set1_ps(w);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vw, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += w * x[i];
}

const kv_row_ops kv_row_ops_avx2 = {decode_avx2, dot_avx2, axpy_avx2};
#endif

/* ---- NEON ------------------------------------------------------------------ */
#if LLMEM_ARM

static void decode_neon(int format, const uint8_t *row, float *dst, size_t n) {
  switch (format) {
  case LLMEM_KV_F16: {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      uint16x4_t h = vld1_u16((const uint16_t *)(const void *)(row + 2 * i));
      vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(h)));
    }
    for (; i < n; i++) dst[i] = kv_f16_to_f32(kv_load_u16(row + 2 * i));
    return;
  }
  case LLMEM_KV_BF16: {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      uint16x4_t h = vld1_u16((const uint16_t *)(const void *)(row + 2 * i));
      vst1q_f32(dst + i, vreinterpretq_f32_u32(vshll_n_u16(h, 16)));
    }
    for (; i < n; i++) dst[i] = kv_bf16_to_f32(kv_load_u16(row + 2 * i));
    return;
  }
  case LLMEM_KV_Q8_0:
    for (size_t b = 0; b < n; b += 32, row += 34) {
      const float d = kv_f16_to_f32(kv_load_u16(row));
      for (int k = 0; k < 4; k++) {
        const int16x8_t q = vmovl_s8(vld1_s8((const int8_t *)(row + 2 + 8 * k)));
        vst1q_f32(dst + b + 8 * k, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(q))), d));
        vst1q_f32(dst + b + 8 * k + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_high_s16(q))), d));
      }
    }
    return;
  case LLMEM_KV_Q4_0:
  case LLMEM_KV_Q4_1: {
    const int q41 = format == LLMEM_KV_Q4_1;
    const size_t stride = q41 ? 20 : 18;
    for (size_t b = 0; b < n; b += 32, row += stride) {
      const float d = kv_f16_to_f32(kv_load_u16(row));
      const float m = q41 ? kv_f16_to_f32(kv_load_u16(row + 2)) : -8.0f * d;
      const uint8x16_t qs = vld1q_u8(row + (q41 ? 4 : 2));
      const uint8x16_t halves[2] = {vandq_u8(qs, vdupq_n_u8(15)), vshrq_n_u8(qs, 4)};
      const float32x4_t vm = vdupq_n_f32(m);
      for (int h = 0; h < 2; h++) {
        const uint16x8_t w0 = vmovl_u8(vget_low_u8(halves[h])), w1 = vmovl_u8(vget_high_u8(halves[h]));
        const uint16x4_t parts[4] = {vget_low_u16(w0), vget_high_u16(w0), vget_low_u16(w1), vget_high_u16(w1)};
        for (int k = 0; k < 4; k++) {
          vst1q_f32(dst + b + 16 * h + 4 * k, vfmaq_n_f32(vm, vcvtq_f32_u32(vmovl_u16(parts[k])), d));
        }
      }
    }
    return;
  }
  default: decode_scalar(format, row, dst, n);
  }
}

static float dot_neon(const float *a, const float *b, size_t n) {
  float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
  }
  for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
  float sum = vaddvq_f32(vaddq_f32(acc0, acc1));
  for (; i < n; i++) sum += a[i] * b[i];
  return sum;
}

static void axpy_neon(float w, const float *x, float *y, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), w));
  for (; i < n; i++) y[i] += w * x[i];
}

const kv_row_ops kv_row_ops_neon = {decode_neon, dot_neon, axpy_neon};
#endif
