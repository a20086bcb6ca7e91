/* Q8_1: { fp16 d; fp16 s = d*sum(qs); int8 qs[32] }, the activation side of Q4_1 dot products.
 * Quantized exactly like Q8_0; s lets the Q4_1 minimum enter a dot product as m*s. */
#include "quant_internal.h"

LLMEM_SCALAR void quantize_q8_1_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q8_1_BYTES) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
      const float v = fabsf(x[j]);
      if (v > amax) amax = v;
    }
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
      const int8_t q = q8_round(x[j] * id);
      y[4 + j] = (uint8_t)q;
      sum += q;
    }
    st_u16(y, fp32_to_fp16(d));
    st_u16(y + 2, fp32_to_fp16((float)sum * d));
  }
}

LLMEM_SCALAR void dequantize_q8_1_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q8_1_BYTES, y += 32) {
    const float d = scale_at(x);
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)x[4 + j] * d;
  }
}

#if LLMEM_X86
LLMEM_AVX2 void quantize_q8_1_avx2(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q8_1_BYTES) {
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                   _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    const float d = hmax_avx2(m) / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 mul = _mm256_set1_ps(id);
    const __m256i i0 = round_q8_avx2(_mm256_mul_ps(v0, mul)), i1 = round_q8_avx2(_mm256_mul_ps(v1, mul));
    const __m256i i2 = round_q8_avx2(_mm256_mul_ps(v2, mul)), i3 = round_q8_avx2(_mm256_mul_ps(v3, mul));
    const __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_hadd_epi32(s4, s4);
    s4 = _mm_hadd_epi32(s4, s4);
    st_u16(y, fp16_avx2(d));
    st_u16(y + 2, fp16_avx2((float)_mm_cvtsi128_si32(s4) * d));
    _mm256_storeu_si256((__m256i *)(y + 4), pack_q8_avx2(i0, i1, i2, i3));
  }
}

LLMEM_AVX2 void dequantize_q8_1_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q8_1_BYTES, y += 32) {
    const __m256 d = _mm256_set1_ps(scale_at_avx2(x));
    for (int k = 0; k < 4; k++) {
      const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x + 4 + 8 * k)));
      _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
    }
  }
}
#endif

#if LLMEM_ARM
void quantize_q8_1_neon(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q8_1_BYTES) {
    float32x4_t v[8];
    for (int k = 0; k < 8; k++) v[k] = vld1q_f32(x + 4 * k);
    float32x4_t m = vabsq_f32(v[0]);
    for (int k = 1; k < 8; k++) m = vmaxq_f32(m, vabsq_f32(v[k]));
    const float d = vmaxvq_f32(m) / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    int32x4_t q[8], sum = vdupq_n_s32(0);
    for (int k = 0; k < 8; k++) {
      q[k] = round_q8_neon(vmulq_n_f32(v[k], id));
      sum = vaddq_s32(sum, q[k]);
    }
    st_u16(y, fp32_to_fp16(d));
    st_u16(y + 2, fp32_to_fp16((float)vaddvq_s32(sum) * d));
    store_q8_neon((int8_t *)(y + 4), q);
  }
}

void dequantize_q8_1_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q8_1_BYTES, y += 32) {
    const float d = scale_at(x);
    for (int k = 0; k < 4; k++) {
      float32x4_t lo, hi;
      widen8_neon(vld1_s8((const int8_t *)(x + 4 + 8 * k)), d, &lo, &hi);
      vst1q_f32(y + 8 * k, lo);
      vst1q_f32(y + 8 * k + 4, hi);
    }
  }
}
#endif

