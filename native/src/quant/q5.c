/* Q5_0 { fp16 d; uint8 qh[4]; uint8 qs[16] } (22 B) and Q5_1 { fp16 d; fp16 m; uint8 qh[4];
 * uint8 qs[16] } (24 B) per 32 values: 4-bit nibbles as Q4_0/Q4_1 (byte j: value j low, j+16
 * high) plus a fifth bit per value in qh (bit e for value e). x = (q-16)*d, or q*d + m. Their
 * dots pair with Q8_0 and Q8_1. Scalar references (quantize byte for byte GGML's
 * quantize_row_q5_*_ref), AVX2 and NEON dequantize and dot; the dots fold each block's exact
 * integer sum in one fixed f32 order, so every path gives the same bits. */
#include "quant_internal.h"


/* (int8_t)v truncated, as GGML's casts: non-finite (a 1/d that overflowed) gives 0, and the
 * result is clamped to 0..31 (GGML: MIN(31, .) for q5_0; q5_1's levels never leave 0..31). */
static inline uint8_t q5_trunc(float v) {
  if (!(fabsf(v) <= FLT_MAX)) return 0;
  const int t = (int)fmaxf(-1.0f, fminf(32.0f, v));
  return (uint8_t)(t < 0 ? 0 : t > 31 ? 31 : t);
}

static inline void q5_pack(uint8_t *qh_out, uint8_t *qs, const uint8_t L[32]) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; j++) {
    qs[j] = (uint8_t)((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4));
    qh |= (uint32_t)((L[j] & 0x10) >> 4) << j;
    qh |= (uint32_t)((L[j + 16] & 0x10) >> 4) << (j + 16);
  }
  memcpy(qh_out, &qh, 4);
}

/* The 5-bit level of value e (0..31) of a block whose qh is at h and nibbles at q. */
static inline int q5_level(const uint8_t *h, const uint8_t *q, int e) {
  uint32_t qh;
  memcpy(&qh, h, 4);
  const int nib = e < 16 ? q[e] & 0x0F : q[e - 16] >> 4;
  return nib | (int)(((qh >> e) & 1) << 4);
}

LLMEM_SCALAR void quantize_q5_0_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q5_0_BYTES) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++)
      if (amax < fabsf(x[j])) amax = fabsf(x[j]), max = x[j];
    /* The signed extreme maps to level 0 (q - 16 = -16): d takes its sign. */
    const float d = max / -16, id = d != 0.0f ? 1.0f / d : 0.0f;
    st_u16(y, fp32_to_fp16(d));
    uint8_t L[32];
    for (int j = 0; j < 32; j++) {
      const float v = x[j] * id;
      L[j] = q5_trunc(v + 16.5f);
    }
    q5_pack(y + 2, y + 6, L);
  }
}

LLMEM_SCALAR void quantize_q5_1_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / 32; b++, x += 32, y += Q5_1_BYTES) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31, id = d != 0.0f ? 1.0f / d : 0.0f;
    st_u16(y, fp32_to_fp16(d));
    st_u16(y + 2, fp32_to_fp16(min));
    uint8_t L[32];
    for (int j = 0; j < 32; j++) {
      const float v = (x[j] - min) * id;
      L[j] = q5_trunc(v + 0.5f);
    }
    q5_pack(y + 4, y + 8, L);
  }
}

LLMEM_SCALAR void dequantize_q5_0_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q5_0_BYTES, y += 32) {
    const float d = scale_at(x);
    for (int e = 0; e < 32; e++) y[e] = (float)(q5_level(x + 2, x + 6, e) - 16) * d;
  }
}

LLMEM_SCALAR void dequantize_q5_1_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q5_1_BYTES, y += 32) {
    const float d = scale_at(x), m = scale_at(x + 2);
    for (int e = 0; e < 32; e++) {
      const float v = (float)q5_level(x + 4, x + 8, e) * d;
      y[e] = v + m;
    }
  }
}

/* One block's fold, in the order of the Q4_0/Q4_1 scalar dots: Q5_0 takes q_block_fold
 * (quant_internal.h), sum + sumi·(dx·dy); Q5_1 adds mx·sy. */
static inline float q5_1_fold(float sum, int sumi, float dx, float dy, float mx, float sy) {
  const float dd = dx * dy;
  const float scaled = dd * (float)sumi;
  const float ms = mx * sy;
  const float t = scaled + ms;
  return sum + t;
}

LLMEM_SCALAR float dot_q5_0_q8_0_scalar(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += Q5_0_BYTES, y += Q8_0_BYTES) {
    int sumi = 0;
    for (int e = 0; e < 32; e++) sumi += (q5_level(x + 2, x + 6, e) - 16) * (int8_t)y[2 + e];
    sum = q_block_fold(sum, sumi, scale_at(x), scale_at(y));
  }
  return sum;
}

LLMEM_SCALAR float dot_q5_1_q8_1_scalar(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += Q5_1_BYTES, y += Q8_1_BYTES) {
    int sumi = 0;
    for (int e = 0; e < 32; e++) sumi += q5_level(x + 4, x + 8, e) * (int8_t)y[4 + e];
    sum = q5_1_fold(sum, sumi, scale_at(x), scale_at(y), scale_at(x + 2), scale_at(y + 2));
  }
  return sum;
}

#if LLMEM_X86
LLMEM_AVX2 void dequantize_q5_0_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q5_0_BYTES, y += 32) {
    const __m256 d = _mm256_set1_ps(scale_at_avx2(x));
    uint8_t lv[32];
    _mm256_storeu_si256((__m256i *)lv, _mm256_sub_epi8(q5_levels_avx2(x + 2, x + 6), _mm256_set1_epi8(16)));
    for (int k = 0; k < 4; k++) {
      const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(lv + 8 * k)));
      _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
    }
  }
}

LLMEM_AVX2 void dequantize_q5_1_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q5_1_BYTES, y += 32) {
    const __m256 d = _mm256_set1_ps(scale_at_avx2(x)), m = _mm256_set1_ps(scale_at_avx2(x + 2));
    uint8_t lv[32];
    _mm256_storeu_si256((__m256i *)lv, q5_levels_avx2(x + 4, x + 8));
    for (int k = 0; k < 4; k++) {
      const __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(lv + 8 * k)));
      _mm256_storeu_ps(y + 8 * k, _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(q), d), m)); /* no FMA: two roundings */
    }
  }
}

/* Q5_0: levels - 16 are signed (-16..15), so maddubs takes |q| against y carrying q's sign. */
LLMEM_AVX2 float dot_q5_0_q8_0_avx2(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  const __m256i ones = _mm256_set1_epi16(1);
  float sum = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += Q5_0_BYTES, y += Q8_0_BYTES) {
    const __m256i q = _mm256_sub_epi8(q5_levels_avx2(x + 2, x + 6), _mm256_set1_epi8(16));
    const __m256i a = _mm256_loadu_si256((const __m256i *)(y + 2));
    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q)), ones);
    sum = q_block_fold(sum, hsum_i32_avx2(p), scale_at_avx2(x), scale_at_avx2(y));
  }
  return sum;
}

/* Q5_1: levels are unsigned (0..31): maddubs takes them as they are. */
LLMEM_AVX2 float dot_q5_1_q8_1_avx2(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  const __m256i ones = _mm256_set1_epi16(1);
  float sum = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += Q5_1_BYTES, y += Q8_1_BYTES) {
    const __m256i q = q5_levels_avx2(x + 4, x + 8);
    const __m256i p =
        _mm256_madd_epi16(_mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)(y + 4))), ones);
    sum = q5_1_fold(sum, hsum_i32_avx2(p), scale_at_avx2(x), scale_at_avx2(y), scale_at_avx2(x + 2),
                    scale_at_avx2(y + 2));
  }
  return sum;
}
#endif

#if LLMEM_ARM
/* 32 int8 products summed (dot32_neon's lanes, quant_internal.h, with or without SDOT). */
static inline int dot32_i8_neon(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
  return vaddvq_s32(dot32_neon(vdupq_n_s32(0), a0, a1, b0, b1));
}

static inline void q5_store_neon(float *y, int8x16_t q, float d, float m, int add_m) {
  float32x4_t v[4];
  widen8_neon(vget_low_s8(q), d, &v[0], &v[1]);
  widen8_neon(vget_high_s8(q), d, &v[2], &v[3]);
  for (int k = 0; k < 4; k++) vst1q_f32(y + 4 * k, add_m ? vaddq_f32(v[k], vdupq_n_f32(m)) : v[k]);
}

void dequantize_q5_0_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q5_0_BYTES, y += 32) {
    uint8x16_t lo, hi;
    q5_levels_neon(x + 2, x + 6, &lo, &hi);
    const float d = scale_at(x);
    q5_store_neon(y, vsubq_s8(vreinterpretq_s8_u8(lo), vdupq_n_s8(16)), d, 0, 0);
    q5_store_neon(y + 16, vsubq_s8(vreinterpretq_s8_u8(hi), vdupq_n_s8(16)), d, 0, 0);
  }
}

void dequantize_q5_1_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += Q5_1_BYTES, y += 32) {
    uint8x16_t lo, hi;
    q5_levels_neon(x + 4, x + 8, &lo, &hi);
    const float d = scale_at(x), m = scale_at(x + 2);
    /* levels <= 31 fit int8; widen8_neon multiplies by d, then + m: two roundings as the reference */
    q5_store_neon(y, vreinterpretq_s8_u8(lo), d, m, 1);
    q5_store_neon(y + 16, vreinterpretq_s8_u8(hi), d, m, 1);
  }
}

float dot_q5_0_q8_0_neon(const void *vx, const void *vy, size_t n) {
  return q_row_dot_neon(LLMEM_Q5_0, vx, vy, n);
}

float dot_q5_1_q8_1_neon(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += Q5_1_BYTES, y += Q8_1_BYTES) {
    uint8x16_t lo, hi;
    q5_levels_neon(x + 4, x + 8, &lo, &hi);
    const int sumi = dot32_i8_neon(vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi),
                                   vld1q_s8((const int8_t *)(y + 4)), vld1q_s8((const int8_t *)(y + 20)));
    sum = q5_1_fold(sum, sumi, scale_at(x), scale_at(y), scale_at(x + 2), scale_at(y + 2));
  }
  return sum;
}
#endif
