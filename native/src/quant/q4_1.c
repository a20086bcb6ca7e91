/* Q4_1: { fp16 d; fp16 m; uint8 qs[16] } per 32 values; x = q * d + m (nibbles as in Q4_0).
 * Scalar reference, AVX2, NEON; the format table (../formats.c) names them. */
#include "quant_internal.h"

/* The scalar loop keeps the first element equal to the minimum (maximum). Equal floats have
 * equal bits except ±0, so the SIMD paths only look back when the extreme is a zero. */
static inline float first_zero(const float *x, float v) {
  if (v != 0.0f) return v;
  for (int j = 0; j < 32; j++)
    if (x[j] == 0.0f) return x[j];
  return v;
}

LLMEM_SCALAR void quantize_q4_1_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q4_1_BYTES) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    st_u16(y, fp32_to_fp16(d));
    st_u16(y + 2, fp32_to_fp16(min));
    for (int j = 0; j < 16; j++) {
      const uint8_t lo = q4_trunc((x[j] - min) * id + 0.5f), hi = q4_trunc((x[16 + j] - min) * id + 0.5f);
      y[4 + j] = (uint8_t)(lo | (hi << 4));
    }
  }
}

LLMEM_SCALAR void dequantize_q4_1_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q4_1_BYTES, y += 32) {
    const float d = scale_at(x), m = scale_at(x + 2);
    for (int j = 0; j < 16; j++) {
      y[j] = (float)(x[4 + j] & 15) * d + m;
      y[16 + j] = (float)(x[4 + j] >> 4) * d + m;
    }
  }
}

#if LLMEM_X86
LLMEM_AVX2 void quantize_q4_1_avx2(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  const __m256 half = _mm256_set1_ps(0.5f);
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q4_1_BYTES) {
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    /* Clamped to ±FLT_MAX like the scalar loop's starting values (matters only for ±Inf blocks). */
    const float min = fminf(hmin_avx2(_mm256_min_ps(_mm256_min_ps(v0, v1), _mm256_min_ps(v2, v3))), FLT_MAX);
    const float max = fmaxf(hmax_avx2(_mm256_max_ps(_mm256_max_ps(v0, v1), _mm256_max_ps(v2, v3))), -FLT_MAX);
    const float lo = first_zero(x, min), hi = first_zero(x, max);
    const float d = (hi - lo) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    st_u16(y, fp16_avx2(d));
    st_u16(y + 2, fp16_avx2(lo));
    const __m256 mn = _mm256_set1_ps(lo), mul = _mm256_set1_ps(id);
    const __m128i q = pack_q4_avx2(trunc_q4_avx2(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v0, mn), mul), half)),
                                   trunc_q4_avx2(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v1, mn), mul), half)),
                                   trunc_q4_avx2(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v2, mn), mul), half)),
                                   trunc_q4_avx2(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v3, mn), mul), half)));
    _mm_storeu_si128((__m128i *)(y + 4), q);
  }
}

LLMEM_AVX2 void dequantize_q4_1_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  const __m128i low4 = _mm_set1_epi8(0x0F);
  for (size_t b = 0; b < n / 32; b++, x += Q4_1_BYTES, y += 32) {
    const __m256 d = _mm256_set1_ps(scale_at_avx2(x)), m = _mm256_set1_ps(scale_at_avx2(x + 2));
    const __m128i raw = _mm_loadu_si128((const __m128i *)(x + 4));
    const __m128i lo = _mm_and_si128(raw, low4), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), low4);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    /* mul then add, never FMA: the scalar reference rounds the product first. */
    for (int k = 0; k < 4; k++)
      _mm256_storeu_ps(y + 8 * k,
                       _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[k])), d), m));
  }
}
#endif

#if LLMEM_ARM
void quantize_q4_1_neon(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q4_1_BYTES) {
    float32x4_t v[8];
    for (int k = 0; k < 8; k++) v[k] = vld1q_f32(x + 4 * k);
    float32x4_t lo = v[0], hi = v[0];
    for (int k = 1; k < 8; k++) {
      lo = vminq_f32(lo, v[k]);
      hi = vmaxq_f32(hi, v[k]);
    }
    const float min = first_zero(x, fminf(vminvq_f32(lo), FLT_MAX));
    const float max = first_zero(x, fmaxf(vmaxvq_f32(hi), -FLT_MAX));
    const float d = (max - min) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    st_u16(y, fp32_to_fp16(d));
    st_u16(y + 2, fp32_to_fp16(min));
    int32x4_t q[8];
    for (int k = 0; k < 8; k++)
      q[k] = trunc_q4_neon(vaddq_f32(vmulq_n_f32(vsubq_f32(v[k], vdupq_n_f32(min)), id), vdupq_n_f32(0.5f)));
    store_q4_neon(y + 4, q);
  }
}

void dequantize_q4_1_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q4_1_BYTES, y += 32) {
    const float d = scale_at(x);
    const float32x4_t m = vdupq_n_f32(scale_at(x + 2));
    const uint8x16_t raw = vld1q_u8(x + 4);
    const uint8x16_t lo = vandq_u8(raw, vdupq_n_u8(15)), hi = vshrq_n_u8(raw, 4);
    const uint8x8_t parts[4] = {vget_low_u8(lo), vget_high_u8(lo), vget_low_u8(hi), vget_high_u8(hi)};
    for (int k = 0; k < 4; k++) {
      const uint16x8_t w = vmovl_u8(parts[k]);
      const float32x4_t a = vmulq_n_f32(vcvtq_f32_u32(vmovl_u16(vget_low_u16(w))), d);
      const float32x4_t c = vmulq_n_f32(vcvtq_f32_u32(vmovl_u16(vget_high_u16(w))), d);
      vst1q_f32(y + 8 * k, vaddq_f32(a, m));
      vst1q_f32(y + 8 * k + 4, vaddq_f32(c, m));
    }
  }
}
#endif

