/* Shared by the K-quant sources (q8_k.c, q4_k.c, q6_k.c): super-block layouts of 256 values and
 * the rounding GGML's K-quant reference uses. Internal to libllmem. */
#ifndef LLMEM_K_QUANTS_H
#define LLMEM_K_QUANTS_H

#include "quant_internal.h"

#define QK_K 256
/* Q8_K 292 B { f32 d; int8 qs[256]; int16 bsums[16] }   x = d*qs; bsums[g] = sum of qs[16g..16g+15]
 * Q4_K 144 B { fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128] }
 *            8 sub-blocks of 32 with 6-bit scale sc and min m: x = d*sc*q - dmin*m;
 *            qs[32c + l] holds value 64c + l (low nibble) and 64c + 32 + l (high nibble)
 * Q5_K 176 B { fp16 d; fp16 dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128] }
 *            Q4_K plus a high-bit plane: value 32j + l has level nibble | 16·((qh[l] >> j) & 1)
 * Q2_K  84 B { uint8 scales[16]; uint8 qs[64]; fp16 d; fp16 dmin }
 *            16 sub-blocks of 16, scales[g] = 4-bit scale | 4-bit min << 4: x = d*sc*q - dmin*m;
 *            2-bit levels, qs[32h + l] holds values 128h + 32j + l at bits 2j (j = 0..3)
 * Q3_K 110 B { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; fp16 d }
 *            16 sub-blocks of 16 with signed 6-bit scales: x = d*(sc - 32)*q, q = -4..3 from 2
 *            bits of qs (placed as Q2_K's) minus 4 unless bit v/32 of hmask[v % 32] is set
 * Q6_K 210 B { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d }
 *            16 sub-blocks of 16: x = d*scales[v/16]*(q - 32), q 6 bits (4 in ql, 2 in qh) */
#define Q8_K_BYTES 292
#define Q8_K_QS 4
#define Q8_K_BSUMS 260
#define Q4_K_BYTES 144
#define Q4_K_SCALES 4
#define Q4_K_QS 16
#define Q5_K_BYTES 176
#define Q5_K_SCALES 4
#define Q5_K_QH 16
#define Q5_K_QS 48
#define Q2_K_BYTES 84
#define Q2_K_QS 16
#define Q2_K_D 80
#define Q2_K_DMIN 82
#define Q3_K_BYTES 110
#define Q3_K_QS 32
#define Q3_K_SCALES 96
#define Q3_K_D 108
#define Q6_K_BYTES 210
#define Q6_K_QH 128
#define Q6_K_SCALES 192
#define Q6_K_D 208

/* GGML's nearest_int: adding 1.5*2^23 leaves the integer in the low mantissa bits, so this is
 * round-half-to-EVEN (not roundf's half away from zero), and the K-quants' ties depend on it.
 * GGML asserts |v| <= 4194303; outside that (never for finite scales of finite input) this
 * saturates, and NaN gives 0, where GGML is undefined. */
static inline int k_nearest_int(float v) {
  if (fabsf(v) <= 4194303.0f) {
    const float t = v + 12582912.0f;
    return (int)(f32_bits(t) & 0x007fffff) - 0x00400000;
  }
  return v > 0 ? 4194304 : v < 0 ? -4194304 : 0;
}

static inline float ld_f32(const uint8_t *p) {
  float v;
  memcpy(&v, p, 4);
  return v;
}
static inline int16_t ld_i16(const uint8_t *p) {
  int16_t v;
  memcpy(&v, p, 2);
  return v;
}

/* Q4_K's twelve scale bytes to eight 6-bit scales and eight 6-bit mins: sub-blocks 0-3 keep
 * theirs in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); 4-7 take 4 bits from bytes
 * 8-11 and their top 2 from the spare top bits of bytes 0-7. */
static inline void q4_k_scales(const uint8_t *s, uint8_t sc[8], uint8_t m[8]) {
  for (int j = 0; j < 4; j++) {
    sc[j] = s[j] & 63;
    m[j] = s[j + 4] & 63;
    sc[j + 4] = (uint8_t)((s[j + 8] & 0xF) | ((s[j] >> 6) << 4));
    m[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
  }
}

/* Σ over a Q8_K block's 16-value groups, g from 2j: the pairs that make Q4_K's 32-value sub-blocks. */
static inline int q8_k_bsum_pair(const uint8_t *y, int j) {
  return ld_i16(y + Q8_K_BSUMS + 4 * j) + ld_i16(y + Q8_K_BSUMS + 4 * j + 2);
}

/* Σ_j m[j]·(Σ of x's 32 values of sub-block j), from the Q8_K group sums: the min term of the
 * Q4_K/Q5_K dots (their 6-bit mins share the layout). */
static inline int32_t k_min_sum(const uint8_t m[8], const uint8_t *yb) {
  int32_t s = 0;
  for (int j = 0; j < 8; j++) s += (int32_t)m[j] * q8_k_bsum_pair(yb, j);
  return s;
}

/* GGML's make_qkx2_quants(n, nmax, ..., rmin, 0.1, nstep, use_mad) for one sub-block of n <= 32
 * values (q4_k.c): Q4_K uses (32, 15, -1, 20, no), Q5_K (32, 31, -0.5, 15, no), Q2_K (16, 3,
 * -0.5, 15, yes). Returns the scale, *the_min the min. */
float k_qkx2_fit(const float *x, const float *w, uint8_t *L, float *the_min, int n, int nmax, float rmin, int nstep,
                 int use_mad);

/* Q4_K's and Q5_K's shared quantizer (q4_k.c): fits the 8 sub-blocks of x (nmax, rmin, nstep as
 * for k_qkx2_fit), writes d and dmin at y, the packed scales at s, and the levels 0..nmax in L. */
void k_fit_superblock(const float *x, uint8_t *y, uint8_t s[12], uint8_t L[QK_K], int nmax, float rmin, int nstep);

/* Every K-quant dot accumulates one super-block at a time the same way: the block's exact
 * integer sums (isum against the scales, msum against the mins) are formed first, on any ISA,
 * then folded in here in f32, one statement per rounding (so no compiler contracts it into an
 * FMA). All our paths therefore agree bit for bit; GGML differs only in summation order. */
static inline float k_fold(float acc, float d, int32_t isum, float dmin, int32_t msum) {
  const float a = d * (float)isum;
  const float b = dmin * (float)msum;
  const float t = a - b;
  return acc + t;
}

#if LLMEM_X86
/* Rows [r0, r1) of a K-quant matrix against x (already Q8_K), four per pass through
 * ROWS4(rows, xq, super-blocks, out); a short last group repeats its last row (computed, not
 * stored), so every row takes the same arithmetic whichever group it falls in. */
#define K_MATVEC_ROWS4(name, ROWS4)                                                                       \
  LLMEM_AVX2 void name(const uint8_t *w, size_t row_bytes, size_t r0, size_t r1, const uint8_t *xq, size_t cols, \
                       float *y) {                                                                        \
    for (size_t r = r0; r < r1; r += 4) {                                                                 \
      const uint8_t *rows[4];                                                                             \
      for (size_t k = 0; k < 4; k++) rows[k] = w + (r + k < r1 ? r + k : r1 - 1) * row_bytes;           \
      float out[4];                                                                                       \
      ROWS4(rows, xq, cols / QK_K, out);                                                                  \
      for (size_t k = 0; k < 4 && r + k < r1; k++) y[r + k] = out[k];                                     \
    }                                                                                                     \
  }

/* Rows [r0, r1) of a K-quant matrix against n Q8_K tokens (token t at xq + t*xq_stride, its
 * results at y + t*y_stride), in tiles of NROWS rows × up to TOKENS tokens through
 * TILE(rows, xq, xq_stride, tokens, super-blocks, out[TOKENS][NROWS]); ATTR is the tile's target.
 * A short last group of rows repeats its last row (computed, not stored). */
#define K_MATMUL_ROWS(name, ATTR, NROWS, TOKENS, TILE)                                                        \
  ATTR void name(const uint8_t *w, size_t row_bytes, size_t r0, size_t r1, const uint8_t *xq, size_t xq_stride, \
                 size_t n, size_t cols, float *y, size_t y_stride) {                                          \
    for (size_t r = r0; r < r1; r += NROWS) {                                                                 \
      const uint8_t *rows[NROWS];                                                                             \
      for (size_t k = 0; k < NROWS; k++) rows[k] = w + (r + k < r1 ? r + k : r1 - 1) * row_bytes;            \
      for (size_t t0 = 0; t0 < n; t0 += TOKENS) {                                                             \
        const size_t nt = n - t0 < TOKENS ? n - t0 : TOKENS;                                                  \
        float out[TOKENS][NROWS];                                                                             \
        TILE(rows, xq + t0 * xq_stride, xq_stride, nt, cols / QK_K, out);                                    \
        for (size_t t = 0; t < nt; t++)                                                                       \
          for (size_t k = 0; k < NROWS && r + k < r1; k++) y[(t0 + t) * y_stride + r + k] = out[t][k];       \
      }                                                                                                       \
    }                                                                                                         \
  }
#endif

#if LLMEM_ARM
/* Rows [r0, r1) of a K-quant matrix against n Q8_K tokens (token t at xq + t*xq_stride, its
 * results at y + t*y_stride) in tiles of 4 rows × rn tokens through TILE(rn, rows, tokens,
 * super-blocks, out[rn][4]): rn = 1 for a matvec (n = 1), 2 for a matmul (the four rows' unpacked
 * levels, two tokens' accumulators and operands fill the 32 registers). A short last group of
 * rows or tokens repeats its last member (computed, not stored), so every result takes the same
 * arithmetic wherever it falls (matmul_neon.c calls these). */
#define K_NEON_ROWS(name, TILE)                                                                              \
  static inline __attribute__((always_inline)) void name##_rn(int rn, const uint8_t *w, size_t row_bytes,   \
                                                              size_t r0, size_t r1, const uint8_t *xq,      \
                                                              size_t xq_stride, size_t n, size_t cols,      \
                                                              float *y, size_t y_stride) {                  \
    for (size_t r = r0; r < r1; r += 4) {                                                                    \
      const uint8_t *rows[4];                                                                                \
      for (size_t k = 0; k < 4; k++) rows[k] = w + (r + k < r1 ? r + k : r1 - 1) * row_bytes;              \
      for (size_t t = 0; t < n; t += (size_t)rn) {                                                           \
        const uint8_t *xs[2];                                                                                \
        for (int k = 0; k < rn; k++) xs[k] = xq + (t + (size_t)k < n ? t + (size_t)k : n - 1) * xq_stride;  \
        float out[2][4];                                                                                     \
        TILE(rn, rows, xs, cols / QK_K, out);                                                                \
        for (size_t a = 0; a < (size_t)rn && t + a < n; a++)                                                 \
          for (size_t k = 0; k < 4 && r + k < r1; k++) y[(t + a) * y_stride + r + k] = out[a][k];           \
      }                                                                                                      \
    }                                                                                                        \
  }                                                                                                          \
  void name(const uint8_t *w, size_t row_bytes, size_t r0, size_t r1, const uint8_t *xq, size_t xq_stride,  \
            size_t n, size_t cols, float *y, size_t y_stride) {                                             \
    if (n == 1) name##_rn(1, w, row_bytes, r0, r1, xq, xq_stride, n, cols, y, y_stride);                    \
    else name##_rn(2, w, row_bytes, r0, r1, xq, xq_stride, n, cols, y, y_stride);                           \
  }

/* Four rows' int32 lanes to one lane each (lane r: the total of s[r]'s lanes; exact). */
static inline int32x4_t k_total4_neon(const int32x4_t s[4]) {
  return vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
}
/* Four rows' fp16 values at byte offset off of each row's block, as f32 lanes (exact). */
static inline float32x4_t k_half4_neon(const uint8_t *const b[4], size_t off) {
  const uint16_t h[4] = {ld_u16(b[0] + off), ld_u16(b[1] + off), ld_u16(b[2] + off), ld_u16(b[3] + off)};
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

/* 16 products of small non-negative levels (reinterpretable as int8) and int8, summed. */
static inline int32_t k_dot16_neon(uint8x16_t u, int8x16_t a) {
  const int8x16_t s = vreinterpretq_s8_u8(u);
#if defined(__ARM_FEATURE_DOTPROD)
  return vaddvq_s32(vdotq_s32(vdupq_n_s32(0), s, a));
#else
  const int32x4_t p = vpadalq_s16(vpaddlq_s16(vmull_s8(vget_low_s8(s), vget_low_s8(a))), vmull_high_s8(s, a));
  return vaddvq_s32(p);
#endif
}
#endif

#endif
