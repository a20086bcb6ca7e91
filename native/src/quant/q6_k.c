/* Q6_K: 256 values in 16 sub-blocks of 16, each with an int8 scale under the block's fp16 d;
 * 6-bit levels split into low nibbles (ql) and 2-bit high parts (qh) (layout in k_quants.h).
 * Dots pair it with Q8_K. Scalar reference (quantize byte for byte GGML's
 * quantize_row_q6_K_ref), AVX2 and NEON dequantize and dot. */
#include "k_quants.h"

/* The 6-bit level (0..63) of value v (0..255) of a block. Within each 128-value half, ql byte l
 * holds values l (low nibble) and l+64 (high), ql byte l+32 values l+32 and l+96, and qh byte l
 * the top 2 bits of all four (bits 0-1, 2-3, 4-5, 6-7 for l, l+32, l+64, l+96). */
static inline int q6_k_level(const uint8_t *x, int v) {
  const int h = v / 128, r = v % 128, slice = r / 32, l = r % 32;
  const uint8_t lo = x[64 * h + l + 32 * (slice & 1)], hi = x[Q6_K_QH + 32 * h + l];
  return ((slice < 2 ? lo & 0xF : lo >> 4) | (((hi >> (2 * slice)) & 3) << 4));
}

/* GGML's make_qx_quants(16, 32, x, L, rmse_type 1, no weights): a symmetric fit with weights x²,
 * the first scale from the signed value of largest magnitude, then 18 trial scales around it.
 * Every f32 operation in GGML's order. L gets levels 0..63; returns the scale. */
LLMEM_SCALAR static float q6_k_fit(const float *x, int8_t *L) {
  const int n = 16, nmax = 32;
  float max = 0, amax = 0;
  for (int i = 0; i < n; i++) {
    const float ax = fabsf(x[i]);
    if (ax > amax) amax = ax, max = x[i];
  }
  if (amax < 1e-15f) { /* GGML's GROUP_MAX_EPS */
    memset(L, 0, (size_t)n);
    return 0.0f;
  }
  float iscale = (float)-nmax / max, sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; i++) {
    int l = k_nearest_int(iscale * x[i]);
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    L[i] = (int8_t)(l + nmax);
    const float w = x[i] * x[i], wx = w * x[i], wl = w * (float)l;
    const float a = wx * (float)l, b = wl * (float)l;
    sumlx += a;
    suml2 += b;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f, best = scale * sumlx;
  for (int is = -9; is <= 9; is++) {
    if (is == 0) continue;
    const float step = 0.1f * (float)is;
    iscale = -((float)nmax + step) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; i++) {
      int l = k_nearest_int(iscale * x[i]);
      l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
      const float w = x[i] * x[i], wx = w * x[i], wl = w * (float)l;
      const float a = wx * (float)l, b = wl * (float)l;
      sumlx += a;
      suml2 += b;
    }
    const float lhs = sumlx * sumlx, rhs = best * suml2;
    if (suml2 > 0 && lhs > rhs) {
      for (int i = 0; i < n; i++) {
        const int l = k_nearest_int(iscale * x[i]);
        L[i] = (int8_t)(nmax + (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

LLMEM_SCALAR void quantize_q6_k_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / QK_K; b++, x += QK_K, y += Q6_K_BYTES) {
    int8_t L[QK_K];
    float scales[16], max_scale = 0, max_abs = 0;
    for (int g = 0; g < 16; g++) {
      scales[g] = q6_k_fit(x + 16 * g, L + 16 * g);
      const float a = fabsf(scales[g]);
      if (a > max_abs) max_abs = a, max_scale = scales[g];
    }
    memset(y, 0, Q6_K_BYTES);
    if (max_abs < 1e-15f) continue; /* all bytes 0, d = +0 */
    const float iscale = -128.f / max_scale;
    const uint16_t dh = fp32_to_fp16(1 / iscale);
    st_u16(y + Q6_K_D, dh);
    int8_t *sc = (int8_t *)(y + Q6_K_SCALES);
    for (int g = 0; g < 16; g++) {
      const int v = k_nearest_int(iscale * scales[g]);
      sc[g] = (int8_t)(v > 127 ? 127 : v);
    }
    /* Re-derive the levels against the scales as stored (int8 under fp16 d). */
    for (int g = 0; g < 16; g++) {
      const float d = fp16_to_fp32(dh) * (float)sc[g];
      if (d == 0.0f) continue;
      for (int i = 0; i < 16; i++) {
        int l = k_nearest_int(x[16 * g + i] / d);
        l = l < -32 ? -32 : l > 31 ? 31 : l;
        L[16 * g + i] = (int8_t)(l + 32);
      }
    }
    for (int h = 0; h < 2; h++) {
      uint8_t *ql = y + 64 * h, *qh = y + Q6_K_QH + 32 * h;
      const int8_t *Lh = L + 128 * h;
      for (int l = 0; l < 32; l++) {
        ql[l] = (uint8_t)((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
        ql[l + 32] = (uint8_t)((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
        qh[l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
      }
    }
  }
}

LLMEM_SCALAR void dequantize_q6_k_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q6_K_BYTES, y += QK_K) {
    const float d = scale_at(x + Q6_K_D);
    const int8_t *sc = (const int8_t *)(x + Q6_K_SCALES);
    for (int v = 0; v < QK_K; v++) {
      const float ds = d * (float)sc[v / 16];
      y[v] = ds * (float)(q6_k_level(x, v) - 32);
    }
  }
}

/* Σ_g scales[g]·bsums[g]: the offset 32 of every level, applied once per block from x's group sums. */
static inline int32_t q6_k_offset_sum(const int8_t *sc, const uint8_t *yb) {
  int32_t s = 0;
  for (int g = 0; g < 16; g++) s += (int32_t)sc[g] * ld_i16(yb + Q8_K_BSUMS + 2 * g);
  return s;
}

static inline float q6_k_fold(float acc, float d, int32_t isum) {
  const float t = d * (float)isum;
  return acc + t;
}

LLMEM_SCALAR float dot_q6_k_q8_k_scalar(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float acc = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += Q6_K_BYTES, y += Q8_K_BYTES) {
    const int8_t *sc = (const int8_t *)(x + Q6_K_SCALES), *a = (const int8_t *)(y + Q8_K_QS);
    int32_t isum = 0;
    for (int g = 0; g < 16; g++) {
      int32_t s = 0;
      for (int i = 0; i < 16; i++) s += q6_k_level(x, 16 * g + i) * a[16 * g + i];
      isum += sc[g] * s;
    }
    isum -= 32 * q6_k_offset_sum(sc, y);
    acc = q6_k_fold(acc, scale_at(x + Q6_K_D) * ld_f32(y), isum);
  }
  return acc;
}

#if LLMEM_X86
/* The four 32-level slices of one 128-value half, unsigned 0..63 (slice k = values 32k..32k+31). */
LLMEM_AVX2 static inline void q6_k_levels_avx2(const uint8_t *x, int h, __m256i u[4]) {
  const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(0x30);
  const __m256i l0 = _mm256_loadu_si256((const __m256i *)(x + 64 * h));
  const __m256i l1 = _mm256_loadu_si256((const __m256i *)(x + 64 * h + 32));
  const __m256i hb = _mm256_loadu_si256((const __m256i *)(x + Q6_K_QH + 32 * h));
  /* 16-bit shifts move bits across bytes; the 0x30 mask keeps only each byte's own two. */
  u[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m2));
  u[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m2));
  u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m2));
  u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(hb, 2), m2));
}

LLMEM_AVX2 void dequantize_q6_k_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q6_K_BYTES, y += QK_K) {
    const float d = scale_at_avx2(x + Q6_K_D);
    const int8_t *sc = (const int8_t *)(x + Q6_K_SCALES);
    for (int h = 0; h < 2; h++) {
      __m256i u[4];
      q6_k_levels_avx2(x, h, u);
      for (int k = 0; k < 4; k++) {
        uint8_t lv[32];
        _mm256_storeu_si256((__m256i *)lv, _mm256_sub_epi8(u[k], _mm256_set1_epi8(32)));
        for (int t = 0; t < 4; t++) {
          const int v = 128 * h + 32 * k + 8 * t;
          const __m256 ds = _mm256_set1_ps(d * (float)sc[v / 16]);
          const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(lv + 8 * t)));
          _mm256_storeu_ps(y + v, _mm256_mul_ps(ds, _mm256_cvtepi32_ps(q)));
        }
      }
    }
  }
}

/* Row · x on the int8 multiply-add path: levels stay unsigned (0..63) for maddubs (pairs at most
 * 2·63·128, no saturation), madd against the two 16-value sub-blocks' scales widens to int32,
 * and the offset of 32 comes off once per block through x's group sums. */
LLMEM_AVX2 float dot_q6_k_q8_k_avx2(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float acc = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += Q6_K_BYTES, y += Q8_K_BYTES) {
    const int8_t *sc = (const int8_t *)(x + Q6_K_SCALES);
    const uint8_t *a = y + Q8_K_QS;
    __m256i sum = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
      __m256i u[4];
      q6_k_levels_avx2(x, h, u);
      for (int k = 0; k < 4; k++) {
        const int g = 8 * h + 2 * k;
        const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));
        const __m256i p = _mm256_maddubs_epi16(u[k], _mm256_loadu_si256((const __m256i *)(a + 128 * h + 32 * k)));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p, s));
      }
    }
    /* Σ scales·bsums in one madd: 16 int16 against 16 sign-extended scales. */
    const __m256i off = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(y + Q8_K_BSUMS)),
                                          _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc)));
    sum = _mm256_sub_epi32(sum, _mm256_slli_epi32(off, 5));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    acc = q6_k_fold(acc, scale_at_avx2(x + Q6_K_D) * ld_f32(y), _mm_cvtsi128_si32(s));
  }
  return acc;
}

/* Four Q6_K rows against one Q8_K x (matvec, AVX2): x's 32-byte chunks and scale are loaded once
 * for the four rows and their integer sums folded by hadds instead of one horizontal sum each.
 * Per row the integers are dot_q6_k_q8_k_avx2's exactly and the fold is q6_k_fold on four lanes
 * (mul, then add; no FMA): out[r] equals dot_q6_k_q8_k_avx2(row r, x) bit for bit. */
LLMEM_AVX2 static void rows4_dot_q6_k_avx2(const uint8_t *const w[4], const uint8_t *y, size_t nb, float out[4]) {
  __m128 acc = _mm_setzero_ps();
  for (size_t b = 0; b < nb; b++, y += Q8_K_BYTES) {
    const uint8_t *x[4];
    __m256i sum[4];
    for (int r = 0; r < 4; r++) {
      x[r] = w[r] + b * Q6_K_BYTES;
      sum[r] = _mm256_setzero_si256();
    }
    const uint8_t *a = y + Q8_K_QS;
    for (int h = 0; h < 2; h++) {
      __m256i ax[4];
      for (int k = 0; k < 4; k++) ax[k] = _mm256_loadu_si256((const __m256i *)(a + 128 * h + 32 * k));
      for (int r = 0; r < 4; r++) {
        const int8_t *sc = (const int8_t *)(x[r] + Q6_K_SCALES);
        __m256i u[4];
        q6_k_levels_avx2(x[r], h, u);
        for (int k = 0; k < 4; k++) {
          const int g = 8 * h + 2 * k;
          const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));
          sum[r] = _mm256_add_epi32(sum[r], _mm256_madd_epi16(_mm256_maddubs_epi16(u[k], ax[k]), s));
        }
      }
    }
    const __m256i bsums = _mm256_loadu_si256((const __m256i *)(y + Q8_K_BSUMS));
    for (int r = 0; r < 4; r++) {
      const __m256i off =
          _mm256_madd_epi16(bsums, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x[r] + Q6_K_SCALES))));
      sum[r] = _mm256_sub_epi32(sum[r], _mm256_slli_epi32(off, 5));
    }
    const __m256i hs = _mm256_hadd_epi32(_mm256_hadd_epi32(sum[0], sum[1]), _mm256_hadd_epi32(sum[2], sum[3]));
    const __m128i isum = _mm_add_epi32(_mm256_castsi256_si128(hs), _mm256_extracti128_si256(hs, 1));
    const __m128 d = _mm_mul_ps(_mm_cvtph_ps(_mm_setr_epi16((short)ld_u16(x[0] + Q6_K_D), (short)ld_u16(x[1] + Q6_K_D),
                                                            (short)ld_u16(x[2] + Q6_K_D), (short)ld_u16(x[3] + Q6_K_D),
                                                            0, 0, 0, 0)),
                                _mm_set1_ps(ld_f32(y)));
    acc = _mm_add_ps(acc, _mm_mul_ps(d, _mm_cvtepi32_ps(isum)));
  }
  _mm_storeu_ps(out, acc);
}

K_MATVEC_ROWS4(matvec_rows_q6_k_avx2, rows4_dot_q6_k_avx2)
#endif

#if LLMEM_X86
/* Tokens per pass of the matmul tile (as Q4_K_MM_TOKENS: a block's unpacked rows reused by each). */
#define Q6_K_MM_TOKENS 16

/* Four Q6_K rows against nt <= Q6_K_MM_TOKENS Q8_K tokens (matmul, AVX2): each block's 6-bit
 * levels and scale words are unpacked ONCE for the four rows, then every token takes
 * rows4_dot_q6_k_avx2's per-token work on them (the same integers, hadds and f32 fold: mul, then
 * add, no FMA). out[t][r] equals rows4_dot_q6_k_avx2 (so dot_q6_k_q8_k_avx2) of row r and token
 * t bit for bit. */
LLMEM_AVX2 static void rows4_tile_q6_k_avx2(const uint8_t *const w[4], const uint8_t *y, size_t y_stride, size_t nt,
                                             size_t nb, float out[][4]) {
  __m128 acc[Q6_K_MM_TOKENS];
  for (size_t t = 0; t < nt; t++) acc[t] = _mm_setzero_ps();
  for (size_t b = 0; b < nb; b++) {
    __m256i u[4][8], sw[4][8], sc16[4]; /* row r: levels of slice 4h+k, its scale words; scales as int16 */
    const uint8_t *x[4];
    for (int r = 0; r < 4; r++) {
      x[r] = w[r] + b * Q6_K_BYTES;
      const int8_t *sc = (const int8_t *)(x[r] + Q6_K_SCALES);
      for (int h = 0; h < 2; h++) {
        q6_k_levels_avx2(x[r], h, u[r] + 4 * h);
        for (int k = 0; k < 4; k++) {
          const int g = 8 * h + 2 * k;
          sw[r][4 * h + k] = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));
        }
      }
      sc16[r] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x[r] + Q6_K_SCALES)));
    }
    const __m128 dw = _mm_cvtph_ps(_mm_setr_epi16((short)ld_u16(x[0] + Q6_K_D), (short)ld_u16(x[1] + Q6_K_D),
                                                  (short)ld_u16(x[2] + Q6_K_D), (short)ld_u16(x[3] + Q6_K_D), 0, 0,
                                                  0, 0));
    for (size_t t = 0; t < nt; t++) {
      const uint8_t *yt = y + t * y_stride + b * Q8_K_BYTES, *a = yt + Q8_K_QS;
      __m256i sum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                        _mm256_setzero_si256()};
      for (int s = 0; s < 8; s++) {
        const __m256i ax = _mm256_loadu_si256((const __m256i *)(a + 32 * s));
        for (int r = 0; r < 4; r++)
          sum[r] = _mm256_add_epi32(sum[r], _mm256_madd_epi16(_mm256_maddubs_epi16(u[r][s], ax), sw[r][s]));
      }
      const __m256i bsums = _mm256_loadu_si256((const __m256i *)(yt + Q8_K_BSUMS));
      for (int r = 0; r < 4; r++)
        sum[r] = _mm256_sub_epi32(sum[r], _mm256_slli_epi32(_mm256_madd_epi16(bsums, sc16[r]), 5));
      const __m256i hs = _mm256_hadd_epi32(_mm256_hadd_epi32(sum[0], sum[1]), _mm256_hadd_epi32(sum[2], sum[3]));
      const __m128i isum = _mm_add_epi32(_mm256_castsi256_si128(hs), _mm256_extracti128_si256(hs, 1));
      const __m128 d = _mm_mul_ps(dw, _mm_set1_ps(ld_f32(yt)));
      acc[t] = _mm_add_ps(acc[t], _mm_mul_ps(d, _mm_cvtepi32_ps(isum)));
    }
  }
  for (size_t t = 0; t < nt; t++) _mm_storeu_ps(out[t], acc[t]);
}

/* Q6_K matmul rows on AVX2: four rows × up to Q6_K_MM_TOKENS tokens per tile. */
K_MATMUL_ROWS(matmul_rows_q6_k_avx2, LLMEM_AVX2, 4, Q6_K_MM_TOKENS, rows4_tile_q6_k_avx2)
#endif

#if LLMEM_ARM
static inline void q6_k_levels_neon(const uint8_t *x, int h, uint8x16_t u[8]) {
  const uint8x16_t m4 = vdupq_n_u8(0xF), m2 = vdupq_n_u8(0x30);
  for (int p = 0; p < 2; p++) { /* bytes 16p..16p+15 of each slice */
    const uint8x16_t l0 = vld1q_u8(x + 64 * h + 16 * p), l1 = vld1q_u8(x + 64 * h + 32 + 16 * p);
    const uint8x16_t hb = vld1q_u8(x + Q6_K_QH + 32 * h + 16 * p);
    u[0 + p] = vorrq_u8(vandq_u8(l0, m4), vandq_u8(vshlq_n_u8(hb, 4), m2));
    u[2 + p] = vorrq_u8(vandq_u8(l1, m4), vandq_u8(vshlq_n_u8(hb, 2), m2));
    u[4 + p] = vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(hb, m2));
    u[6 + p] = vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(hb, 2), m2));
  }
}

void dequantize_q6_k_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q6_K_BYTES, y += QK_K) {
    const float d = scale_at(x + Q6_K_D);
    const int8_t *sc = (const int8_t *)(x + Q6_K_SCALES);
    for (int h = 0; h < 2; h++) {
      uint8x16_t u[8];
      q6_k_levels_neon(x, h, u);
      for (int k = 0; k < 8; k++) { /* 16 values: one sub-block */
        const int v = 128 * h + 16 * k;
        const int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(u[k]), vdupq_n_s8(32));
        const float ds = d * (float)sc[v / 16];
        float32x4_t lo, hi;
        widen8_neon(vget_low_s8(q), ds, &lo, &hi);
        vst1q_f32(y + v, lo);
        vst1q_f32(y + v + 4, hi);
        widen8_neon(vget_high_s8(q), ds, &lo, &hi);
        vst1q_f32(y + v + 8, lo);
        vst1q_f32(y + v + 12, hi);
      }
    }
  }
}

float dot_q6_k_q8_k_neon(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float acc = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += Q6_K_BYTES, y += Q8_K_BYTES) {
    const int8_t *sc = (const int8_t *)(x + Q6_K_SCALES), *a = (const int8_t *)(y + Q8_K_QS);
    int32_t isum = 0;
    for (int h = 0; h < 2; h++) {
      uint8x16_t u[8];
      q6_k_levels_neon(x, h, u);
      /* u[2k+p]: slice k (sub-blocks 2k, 2k+1 of this half), bytes 16p..16p+15. */
      for (int k = 0; k < 4; k++)
        for (int p = 0; p < 2; p++) {
          const int g = 8 * h + 2 * k + p;
          isum += sc[g] * k_dot16_neon(u[2 * k + p], vld1q_s8(a + 16 * g));
        }
    }
    const int16x8_t b0 = vld1q_s16((const int16_t *)(const void *)(y + Q8_K_BSUMS));
    const int16x8_t b1 = vld1q_s16((const int16_t *)(const void *)(y + Q8_K_BSUMS + 16));
    const int8x16_t s8 = vld1q_s8(sc);
    const int16x8_t s0 = vmovl_s8(vget_low_s8(s8)), s1 = vmovl_s8(vget_high_s8(s8));
    int32x4_t off = vmull_s16(vget_low_s16(b0), vget_low_s16(s0));
    off = vmlal_s16(off, vget_high_s16(b0), vget_high_s16(s0));
    off = vmlal_s16(off, vget_low_s16(b1), vget_low_s16(s1));
    off = vmlal_s16(off, vget_high_s16(b1), vget_high_s16(s1));
    isum -= 32 * vaddvq_s32(off);
    acc = q6_k_fold(acc, scale_at(x + Q6_K_D) * ld_f32(y), isum);
  }
  return acc;
}
/* Four Q6_K rows × rn Q8_K tokens over nb super-blocks: out[t][r] = row r · token t, each bit for
 * bit dot_q6_k_q8_k_neon's (the same exact isum per super-block, folded by q6_k_fold's steps on
 * four lanes). Per (half, 16-byte part) the rows' low, other-low and high bytes are loaded once,
 * their four slices built once for the tile's tokens, each token's 16 int8 loaded once for the rows. */
static inline __attribute__((always_inline)) void q6_k_tile_neon(int rn, const uint8_t *const w[4],
                                                                 const uint8_t *const xq[], size_t nb,
                                                                 float out[][4]) {
  const uint8x16_t m4 = vdupq_n_u8(0xF), m2 = vdupq_n_u8(0x30);
  float32x4_t acc[2] = {vdupq_n_f32(0), vdupq_n_f32(0)};
  for (size_t b = 0; b < nb; b++) {
    const uint8_t *xb[4] = {w[0] + b * Q6_K_BYTES, w[1] + b * Q6_K_BYTES, w[2] + b * Q6_K_BYTES, w[3] + b * Q6_K_BYTES};
    int32x4_t is[2][4];
    for (int t = 0; t < rn; t++)
      for (int r = 0; r < 4; r++) is[t][r] = vdupq_n_s32(0);
    for (int h = 0; h < 2; h++)
      for (int p = 0; p < 2; p++) {
        uint8x16_t l0[4], l1[4], hb[4];
        for (int r = 0; r < 4; r++) {
          l0[r] = vld1q_u8(xb[r] + 64 * h + 16 * p);
          l1[r] = vld1q_u8(xb[r] + 64 * h + 32 + 16 * p);
          hb[r] = vld1q_u8(xb[r] + Q6_K_QH + 32 * h + 16 * p);
        }
        for (int k = 0; k < 4; k++) { /* slice k: sub-block g = 8h + 2k + p (q6_k_levels_neon's u[2k+p]) */
          const int g = 8 * h + 2 * k + p;
          int8x16_t u[4];
          for (int r = 0; r < 4; r++) {
            const uint8x16_t v = k == 0   ? vorrq_u8(vandq_u8(l0[r], m4), vandq_u8(vshlq_n_u8(hb[r], 4), m2))
                                 : k == 1 ? vorrq_u8(vandq_u8(l1[r], m4), vandq_u8(vshlq_n_u8(hb[r], 2), m2))
                                 : k == 2 ? vorrq_u8(vshrq_n_u8(l0[r], 4), vandq_u8(hb[r], m2))
                                          : vorrq_u8(vshrq_n_u8(l1[r], 4), vandq_u8(vshrq_n_u8(hb[r], 2), m2));
            u[r] = vreinterpretq_s8_u8(v);
          }
          for (int t = 0; t < rn; t++) {
            const int8x16_t a = vld1q_s8((const int8_t *)(xq[t] + b * Q8_K_BYTES + Q8_K_QS) + 16 * g);
            for (int r = 0; r < 4; r++) {
              const int32_t scale = ((const int8_t *)(xb[r] + Q6_K_SCALES))[g];
#if defined(__ARM_FEATURE_DOTPROD)
              const int32x4_t prod = vdotq_s32(vdupq_n_s32(0), u[r], a);
#else
              const int32x4_t prod = vpadalq_s16(vpaddlq_s16(vmull_s8(vget_low_s8(u[r]), vget_low_s8(a))), vmull_high_s8(u[r], a));
#endif
              is[t][r] = vmlaq_n_s32(is[t][r], prod, scale);
            }
          }
        }
      }
    const float32x4_t dw = k_half4_neon(xb, Q6_K_D);
    for (int t = 0; t < rn; t++) {
      const uint8_t *yb = xq[t] + b * Q8_K_BYTES;
      const int16x8_t b0 = vld1q_s16((const int16_t *)(const void *)(yb + Q8_K_BSUMS));
      const int16x8_t b1 = vld1q_s16((const int16_t *)(const void *)(yb + Q8_K_BSUMS + 16));
      int32x4_t off[4];
      for (int r = 0; r < 4; r++) {
        const int8x16_t s8 = vld1q_s8((const int8_t *)(xb[r] + Q6_K_SCALES));
        const int16x8_t s0 = vmovl_s8(vget_low_s8(s8)), s1 = vmovl_s8(vget_high_s8(s8));
        int32x4_t o = vmull_s16(vget_low_s16(b0), vget_low_s16(s0));
        o = vmlal_s16(o, vget_high_s16(b0), vget_high_s16(s0));
        o = vmlal_s16(o, vget_low_s16(b1), vget_low_s16(s1));
        off[r] = vmlal_s16(o, vget_high_s16(b1), vget_high_s16(s1));
      }
      /* isum - 32·off per row, then q6_k_fold on four lanes: acc + d·isum, d = dw·dy */
      const int32x4_t isum = vsubq_s32(k_total4_neon(is[t]), vshlq_n_s32(k_total4_neon(off), 5));
      const float32x4_t d = vmulq_n_f32(dw, ld_f32(yb));
      const float32x4_t tt = vmulq_f32(d, vcvtq_f32_s32(isum));
      acc[t] = vaddq_f32(acc[t], tt);
    }
  }
  for (int t = 0; t < rn; t++) vst1q_f32(out[t], acc[t]);
}
K_NEON_ROWS(rows_q6_k_neon, q6_k_tile_neon)
#endif
