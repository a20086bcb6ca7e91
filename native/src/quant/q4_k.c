/* Q4_K: 256 values in 8 sub-blocks of 32, each with a 6-bit scale and a 6-bit min under the
 * block's fp16 d and dmin (layout in k_quants.h). Dots pair it with Q8_K. Scalar reference
 * (quantize byte for byte GGML's quantize_row_q4_K_ref), AVX2 and NEON dequantize and dot. */
#include "k_quants.h"

/* GGML's make_qkx2_quants for one sub-block of n <= 32 values with levels 0..nmax: an affine fit
 * x ~ scale*L - the_min, first from the range, then nstep+1 trial scales around it (iscale from
 * (rmin + 0.1·is + nmax)/range), keeping the one of least weighted squared error (use_mad:
 * absolute error, as Q2_K asks). Every f32 operation is in GGML's order, so the levels,
 * scale and min come out bit for bit the same. Returns the scale; *the_min gets the min. */
LLMEM_SCALAR float k_qkx2_fit(const float *x, const float *w, uint8_t *L, float *the_min, int n, int nmax, float rmin,
                              int nstep, int use_mad) {
  const float rdelta = 0.1f;
  float lo = x[0], hi = x[0], sum_w = w[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
    sum_w += w[i];
    const float wx = w[i] * x[i];
    sum_x += wx;
  }
  if (lo > 0) lo = 0;
  if (hi == lo) {
    memset(L, 0, (size_t)n);
    *the_min = -lo;
    return 0.0f;
  }
  float iscale = (float)nmax / (hi - lo), scale = 1.0f / iscale, best = 0.0f;
  for (int i = 0; i < n; i++) {
    const int l = k_nearest_int(iscale * (x[i] - lo));
    L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
    const float sl = scale * (float)L[i];
    const float diff = sl + lo - x[i];
    const float e = w[i] * (use_mad ? fabsf(diff) : diff * diff);
    best += e;
  }
  uint8_t aux[32];
  for (int is = 0; is <= nstep; is++) {
    const float step = rdelta * (float)is;
    iscale = (rmin + step + (float)nmax) / (hi - lo); /* lo moves when a trial wins, as in GGML */
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; i++) {
      int l = k_nearest_int(iscale * (x[i] - lo));
      l = l < 0 ? 0 : l > nmax ? nmax : l;
      aux[i] = (uint8_t)l;
      const float wl = w[i] * (float)l;
      sum_l += wl;
      const float wll = wl * (float)l;
      sum_l2 += wll;
      const float wlx = wl * x[i];
      sum_xl += wlx;
    }
    const float p = sum_w * sum_l2, q = sum_l * sum_l;
    const float D = p - q;
    if (D > 0) {
      const float s1 = sum_w * sum_xl, s2 = sum_x * sum_l, m1 = sum_l2 * sum_x, m2 = sum_l * sum_xl;
      float this_scale = (s1 - s2) / D, this_min = (m1 - m2) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float err = 0;
      for (int i = 0; i < n; i++) {
        const float sl = this_scale * (float)aux[i];
        const float diff = sl + this_min - x[i];
        const float e = w[i] * (use_mad ? fabsf(diff) : diff * diff);
        err += e;
      }
      if (err < best) {
        memcpy(L, aux, (size_t)n);
        best = err;
        scale = this_scale;
        lo = this_min;
      }
    }
  }
  *the_min = -lo;
  return scale;
}

/* The part of GGML's quantize_row_q4_K_ref and _q5_K_ref that the two share: per sub-block
 * a make_qkx2_quants fit, the 6-bit scales and mins packed into s[12] under fp16 d and dmin
 * (written at y and y + 2), then every level re-derived against the scales as stored (levels
 * 0..nmax; a sub-block whose scale is stored as 0 keeps the fit's levels, as GGML's does). */
LLMEM_SCALAR void k_fit_superblock(const float *x, uint8_t *y, uint8_t s[12], uint8_t L[QK_K], int nmax, float rmin,
                                   int nstep) {
  float scales[8], mins[8], max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; j++) {
    const float *xs = x + 32 * j;
    /* Weights: the sub-block's RMS plus each |x| (GGML's choice for the unweighted _ref). */
    float sum_x2 = 0, w[32];
    for (int l = 0; l < 32; l++) {
      const float sq = xs[l] * xs[l];
      sum_x2 += sq;
    }
    const float av_x = sqrtf(sum_x2 / 32);
    for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
    scales[j] = k_qkx2_fit(xs, w, L + 32 * j, &mins[j], 32, nmax, rmin, nstep, 0);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  memset(s, 0, 12);
  for (int j = 0; j < 8; j++) {
    /* GGML stores nearest_int into a uint8_t before MIN(63, .): keep that wrap-around. */
    uint8_t ls = (uint8_t)k_nearest_int(inv_scale * scales[j]), lm = (uint8_t)k_nearest_int(inv_min * mins[j]);
    ls = ls > 63 ? 63 : ls;
    lm = lm > 63 ? 63 : lm;
    if (j < 4) {
      s[j] |= ls;
      s[j + 4] |= lm;
    } else {
      s[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
      s[j - 4] |= (uint8_t)((ls >> 4) << 6);
      s[j] |= (uint8_t)((lm >> 4) << 6);
    }
  }
  const uint16_t dh = fp32_to_fp16(max_scale / 63.f), mh = fp32_to_fp16(max_min / 63.f);
  st_u16(y, dh);
  st_u16(y + 2, mh);
  uint8_t sc[8], m[8];
  q4_k_scales(s, sc, m);
  for (int j = 0; j < 8; j++) {
    const float d = fp16_to_fp32(dh) * (float)sc[j];
    if (d == 0.0f) continue;
    const float dm = fp16_to_fp32(mh) * (float)m[j];
    for (int i = 0; i < 32; i++) {
      const int l = k_nearest_int((x[32 * j + i] + dm) / d);
      L[32 * j + i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
    }
  }
}

LLMEM_SCALAR void quantize_q4_k_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / QK_K; b++, x += QK_K, y += Q4_K_BYTES) {
    uint8_t L[QK_K];
    k_fit_superblock(x, y, y + Q4_K_SCALES, L, 15, -1.0f, 20);
    uint8_t *q = y + Q4_K_QS;
    for (int c = 0; c < 4; c++)
      for (int l = 0; l < 32; l++) q[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
  }
}

LLMEM_SCALAR void dequantize_q4_k_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q4_K_BYTES, y += QK_K) {
    const float d = scale_at(x), dmin = scale_at(x + 2);
    uint8_t sc[8], m[8];
    q4_k_scales(x + Q4_K_SCALES, sc, m);
    const uint8_t *q = x + Q4_K_QS;
    for (int j = 0; j < 8; j++) {
      const float dj = d * (float)sc[j], mj = dmin * (float)m[j];
      const int shift = (j & 1) * 4;
      for (int l = 0; l < 32; l++) {
        const float v = dj * (float)((q[32 * (j / 2) + l] >> shift) & 0xF);
        y[32 * j + l] = v - mj;
      }
    }
  }
}

LLMEM_SCALAR float dot_q4_k_q8_k_scalar(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float acc = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += Q4_K_BYTES, y += Q8_K_BYTES) {
    uint8_t sc[8], m[8];
    q4_k_scales(x + Q4_K_SCALES, sc, m);
    const uint8_t *q = x + Q4_K_QS;
    const int8_t *a = (const int8_t *)(y + Q8_K_QS);
    int32_t isum = 0;
    for (int j = 0; j < 8; j++) {
      const int shift = (j & 1) * 4;
      int32_t s = 0;
      for (int l = 0; l < 32; l++) s += ((q[32 * (j / 2) + l] >> shift) & 0xF) * a[32 * j + l];
      isum += (int32_t)sc[j] * s;
    }
    const float dy = ld_f32(y), d = scale_at(x) * dy, dmin = scale_at(x + 2) * dy;
    acc = k_fold(acc, d, isum, dmin, k_min_sum(m, y));
  }
  return acc;
}

#if LLMEM_X86
LLMEM_AVX2 void dequantize_q4_k_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q4_K_BYTES, y += QK_K) {
    const float d = scale_at_avx2(x), dmin = scale_at_avx2(x + 2);
    uint8_t sc[8], m[8];
    q4_k_scales(x + Q4_K_SCALES, sc, m);
    for (int j = 0; j < 8; j++) {
      /* mul then sub, two roundings as in the reference (no FMA). */
      const __m256 dj = _mm256_set1_ps(d * (float)sc[j]), mj = _mm256_set1_ps(dmin * (float)m[j]);
      const uint8_t *q = x + Q4_K_QS + 32 * (j / 2);
      for (int l = 0; l < 32; l += 8) {
        __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + l)));
        v = _mm256_and_si256(_mm256_srli_epi32(v, (j & 1) * 4), _mm256_set1_epi32(0xF));
        _mm256_storeu_ps(y + 32 * j + l, _mm256_sub_ps(_mm256_mul_ps(dj, _mm256_cvtepi32_ps(v)), mj));
      }
    }
  }
}

/* Q4_K's 12 scale bytes as 8 scales (low 8 bytes) and 8 mins (high 8), by 32-bit masks rather
 * than a byte loop (the same bits as q4_k_scales: see k_quants.h). */
static inline __m128i q4_k_scales_mins_sse(const uint8_t *s) {
  uint32_t u[3];
  memcpy(u, s, 12);
  const uint32_t sc_lo = u[0] & 0x3f3f3f3f, m_lo = u[1] & 0x3f3f3f3f;
  const uint32_t sc_hi = (u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4);
  const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4);
  return _mm_set_epi32((int)m_hi, (int)m_lo, (int)sc_hi, (int)sc_lo);
}

/* Row · x on the int8 multiply-add path: per 64 values, the 32 bytes of nibbles split into the
 * low (values 0-31) and high (32-63) halves; maddubs multiplies the unsigned nibbles by x's
 * signed bytes and adds pairs into int16 (at most 2·15·128, no saturation), and madd against
 * the sub-block's scale widens to int32 — the exact integer sum, as GGML's AVX2 kernel does.
 * The scales are widened to int16 once per block and broadcast by byte shuffles. */
LLMEM_AVX2 float dot_q4_k_q8_k_avx2(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  /* Shuffle j broadcasts int16 lane j (bytes 2j, 2j+1) of a 128-bit half to all its lanes. */
  __m256i pick[8];
  for (int j = 0; j < 8; j++) pick[j] = _mm256_set1_epi16((short)(0x0100 * (2 * j + 1) + 2 * j));
  float acc = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += Q4_K_BYTES, y += Q8_K_BYTES) {
    const __m256i sm = _mm256_cvtepu8_epi16(q4_k_scales_mins_sse(x + Q4_K_SCALES)); /* sc 0-7 | m 0-7 */
    const __m128i sc128 = _mm256_castsi256_si128(sm);
    const __m256i scales = _mm256_set_m128i(sc128, sc128);
    const uint8_t *q = x + Q4_K_QS;
    const uint8_t *a = y + Q8_K_QS;
    __m256i sum = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
      const __m256i bits = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
      const __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
      const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(a + 64 * c)));
      const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(a + 64 * c + 32)));
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(plo, _mm256_shuffle_epi8(scales, pick[2 * c])));
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(phi, _mm256_shuffle_epi8(scales, pick[2 * c + 1])));
    }
    /* The mins against x's group sums: 16 int16 bsums, adjacent pairs added, times m. */
    const __m256i bs = _mm256_loadu_si256((const __m256i *)(y + Q8_K_BSUMS));
    const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    const __m128i ms = _mm_madd_epi16(pairs, _mm256_extracti128_si256(sm, 1));
    /* Both horizontal sums at once: isum in lane 0, msum in lane 1. */
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s = _mm_hadd_epi32(s, ms);
    s = _mm_hadd_epi32(s, s);
    const float dy = ld_f32(y), d = scale_at_avx2(x) * dy, dmin = scale_at_avx2(x + 2) * dy;
    acc = k_fold(acc, d, _mm_cvtsi128_si32(s), dmin, _mm_extract_epi32(s, 1));
  }
  return acc;
}

/* Four Q4_K rows against one Q8_K x (matvec, AVX2): x's 64-byte chunks, its group sums and its
 * scale are loaded once for the four rows, and the four rows' integer sums are folded together
 * (three hadds for the scaled products, two for the mins) instead of one horizontal sum each.
 * Per row the integers are dot_q4_k_q8_k_avx2's exactly, and the float fold is k_fold's
 * operations in its order on four lanes (mul, mul, sub, add; no FMA): out[r] equals
 * dot_q4_k_q8_k_avx2(row r, x) bit for bit, whichever rows share the pass. */
LLMEM_AVX2 static void rows4_dot_q4_k_avx2(const uint8_t *const w[4], const uint8_t *y, size_t nb, float out[4]) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256i pick[8];
  for (int j = 0; j < 8; j++) pick[j] = _mm256_set1_epi16((short)(0x0100 * (2 * j + 1) + 2 * j));
  __m128 acc = _mm_setzero_ps();
  for (size_t b = 0; b < nb; b++, y += Q8_K_BYTES) {
    const uint8_t *x[4];
    __m256i scales[4], sum[4];
    __m128i mins[4];
    for (int r = 0; r < 4; r++) {
      x[r] = w[r] + b * Q4_K_BYTES;
      const __m256i sm = _mm256_cvtepu8_epi16(q4_k_scales_mins_sse(x[r] + Q4_K_SCALES));
      const __m128i sc128 = _mm256_castsi256_si128(sm);
      scales[r] = _mm256_set_m128i(sc128, sc128);
      mins[r] = _mm256_extracti128_si256(sm, 1);
      sum[r] = _mm256_setzero_si256();
    }
    const uint8_t *a = y + Q8_K_QS;
    for (int c = 0; c < 4; c++) {
      const __m256i alo = _mm256_loadu_si256((const __m256i *)(a + 64 * c));
      const __m256i ahi = _mm256_loadu_si256((const __m256i *)(a + 64 * c + 32));
      for (int r = 0; r < 4; r++) {
        const __m256i bits = _mm256_loadu_si256((const __m256i *)(x[r] + Q4_K_QS + 32 * c));
        const __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
        const __m256i plo = _mm256_maddubs_epi16(lo, alo), phi = _mm256_maddubs_epi16(hi, ahi);
        sum[r] = _mm256_add_epi32(sum[r], _mm256_madd_epi16(plo, _mm256_shuffle_epi8(scales[r], pick[2 * c])));
        sum[r] = _mm256_add_epi32(sum[r], _mm256_madd_epi16(phi, _mm256_shuffle_epi8(scales[r], pick[2 * c + 1])));
      }
    }
    /* isum of row r in lane r (the two 128-bit halves of the hadds added), msum of row r in lane r. */
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(sum[0], sum[1]), _mm256_hadd_epi32(sum[2], sum[3]));
    const __m128i isum = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    const __m256i bs = _mm256_loadu_si256((const __m256i *)(y + Q8_K_BSUMS));
    const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    const __m128i msum = _mm_hadd_epi32(_mm_hadd_epi32(_mm_madd_epi16(pairs, mins[0]), _mm_madd_epi16(pairs, mins[1])),
                                        _mm_hadd_epi32(_mm_madd_epi16(pairs, mins[2]), _mm_madd_epi16(pairs, mins[3])));
    const __m128 dy = _mm_set1_ps(ld_f32(y));
    const __m128 d = _mm_mul_ps(_mm_cvtph_ps(_mm_setr_epi16((short)ld_u16(x[0]), (short)ld_u16(x[1]),
                                                            (short)ld_u16(x[2]), (short)ld_u16(x[3]), 0, 0, 0, 0)),
                                dy);
    const __m128 dmin = _mm_mul_ps(_mm_cvtph_ps(_mm_setr_epi16((short)ld_u16(x[0] + 2), (short)ld_u16(x[1] + 2),
                                                               (short)ld_u16(x[2] + 2), (short)ld_u16(x[3] + 2), 0,
                                                               0, 0, 0)),
                                   dy);
    const __m128 t = _mm_sub_ps(_mm_mul_ps(d, _mm_cvtepi32_ps(isum)), _mm_mul_ps(dmin, _mm_cvtepi32_ps(msum)));
    acc = _mm_add_ps(acc, t);
  }
  _mm_storeu_ps(out, acc);
}

K_MATVEC_ROWS4(matvec_rows_q4_k_avx2, rows4_dot_q4_k_avx2)
#endif

#if LLMEM_X86
/* Tokens per pass of the matmul tile: a block's unpacked weights (4 rows) are reused for this many
 * tokens, whose Q8_K blocks (292 B each) stay in L1 beside them. */
#define Q4_K_MM_TOKENS 16

/* Four Q4_K rows against nt <= Q4_K_MM_TOKENS Q8_K tokens (matmul, AVX2): each block's nibbles,
 * per-pair scale words and mins are unpacked ONCE for the four rows and kept in L1, then every
 * token takes rows4_dot_q4_k_avx2's per-token work on them (maddubs, madd by the same scale
 * words, the same hadds, the same f32 fold: mul, mul, sub, add, no FMA). out[t][r] equals
 * rows4_dot_q4_k_avx2 (so dot_q4_k_q8_k_avx2) of row r and token t bit for bit. */
LLMEM_AVX2 static void rows4_tile_q4_k_avx2(const uint8_t *const w[4], const uint8_t *y, size_t y_stride, size_t nt,
                                             size_t nb, float out[][4]) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256i pick[8];
  for (int j = 0; j < 8; j++) pick[j] = _mm256_set1_epi16((short)(0x0100 * (2 * j + 1) + 2 * j));
  __m128 acc[Q4_K_MM_TOKENS];
  for (size_t t = 0; t < nt; t++) acc[t] = _mm_setzero_ps();
  for (size_t b = 0; b < nb; b++) {
    __m256i nib[4][8], scl[4][8]; /* row r, chunk c: low nibbles at 2c, high at 2c+1 */
    __m128i mins[4];
    const uint8_t *x[4];
    for (int r = 0; r < 4; r++) {
      x[r] = w[r] + b * Q4_K_BYTES;
      const __m256i sm = _mm256_cvtepu8_epi16(q4_k_scales_mins_sse(x[r] + Q4_K_SCALES));
      const __m128i sc128 = _mm256_castsi256_si128(sm);
      const __m256i scales = _mm256_set_m128i(sc128, sc128);
      mins[r] = _mm256_extracti128_si256(sm, 1);
      for (int c = 0; c < 4; c++) {
        const __m256i bits = _mm256_loadu_si256((const __m256i *)(x[r] + Q4_K_QS + 32 * c));
        nib[r][2 * c] = _mm256_and_si256(bits, m4);
        nib[r][2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
        scl[r][2 * c] = _mm256_shuffle_epi8(scales, pick[2 * c]);
        scl[r][2 * c + 1] = _mm256_shuffle_epi8(scales, pick[2 * c + 1]);
      }
    }
    const __m128 dw = _mm_cvtph_ps(_mm_setr_epi16((short)ld_u16(x[0]), (short)ld_u16(x[1]), (short)ld_u16(x[2]),
                                                  (short)ld_u16(x[3]), 0, 0, 0, 0));
    const __m128 mw = _mm_cvtph_ps(_mm_setr_epi16((short)ld_u16(x[0] + 2), (short)ld_u16(x[1] + 2),
                                                  (short)ld_u16(x[2] + 2), (short)ld_u16(x[3] + 2), 0, 0, 0, 0));
    for (size_t t = 0; t < nt; t++) {
      const uint8_t *yt = y + t * y_stride + b * Q8_K_BYTES, *a = yt + Q8_K_QS;
      __m256i sum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                        _mm256_setzero_si256()};
      for (int c = 0; c < 4; c++) {
        const __m256i alo = _mm256_loadu_si256((const __m256i *)(a + 64 * c));
        const __m256i ahi = _mm256_loadu_si256((const __m256i *)(a + 64 * c + 32));
        for (int r = 0; r < 4; r++) {
          sum[r] = _mm256_add_epi32(sum[r], _mm256_madd_epi16(_mm256_maddubs_epi16(nib[r][2 * c], alo), scl[r][2 * c]));
          sum[r] = _mm256_add_epi32(sum[r],
                                    _mm256_madd_epi16(_mm256_maddubs_epi16(nib[r][2 * c + 1], ahi), scl[r][2 * c + 1]));
        }
      }
      const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(sum[0], sum[1]), _mm256_hadd_epi32(sum[2], sum[3]));
      const __m128i isum = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
      const __m256i bs = _mm256_loadu_si256((const __m256i *)(yt + Q8_K_BSUMS));
      const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
      const __m128i msum = _mm_hadd_epi32(_mm_hadd_epi32(_mm_madd_epi16(pairs, mins[0]), _mm_madd_epi16(pairs, mins[1])),
                                          _mm_hadd_epi32(_mm_madd_epi16(pairs, mins[2]), _mm_madd_epi16(pairs, mins[3])));
      const __m128 dy = _mm_set1_ps(ld_f32(yt));
      const __m128 d = _mm_mul_ps(dw, dy), dmin = _mm_mul_ps(mw, dy);
      acc[t] = _mm_add_ps(acc[t], _mm_sub_ps(_mm_mul_ps(d, _mm_cvtepi32_ps(isum)), _mm_mul_ps(dmin, _mm_cvtepi32_ps(msum))));
    }
  }
  for (size_t t = 0; t < nt; t++) _mm_storeu_ps(out[t], acc[t]);
}

/* Q4_K matmul rows on AVX2: four rows × up to Q4_K_MM_TOKENS tokens per tile. */
K_MATMUL_ROWS(matmul_rows_q4_k_avx2, LLMEM_AVX2, 4, Q4_K_MM_TOKENS, rows4_tile_q4_k_avx2)
#endif

#if LLMEM_X86
/* Q4_K matmul with AVX-512 VNNI: 8 rows × up to Q4_K_MM_TOKENS tokens, transposed as the Q8_0
 * tiles (matmul_tile_t.h): each block's 8 sub-blocks of nibbles are transposed once per 8 rows
 * (T[j][g] lane i = row i's nibbles of values 32j+4g..+3), then per token 8 dpbusd against x's
 * broadcast 4-byte groups give the 8 rows' exact sub-block sums S_j, and isum = Σ_j sc_j·S_j,
 * msum = Σ_j m_j·(x's two 16-value sums of sub-block j) per lane (exact int32: the integers of
 * rows4_dot_q4_k_avx2). The fold is its own on 8 lanes (d·isum - dmin·msum, mul, mul, sub, add;
 * no FMA), so out[t][r] equals rows4_dot_q4_k_avx2 of row r and token t bit for bit. */
LLMEM_AVX512VNNI static void rows8_tile_q4_k_vnni(const uint8_t *const w[8], const uint8_t *y, size_t y_stride,
                                                  size_t nt, size_t nb, float out[][8]) {
  __m256 acc[Q4_K_MM_TOKENS];
  for (size_t t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
  for (size_t b = 0; b < nb; b++) {
    __m256i T[8][8], sc[8], mn[8];
    const uint8_t *x[8];
    uint8_t scm[8][16]; /* row r: scales 0-7, mins 0-7 */
    for (int r = 0; r < 8; r++) {
      x[r] = w[r] + b * Q4_K_BYTES;
      _mm_storeu_si128((__m128i *)scm[r], q4_k_scales_mins_sse(x[r] + Q4_K_SCALES));
    }
    for (int j = 0; j < 8; j++) {
      sc[j] = _mm256_setr_epi32(scm[0][j], scm[1][j], scm[2][j], scm[3][j], scm[4][j], scm[5][j], scm[6][j], scm[7][j]);
      mn[j] = _mm256_setr_epi32(scm[0][8 + j], scm[1][8 + j], scm[2][8 + j], scm[3][8 + j], scm[4][8 + j],
                                scm[5][8 + j], scm[6][8 + j], scm[7][8 + j]);
    }
    for (int c = 0; c < 4; c++) {
      __m256i lo[8], hi[8];
      for (int r = 0; r < 8; r++) {
        const __m256i bits = _mm256_loadu_si256((const __m256i *)(x[r] + Q4_K_QS + 32 * c));
        lo[r] = _mm256_and_si256(bits, _mm256_set1_epi8(0xF));
        hi[r] = _mm256_and_si256(_mm256_srli_epi16(bits, 4), _mm256_set1_epi8(0xF));
      }
      transpose8x8_epi32_avx2(lo, T[2 * c]);
      transpose8x8_epi32_avx2(hi, T[2 * c + 1]);
    }
    __m128i h16[2], m16[2];
    for (int k = 0; k < 2; k++) {
      h16[k] = _mm_setr_epi16((short)ld_u16(x[4 * k]), (short)ld_u16(x[4 * k + 1]), (short)ld_u16(x[4 * k + 2]),
                              (short)ld_u16(x[4 * k + 3]), 0, 0, 0, 0);
      m16[k] = _mm_setr_epi16((short)ld_u16(x[4 * k] + 2), (short)ld_u16(x[4 * k + 1] + 2),
                              (short)ld_u16(x[4 * k + 2] + 2), (short)ld_u16(x[4 * k + 3] + 2), 0, 0, 0, 0);
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_unpacklo_epi64(h16[0], h16[1]));
    const __m256 mw = _mm256_cvtph_ps(_mm_unpacklo_epi64(m16[0], m16[1]));
    for (size_t t = 0; t < nt; t++) {
      const uint8_t *yt = y + t * y_stride + b * Q8_K_BYTES, *a = yt + Q8_K_QS;
      __m256i isum = _mm256_setzero_si256(), msum = _mm256_setzero_si256();
      for (int j = 0; j < 8; j++) {
        __m256i S = _mm256_setzero_si256();
        for (int g = 0; g < 8; g++) {
          int32_t xg;
          memcpy(&xg, a + 32 * j + 4 * g, 4);
          S = _mm256_dpbusd_epi32(S, T[j][g], _mm256_set1_epi32(xg));
        }
        isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(S, sc[j]));
        const int32_t p = (int32_t)ld_i16(yt + Q8_K_BSUMS + 4 * j) + ld_i16(yt + Q8_K_BSUMS + 4 * j + 2);
        msum = _mm256_add_epi32(msum, _mm256_mullo_epi32(mn[j], _mm256_set1_epi32(p)));
      }
      const __m256 dy = _mm256_set1_ps(ld_f32(yt));
      const __m256 d = _mm256_mul_ps(dw, dy), dmin = _mm256_mul_ps(mw, dy);
      acc[t] = _mm256_add_ps(acc[t], _mm256_sub_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(isum)),
                                                   _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(msum))));
    }
  }
  for (size_t t = 0; t < nt; t++) _mm256_storeu_ps(out[t], acc[t]);
}

/* matmul_rows_q4_k_avx2 with the VNNI tile: 8 rows per group. */
K_MATMUL_ROWS(matmul_rows_q4_k_vnni, LLMEM_AVX512VNNI, 8, Q4_K_MM_TOKENS, rows8_tile_q4_k_vnni)
#endif

#if LLMEM_ARM
void dequantize_q4_k_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q4_K_BYTES, y += QK_K) {
    const float d = scale_at(x), dmin = scale_at(x + 2);
    uint8_t sc[8], m[8];
    q4_k_scales(x + Q4_K_SCALES, sc, m);
    for (int c = 0; c < 4; c++) {
      const uint8x16_t b0 = vld1q_u8(x + Q4_K_QS + 32 * c), b1 = vld1q_u8(x + Q4_K_QS + 32 * c + 16);
      const uint8x16_t nib[4] = {vandq_u8(b0, vdupq_n_u8(0xF)), vandq_u8(b1, vdupq_n_u8(0xF)), vshrq_n_u8(b0, 4),
                                 vshrq_n_u8(b1, 4)};
      for (int h = 0; h < 2; h++) {
        const int j = 2 * c + h;
        const float32x4_t dj = vdupq_n_f32(d * (float)sc[j]), mj = vdupq_n_f32(dmin * (float)m[j]);
        for (int k = 0; k < 2; k++) {
          const uint16x8_t w0 = vmovl_u8(vget_low_u8(nib[2 * h + k])), w1 = vmovl_u8(vget_high_u8(nib[2 * h + k]));
          const uint32x4_t u[4] = {vmovl_u16(vget_low_u16(w0)), vmovl_u16(vget_high_u16(w0)),
                                   vmovl_u16(vget_low_u16(w1)), vmovl_u16(vget_high_u16(w1))};
          for (int t = 0; t < 4; t++)
            vst1q_f32(y + 32 * j + 16 * k + 4 * t, vsubq_f32(vmulq_f32(dj, vcvtq_f32_u32(u[t])), mj));
        }
      }
    }
  }
}

float dot_q4_k_q8_k_neon(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float acc = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += Q4_K_BYTES, y += Q8_K_BYTES) {
    uint8_t sc[8], m[8];
    q4_k_scales(x + Q4_K_SCALES, sc, m);
    const int8_t *a = (const int8_t *)(y + Q8_K_QS);
    int32_t isum = 0;
    for (int c = 0; c < 4; c++) {
      const uint8x16_t b0 = vld1q_u8(x + Q4_K_QS + 32 * c), b1 = vld1q_u8(x + Q4_K_QS + 32 * c + 16);
      const int8x16_t l0 = vreinterpretq_s8_u8(vandq_u8(b0, vdupq_n_u8(0xF)));
      const int8x16_t l1 = vreinterpretq_s8_u8(vandq_u8(b1, vdupq_n_u8(0xF)));
      const int8x16_t h0 = vreinterpretq_s8_u8(vshrq_n_u8(b0, 4)), h1 = vreinterpretq_s8_u8(vshrq_n_u8(b1, 4));
      const int32x4_t plo = dot32_neon(vdupq_n_s32(0), l0, l1, vld1q_s8(a + 64 * c), vld1q_s8(a + 64 * c + 16));
      const int32x4_t phi = dot32_neon(vdupq_n_s32(0), h0, h1, vld1q_s8(a + 64 * c + 32), vld1q_s8(a + 64 * c + 48));
      isum += vaddvq_s32(plo) * sc[2 * c] + vaddvq_s32(phi) * sc[2 * c + 1];
    }
    const int16x8_t pairs = vpaddq_s16(vld1q_s16((const int16_t *)(const void *)(y + Q8_K_BSUMS)),
                                       vld1q_s16((const int16_t *)(const void *)(y + Q8_K_BSUMS + 16)));
    const int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(m)));
    const int32x4_t mp = vmlal_s16(vmull_s16(vget_low_s16(pairs), vget_low_s16(mins)), vget_high_s16(pairs),
                                   vget_high_s16(mins));
    const float dy = ld_f32(y), d = scale_at(x) * dy, dmin = scale_at(x + 2) * dy;
    acc = k_fold(acc, d, isum, dmin, vaddvq_s32(mp));
  }
  return acc;
}
/* Four Q4_K rows × rn Q8_K tokens over nb super-blocks: out[t][r] = row r · token t, each bit for
 * bit dot_q4_k_q8_k_neon's (the same exact isum and msum per super-block, folded by k_fold's steps
 * on four lanes). Per 64-value chunk the rows' nibbles are loaded once for the tile's tokens and
 * each token's 64 int8 once for the four rows. */
static inline __attribute__((always_inline)) void q4_k_tile_neon(int rn, const uint8_t *const w[4],
                                                                 const uint8_t *const xq[], size_t nb,
                                                                 float out[][4]) {
  float32x4_t acc[2] = {vdupq_n_f32(0), vdupq_n_f32(0)};
  for (size_t b = 0; b < nb; b++) {
    const uint8_t *xb[4] = {w[0] + b * Q4_K_BYTES, w[1] + b * Q4_K_BYTES, w[2] + b * Q4_K_BYTES, w[3] + b * Q4_K_BYTES};
    uint8_t sc[4][8], m[4][8];
    for (int r = 0; r < 4; r++) q4_k_scales(xb[r] + Q4_K_SCALES, sc[r], m[r]);
    int32x4_t is[2][4];
    for (int t = 0; t < rn; t++)
      for (int r = 0; r < 4; r++) is[t][r] = vdupq_n_s32(0);
    for (int c = 0; c < 4; c++) {
      uint8x16_t q0[4], q1[4];
      for (int r = 0; r < 4; r++) q0[r] = vld1q_u8(xb[r] + Q4_K_QS + 32 * c), q1[r] = vld1q_u8(xb[r] + Q4_K_QS + 32 * c + 16);
      for (int h = 0; h < 2; h++) { /* low nibbles: sub-block 2c; high: 2c+1 */
        int8x16_t l0[4], l1[4];
        for (int r = 0; r < 4; r++) {
          l0[r] = vreinterpretq_s8_u8(h ? vshrq_n_u8(q0[r], 4) : vandq_u8(q0[r], vdupq_n_u8(0xF)));
          l1[r] = vreinterpretq_s8_u8(h ? vshrq_n_u8(q1[r], 4) : vandq_u8(q1[r], vdupq_n_u8(0xF)));
        }
        for (int t = 0; t < rn; t++) {
          const int8_t *a = (const int8_t *)(xq[t] + b * Q8_K_BYTES + Q8_K_QS) + 64 * c + 32 * h;
          const int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16);
          for (int r = 0; r < 4; r++)
            is[t][r] = vmlaq_n_s32(is[t][r], dot32_first_neon(l0[r], l1[r], a0, a1), (int32_t)sc[r][2 * c + h]);
        }
      }
    }
    const float32x4_t dw = k_half4_neon(xb, 0), dmw = k_half4_neon(xb, 2);
    for (int t = 0; t < rn; t++) {
      const uint8_t *yb = xq[t] + b * Q8_K_BYTES;
      const int16x8_t pairs = vpaddq_s16(vld1q_s16((const int16_t *)(const void *)(yb + Q8_K_BSUMS)),
                                         vld1q_s16((const int16_t *)(const void *)(yb + Q8_K_BSUMS + 16)));
      int32x4_t mp[4];
      for (int r = 0; r < 4; r++) {
        const int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(m[r])));
        mp[r] = vmlal_s16(vmull_s16(vget_low_s16(pairs), vget_low_s16(mins)), vget_high_s16(pairs), vget_high_s16(mins));
      }
      /* k_fold on four lanes: acc + (d·isum - dmin·msum), d = dw·dy and dmin = dmin_w·dy */
      const float dy = ld_f32(yb);
      const float32x4_t d = vmulq_n_f32(dw, dy), dmin = vmulq_n_f32(dmw, dy);
      const float32x4_t ta = vmulq_f32(d, vcvtq_f32_s32(k_total4_neon(is[t])));
      const float32x4_t tb = vmulq_f32(dmin, vcvtq_f32_s32(k_total4_neon(mp)));
      const float32x4_t tt = vsubq_f32(ta, tb);
      acc[t] = vaddq_f32(acc[t], tt);
    }
  }
  for (int t = 0; t < rn; t++) vst1q_f32(out[t], acc[t]);
}
K_NEON_ROWS(rows_q4_k_neon, q4_k_tile_neon)
#endif
