/* GGML's two 4-bit non-linear formats. Each nibble indexes a fixed table of 16 non-linear int8
 * levels (GGML's kvalues_iq4nl); x = scale * level.
 *   IQ4_NL { fp16 d; uint8 qs[16] } (18 B) per 32 values (byte j: value j low nibble, j+16 high);
 *          its dot pairs with Q8_0.
 *   IQ4_XS { fp16 d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128] } (136 B) per 256 values:
 *          8 sub-blocks of 32, each with a 6-bit scale ls (low 4 bits in scales_l, nibble ib%2 of
 *          byte ib/2; high 2 bits at bit 2ib of scales_h): x = d*(ls-32)*level; qs as IQ4_NL's
 *          per sub-block. Its dot pairs with Q8_K.
 * The scalar references quantize byte for byte as GGML (quantize_row_iq4_nl_ref: one fit pass,
 * no search; quantize_iq4_xs, which quantize_row_iq4_xs_ref calls: a search over 15 trial
 * scales per sub-block, then the 6-bit scales and every index re-derived); AVX2 and NEON
 * dequantize and dot by a byte-table lookup of the levels. Every dot folds each block's (IQ4_NL)
 * or sub-block's (IQ4_XS) exact integer sum in one fixed f32 order (for IQ4_XS the order of
 * GGML's scalar ggml_vec_dot_iq4_xs_q8_K, so equal to it bit for bit), so all paths give the
 * same bits. */
#include "k_quants.h"

#define IQ4_NL_BYTES 18
#define IQ4_XS_BYTES 136
#define IQ4_XS_SCALES_H 2
#define IQ4_XS_SCALES_L 4
#define IQ4_XS_QS 8

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

/* Σ w·q·x and Σ w·q·q (weights w = x², GGML's choice without an importance matrix) over one
 * 32-value block indexed at inverse scale id; the indices go to L when it is not NULL. */
static inline void iq4_sums(const float *x, float id, uint8_t *L, float *sumqx, float *sumq2) {
  float sx = 0.0f, s2 = 0.0f;
  for (int j = 0; j < 32; j++) {
    const int l = iq4_nearest(id * x[j]);
    if (L) L[j] = (uint8_t)l;
    const float q = iq4_levels[l], w = x[j] * x[j];
    sx += w * q * x[j];
    s2 += w * q * q;
  }
  *sumqx = sx, *sumq2 = s2;
}

/* GGML's quantize_row_iq4_nl_impl fit of one 32-value block whose largest-magnitude value is
 * max (|max| >= 1e-15): one pass at d = max/-127 (ntry <= 0) or max/127 (ntry > 0), d refined
 * to the weighted least-squares scale of those indices (written to L); then for ntry > 0 the
 * 2·ntry+1 inverse scales (t - 127)/max, t in -ntry..ntry, keeping the best least-squares
 * scale. Returns the scale. */
LLMEM_SCALAR static float iq4_fit32(const float *x, float max, int ntry, uint8_t *L) {
  float d = ntry > 0 ? -max / iq4_levels[0] : max / iq4_levels[0];
  float sumqx, sumq2;
  iq4_sums(x, 1.0f / d, L, &sumqx, &sumq2);
  d = sumqx / sumq2;
  float best = d * sumqx;
  for (int itry = -ntry; itry <= ntry; itry++) {
    iq4_sums(x, (float)(itry + iq4_levels[0]) / max, NULL, &sumqx, &sumq2);
    const float gain = sumqx * sumqx, bound = best * sumq2;
    if (sumq2 > 0 && gain > bound) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

/* The value of largest magnitude of 32 (the first, on ties); *amax gets its magnitude. */
static inline float iq4_max32(const float *x, float *amax) {
  float a = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; j++)
    if (fabsf(x[j]) > a) a = fabsf(x[j]), max = x[j];
  *amax = a;
  return max;
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
    float amax;
    const float max = iq4_max32(x, &amax);
    const float d = amax >= 1e-15f ? iq4_fit32(x, max, -1, L) : 0.0f;
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

/* ---- IQ4_XS ------------------------------------------------------------------------------ */

/* Sub-block ib's 6-bit scale of an IQ4_XS block at x (0..63; the scale is d·(ls - 32)). */
static inline int iq4_xs_ls(const uint8_t *x, int ib) {
  return ((x[IQ4_XS_SCALES_L + ib / 2] >> 4 * (ib % 2)) & 0xF) | (((ld_u16(x + IQ4_XS_SCALES_H) >> 2 * ib) & 3) << 4);
}

LLMEM_SCALAR void quantize_iq4_xs_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / QK_K; b++, x += QK_K, y += IQ4_XS_BYTES) {
    float scales[8], max_scale = 0.0f, amax_scale = 0.0f;
    for (int ib = 0; ib < 8; ib++) {
      float amax;
      const float max = iq4_max32(x + 32 * ib, &amax);
      uint8_t unused[32]; /* the fit's first-pass indices: every index is re-derived below */
      scales[ib] = amax >= 1e-15f ? iq4_fit32(x + 32 * ib, max, 7, unused) : 0.0f;
      if (fabsf(scales[ib]) > amax_scale) amax_scale = fabsf(scales[ib]), max_scale = scales[ib];
    }
    /* The super-block scale and the sub-block scales against it use the f32 d, not its fp16
     * rounding, as GGML's do (an all-zero block gets d = -0.0, stored as fp16 0x8000). */
    const float d = -max_scale / 32, id = d != 0.0f ? 1.0f / d : 0.0f;
    st_u16(y, fp32_to_fp16(d));
    uint16_t scales_h = 0;
    uint8_t *q = y + IQ4_XS_QS;
    for (int ib = 0; ib < 8; ib++) {
      int l = k_nearest_int(id * scales[ib]);
      l = l < -32 ? -32 : l > 31 ? 31 : l;
      const float dl = d * (float)l, idl = dl != 0.0f ? 1.0f / dl : 0.0f;
      const float *xb = x + 32 * ib;
      for (int j = 0; j < 16; j++)
        q[16 * ib + j] = (uint8_t)(iq4_nearest(idl * xb[j]) | (iq4_nearest(idl * xb[j + 16]) << 4));
      l += 32;
      if (ib % 2 == 0) y[IQ4_XS_SCALES_L + ib / 2] = (uint8_t)(l & 0xF);
      else y[IQ4_XS_SCALES_L + ib / 2] |= (uint8_t)((l & 0xF) << 4);
      scales_h |= (uint16_t)((l >> 4) << 2 * ib);
    }
    st_u16(y + IQ4_XS_SCALES_H, scales_h);
  }
}

LLMEM_SCALAR void dequantize_iq4_xs_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += IQ4_XS_BYTES) {
    const float d = scale_at(x);
    for (int ib = 0; ib < 8; ib++, y += 32) {
      const float dl = d * (float)(iq4_xs_ls(x, ib) - 32);
      const uint8_t *q = x + IQ4_XS_QS + 16 * ib;
      for (int j = 0; j < 16; j++) {
        y[j] = dl * iq4_levels[q[j] & 0x0F];
        y[j + 16] = dl * iq4_levels[q[j] >> 4];
      }
    }
  }
}

/* One sub-block's fold, in GGML's scalar order: sum + (d·d8·(ls - 32))·sumi. */
static inline float iq4_xs_fold(float sum, float d4d8, int ls, int sumi) {
  const float dl = d4d8 * (float)(ls - 32);
  const float t = dl * (float)sumi;
  return sum + t;
}

LLMEM_SCALAR float dot_iq4_xs_q8_k_scalar(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += IQ4_XS_BYTES, y += Q8_K_BYTES) {
    const float d4d8 = scale_at(x) * ld_f32(y);
    for (int ib = 0; ib < 8; ib++) {
      const uint8_t *q = x + IQ4_XS_QS + 16 * ib;
      const int8_t *a = (const int8_t *)(y + Q8_K_QS + 32 * ib);
      int sumi = 0;
      for (int j = 0; j < 16; j++) sumi += a[j] * iq4_levels[q[j] & 0x0F] + a[j + 16] * iq4_levels[q[j] >> 4];
      sum = iq4_xs_fold(sum, d4d8, iq4_xs_ls(x, ib), sumi);
    }
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
    sum = iq4_nl_fold(sum, hsum_i32_avx2(p), scale_at_avx2(x), scale_at_avx2(y));
  }
  return sum;
}
/* The 32 values of IQ4_XS sub-block ib as f32 (dl = d·(ls - 32)). */
LLMEM_AVX2 static inline void iq4_store32_avx2(float *y, __m256i lv, float dl) {
  const __m256 s = _mm256_set1_ps(dl);
  const __m128i lo = _mm256_castsi256_si128(lv), hi = _mm256_extracti128_si256(lv, 1);
  const __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
  for (int k = 0; k < 4; k++) _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part[k]))));
}

LLMEM_AVX2 void dequantize_iq4_xs_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += IQ4_XS_BYTES) {
    const float d = scale_at_avx2(x);
    for (int ib = 0; ib < 8; ib++, y += 32)
      iq4_store32_avx2(y, iq4_levels_avx2(x + IQ4_XS_QS + 16 * ib), d * (float)(iq4_xs_ls(x, ib) - 32));
  }
}

/* Eight vectors of 8 int32 to one vector of their 8 sums (lane k = Σ v[k]), by three rounds of
 * horizontal adds and one cross-lane add. */
LLMEM_AVX2 static inline __m256i iq4_sum8x8_avx2(const __m256i v[8]) {
  const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

/* One IQ4_XS super-block at x against the Q8_K block at y: the 8 sub-block terms
 * (d·d8·(ls - 32))·sumi as 8 f32 lanes, each rounded as the scalar's. The integer sums come from a
 * table lookup and maddubs (levels are signed: |q| against y carrying q's sign; |q|·|y| pairs stay
 * below 2·127·127 < 32767), reduced together; the scales by vector shifts. */
LLMEM_AVX2 static inline __m256 iq4_xs_terms_avx2(const uint8_t *x, const uint8_t *y) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i p[8];
  for (int ib = 0; ib < 8; ib++) {
    const __m256i q = iq4_levels_avx2(x + IQ4_XS_QS + 16 * ib);
    const __m256i a = _mm256_loadu_si256((const __m256i *)(y + Q8_K_QS + 32 * ib));
    p[ib] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q)), ones);
  }
  const __m256i sumi = iq4_sum8x8_avx2(p);
  /* ls - 32 per sub-block: low nibbles of scales_l, high 2 bits from scales_h. */
  uint32_t sl;
  memcpy(&sl, x + IQ4_XS_SCALES_L, 4);
  const __m256i shift4 = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28), shift2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)sl), shift4), _mm256_set1_epi32(0xF));
  const __m256i hi = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(ld_u16(x + IQ4_XS_SCALES_H)), shift2), _mm256_set1_epi32(3));
  const __m256i ls = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
  const __m256 dl = _mm256_mul_ps(_mm256_set1_ps(scale_at_avx2(x) * ld_f32(y)), _mm256_cvtepi32_ps(ls));
  return _mm256_mul_ps(dl, _mm256_cvtepi32_ps(sumi));
}

/* The 8 terms are added in the scalar's order (the sum is one dependent chain: GGML's order). */
LLMEM_AVX2 float dot_iq4_xs_q8_k_avx2(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += IQ4_XS_BYTES, y += Q8_K_BYTES) {
    float t[8];
    _mm256_storeu_ps(t, iq4_xs_terms_avx2(x, y));
    for (int k = 0; k < 8; k++) sum += t[k];
  }
  return sum;
}

/* Rows [r0, r1) of an IQ4_XS matrix against x in Q8_K, four rows per pass (a short last group
 * repeats its last row): the rows' 8 terms per super-block are transposed so that one 4-lane add
 * per sub-block advances all four rows' sums, each lane in the scalar's order (so every row is
 * its vec_dot bit for bit), and the four dependent chains overlap instead of one row's 8 adds
 * waiting on each other. */
LLMEM_AVX2 void matvec_rows_iq4_xs_avx2(const uint8_t *w, size_t row_bytes, size_t r0, size_t r1, const uint8_t *xq,
                                        size_t cols, float *y) {
  for (size_t r = r0; r < r1; r += 4) {
    const uint8_t *rows[4];
    for (size_t k = 0; k < 4; k++) rows[k] = w + (r + k < r1 ? r + k : r1 - 1) * row_bytes;
    __m128 sum = _mm_setzero_ps();
    for (size_t b = 0; b < cols / QK_K; b++) {
      const uint8_t *a = xq + b * Q8_K_BYTES;
      const __m256 t0 = iq4_xs_terms_avx2(rows[0] + b * IQ4_XS_BYTES, a), t1 = iq4_xs_terms_avx2(rows[1] + b * IQ4_XS_BYTES, a);
      const __m256 t2 = iq4_xs_terms_avx2(rows[2] + b * IQ4_XS_BYTES, a), t3 = iq4_xs_terms_avx2(rows[3] + b * IQ4_XS_BYTES, a);
      /* 4×8 transpose: c_k holds sub-block k (low half) and k + 4 (high half) of rows 0..3. */
      const __m256 u0 = _mm256_unpacklo_ps(t0, t1), u1 = _mm256_unpackhi_ps(t0, t1);
      const __m256 u2 = _mm256_unpacklo_ps(t2, t3), u3 = _mm256_unpackhi_ps(t2, t3);
      const __m256 c[4] = {_mm256_shuffle_ps(u0, u2, 0x44), _mm256_shuffle_ps(u0, u2, 0xEE),
                           _mm256_shuffle_ps(u1, u3, 0x44), _mm256_shuffle_ps(u1, u3, 0xEE)};
      for (int k = 0; k < 4; k++) sum = _mm_add_ps(sum, _mm256_castps256_ps128(c[k]));
      for (int k = 0; k < 4; k++) sum = _mm_add_ps(sum, _mm256_extractf128_ps(c[k], 1));
    }
    float out[4];
    _mm_storeu_ps(out, sum);
    for (size_t k = 0; k < 4 && r + k < r1; k++) y[r + k] = out[k];
  }
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
void dequantize_iq4_xs_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += IQ4_XS_BYTES) {
    const float d = scale_at(x);
    for (int ib = 0; ib < 8; ib++, y += 32) {
      int8x16_t lo, hi;
      iq4_levels_neon(x + IQ4_XS_QS + 16 * ib, &lo, &hi);
      const float dl = d * (float)(iq4_xs_ls(x, ib) - 32);
      float32x4_t v[8];
      widen8_neon(vget_low_s8(lo), dl, &v[0], &v[1]);
      widen8_neon(vget_high_s8(lo), dl, &v[2], &v[3]);
      widen8_neon(vget_low_s8(hi), dl, &v[4], &v[5]);
      widen8_neon(vget_high_s8(hi), dl, &v[6], &v[7]);
      for (int k = 0; k < 8; k++) vst1q_f32(y + 4 * k, v[k]);
    }
  }
}

/* Per sub-block: the levels by vqtbl1q, the integer sum by vdotq (or widening multiplies without
 * dotprod), folded in the scalar's order. */
float dot_iq4_xs_q8_k_neon(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (size_t b = 0; b < n / QK_K; b++, x += IQ4_XS_BYTES, y += Q8_K_BYTES) {
    const float d4d8 = scale_at(x) * ld_f32(y);
    for (int ib = 0; ib < 8; ib++) {
      int8x16_t lo, hi;
      iq4_levels_neon(x + IQ4_XS_QS + 16 * ib, &lo, &hi);
      const int8_t *a = (const int8_t *)(y + Q8_K_QS + 32 * ib);
      sum = iq4_xs_fold(sum, d4d8, iq4_xs_ls(x, ib), iq4_dot32_neon(lo, hi, vld1q_s8(a), vld1q_s8(a + 16)));
    }
  }
  return sum;
}
#endif
