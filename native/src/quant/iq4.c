/* IQ4_NL { fp16 d; uint8 qs[16] } (18 B) per 32 values: each nibble indexes a fixed non-linear
 * table of 16 int8 levels (byte j: value j low nibble, j+16 high), x = d * kvalues[nibble].
 * Its dot pairs with Q8_0. The scalar reference quantizes byte for byte as GGML's
 * quantize_row_iq4_nl_ref (which runs its iq4_nl fit with no search: one pass at d = max/-127,
 * then the weighted least-squares d of those indices, weights x^2); AVX2 and NEON dequantize and
 * dot by a byte-table lookup of the levels. Every dot folds each block's exact integer sum in
 * one fixed f32 order, so all paths give the same bits. */
#include "quant_internal.h"

#define IQ4_NL_BYTES 18

/* The levels (GGML's kvalues_iq4nl): denser near 0, where weights concentrate. */
static const int8_t iq4_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* Index of the level nearest v (ties to the lower), by bisection of the sorted table. Out of
 * range (and NaN, which compares false) clamp to the ends as the reference does. */
static inline int iq4_nearest(float v) {
  if (v <= iq4_levels[0]) return 0;
  if (v >= iq4_levels[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (v < iq4_levels[mid]) hi = mid;
    else lo = mid;
  }
  return v - iq4_levels[hi - 1] < iq4_levels[hi] - v ? hi - 1 : hi;
}

LLMEM_SCALAR void quantize_iq4_nl_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  /* GGML's reference leaves a block whose |x| is all below 1e-15 at d = 0 with the indices of
   * the block before it in the same call (its index buffer is not reset), so they carry over
   * here too; before any block it is uninitialised memory in GGML, here index 8 (level 1, the
   * nearest to 0), which dequantizes to +0.0. */
  uint8_t L[32];
  memset(L, 8, sizeof L);
  for (size_t b = 0; b < n / 32; b++, x += 32, y += IQ4_NL_BYTES) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++)
      if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
    float d = 0.0f;
    if (amax >= 1e-15f) {
      d = max / iq4_levels[0];
      const float id = 1.0f / d;
      float sumqx = 0.0f, sumq2 = 0.0f;
      for (int j = 0; j < 32; j++) {
        L[j] = (uint8_t)iq4_nearest(id * x[j]);
        const float q = iq4_levels[L[j]], w = x[j] * x[j];
        sumqx += w * q * x[j];
        sumq2 += w * q * q;
      }
      d = sumqx / sumq2;
    }
    st_u16(y, fp32_to_fp16(d));
    for (int j = 0; j < 16; j++) y[2 + j] = (uint8_t)(L[j] | (L[j + 16] << 4));
  }
}

LLMEM_SCALAR void dequantize_iq4_nl_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += IQ4_NL_BYTES, y += 32) {
    const float d = scale_at(x);
    for (int j = 0; j < 16; j++) {
      y[j] = d * iq4_levels[x[2 + j] & 0x0F];
      y[j + 16] = d * iq4_levels[x[2 + j] >> 4];
    }
  }
}

/* One block's fold, as the other Q8_0 dots: sum + sumi·(dx·dy). */
static inline float iq4_nl_fold(float sum, int sumi, float dx, float dy) {
  const float dd = dx * dy;
  const float t = (float)sumi * dd;
  return sum + t;
}

LLMEM_SCALAR float dot_iq4_nl_q8_0_scalar(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += IQ4_NL_BYTES, y += Q8_0_BYTES) {
    int sumi = 0;
    for (int j = 0; j < 16; j++)
      sumi += iq4_levels[x[2 + j] & 0x0F] * (int8_t)y[2 + j] + iq4_levels[x[2 + j] >> 4] * (int8_t)y[18 + j];
    sum = iq4_nl_fold(sum, sumi, scale_at(x), scale_at(y));
  }
  return sum;
}

#if LLMEM_X86
/* The 32 levels of a block in element order: nibbles (low = values 0..15, high = 16..31) looked
 * up in the level table by a byte shuffle (the table fits one 16-byte lane). */
LLMEM_AVX2 static inline __m256i iq4_levels_avx2(const uint8_t *q) {
  const __m128i table = _mm_loadu_si128((const __m128i *)iq4_levels);
  const __m128i raw = _mm_loadu_si128((const __m128i *)q), m = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(raw, m));
  const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(raw, 4), m));
  return _mm256_set_m128i(hi, lo);
}

LLMEM_AVX2 static inline int iq4_hsum_i32_avx2(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}

LLMEM_AVX2 void dequantize_iq4_nl_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += IQ4_NL_BYTES, y += 32) {
    const __m256 d = _mm256_set1_ps(scale_at_avx2(x));
    int8_t lv[32];
    _mm256_storeu_si256((__m256i *)lv, iq4_levels_avx2(x + 2));
    for (int k = 0; k < 4; k++) {
      const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(lv + 8 * k)));
      _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
    }
  }
}

/* Levels are signed (-127..113): maddubs takes |q| against y carrying q's sign. |q|·|y| pairs sum
 * to at most 2·127·128 < 32767, so the int16 step cannot saturate. */
LLMEM_AVX2 float dot_iq4_nl_q8_0_avx2(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  const __m256i ones = _mm256_set1_epi16(1);
  float sum = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += IQ4_NL_BYTES, y += Q8_0_BYTES) {
    const __m256i q = iq4_levels_avx2(x + 2);
    const __m256i a = _mm256_loadu_si256((const __m256i *)(y + 2));
    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q)), ones);
    sum = iq4_nl_fold(sum, iq4_hsum_i32_avx2(p), scale_at_avx2(x), scale_at_avx2(y));
  }
  return sum;
}
#endif

#if LLMEM_ARM
/* Levels of values 0..15 (low nibbles) and 16..31 (high), by a table lookup (vqtbl1q). */
static inline void iq4_levels_neon(const uint8_t *q, int8x16_t *lo, int8x16_t *hi) {
  const int8x16_t table = vld1q_s8(iq4_levels);
  const uint8x16_t raw = vld1q_u8(q);
  *lo = vqtbl1q_s8(table, vandq_u8(raw, vdupq_n_u8(0x0F)));
  *hi = vqtbl1q_s8(table, vshrq_n_u8(raw, 4));
}

static inline int iq4_dot32_neon(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), a0, b0), a1, b1));
#else
  int32x4_t acc = vpaddlq_s16(vmull_s8(vget_low_s8(a0), vget_low_s8(b0)));
  acc = vpadalq_s16(acc, vmull_high_s8(a0, b0));
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a1), vget_low_s8(b1)));
  acc = vpadalq_s16(acc, vmull_high_s8(a1, b1));
  return vaddvq_s32(acc);
#endif
}

void dequantize_iq4_nl_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / 32; b++, x += IQ4_NL_BYTES, y += 32) {
    int8x16_t lo, hi;
    iq4_levels_neon(x + 2, &lo, &hi);
    const float d = scale_at(x);
    float32x4_t v[8];
    widen8_neon(vget_low_s8(lo), d, &v[0], &v[1]);
    widen8_neon(vget_high_s8(lo), d, &v[2], &v[3]);
    widen8_neon(vget_low_s8(hi), d, &v[4], &v[5]);
    widen8_neon(vget_high_s8(hi), d, &v[6], &v[7]);
    for (int k = 0; k < 8; k++) vst1q_f32(y + 4 * k, v[k]);
  }
}

float dot_iq4_nl_q8_0_neon(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += IQ4_NL_BYTES, y += Q8_0_BYTES) {
    int8x16_t lo, hi;
    iq4_levels_neon(x + 2, &lo, &hi);
    const int sumi = iq4_dot32_neon(lo, hi, vld1q_s8((const int8_t *)(y + 2)), vld1q_s8((const int8_t *)(y + 18)));
    sum = iq4_nl_fold(sum, sumi, scale_at(x), scale_at(y));
  }
  return sum;
}
#endif
