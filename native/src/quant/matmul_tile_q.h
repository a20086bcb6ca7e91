/* The Q8_0/Q4_0/Q5_0 matmul tile, included by matmul.c once per integer-sum instruction set (as
 * matvec_rows_q.h is by matvec.c): TILE_Q_SUFFIX names the copy, TILE_Q_ATTR is its target
 * attribute, TILE_Q_RN its tokens per tile and TILE_Q_DOT(acc, u, s) adds the exact int32 sums
 * of four u8·s8 products per lane to acc. Every copy computes the same bits.
 *
 * A tile is 4 weight rows × TILE_Q_RN tokens. Per block each row's operand is prepared once for
 * all the tile's tokens (Q8_0: |w| and w for the sign fix-up of x; Q4_0 / Q5_0: the unsigned
 * levels l, Σ(l-o)·x taken as Σl·x - o·Σx with o = 8 / 16 and -o·Σx once per token for the four
 * rows). Per token the four rows' exact sums are folded by three hadds (lane r: row r's first 16
 * products, lane 4+r its last 16), then:
 *  - Q8_0/Q4_0: converted, scaled by dw·dx and accumulated by one FMA into that token's 8 lanes,
 *    lanes r and 4+r added at the end, as matvec's four-row kernel does;
 *  - Q5_0: the halves added (row r's block sum in lane r), converted, and folded as Q5_0's vec_dot
 *    (q_block_fold, quant_internal.h: sum + isum·(dw·dx), two multiplies and an add, no FMA) on four lanes;
 * so each token's results are matvec's bit for bit (Q5_0's matvec is its vec_dot per row). */
#define TILE_Q_CAT2(a, b) a##_##b
#define TILE_Q_CAT(a, b) TILE_Q_CAT2(a, b)
#define TILE_Q_NAME(name) TILE_Q_CAT(name, TILE_Q_SUFFIX)

TILE_Q_ATTR static inline __attribute__((always_inline)) void TILE_Q_NAME(tile_q)(
    int format, const uint8_t *const w[4], const uint8_t *const xq[TILE_Q_RN], const float *const xd[TILE_Q_RN],
    size_t nb, float out[TILE_Q_RN][4]) {
  const size_t bb = format == LLMEM_Q8_0 ? Q8_0_BYTES : format == LLMEM_Q4_0 ? Q4_0_BYTES : Q5_0_BYTES;
  __m256 acc[TILE_Q_RN];
  __m128 acc5[TILE_Q_RN]; /* Q5_0's four lanes */
  for (int t = 0; t < TILE_Q_RN; t++) acc[t] = _mm256_setzero_ps(), acc5[t] = _mm_setzero_ps();
  for (size_t b = 0; b < nb; b++) {
    __m256i uw[4], qw[4]; /* the unsigned operand of each row; Q8_0: its signed bytes too */
    for (int r = 0; r < 4; r++) {
      const uint8_t *blk = w[r] + b * bb;
      if (format == LLMEM_Q5_0) {
        uw[r] = q5_levels_avx2(blk + 2, blk + 6);
        qw[r] = uw[r];
      } else if (format == LLMEM_Q4_0) {
        const __m128i raw = _mm_loadu_si128((const __m128i *)(blk + 2));
        uw[r] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
        qw[r] = uw[r];
      } else {
        qw[r] = _mm256_loadu_si256((const __m256i *)(blk + 2));
        uw[r] = _mm256_sign_epi8(qw[r], qw[r]);
      }
    }
    const __m128 dw = _mm_cvtph_ps(_mm_setr_epi16((short)ld_u16(w[0] + b * bb), (short)ld_u16(w[1] + b * bb),
                                                  (short)ld_u16(w[2] + b * bb), (short)ld_u16(w[3] + b * bb), 0, 0,
                                                  0, 0));
    for (int t = 0; t < TILE_Q_RN; t++) {
      const __m256i qx = _mm256_loadu_si256((const __m256i *)(xq[t] + b * Q8_0_BYTES + 2));
      __m256i s[4];
      if (format != LLMEM_Q8_0) {
        /* -o·Σx per lane (exact: o·x pairs fit int16), the start of every row's sums. */
        const __m256i ncx = _mm256_sub_epi32(
            _mm256_setzero_si256(),
            TILE_Q_DOT(_mm256_setzero_si256(), _mm256_set1_epi8(format == LLMEM_Q4_0 ? 8 : 16), qx));
        for (int r = 0; r < 4; r++) s[r] = TILE_Q_DOT(ncx, uw[r], qx);
      } else {
        for (int r = 0; r < 4; r++) s[r] = TILE_Q_DOT(_mm256_setzero_si256(), uw[r], _mm256_sign_epi8(qx, qw[r]));
      }
      const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
      const __m128 d = _mm_mul_ps(dw, _mm_set1_ps(xd[t][b]));
      if (format == LLMEM_Q5_0) {
        const __m128i isum = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
        acc5[t] = _mm_add_ps(acc5[t], _mm_mul_ps(_mm_cvtepi32_ps(isum), d));
      } else {
        acc[t] = _mm256_fmadd_ps(_mm256_set_m128(d, d), _mm256_cvtepi32_ps(h), acc[t]);
      }
    }
  }
  for (int t = 0; t < TILE_Q_RN; t++)
    _mm_storeu_ps(out[t], format == LLMEM_Q5_0 ? acc5[t]
                                               : _mm_add_ps(_mm256_castps256_ps128(acc[t]), _mm256_extractf128_ps(acc[t], 1)));
}

/* Rows [r0, r1) of a Q8_0/Q4_0/Q5_0 matmul, every token, tile by tile. A short last group of rows or
 * tokens repeats its last member (computed, not stored), so each result's arithmetic is the same
 * wherever it falls. `format` is a constant at each call site (inlined: no format branch). */
TILE_Q_ATTR static inline __attribute__((always_inline)) void TILE_Q_NAME(range_q)(int format,
                                                                                   const llmem_matmul_job *j,
                                                                                   size_t r0, size_t r1) {
  const size_t n = j->n;
  for (size_t r = r0; r < r1; r += 4) {
    const uint8_t *w[4];
    for (size_t k = 0; k < 4; k++) w[k] = j->w + (r + k < r1 ? r + k : r1 - 1) * j->row_bytes;
    for (size_t t = 0; t < n; t += TILE_Q_RN) {
      const uint8_t *xq[TILE_Q_RN];
      const float *xd[TILE_Q_RN];
      for (size_t k = 0; k < TILE_Q_RN; k++) {
        const size_t tk = t + k < n ? t + k : n - 1;
        xq[k] = j->xq + tk * j->xq_stride;
        xd[k] = j->xd + tk * j->xd_stride;
      }
      float out[TILE_Q_RN][4];
      TILE_Q_NAME(tile_q)(format, w, xq, xd, j->cols / 32, out);
      for (size_t a = 0; a < TILE_Q_RN && t + a < n; a++)
        for (size_t b = 0; b < 4 && r + b < r1; b++) j->y[(t + a) * j->rows + r + b] = out[a][b];
    }
  }
}

#undef TILE_Q_NAME
#undef TILE_Q_CAT
#undef TILE_Q_CAT2
#undef TILE_Q_SUFFIX
#undef TILE_Q_ATTR
#undef TILE_Q_RN
#undef TILE_Q_DOT
