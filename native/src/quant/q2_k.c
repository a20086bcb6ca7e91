/* Q2_K: 256 values in 16 sub-blocks of 16, each with a 4-bit scale and a 4-bit min under the
 * block's fp16 d and dmin; 2-bit levels (layout in k_quants.h). Dots pair it with Q8_K. Scalar
 * reference (quantize byte for byte GGML's quantize_row_q2_K_ref), AVX2 and NEON dequantize and
 * dot. The dot's f32 fold is GGML's scalar one (k_fold), so it equals ggml_vec_dot_q2_K_q8_K's
 * generic path bit for bit. */
#include "k_quants.h"

/* The 2-bit level of value v: qs byte 32·(v/128) + v%32, bits 2·((v%128)/32). */
static inline int q2_k_level(const uint8_t *x, int v) {
  return (x[Q2_K_QS + 32 * (v / 128) + v % 32] >> (2 * ((v % 128) / 32))) & 3;
}

LLMEM_SCALAR void quantize_q2_k_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / QK_K; b++, x += QK_K, y += Q2_K_BYTES) {
    uint8_t L[QK_K];
    float scales[16], mins[16], max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; j++) {
      float w[16];
      for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * j + l]); /* GGML's weights for the _ref */
      scales[j] = k_qkx2_fit(x + 16 * j, w, L + 16 * j, &mins[j], 16, 3, -0.5f, 15, 1);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    uint8_t *sc = y;
    memset(y, 0, Q2_K_BYTES);
    /* GGML stores nearest_int into the uint8 scale byte (and ORs the min's << 4): keep the wrap. */
    if (max_scale > 0) {
      const float iscale = 15.f / max_scale;
      for (int j = 0; j < 16; j++) sc[j] = (uint8_t)k_nearest_int(iscale * scales[j]);
    }
    const uint16_t dh = fp32_to_fp16(max_scale > 0 ? max_scale / 15.f : 0.f);
    if (max_min > 0) {
      const float iscale = 15.f / max_min;
      for (int j = 0; j < 16; j++) sc[j] = (uint8_t)(sc[j] | (k_nearest_int(iscale * mins[j]) << 4));
    }
    const uint16_t mh = fp32_to_fp16(max_min > 0 ? max_min / 15.f : 0.f);
    st_u16(y + Q2_K_D, dh);
    st_u16(y + Q2_K_DMIN, mh);
    /* Re-derive the levels against the scales as stored (a sub-block whose scale is stored as 0
     * keeps the fit's levels, as GGML's does). */
    for (int j = 0; j < 16; j++) {
      const float d = fp16_to_fp32(dh) * (float)(sc[j] & 0xF);
      if (d == 0.0f) continue;
      const float dm = fp16_to_fp32(mh) * (float)(sc[j] >> 4);
      for (int i = 0; i < 16; i++) {
        const float t = x[16 * j + i] + dm;
        const int l = k_nearest_int(t / d);
        L[16 * j + i] = (uint8_t)(l < 0 ? 0 : l > 3 ? 3 : l);
      }
    }
    uint8_t *q = y + Q2_K_QS;
    for (int h = 0; h < 2; h++)
      for (int l = 0; l < 32; l++) {
        const uint8_t *Lh = L + 128 * h;
        q[32 * h + l] = (uint8_t)(Lh[l] | (Lh[l + 32] << 2) | (Lh[l + 64] << 4) | (Lh[l + 96] << 6));
      }
  }
}

LLMEM_SCALAR void dequantize_q2_k_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q2_K_BYTES, y += QK_K) {
    const float d = scale_at(x + Q2_K_D), dmin = scale_at(x + Q2_K_DMIN);
    for (int v = 0; v < QK_K; v++) {
      const uint8_t s = x[v / 16];
      const float dl = d * (float)(s & 0xF), ml = dmin * (float)(s >> 4);
      const float t = dl * (float)q2_k_level(x, v);
      y[v] = t - ml;
    }
  }
}

/* Σ_g m[g]·bsums[g]: the mins, applied once per block from x's 16-value group sums. */
static inline int32_t q2_k_min_sum(const uint8_t *sc, const uint8_t *yb) {
  int32_t s = 0;
  for (int g = 0; g < 16; g++) s += (int32_t)(sc[g] >> 4) * ld_i16(yb + Q8_K_BSUMS + 2 * g);
  return s;
}

LLMEM_SCALAR float dot_q2_k_q8_k_scalar(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float acc = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += Q2_K_BYTES, y += Q8_K_BYTES) {
    const int8_t *a = (const int8_t *)(y + Q8_K_QS);
    int32_t isum = 0;
    for (int g = 0; g < 16; g++) {
      int32_t s = 0;
      for (int i = 0; i < 16; i++) s += q2_k_level(x, 16 * g + i) * a[16 * g + i];
      isum += (int32_t)(x[g] & 0xF) * s;
    }
    const float dy = ld_f32(y), d = dy * scale_at(x + Q2_K_D), dmin = dy * scale_at(x + Q2_K_DMIN);
    acc = k_fold(acc, d, isum, dmin, q2_k_min_sum(x, y));
  }
  return acc;
}

#if LLMEM_X86
/* Slice j (values 128h + 32j .. +31) of one half's levels, 0..3 per byte. */
LLMEM_AVX2 static inline __m256i q2_k_slice_avx2(__m256i q, int j) {
  return _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * j)), _mm256_set1_epi8(3));
}

LLMEM_AVX2 void dequantize_q2_k_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q2_K_BYTES, y += QK_K) {
    const float d = scale_at_avx2(x + Q2_K_D), dmin = scale_at_avx2(x + Q2_K_DMIN);
    for (int h = 0; h < 2; h++) {
      const __m256i q = _mm256_loadu_si256((const __m256i *)(x + Q2_K_QS + 32 * h));
      for (int j = 0; j < 4; j++) {
        uint8_t lv[32];
        _mm256_storeu_si256((__m256i *)lv, q2_k_slice_avx2(q, j));
        for (int t = 0; t < 4; t++) { /* 8 values; sub-block g = (v / 16) */
          const int v = 128 * h + 32 * j + 8 * t;
          const uint8_t s = x[v / 16];
          const __m256 dl = _mm256_set1_ps(d * (float)(s & 0xF)), ml = _mm256_set1_ps(dmin * (float)(s >> 4));
          const __m256 l = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(lv + 8 * t))));
          /* mul then sub, two roundings as in the reference (no FMA). */
          _mm256_storeu_ps(y + v, _mm256_sub_ps(_mm256_mul_ps(dl, l), ml));
        }
      }
    }
  }
}

/* Row · x on the int8 multiply-add path: levels 0..3 as maddubs' unsigned side (pairs at most
 * 2·3·128, no saturation), madd against the two 16-value sub-blocks' 4-bit scales widens to
 * int32; the mins come off through x's group sums in one madd. */
LLMEM_AVX2 float dot_q2_k_q8_k_avx2(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float acc = 0.0f;
  const __m128i m4 = _mm_set1_epi8(0xF);
  for (size_t b = 0; b < n / QK_K; b++, x += Q2_K_BYTES, y += Q8_K_BYTES) {
    const uint8_t *a = y + Q8_K_QS;
    const __m128i s8 = _mm_loadu_si128((const __m128i *)x);
    /* The 16 4-bit mins as int16, against the 16 group sums. */
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s8, 4), m4));
    __m256i sum = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
      const __m256i q = _mm256_loadu_si256((const __m256i *)(x + Q2_K_QS + 32 * h));
      for (int j = 0; j < 4; j++) {
        const int g = 8 * h + 2 * j;
        const __m256i s = _mm256_set_m128i(_mm_set1_epi16((short)(x[g + 1] & 0xF)), _mm_set1_epi16((short)(x[g] & 0xF)));
        const __m256i p =
            _mm256_maddubs_epi16(q2_k_slice_avx2(q, j), _mm256_loadu_si256((const __m256i *)(a + 128 * h + 32 * j)));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p, s));
      }
    }
    const __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(y + Q8_K_BSUMS)), m16);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    __m128i m = _mm_add_epi32(_mm256_castsi256_si128(ms), _mm256_extracti128_si256(ms, 1));
    m = _mm_add_epi32(m, _mm_unpackhi_epi64(m, m));
    m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 1));
    const float dy = ld_f32(y), d = dy * scale_at_avx2(x + Q2_K_D), dmin = dy * scale_at_avx2(x + Q2_K_DMIN);
    acc = k_fold(acc, d, _mm_cvtsi128_si32(s), dmin, _mm_cvtsi128_si32(m));
  }
  return acc;
}
#endif

#if LLMEM_ARM
/* Slice j of half h's levels, bytes 16p..16p+15 (p = 0: sub-block 8h + 2j, p = 1: the next). */
static inline uint8x16_t q2_k_slice_neon(const uint8_t *x, int h, int j, int p) {
  const uint8x16_t q = vld1q_u8(x + Q2_K_QS + 32 * h + 16 * p);
  return vandq_u8(vshlq_u8(q, vdupq_n_s8((int8_t)(-2 * j))), vdupq_n_u8(3));
}

void dequantize_q2_k_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q2_K_BYTES, y += QK_K) {
    const float d = scale_at(x + Q2_K_D), dmin = scale_at(x + Q2_K_DMIN);
    for (int g = 0; g < 16; g++) {
      const int h = g / 8, j = (g % 8) / 2, p = g % 2;
      const int8x16_t q = vreinterpretq_s8_u8(q2_k_slice_neon(x, h, j, p));
      const float dl = d * (float)(x[g] & 0xF);
      const float32x4_t ml = vdupq_n_f32(dmin * (float)(x[g] >> 4));
      float32x4_t v[4];
      widen8_neon(vget_low_s8(q), dl, &v[0], &v[1]);
      widen8_neon(vget_high_s8(q), dl, &v[2], &v[3]);
      for (int k = 0; k < 4; k++) vst1q_f32(y + 16 * g + 4 * k, vsubq_f32(v[k], ml));
    }
  }
}

float dot_q2_k_q8_k_neon(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float acc = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += Q2_K_BYTES, y += Q8_K_BYTES) {
    const int8_t *a = (const int8_t *)(y + Q8_K_QS);
    int32_t isum = 0;
    for (int g = 0; g < 16; g++) {
      const int h = g / 8, j = (g % 8) / 2, p = g % 2;
      isum += (int32_t)(x[g] & 0xF) * k_dot16_neon(q2_k_slice_neon(x, h, j, p), vld1q_s8(a + 16 * g));
    }
    /* Σ mins·bsums: the 16 4-bit mins widened against the 16 int16 group sums. */
    const uint8x16_t m8 = vshrq_n_u8(vld1q_u8(x), 4);
    const int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(m8)));
    const int16x8_t m1 = vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(m8)));
    const int16x8_t b0 = vld1q_s16((const int16_t *)(const void *)(y + Q8_K_BSUMS));
    const int16x8_t b1 = vld1q_s16((const int16_t *)(const void *)(y + Q8_K_BSUMS + 16));
    int32x4_t ms = vmull_s16(vget_low_s16(b0), vget_low_s16(m0));
    ms = vmlal_s16(ms, vget_high_s16(b0), vget_high_s16(m0));
    ms = vmlal_s16(ms, vget_low_s16(b1), vget_low_s16(m1));
    ms = vmlal_s16(ms, vget_high_s16(b1), vget_high_s16(m1));
    const float dy = ld_f32(y), d = dy * scale_at(x + Q2_K_D), dmin = dy * scale_at(x + Q2_K_DMIN);
    acc = k_fold(acc, d, isum, dmin, vaddvq_s32(ms));
  }
  return acc;
}
#endif
