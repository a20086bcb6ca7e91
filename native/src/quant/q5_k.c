/* Q5_K: Q4_K (8 sub-blocks of 32, 6-bit scale and min under fp16 d and dmin) with a fifth bit
 * per value in a 32-byte plane (layout in k_quants.h). Dots pair it with Q8_K. Scalar reference
 * (quantize byte for byte GGML's quantize_row_q5_K_ref), AVX2 and NEON dequantize and dot. */
#include "k_quants.h"

/* The 5-bit level of value l of sub-block j. */
static inline int q5_k_level(const uint8_t *x, int j, int l) {
  return ((x[Q5_K_QS + 32 * (j / 2) + l] >> ((j & 1) * 4)) & 0xF) | (((x[Q5_K_QH + l] >> j) & 1) << 4);
}

LLMEM_SCALAR void quantize_q5_k_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / QK_K; b++, x += QK_K, y += Q5_K_BYTES) {
    uint8_t L[QK_K];
    k_fit_superblock(x, y, y + Q5_K_SCALES, L, 31, -0.5f, 15);
    uint8_t *qh = y + Q5_K_QH, *q = y + Q5_K_QS;
    memset(qh, 0, 32);
    for (int c = 0; c < 4; c++)
      for (int l = 0; l < 32; l++) {
        const uint8_t a = L[64 * c + l], bb = L[64 * c + 32 + l];
        q[32 * c + l] = (uint8_t)((a & 0xF) | ((bb & 0xF) << 4));
        qh[l] |= (uint8_t)(((a >> 4) << (2 * c)) | ((bb >> 4) << (2 * c + 1)));
      }
  }
}

LLMEM_SCALAR void dequantize_q5_k_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q5_K_BYTES, y += QK_K) {
    const float d = scale_at(x), dmin = scale_at(x + 2);
    uint8_t sc[8], m[8];
    q4_k_scales(x + Q5_K_SCALES, sc, m);
    for (int j = 0; j < 8; j++) {
      const float dj = d * (float)sc[j], mj = dmin * (float)m[j];
      for (int l = 0; l < 32; l++) {
        const float v = dj * (float)q5_k_level(x, j, l);
        y[32 * j + l] = v - mj;
      }
    }
  }
}

LLMEM_SCALAR float dot_q5_k_q8_k_scalar(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float acc = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += Q5_K_BYTES, y += Q8_K_BYTES) {
    uint8_t sc[8], m[8];
    q4_k_scales(x + Q5_K_SCALES, sc, m);
    const int8_t *a = (const int8_t *)(y + Q8_K_QS);
    int32_t isum = 0;
    for (int j = 0; j < 8; j++) {
      int32_t s = 0;
      for (int l = 0; l < 32; l++) s += q5_k_level(x, j, l) * a[32 * j + l];
      isum += (int32_t)sc[j] * s;
    }
    const float dy = ld_f32(y), d = scale_at(x) * dy, dmin = scale_at(x + 2) * dy;
    acc = k_fold(acc, d, isum, dmin, k_min_sum(m, y));
  }
  return acc;
}

#if LLMEM_X86
/* Sub-block j's 32 levels as bytes: the nibbles of c = j/2 (low or high half) plus bit j of
 * each qh byte moved to bit 4. */
LLMEM_AVX2 static inline __m256i q5_k_levels_avx2(const uint8_t *x, int j) {
  const __m256i bits = _mm256_loadu_si256((const __m256i *)(x + Q5_K_QS + 32 * (j / 2)));
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i nib = (j & 1) ? _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4) : _mm256_and_si256(bits, m4);
  const __m256i qh = _mm256_loadu_si256((const __m256i *)(x + Q5_K_QH));
  const __m256i bit = _mm256_set1_epi8((char)(1 << j));
  /* cmpeq gives 0xFF where bit j is set; and with 16 makes the fifth bit. */
  const __m256i hi = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit), bit), _mm256_set1_epi8(16));
  return _mm256_or_si256(nib, hi);
}

LLMEM_AVX2 void dequantize_q5_k_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q5_K_BYTES, y += QK_K) {
    const float d = scale_at_avx2(x), dmin = scale_at_avx2(x + 2);
    uint8_t sc[8], m[8];
    q4_k_scales(x + Q5_K_SCALES, sc, m);
    for (int j = 0; j < 8; j++) {
      /* mul then sub, two roundings as in the reference (no FMA). */
      const __m256 dj = _mm256_set1_ps(d * (float)sc[j]), mj = _mm256_set1_ps(dmin * (float)m[j]);
      uint8_t lv[32];
      _mm256_storeu_si256((__m256i *)lv, q5_k_levels_avx2(x, j));
      for (int l = 0; l < 32; l += 8) {
        const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(lv + l)));
        _mm256_storeu_ps(y + 32 * j + l, _mm256_sub_ps(_mm256_mul_ps(dj, _mm256_cvtepi32_ps(v)), mj));
      }
    }
  }
}

/* maddubs multiplies the unsigned 5-bit levels by x's signed bytes and adds pairs into int16
 * (at most 2·31·128, no saturation); madd against the sub-block's scale widens to int32: the
 * exact integer sum. */
LLMEM_AVX2 float dot_q5_k_q8_k_avx2(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float acc = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += Q5_K_BYTES, y += Q8_K_BYTES) {
    uint8_t sc[8], m[8];
    q4_k_scales(x + Q5_K_SCALES, sc, m);
    const uint8_t *a = y + Q8_K_QS;
    __m256i sum = _mm256_setzero_si256();
    for (int j = 0; j < 8; j++) {
      const __m256i p = _mm256_maddubs_epi16(q5_k_levels_avx2(x, j), _mm256_loadu_si256((const __m256i *)(a + 32 * j)));
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p, _mm256_set1_epi16((short)sc[j])));
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s = _mm_hadd_epi32(s, s);
    s = _mm_hadd_epi32(s, s);
    const float dy = ld_f32(y), d = scale_at_avx2(x) * dy, dmin = scale_at_avx2(x + 2) * dy;
    acc = k_fold(acc, d, _mm_cvtsi128_si32(s), dmin, k_min_sum(m, y));
  }
  return acc;
}
#endif

#if LLMEM_ARM
/* Sub-block j's 32 levels as two 16-byte vectors (nibbles plus bit j of qh moved to bit 4). */
static inline void q5_k_levels_neon(const uint8_t *x, int j, uint8x16_t out[2]) {
  const uint8x16_t bit = vdupq_n_u8((uint8_t)(1 << j)), sixteen = vdupq_n_u8(16);
  for (int k = 0; k < 2; k++) {
    const uint8x16_t bits = vld1q_u8(x + Q5_K_QS + 32 * (j / 2) + 16 * k);
    const uint8x16_t nib = (j & 1) ? vshrq_n_u8(bits, 4) : vandq_u8(bits, vdupq_n_u8(0xF));
    const uint8x16_t hi = vandq_u8(vtstq_u8(vld1q_u8(x + Q5_K_QH + 16 * k), bit), sixteen);
    out[k] = vorrq_u8(nib, hi);
  }
}

void dequantize_q5_k_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q5_K_BYTES, y += QK_K) {
    const float d = scale_at(x), dmin = scale_at(x + 2);
    uint8_t sc[8], m[8];
    q4_k_scales(x + Q5_K_SCALES, sc, m);
    for (int j = 0; j < 8; j++) {
      const float32x4_t dj = vdupq_n_f32(d * (float)sc[j]), mj = vdupq_n_f32(dmin * (float)m[j]);
      uint8x16_t lv[2];
      q5_k_levels_neon(x, j, lv);
      for (int k = 0; k < 2; k++) {
        const uint16x8_t w0 = vmovl_u8(vget_low_u8(lv[k])), w1 = vmovl_u8(vget_high_u8(lv[k]));
        const uint32x4_t u[4] = {vmovl_u16(vget_low_u16(w0)), vmovl_u16(vget_high_u16(w0)), vmovl_u16(vget_low_u16(w1)),
                                 vmovl_u16(vget_high_u16(w1))};
        for (int t = 0; t < 4; t++)
          vst1q_f32(y + 32 * j + 16 * k + 4 * t, vsubq_f32(vmulq_f32(dj, vcvtq_f32_u32(u[t])), mj));
      }
    }
  }
}

float dot_q5_k_q8_k_neon(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float acc = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += Q5_K_BYTES, y += Q8_K_BYTES) {
    uint8_t sc[8], m[8];
    q4_k_scales(x + Q5_K_SCALES, sc, m);
    const int8_t *a = (const int8_t *)(y + Q8_K_QS);
    int32_t isum = 0;
    for (int j = 0; j < 8; j++) {
      uint8x16_t lv[2];
      q5_k_levels_neon(x, j, lv);
      /* Levels < 32 reinterpret as int8; widening multiplies into int16 (|level·x| <= 31·128),
       * pairwise accumulated into int32: exact on plain ARMv8.0. */
      const int8x16_t l0 = vreinterpretq_s8_u8(lv[0]), l1 = vreinterpretq_s8_u8(lv[1]);
      const int8x16_t a0 = vld1q_s8(a + 32 * j), a1 = vld1q_s8(a + 32 * j + 16);
      int32x4_t p = vdupq_n_s32(0);
      p = vpadalq_s16(p, vmull_s8(vget_low_s8(l0), vget_low_s8(a0)));
      p = vpadalq_s16(p, vmull_high_s8(l0, a0));
      p = vpadalq_s16(p, vmull_s8(vget_low_s8(l1), vget_low_s8(a1)));
      p = vpadalq_s16(p, vmull_high_s8(l1, a1));
      isum += vaddvq_s32(p) * sc[j];
    }
    const float dy = ld_f32(y), d = scale_at(x) * dy, dmin = scale_at(x + 2) * dy;
    acc = k_fold(acc, d, isum, dmin, k_min_sum(m, y));
  }
  return acc;
}
#endif
