/* Q8_0: { fp16 d; int8 qs[32] } per 32 values. Scalar reference, AVX2, NEON; the format table (../formats.c) names them. */
#include "quant_internal.h"

LLMEM_SCALAR void quantize_q8_0_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q8_0_BYTES) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
      const float v = fabsf(x[j]);
      if (v > amax) amax = v;
    }
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    st_u16(y, fp32_to_fp16(d));
    for (int j = 0; j < 32; j++) y[2 + j] = (uint8_t)q8_round(x[j] * id);
  }
}

LLMEM_SCALAR void dequantize_q8_0_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q8_0_BYTES, y += 32) {
    const float d = scale_at(x);
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)x[2 + j] * d;
  }
}

#if LLMEM_X86
LLMEM_AVX2 static inline __m256 absmax8_avx2(const float *x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 a = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x)), _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8)));
  const __m256 b = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 16)), _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 24)));
  return _mm256_max_ps(a, b);
}

/* roundf of 8 finite lanes with |p| < 2^23: see round_q8_avx2, minus the non-finite mask. */
LLMEM_AVX2 static inline __m256i round_finite_avx2(__m256 p) {
  const __m256 nudge = _mm256_or_ps(_mm256_and_ps(p, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(0x1.fffffep-2f));
  return _mm256_cvttps_epi32(_mm256_add_ps(p, nudge));
}

LLMEM_AVX2 static inline void quantize_q8_0_block_avx2(const float *x, uint8_t *qs, float id) {
  const __m256 mul = _mm256_set1_ps(id);
  const __m256i q = pack_q8_avx2(round_finite_avx2(_mm256_mul_ps(_mm256_loadu_ps(x), mul)),
                                 round_finite_avx2(_mm256_mul_ps(_mm256_loadu_ps(x + 8), mul)),
                                 round_finite_avx2(_mm256_mul_ps(_mm256_loadu_ps(x + 16), mul)),
                                 round_finite_avx2(_mm256_mul_ps(_mm256_loadu_ps(x + 24), mul)));
  _mm256_storeu_si256((__m256i *)qs, q);
}

LLMEM_AVX2 void quantize_q8_0_avx2(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  const size_t nb = n / 32;
  const __m256 inf = _mm256_set1_ps(INFINITY);
  size_t b = 0;
  /* Eight blocks at a time: their scales come from one vector division each for d and 1/d
   * (the same IEEE results as eight scalar ones), off the per-block critical path. A block
   * with a non-finite amax or 1/d (Inf input, or amax ~1e-37) goes to the scalar reference,
   * so the common path needs no per-lane finiteness masks. NaN inputs are unspecified. */
  for (; b + 8 <= nb; b += 8, x += 256, y += 8 * Q8_0_BYTES) {
    float amax[8], id[8];
    uint16_t dh[8];
    for (int k = 0; k < 8; k++) amax[k] = hmax_avx2(absmax8_avx2(x + 32 * k));
    const __m256 a = _mm256_loadu_ps(amax);
    const __m256 d = _mm256_div_ps(a, _mm256_set1_ps(127.0f));
    const __m256 nonzero = _mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_NEQ_UQ);
    const __m256 inv = _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(1.0f), d), nonzero);
    const int slow = _mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(a, inf, _CMP_NLT_UQ), _mm256_cmp_ps(inv, inf, _CMP_NLT_UQ)));
    _mm256_storeu_ps(id, inv);
    _mm_storeu_si128((__m128i *)dh, _mm256_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT));
    for (int k = 0; k < 8; k++) {
      if (slow >> k & 1) {
        quantize_q8_0_scalar(x + 32 * k, y + k * Q8_0_BYTES, 32);
        continue;
      }
      st_u16(y + k * Q8_0_BYTES, dh[k]);
      quantize_q8_0_block_avx2(x + 32 * k, y + k * Q8_0_BYTES + 2, id[k]);
    }
  }
  for (; b < nb; b++, x += 32, y += Q8_0_BYTES) {
    const float d = hmax_avx2(absmax8_avx2(x)) / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!(d < INFINITY && id < INFINITY)) {
      quantize_q8_0_scalar(x, y, 32);
      continue;
    }
    st_u16(y, fp16_avx2(d));
    quantize_q8_0_block_avx2(x, y + 2, id);
  }
}

LLMEM_AVX2 void dequantize_q8_0_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q8_0_BYTES, y += 32) {
    const __m256 d = _mm256_set1_ps(scale_at_avx2(x));
    for (int k = 0; k < 4; k++) {
      const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x + 2 + 8 * k)));
      _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
    }
  }
}
#endif

#if LLMEM_ARM
void quantize_q8_0_neon(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q8_0_BYTES) {
    float32x4_t v[8];
    for (int k = 0; k < 8; k++) v[k] = vld1q_f32(x + 4 * k);
    float32x4_t m = vabsq_f32(v[0]);
    for (int k = 1; k < 8; k++) m = vmaxq_f32(m, vabsq_f32(v[k]));
    const float d = vmaxvq_f32(m) / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    st_u16(y, fp32_to_fp16(d));
    int32x4_t q[8];
    for (int k = 0; k < 8; k++) q[k] = round_q8_neon(vmulq_n_f32(v[k], id));
    store_q8_neon((int8_t *)(y + 2), q);
  }
}

void dequantize_q8_0_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q8_0_BYTES, y += 32) {
    const float d = scale_at(x);
    for (int k = 0; k < 4; k++) {
      float32x4_t lo, hi;
      widen8_neon(vld1_s8((const int8_t *)(x + 2 + 8 * k)), d, &lo, &hi);
      vst1q_f32(y + 8 * k, lo);
      vst1q_f32(y + 8 * k + 4, hi);
    }
  }
}
#endif

