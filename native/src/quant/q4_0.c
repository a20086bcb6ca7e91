/* Q4_0: { fp16 d; uint8 qs[16] } per 32 values; byte j holds element j (low nibble) and
 * j+16 (high nibble); x = (q - 8) * d. Scalar reference, AVX2, NEON; the format table (../formats.c) names them. */
#include "quant_internal.h"

LLMEM_SCALAR void quantize_q4_0_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q4_0_BYTES) {
    /* The value of largest magnitude with its sign; the first one wins a tie. */
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
      if (amax < fabsf(x[j])) {
        amax = fabsf(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    st_u16(y, fp32_to_fp16(d));
    for (int j = 0; j < 16; j++) {
      const uint8_t lo = q4_trunc(x[j] * id + 8.5f), hi = q4_trunc(x[16 + j] * id + 8.5f);
      y[2 + j] = (uint8_t)(lo | (hi << 4));
    }
  }
}

LLMEM_SCALAR void dequantize_q4_0_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q4_0_BYTES, y += 32) {
    const float d = scale_at(x);
    for (int j = 0; j < 16; j++) {
      y[j] = (float)((x[2 + j] & 15) - 8) * d;
      y[16 + j] = (float)((x[2 + j] >> 4) - 8) * d;
    }
  }
}

#if LLMEM_X86
LLMEM_AVX2 void quantize_q4_0_avx2(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  const __m256 sign = _mm256_set1_ps(-0.0f), bias = _mm256_set1_ps(8.5f);
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q4_0_BYTES) {
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    const __m256 a0 = _mm256_andnot_ps(sign, v0), a1 = _mm256_andnot_ps(sign, v1);
    const __m256 a2 = _mm256_andnot_ps(sign, v2), a3 = _mm256_andnot_ps(sign, v3);
    const float amax = hmax_avx2(_mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3)));
    float max = 0.0f;
    if (amax > 0.0f) {
      /* The scalar loop keeps the first element reaching amax: find it by mask. */
      const __m256 am = _mm256_set1_ps(amax);
      const uint32_t hit = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a0, am, _CMP_EQ_OQ)) |
                           (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a1, am, _CMP_EQ_OQ)) << 8 |
                           (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a2, am, _CMP_EQ_OQ)) << 16 |
                           (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a3, am, _CMP_EQ_OQ)) << 24;
      if (hit) max = x[__builtin_ctz(hit)];
    }
    const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    st_u16(y, fp16_avx2(d));
    const __m256 mul = _mm256_set1_ps(id);
    const __m128i q = pack_q4_avx2(trunc_q4_avx2(_mm256_add_ps(_mm256_mul_ps(v0, mul), bias)),
                                   trunc_q4_avx2(_mm256_add_ps(_mm256_mul_ps(v1, mul), bias)),
                                   trunc_q4_avx2(_mm256_add_ps(_mm256_mul_ps(v2, mul), bias)),
                                   trunc_q4_avx2(_mm256_add_ps(_mm256_mul_ps(v3, mul), bias)));
    _mm_storeu_si128((__m128i *)(y + 2), q);
  }
}

LLMEM_AVX2 void dequantize_q4_0_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  const __m128i low4 = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
  for (size_t b = 0; b < n / 32; b++, x += Q4_0_BYTES, y += 32) {
    const __m256 d = _mm256_set1_ps(scale_at_avx2(x));
    const __m128i raw = _mm_loadu_si128((const __m128i *)(x + 2));
    const __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, low4), eight);
    const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), low4), eight);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++)
      _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[k])), d));
  }
}
#endif

#if LLMEM_ARM
void quantize_q4_0_neon(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q4_0_BYTES) {
    float32x4_t v[8];
    for (int k = 0; k < 8; k++) v[k] = vld1q_f32(x + 4 * k);
    float32x4_t m = vabsq_f32(v[0]);
    for (int k = 1; k < 8; k++) m = vmaxq_f32(m, vabsq_f32(v[k]));
    const float amax = vmaxvq_f32(m);
    float max = 0.0f;
    if (amax > 0.0f)
      for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) == amax) {
          max = x[j];
          break;
        }
    const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    st_u16(y, fp32_to_fp16(d));
    int32x4_t q[8];
    for (int k = 0; k < 8; k++) q[k] = trunc_q4_neon(vaddq_f32(vmulq_n_f32(v[k], id), vdupq_n_f32(8.5f)));
    store_q4_neon(y + 2, q);
  }
}

void dequantize_q4_0_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q4_0_BYTES, y += 32) {
    const float d = scale_at(x);
    const uint8x16_t raw = vld1q_u8(x + 2);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(15))), vdupq_n_s8(8));
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), vdupq_n_s8(8));
    const int8x8_t parts[4] = {vget_low_s8(lo), vget_high_s8(lo), vget_low_s8(hi), vget_high_s8(hi)};
    for (int k = 0; k < 4; k++) {
      float32x4_t a, c;
      widen8_neon(parts[k], d, &a, &c);
      vst1q_f32(y + 8 * k, a);
      vst1q_f32(y + 8 * k + 4, c);
    }
  }
}
#endif

