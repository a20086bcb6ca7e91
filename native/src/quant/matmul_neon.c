/* The NEON (AArch64) matvec and matmul kernels, chosen once in formats.c's ISA table: four weight
 * rows per pass for decode (each activation block loaded once for the four rows) and register
 * tiles of 4 rows × 4 tokens for batched prefill (each weight block unpacked once for four
 * tokens, each activation block once for four rows); Q4_K/Q6_K through q4_k.c's / q6_k.c's
 * tiles, f32/f16 matmul through tile_f_neon below (f32/f16 matvec stays the per-row dot). Their scalar references are
 * matvec_range_generic (matvec.c) and matmul_range_generic (matmul.c): the format's vec_dot per
 * (row, token); formats without a kernel here go to them.
 *
 * Bits: per block, each row's 32 products are summed exactly in int32 (SDOT when the compiler
 * targets the dot-product extension, __ARM_FEATURE_DOTPROD as on every Apple Silicon build;
 * widening multiplies and pairwise adds otherwise: the same integer), the four rows' sums are
 * reduced to one lane each by two pairwise adds, and each lane is folded as the scalar reference
 * folds a block (q_block_fold: sum + sumi·(dw·dx), no FMA). So on NEON, for Q8_0/Q4_0/Q5_0,
 * matvec equals matmul per token, equals the vec_dot per row, equals the scalar reference: bit
 * for bit, with and without SDOT, wherever a row or token falls in its group (a short last group
 * repeats its last member: computed, not stored), whatever the thread count. */
#include "../formats.h"
#include "quant_internal.h"

#if LLMEM_ARM
/* Tokens per matmul tile. Registers (of 32): 8 for the four rows' block levels, 4 accumulators,
 * 2 for a token's block, 4 row sums, the scales: about 20, so the tile stays in registers. */
#define TILE_TOKENS 4

/* The four rows' fp16 scales at byte offset off as f32 lanes (FCVTL: exact, as scale_at is). */
static inline float32x4_t scales4_neon(const uint8_t *const w[4], size_t off) {
  const uint16_t h[4] = {ld_u16(w[0] + off), ld_u16(w[1] + off), ld_u16(w[2] + off), ld_u16(w[3] + off)};
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

/* q_block_fold on four lanes: acc + isum·(dw·dx), one rounding per step as the scalar reference. */
static inline float32x4_t fold4_neon(float32x4_t acc, int32x4_t isum, float32x4_t dw, float dx) {
  const float32x4_t dd = vmulq_n_f32(dw, dx);
  const float32x4_t t = vmulq_f32(vcvtq_f32_s32(isum), dd);
  return vaddq_f32(acc, t);
}

/* Four rows (w) × rn tokens (xq, xd: Q8_0 blocks and their scales as f32) over nb blocks:
 * out[t][r] = row r · token t. `format` and `rn` are constants where inlined. */
static inline __attribute__((always_inline)) void tile_q_neon(int format, int rn, const uint8_t *const w[4],
                                                              const uint8_t *const xq[], const float *const xd[],
                                                              size_t nb, float out[][4]) {
  const size_t bb = q_block_bytes(format);
  float32x4_t acc[TILE_TOKENS];
  for (int t = 0; t < rn; t++) acc[t] = vdupq_n_f32(0);
  for (size_t b = 0; b < nb; b++) {
    int8x16_t lo[4], hi[4];
    for (int r = 0; r < 4; r++) q_block_levels_neon(format, w[r] + b * bb, &lo[r], &hi[r]);
    const float32x4_t dw = scales4_neon(w, b * bb);
    for (int t = 0; t < rn; t++) {
      const int8_t *x = (const int8_t *)(xq[t] + b * Q8_0_BYTES + 2);
      const int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16);
      int32x4_t s[4];
      for (int r = 0; r < 4; r++) s[r] = dot32_first_neon(lo[r], hi[r], x0, x1);
      /* lane r: row r's exact block sum */
      const int32x4_t isum = vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
      acc[t] = fold4_neon(acc[t], isum, dw, xd[t][b]);
    }
  }
  for (int t = 0; t < rn; t++) vst1q_f32(out[t], acc[t]);
}

/* Rows [r0, r1) against n tokens (token t's blocks at xq + t*xq_stride, scales at xd +
 * t*xd_stride, results at y + t*y_stride), tiles of 4 rows × rn tokens. */
static inline __attribute__((always_inline)) void range_q_neon(int format, int rn, const uint8_t *w, size_t row_bytes,
                                                               size_t r0, size_t r1, const uint8_t *xq,
                                                               size_t xq_stride, const float *xd, size_t xd_stride,
                                                               size_t n, size_t cols, float *y, size_t y_stride) {
  for (size_t r = r0; r < r1; r += 4) {
    const uint8_t *rows[4];
    for (size_t k = 0; k < 4; k++) rows[k] = w + (r + k < r1 ? r + k : r1 - 1) * row_bytes;
    for (size_t t = 0; t < n; t += (size_t)rn) {
      const uint8_t *xs[TILE_TOKENS];
      const float *ds[TILE_TOKENS];
      for (int k = 0; k < rn; k++) {
        const size_t tk = t + (size_t)k < n ? t + (size_t)k : n - 1;
        xs[k] = xq + tk * xq_stride;
        ds[k] = xd + tk * xd_stride;
      }
      float out[TILE_TOKENS][4];
      tile_q_neon(format, rn, rows, xs, ds, cols / 32, out);
      for (size_t a = 0; a < (size_t)rn && t + a < n; a++)
        for (size_t k = 0; k < 4 && r + k < r1; k++) y[(t + a) * y_stride + r + k] = out[a][k];
    }
  }
}

void matvec_range_neon(const llmem_matvec_job *j, size_t r0, size_t r1) {
  /* No one-row streaming kernel here (j->streams): measured on AVX2 only, and Apple's cores
   * prefetch four streams well; the four-row pass serves every size. */
  switch (j->format) {
  case LLMEM_Q8_0: range_q_neon(LLMEM_Q8_0, 1, j->w, j->row_bytes, r0, r1, j->xq, 0, j->xd, 0, 1, j->cols, j->y, 0); return;
  case LLMEM_Q4_0: range_q_neon(LLMEM_Q4_0, 1, j->w, j->row_bytes, r0, r1, j->xq, 0, j->xd, 0, 1, j->cols, j->y, 0); return;
  case LLMEM_Q5_0: range_q_neon(LLMEM_Q5_0, 1, j->w, j->row_bytes, r0, r1, j->xq, 0, j->xd, 0, 1, j->cols, j->y, 0); return;
  case LLMEM_Q4_K: rows_q4_k_neon(j->w, j->row_bytes, r0, r1, j->xq, 0, 1, j->cols, j->y, 0); return;
  case LLMEM_Q6_K: rows_q6_k_neon(j->w, j->row_bytes, r0, r1, j->xq, 0, 1, j->cols, j->y, 0); return;
  default: matvec_range_generic(j, r0, r1);
  }
}

/* 4 weights of an f32 or f16 row from column i, as f32 (fp16 -> f32 exact). */
static inline float32x4_t load_wf_neon(int format, const uint8_t *w, size_t i) {
  if (format == LLMEM_F32) return vld1q_f32((const float *)(const void *)w + i);
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(const void *)w + i)));
}
static inline float wf_at_neon(int format, const uint8_t *w, size_t i) {
  if (format == LLMEM_F32) return ((const float *)(const void *)w)[i];
  return fp16_to_fp32(((const uint16_t *)(const void *)w)[i]);
}

/* A 4 × 4 tile of f32/f16 rows against f32 tokens: one 4-lane FMA accumulator per (row, token)
 * (16 of the 32 registers), 4 columns per step, the tail past a multiple of 4 in scalar.
 * out[t][r]. dot_f32_neon (matvec's path) keeps four accumulators per row instead, so the sums
 * differ from matvec's in the last bits, as the AVX2 f32/f16 tiles' do (test_matmul's bound). */
static inline __attribute__((always_inline)) void tile_f_neon(int format, const uint8_t *const w[4],
                                                              const float *const x[TILE_TOKENS], size_t n,
                                                              float out[TILE_TOKENS][4]) {
  float32x4_t acc[TILE_TOKENS][4];
  for (int t = 0; t < TILE_TOKENS; t++)
    for (int r = 0; r < 4; r++) acc[t][r] = vdupq_n_f32(0);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    float32x4_t xv[TILE_TOKENS];
    for (int t = 0; t < TILE_TOKENS; t++) xv[t] = vld1q_f32(x[t] + i);
    for (int r = 0; r < 4; r++) {
      const float32x4_t wv = load_wf_neon(format, w[r], i);
      for (int t = 0; t < TILE_TOKENS; t++) acc[t][r] = vfmaq_f32(acc[t][r], wv, xv[t]);
    }
  }
  for (int t = 0; t < TILE_TOKENS; t++) {
    vst1q_f32(out[t], vpaddq_f32(vpaddq_f32(acc[t][0], acc[t][1]), vpaddq_f32(acc[t][2], acc[t][3])));
    for (size_t k = i; k < n; k++)
      for (int r = 0; r < 4; r++) out[t][r] += wf_at_neon(format, w[r], k) * x[t][k];
  }
}

/* Rows [r0, r1) of an f32/f16 matmul, every token, tile by tile (short groups repeat their last
 * member: computed, not stored). */
static inline __attribute__((always_inline)) void range_f_neon(int format, const llmem_matmul_job *j, size_t r0,
                                                               size_t r1) {
  const size_t n = j->n;
  for (size_t r = r0; r < r1; r += 4) {
    const uint8_t *w[4];
    for (size_t k = 0; k < 4; k++) w[k] = j->w + (r + k < r1 ? r + k : r1 - 1) * j->row_bytes;
    for (size_t t = 0; t < n; t += TILE_TOKENS) {
      const float *x[TILE_TOKENS];
      for (size_t k = 0; k < TILE_TOKENS; k++) x[k] = j->x + (t + k < n ? t + k : n - 1) * j->cols;
      float out[TILE_TOKENS][4];
      tile_f_neon(format, w, x, j->cols, out);
      for (size_t a = 0; a < TILE_TOKENS && t + a < n; a++)
        for (size_t k = 0; k < 4 && r + k < r1; k++) j->y[(t + a) * j->rows + r + k] = out[a][k];
    }
  }
}

#define RANGE_Q_MATMUL(format)                                                                                  \
  range_q_neon(format, TILE_TOKENS, j->w, j->row_bytes, r0, r1, j->xq, j->xq_stride, j->xd, j->xd_stride, j->n, \
               j->cols, j->y, j->rows)
void matmul_range_neon(const llmem_matmul_job *j, size_t r0, size_t r1) {
  switch (j->format) {
  case LLMEM_Q8_0: RANGE_Q_MATMUL(LLMEM_Q8_0); return;
  case LLMEM_Q4_0: RANGE_Q_MATMUL(LLMEM_Q4_0); return;
  case LLMEM_Q5_0: RANGE_Q_MATMUL(LLMEM_Q5_0); return;
  case LLMEM_F32: range_f_neon(LLMEM_F32, j, r0, r1); return;
  case LLMEM_F16: range_f_neon(LLMEM_F16, j, r0, r1); return;
  case LLMEM_Q4_K: rows_q4_k_neon(j->w, j->row_bytes, r0, r1, j->xq, j->xq_stride, j->n, j->cols, j->y, j->rows); return;
  case LLMEM_Q6_K: rows_q6_k_neon(j->w, j->row_bytes, r0, r1, j->xq, j->xq_stride, j->n, j->cols, j->y, j->rows); return;
  default: matmul_range_generic(j, r0, r1);
  }
}
#undef RANGE_Q_MATMUL
#endif
