/* The four-row Q8_0/Q4_0/Q5_0 matvec kernel, included by matvec.c once per integer-sum instruction
 * set: ROWS_Q_SUFFIX names the copy, ROWS_Q_ATTR is its target attribute and ROWS_Q_ISUMS(format,
 * w, qx, ncx) the block's exact int32 sums (8 lanes; ncx: Q4_0's -8·Σx, Q5_0's -16·Σx per lane). Every copy computes the same bits. */
#define ROWS_Q_CAT2(a, b) a##_##b
#define ROWS_Q_CAT(a, b) ROWS_Q_CAT2(a, b)
#define ROWS_Q_NAME(name) ROWS_Q_CAT(name, ROWS_Q_SUFFIX)

/* Four Q8_0/Q4_0 rows against x in one pass: x's blocks and scales are loaded once for all four.
 * Per block the four rows' integer sums are folded by three hadds into one vector (lane r: row
 * r's first 16 products, lane 4+r: its last 16; exact in int32), so the float work (convert,
 * scale, accumulate) is one instruction each per four rows, not per row: it was half the
 * instructions of the one-row-at-a-time float accumulation this replaces. The scales of the four
 * rows convert from fp16 together. out[r] = row r · x, summed per lane in block order and then
 * lane r + lane 4+r, whichever rows share the pass. `format` is a constant at each call site
 * (the function is inlined), so the loop carries no format branch. */
ROWS_Q_ATTR static inline __attribute__((always_inline)) __m256 ROWS_Q_NAME(fold4)(int format, const uint8_t *w0,
                                                                                  const uint8_t *w1, const uint8_t *w2,
                                                                                  const uint8_t *w3, __m256i qx,
                                                                                  float dx, __m256 acc) {
  const __m256i ncx = format != LLMEM_Q8_0 ? neg_offset_avx2(format, qx) : _mm256_setzero_si256();
  const __m256i s01 = _mm256_hadd_epi32(ROWS_Q_ISUMS(format, w0, qx, ncx), ROWS_Q_ISUMS(format, w1, qx, ncx));
  const __m256i s23 = _mm256_hadd_epi32(ROWS_Q_ISUMS(format, w2, qx, ncx), ROWS_Q_ISUMS(format, w3, qx, ncx));
  const __m256i h = _mm256_hadd_epi32(s01, s23);
  const __m128 dw =
      _mm_cvtph_ps(_mm_setr_epi16((short)ld_u16(w0), (short)ld_u16(w1), (short)ld_u16(w2), (short)ld_u16(w3), 0, 0, 0, 0));
  const __m128 d = _mm_mul_ps(dw, _mm_set1_ps(dx));
  if (format == LLMEM_Q5_0) {
    /* Q5_0's vec_dot fold (q5.c's q5_0_fold: sum + isum·(dw·dx), two multiplies and an add, no
     * FMA) on the low four lanes, row r's whole block sum in lane r. */
    const __m128i isum = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    return _mm256_zextps128_ps256(_mm_add_ps(_mm256_castps256_ps128(acc), _mm_mul_ps(_mm_cvtepi32_ps(isum), d)));
  }
  return _mm256_fmadd_ps(_mm256_set_m128(d, d), _mm256_cvtepi32_ps(h), acc);
}

ROWS_Q_ATTR static inline __attribute__((always_inline)) void ROWS_Q_NAME(rows4_dot_q)(int format, const uint8_t *const w[4],
                                                                               const uint8_t *xq, const float *xd,
                                                                               size_t nb, int prefetch, float out[4]) {
  const size_t bb = format == LLMEM_Q8_0 ? Q8_0_BYTES : format == LLMEM_Q4_0 ? Q4_0_BYTES : Q5_0_BYTES;
  __m256 acc = _mm256_setzero_ps();
  for (size_t b = 0; b < nb; b++, xq += Q8_0_BYTES) {
    const __m256i qx = _mm256_loadu_si256((const __m256i *)(xq + 2));
    const uint8_t *w0 = w[0] + b * bb, *w1 = w[1] + b * bb, *w2 = w[2] + b * bb, *w3 = w[3] + b * bb;
    if (prefetch && (b & 1) == 0) {
      _mm_prefetch((const char *)w0 + 16384, _MM_HINT_T0), _mm_prefetch((const char *)w1 + 16384, _MM_HINT_T0);
      _mm_prefetch((const char *)w2 + 16384, _MM_HINT_T0), _mm_prefetch((const char *)w3 + 16384, _MM_HINT_T0);
    }
    acc = ROWS_Q_NAME(fold4)(format, w0, w1, w2, w3, qx, xd[b], acc);
  }
  if (format == LLMEM_Q5_0) _mm_storeu_ps(out, _mm256_castps256_ps128(acc));
  else _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
}

/* Rows [r0, r1) of a Q8_0/Q4_0 matrix, four per pass (a short last group repeats its last row,
 * so every row takes the same arithmetic whichever group it falls in, and results do not
 * depend on the thread count). */
ROWS_Q_ATTR static inline __attribute__((always_inline)) void ROWS_Q_NAME(rows_q)(int format, const llmem_matvec_job *j,
                                                                          size_t r0, size_t r1) {
  /* Measured: eight rows per pass (two groups of four sharing x) looked ~5% faster with W hot in
   * the cache but made the decode loop's 32000x288 Q8_0 classifier, streaming from L3, 1.6-1.9x
   * slower (more concurrent row streams); four stay. */
  for (size_t r = r0; r < r1; r += 4) {
    const uint8_t *w[4];
    for (size_t k = 0; k < 4; k++) w[k] = j->w + (r + k < r1 ? r + k : r1 - 1) * j->row_bytes;
    float out[4];
    ROWS_Q_NAME(rows4_dot_q)(format, w, j->xq, j->xd, j->cols / 32, j->row_bytes >= LONG_ROW_BYTES, out);
    for (size_t k = 0; k < 4 && r + k < r1; k++) j->y[r + k] = out[k];
  }
}

#undef ROWS_Q_NAME
#undef ROWS_Q_CAT
#undef ROWS_Q_CAT2
#undef ROWS_Q_SUFFIX
#undef ROWS_Q_ATTR
#undef ROWS_Q_ISUMS
