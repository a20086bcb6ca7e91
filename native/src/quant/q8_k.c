/* Q8_K: { f32 d; int8 qs[256]; int16 bsums[16] } per 256 values, the activation side of every
 * K-quant dot (bsums lets a dot apply per-group mins or offsets without touching qs again).
 * Scalar reference (GGML's quantize_row_q8_K_ref, byte for byte), AVX2, NEON. */
#include "k_quants.h"

/* The first value of largest magnitude, with its sign (GGML scales by it, so -x and x in the
 * same block pick whichever comes first). */
static inline float q8_k_signed_max(const float *x, float amax) {
  for (int j = 0; j < QK_K; j++)
    if (fabsf(x[j]) == amax) return x[j];
  return 0.0f;
}

static inline void q8_k_bsums(uint8_t *y) {
  for (int g = 0; g < 16; g++) {
    int s = 0;
    for (int i = 0; i < 16; i++) s += (int8_t)y[Q8_K_QS + 16 * g + i];
    const int16_t v = (int16_t)s;
    memcpy(y + Q8_K_BSUMS + 2 * g, &v, 2);
  }
}

static inline void q8_k_zero(uint8_t *y) { memset(y, 0, Q8_K_BYTES); }

LLMEM_SCALAR void quantize_q8_k_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / QK_K; b++, x += QK_K, y += Q8_K_BYTES) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK_K; j++) {
      const float a = fabsf(x[j]);
      if (a > amax) amax = a, max = x[j];
    }
    if (amax == 0.0f) {
      q8_k_zero(y);
      continue;
    }
    /* -127/max, not 127/amax: GGML's sign convention, kept so d's sign matches byte for byte. */
    const float iscale = -127.0f / max, d = 1.0f / iscale;
    for (int j = 0; j < QK_K; j++) {
      const int v = k_nearest_int(iscale * x[j]);
      y[Q8_K_QS + j] = (uint8_t)(int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
    }
    q8_k_bsums(y);
    memcpy(y, &d, 4);
  }
}

LLMEM_SCALAR void dequantize_q8_k_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q8_K_BYTES, y += QK_K) {
    const float d = ld_f32(x);
    for (int j = 0; j < QK_K; j++) y[j] = d * (float)(int8_t)x[Q8_K_QS + j];
  }
}

#if LLMEM_X86
LLMEM_AVX2 void quantize_q8_k_avx2(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (size_t b = 0; b < n / QK_K; b++, x += QK_K, y += Q8_K_BYTES) {
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < QK_K; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
    const float amax = hmax_avx2(m);
    /* NaN lanes make amax unreliable: the reference (with its own NaN rule) decides. */
    if (amax == 0.0f || !(amax <= FLT_MAX)) {
      quantize_q8_k_scalar(x, y, QK_K);
      continue;
    }
    const float max = q8_k_signed_max(x, amax), iscale = -127.0f / max, d = 1.0f / iscale;
    if (!(fabsf(iscale) <= FLT_MAX)) { /* max so tiny that -127/max overflowed */
      quantize_q8_k_scalar(x, y, QK_K);
      continue;
    }
    const __m256 is = _mm256_set1_ps(iscale);
    /* cvtps rounds half to even under the default MXCSR mode: GGML's nearest_int exactly. */
    const __m256i ones = _mm256_set1_epi16(1), ones8 = _mm256_set1_epi8(1);
    int16_t sums[16];
    for (int j = 0; j < QK_K; j += 32) {
      const __m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(is, _mm256_loadu_ps(x + j)));
      const __m256i q1 = _mm256_cvtps_epi32(_mm256_mul_ps(is, _mm256_loadu_ps(x + j + 8)));
      const __m256i q2 = _mm256_cvtps_epi32(_mm256_mul_ps(is, _mm256_loadu_ps(x + j + 16)));
      const __m256i q3 = _mm256_cvtps_epi32(_mm256_mul_ps(is, _mm256_loadu_ps(x + j + 24)));
      /* |iscale*x| <= 127 up to one rounding, so packing's saturation is GGML's MIN(127, v). */
      const __m256i q = pack_q8_avx2(q0, q1, q2, q3);
      _mm256_storeu_si256((__m256i *)(y + Q8_K_QS + j), q);
      /* Group sums: pairs (maddubs against 1s), then quads (madd against 1s): the low 128 bits hold
       * values 0-15 (group j/16), the high 128 bits values 16-31; two in-lane hadds finish each. */
      const __m256i quads = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones);
      const __m256i h = _mm256_hadd_epi32(quads, quads), h2 = _mm256_hadd_epi32(h, h);
      sums[j / 16] = (int16_t)_mm256_extract_epi32(h2, 0);
      sums[j / 16 + 1] = (int16_t)_mm256_extract_epi32(h2, 4);
    }
    memcpy(y + Q8_K_BSUMS, sums, 32);
    memcpy(y, &d, 4);
  }
}

LLMEM_AVX2 void dequantize_q8_k_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q8_K_BYTES, y += QK_K) {
    const __m256 d = _mm256_set1_ps(ld_f32(x));
    for (int j = 0; j < QK_K; j += 8) {
      const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x + Q8_K_QS + j)));
      _mm256_storeu_ps(y + j, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
    }
  }
}
#endif

#if LLMEM_ARM
void quantize_q8_k_neon(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / QK_K; b++, x += QK_K, y += Q8_K_BYTES) {
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < QK_K; j += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + j)));
    const float amax = vmaxvq_f32(m);
    if (amax == 0.0f || !(amax <= FLT_MAX)) {
      quantize_q8_k_scalar(x, y, QK_K);
      continue;
    }
    const float max = q8_k_signed_max(x, amax), iscale = -127.0f / max, d = 1.0f / iscale;
    if (!(fabsf(iscale) <= FLT_MAX)) {
      quantize_q8_k_scalar(x, y, QK_K);
      continue;
    }
    for (int j = 0; j < QK_K; j += 16) {
      /* FCVTNS: round half to even, GGML's nearest_int; the saturating narrows clamp to 127. */
      int32x4_t q[4];
      for (int k = 0; k < 4; k++) q[k] = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + j + 4 * k), iscale));
      const int16x8_t h0 = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
      const int16x8_t h1 = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
      const int8x16_t v = vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1));
      vst1q_s8((int8_t *)(y + Q8_K_QS + j), v);
      const int16_t s = (int16_t)vaddlvq_s8(v);
      memcpy(y + Q8_K_BSUMS + j / 8, &s, 2);
    }
    memcpy(y, &d, 4);
  }
}

void dequantize_q8_k_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q8_K_BYTES, y += QK_K) {
    const float d = ld_f32(x);
    for (int j = 0; j < QK_K; j += 8) {
      float32x4_t lo, hi;
      widen8_neon(vld1_s8((const int8_t *)(x + Q8_K_QS + j)), d, &lo, &hi);
      vst1q_f32(y + j, lo);
      vst1q_f32(y + j + 4, hi);
    }
  }
}
#endif
