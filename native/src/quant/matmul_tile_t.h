/* The transposed Q8_0/Q4_0/Q5_0 matmul tile, included by matmul.c once per integer-sum
 * instruction set: TILE_T_SUFFIX names the copy, TILE_T_ATTR is its target attribute, TILE_T_RN
 * its tokens per tile and TILE_T_DOT(acc, u, s) adds the exact int32 sums of four u8·s8
 * products per lane to acc (dpbusd; on plain AVX2 maddubs + madd, exact only while a pair of
 * products fits int16: Q4_0/Q5_0 levels, not Q8_0's w + 128). Every copy computes the same bits.
 *
 * 8 rows × TILE_T_RN tokens, no horizontal sums. The four-row tile (matmul_tile_q.h) folds every
 * (token, block) by three hadds. Here a block of 8 rows is transposed once (an 8×8 transpose of
 * 4-byte groups: T[g] lane i = row i's values 4g..4g+3) as unsigned bytes u = w + o (Q8_0:
 * w ^ 0x80, o = 128; Q4_0: nibbles, o = 8; Q5_0: levels, o = 16), and each token's 4-value groups
 * are broadcast against it: DOT(T[g], x_g) adds row i's products to lane i, so 4 DOTs give the 8
 * rows' sums over values 0..15 (A) and 4 more over 16..31 (B), exactly, with no reduction across
 * lanes. Σ(w+o)·x = Σw·x + o·Σx: Σx of each half is one number per (token, block), computed
 * once per chunk when X is converted (llmem_matmul's scratch). The sums are then folded as matvec does: Q8_0/Q4_0 per
 * half by FMA (matvec's lane r is row r's first half, lane 4+r its second; here lane r of accA and
 * of accB) and the halves added at the end; Q5_0 as its vec_dot (mul, mul, add of A+B). So each
 * result is the four-row tile's, and matvec's, bit for bit. */
#ifndef TILE_T_TOKENS
/* Tokens per pass over a group of 8 rows: each block of the 8 rows is unpacked and transposed
 * once for this many tokens (measured on a 768x288 and a 288x768 chunk of 128: 32 took ×0.89-0.95
 * the time of 16, 64 ×0.98 that of 32). */
#define TILE_T_TOKENS 32
/* The transposed tile is taken up to this many blocks per row (8192 columns, the widest it was
 * measured at); wider rows take the four-row tile. */
#define TILE_T_MAX_BLOCKS 256
#endif
#define TILE_T_CAT2(a, b) a##_##b
#define TILE_T_CAT(a, b) TILE_T_CAT2(a, b)
#define TILE_T_NAME(name) TILE_T_CAT(name, TILE_T_SUFFIX)

/* 8 rows × nt <= TILE_T_TOKENS tokens over nb blocks (token t's blocks at xq + t*xq_stride, its
 * f32 scales at xd + t*xd_stride, its half-block sums Σx at xs + t*xs_stride; o = 1 << shift). Each
 * block of the 8 rows is unpacked and transposed once for all nt tokens (the tokens' accumulators
 * live in L1); the inner loop takes the tokens TILE_T_RN at a time (a short last group repeats
 * its last token: computed, not stored). */
TILE_T_ATTR static inline __attribute__((always_inline)) void TILE_T_NAME(tile_t)(
    int format, const uint8_t *const w[8], const uint8_t *xq, size_t xq_stride, const float *xd, size_t xd_stride,
    const int32_t *xs, size_t xs_stride, int shift, size_t nt, size_t nb, float out[][8]) {
  const size_t bb = format == LLMEM_Q8_0 ? Q8_0_BYTES : format == LLMEM_Q4_0 ? Q4_0_BYTES : Q5_0_BYTES;
  __m256 accA[TILE_T_TOKENS + TILE_T_RN], accB[TILE_T_TOKENS + TILE_T_RN];
  for (size_t t = 0; t < nt + TILE_T_RN; t++) accA[t] = _mm256_setzero_ps(), accB[t] = _mm256_setzero_ps();
  for (size_t b = 0; b < nb; b++) {
    __m256i u[8];
    for (int r = 0; r < 8; r++) {
      const uint8_t *blk = w[r] + b * bb;
      if (format == LLMEM_Q8_0) {
        u[r] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 2)), _mm256_set1_epi8((char)0x80));
      } else if (format == LLMEM_Q4_0) {
        const __m128i raw = _mm_loadu_si128((const __m128i *)(blk + 2));
        u[r] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
      } else {
        u[r] = q5_levels_avx2(blk + 2, blk + 6);
      }
    }
    __m256i T[8];
    transpose8x8_epi32_avx2(u, T);
    __m128i h16[2];
    for (int k = 0; k < 2; k++)
      h16[k] = _mm_setr_epi16((short)ld_u16(w[4 * k] + b * bb), (short)ld_u16(w[4 * k + 1] + b * bb),
                              (short)ld_u16(w[4 * k + 2] + b * bb), (short)ld_u16(w[4 * k + 3] + b * bb), 0, 0, 0, 0);
    const __m256 dw = _mm256_cvtph_ps(_mm_unpacklo_epi64(h16[0], h16[1]));
    for (size_t t0 = 0; t0 < nt; t0 += TILE_T_RN) {
      for (size_t k = 0; k < TILE_T_RN; k++) {
        const size_t t = t0 + k < nt ? t0 + k : nt - 1;
        const uint8_t *x = xq + t * xq_stride + b * Q8_0_BYTES + 2;
        const int32_t *sums = xs + t * xs_stride + 2 * b;
        __m256i A = _mm256_set1_epi32(-sums[0] * (1 << shift)), B = _mm256_set1_epi32(-sums[1] * (1 << shift));
        for (int g = 0; g < 4; g++) {
          int32_t xa, xb;
          memcpy(&xa, x + 4 * g, 4);
          memcpy(&xb, x + 16 + 4 * g, 4);
          A = TILE_T_DOT(A, T[g], _mm256_set1_epi32(xa));
          B = TILE_T_DOT(B, T[4 + g], _mm256_set1_epi32(xb));
        }
        const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(xd[t * xd_stride + b]));
        /* a repeated last token accumulates into a spare slot past nt */
        const size_t slot = t0 + k;
        if (format == LLMEM_Q5_0) {
          accA[slot] = _mm256_add_ps(accA[slot], _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(A, B)), d));
        } else {
          accA[slot] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(A), accA[slot]);
          accB[slot] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(B), accB[slot]);
        }
      }
    }
  }
  for (size_t t = 0; t < nt; t++)
    _mm256_storeu_ps(out[t], format == LLMEM_Q5_0 ? accA[t] : _mm256_add_ps(accA[t], accB[t]));
}

TILE_T_ATTR static inline __attribute__((always_inline)) void TILE_T_NAME(range_t)(int format,
                                                                                   const llmem_matmul_job *j,
                                                                                   size_t r0, size_t r1) {
  const size_t n = j->n, nb = j->cols / 32;
  const int shift = format == LLMEM_Q8_0 ? 7 : format == LLMEM_Q4_0 ? 3 : 4; /* o = 128, 8, 16 */
  for (size_t t0 = 0; t0 < n; t0 += TILE_T_TOKENS) {
    const size_t tg = n - t0 < TILE_T_TOKENS ? n - t0 : TILE_T_TOKENS;
    for (size_t r = r0; r < r1; r += 8) {
      const uint8_t *w[8];
      for (size_t k = 0; k < 8; k++) w[k] = j->w + (r + k < r1 ? r + k : r1 - 1) * j->row_bytes;
      float out[TILE_T_TOKENS][8];
      TILE_T_NAME(tile_t)(format, w, j->xq + t0 * j->xq_stride, j->xq_stride, j->xd + t0 * j->xd_stride, j->xd_stride,
                          j->xs + t0 * j->xs_stride, j->xs_stride, shift, tg, nb, out);
      for (size_t a = 0; a < tg; a++)
        for (size_t k = 0; k < 8 && r + k < r1; k++) j->y[(t0 + a) * j->rows + r + k] = out[a][k];
    }
  }
}

#undef TILE_T_NAME
#undef TILE_T_CAT
#undef TILE_T_CAT2
#undef TILE_T_SUFFIX
#undef TILE_T_ATTR
#undef TILE_T_RN
#undef TILE_T_DOT
