/* The NEON (AArch64) matvec and matmul kernels, chosen once in formats.c's ISA table: four weight
 * rows per pass for decode (each activation block loaded once for the four rows) and register
 * tiles of 4 rows × 4 tokens for batched prefill (each weight block unpacked once for four
 * tokens, each activation block once for four rows). Their scalar references are
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

#define RANGE_Q_MATMUL(format)                                                                                  \
  range_q_neon(format, TILE_TOKENS, j->w, j->row_bytes, r0, r1, j->xq, j->xq_stride, j->xd, j->xd_stride, j->n, \
               j->cols, j->y, j->rows)
void matmul_range_neon(const llmem_matmul_job *j, size_t r0, size_t r1) {
  switch (j->format) {
  case LLMEM_Q8_0: RANGE_Q_MATMUL(LLMEM_Q8_0); return;
  case LLMEM_Q4_0: RANGE_Q_MATMUL(LLMEM_Q4_0); return;
  case LLMEM_Q5_0: RANGE_Q_MATMUL(LLMEM_Q5_0); return;
  case LLMEM_Q4_K: rows_q4_k_neon(j->w, j->row_bytes, r0, r1, j->xq, j->xq_stride, j->n, j->cols, j->y, j->rows); return;
  case LLMEM_Q6_K: rows_q6_k_neon(j->w, j->row_bytes, r0, r1, j->xq, j->xq_stride, j->n, j->cols, j->y, j->rows); return;
  default: matmul_range_generic(j, r0, r1);
  }
}
#undef RANGE_Q_MATMUL
#endif
