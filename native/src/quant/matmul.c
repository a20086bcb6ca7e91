/* Y = X Wᵀ for a chunk of n tokens (batched prefill): Y[t][r] = W[r] · X[t] over the same
 * weight formats as llmem_matvec. X is quantized to the format's vec_dot format ONCE per chunk
 * (not once per row tile), and the AVX2 path runs register tiles of several weight rows ×
 * several tokens per inner loop, so every weight block loaded is used for several tokens and
 * every activation block for several rows (ggml's mul_mat / tinyBLAS do the same: W is read
 * once per tile instead of once per token).
 *
 * Results agree with llmem_matvec on each token:
 *  - the scalar path (every ISA's fallback) is the format's vec_dot per (row, token): bit for bit;
 *  - the AVX2 Q8_0/Q4_0 tiles (matmul_tile_q.h) fold four rows' per-block integer sums into one
 *    8-lane accumulator per token exactly as matvec's four-row kernel does, with the same final
 *    reduction: bit for bit too (matvec's streaming one-row kernel, for matrices ≥ 16 MB,
 *    sums in another order); with AVX-512 VNNI the transposed 8-row tile (tile_t_vnni) gets
 *    the same integers without horizontal sums and folds them in the same lanes: the same bits;
 *  - the Q5_0 tile (the same template, and tile_t_vnni) folds each block's integer sum as Q5_0's vec_dot does (one
 *    f32 lane per row and token: mul, mul, add): bit for bit that vec_dot, which is matvec's Q5_0;
 *  - the AVX2 Q4_K / Q6_K tiles (q4_k.c, q6_k.c) unpack each block of four rows once for up to
 *    16 tokens and give matvec's four-row pass bit for bit (so the format's vec_dot);
 *  - the AVX2 f32/f16 tiles keep ONE 8-lane accumulator per (row, token) where matvec keeps four,
 *    so sums differ in the last bits (measured and documented in examples/decode/README.md). */
#include "../formats.h"
#include "quant_internal.h"

/* The scalar reference (and the path of every format without a tile of its own): the format's
 * vec_dot for each (row, token), exactly what llmem_matvec's generic path computes per token. */
void matmul_range_generic(const llmem_matmul_job *j, size_t r0, size_t r1) {
  const llmem_vec_dot_fn dot = llmem_format_kernels_active[j->format].vec_dot;
  for (size_t t = 0; t < j->n; t++) {
    const void *x = j->xq ? (const void *)(j->xq + t * j->xq_stride) : (const void *)(j->x + t * j->cols);
    float *y = j->y + t * j->rows;
    for (size_t r = r0; r < r1; r++) y[r] = dot(j->w + r * j->row_bytes, x, j->cols);
  }
}

#if LLMEM_X86
/* Four lanes' totals of four accumulators at once: lane r of the result is
 * ((a_r[0]+a_r[1]) + (a_r[2]+a_r[3])) + ((a_r[4]+a_r[5]) + (a_r[6]+a_r[7])), whatever the other rows hold. */
LLMEM_AVX2 static inline __m128 mm_hsum4_avx2(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* The Q8_0/Q4_0/Q5_0 tiles: on plain AVX2 (maddubs + madd, 4 rows × 2 tokens: the 16 ymm registers)
 * and with AVX-512 VNNI's dpbusd on 256-bit vectors (one instruction for the same exact sums, and
 * AVX-512VL's 32 registers hold 4 rows × 4 tokens); chosen once at load (matmul_range_avx2_vnni). */
#define TILE_Q_SUFFIX avx2
#define TILE_Q_ATTR LLMEM_AVX2
#define TILE_Q_RN 2
#define TILE_Q_DOT(acc, u, s) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#include "matmul_tile_q.h"

#define TILE_Q_SUFFIX vnni
#define TILE_Q_ATTR LLMEM_AVX512VNNI
#define TILE_Q_RN 4
#define TILE_Q_DOT(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#include "matmul_tile_q.h"

/* The transposed 8-row tiles (matmul_tile_t.h): with AVX-512 VNNI for Q8_0/Q4_0/Q5_0 (tokens 4 at
 * a time: 32 registers); on plain AVX2 for Q4_0/Q5_0 only (2 at a time: 16 registers). */
#define TILE_T_SUFFIX avx2
#define TILE_T_ATTR LLMEM_AVX2
#define TILE_T_RN 2
#define TILE_T_DOT(acc, u, s) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#include "matmul_tile_t.h"

#define TILE_T_SUFFIX vnni
#define TILE_T_ATTR LLMEM_AVX512VNNI
#define TILE_T_RN 4
#define TILE_T_DOT(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#include "matmul_tile_t.h"

/* 8 weights of an f32 or f16 row as f32. */
LLMEM_AVX2 static inline __m256 load_wf_avx2(int format, const uint8_t *w, size_t i) {
  if (format == LLMEM_F32) return _mm256_loadu_ps((const float *)(const void *)w + i);
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)((const uint16_t *)(const void *)w + i)));
}
LLMEM_AVX2 static inline float wf_at(int format, const uint8_t *w, size_t i) {
  if (format == LLMEM_F32) return ((const float *)(const void *)w)[i];
  return _cvtsh_ss(((const uint16_t *)(const void *)w)[i]);
}

/* An RM × RN tile of f32/f16 rows against f32 tokens: one accumulator per pair, 8 columns per
 * step; the tail past a multiple of 8 in scalar. out[t][r]. A pair's result is its own
 * accumulator's FMA chain, the same hsum and the same tail whatever the tile's size, so every
 * copy gives the same bits: on plain AVX2 4 × 3 (12 accumulators, a token and a weight register:
 * the 16 ymm registers), with AVX-512VL's 32 registers 8 × 3 (each token slice loaded once for
 * twice the rows: f32 chunks of 128 took ×0.95 the time at 288 columns, ×0.97-0.99 at 768, one
 * thread, paired with the 4 × 3 tile; test_matmul checks the bits equal). */
#define TILE_F(name, ATTR, RM, RN)                                                                       \
  ATTR static void name(int format, const uint8_t *const w[RM], const float *const x[RN], size_t n,      \
                        float out[RN][RM]) {                                                             \
    __m256 acc[RN][RM];                                                                                  \
    for (int t = 0; t < RN; t++)                                                                         \
      for (int r = 0; r < RM; r++) acc[t][r] = _mm256_setzero_ps();                                      \
    size_t i = 0;                                                                                        \
    for (; i + 8 <= n; i += 8) {                                                                         \
      __m256 xv[RN];                                                                                     \
      for (int t = 0; t < RN; t++) xv[t] = _mm256_loadu_ps(x[t] + i);                                    \
      for (int r = 0; r < RM; r++) {                                                                     \
        const __m256 wv = load_wf_avx2(format, w[r], i);                                                 \
        for (int t = 0; t < RN; t++) acc[t][r] = _mm256_fmadd_ps(wv, xv[t], acc[t][r]);                  \
      }                                                                                                  \
    }                                                                                                    \
    for (int t = 0; t < RN; t++) {                                                                       \
      for (int r = 0; r < RM; r += 4)                                                                    \
        _mm_storeu_ps(out[t] + r, mm_hsum4_avx2(acc[t][r], acc[t][r + 1], acc[t][r + 2], acc[t][r + 3]));  \
      for (size_t k = i; k < n; k++)                                                                     \
        for (int r = 0; r < RM; r++) out[t][r] += wf_at(format, w[r], k) * x[t][k];                      \
    }                                                                                                    \
  }                                                                                                      \
  /* Rows [r0, r1) of an f32/f16 matmul, every token, tile by tile (a short last group of rows or */    \
  /* tokens repeats its last member: computed, not stored). */                                           \
  ATTR static void name##_range(const llmem_matmul_job *j, size_t r0, size_t r1) {                      \
    const size_t n = j->n;                                                                               \
    for (size_t r = r0; r < r1; r += RM) {                                                               \
      const uint8_t *w[RM];                                                                              \
      for (size_t k = 0; k < RM; k++) w[k] = j->w + (r + k < r1 ? r + k : r1 - 1) * j->row_bytes;       \
      for (size_t t = 0; t < n; t += RN) {                                                               \
        const float *x[RN];                                                                              \
        for (size_t k = 0; k < RN; k++) x[k] = j->x + (t + k < n ? t + k : n - 1) * j->cols;            \
        float out[RN][RM];                                                                               \
        name(j->format, w, x, j->cols, out);                                                             \
        for (size_t a = 0; a < RN && t + a < n; a++)                                                     \
          for (size_t b = 0; b < RM && r + b < r1; b++) j->y[(t + a) * j->rows + r + b] = out[a][b];     \
      }                                                                                                  \
    }                                                                                                    \
  }
TILE_F(tile_f_avx2, LLMEM_AVX2, 4, 3)
TILE_F(tile_f_vnni, LLMEM_AVX512VNNI, 8, 3)

/* Rows [r0, r1) for every token, tile by tile. A short last group of rows or tokens repeats its
 * last member (computed, not stored), so each result's arithmetic is the same wherever it falls. */
LLMEM_AVX2 void matmul_range_avx2(const llmem_matmul_job *j, size_t r0, size_t r1) {
  const size_t n = j->n;
  switch (j->format) {
  case LLMEM_Q8_0: range_q_avx2(LLMEM_Q8_0, j, r0, r1); return;
  case LLMEM_Q4_0:
    if (j->cols / 32 <= TILE_T_MAX_BLOCKS) range_t_avx2(LLMEM_Q4_0, j, r0, r1);
    else range_q_avx2(LLMEM_Q4_0, j, r0, r1);
    return;
  case LLMEM_Q5_0:
    if (j->cols / 32 <= TILE_T_MAX_BLOCKS) range_t_avx2(LLMEM_Q5_0, j, r0, r1);
    else range_q_avx2(LLMEM_Q5_0, j, r0, r1);
    return;
  case LLMEM_F32:
  case LLMEM_F16: tile_f_avx2_range(j, r0, r1); return;
  case LLMEM_Q4_K:
    matmul_rows_q4_k_avx2(j->w, j->row_bytes, r0, r1, j->xq, j->xq_stride, n, j->cols, j->y, j->rows);
    return;
  case LLMEM_Q6_K:
    matmul_rows_q6_k_avx2(j->w, j->row_bytes, r0, r1, j->xq, j->xq_stride, n, j->cols, j->y, j->rows);
    return;
  default: matmul_range_generic(j, r0, r1);
  }
}

/* matmul_range_avx2 on a CPU with AVX-512 VNNI (+VL): the Q8_0/Q4_0/Q5_0 tiles take their integer
 * sums from dpbusd (same bits); everything else is matmul_range_avx2. Chosen once by
 * llmem_select_kernels, as matvec_range_avx2_vnni. */
LLMEM_AVX512VNNI void matmul_range_avx2_vnni(const llmem_matmul_job *j, size_t r0, size_t r1) {
  switch (j->format) {
  case LLMEM_Q8_0:
    if (j->cols / 32 <= TILE_T_MAX_BLOCKS) range_t_vnni(LLMEM_Q8_0, j, r0, r1);
    else range_q_vnni(LLMEM_Q8_0, j, r0, r1);
    return;
  case LLMEM_Q4_0:
    if (j->cols / 32 <= TILE_T_MAX_BLOCKS) range_t_vnni(LLMEM_Q4_0, j, r0, r1);
    else range_q_vnni(LLMEM_Q4_0, j, r0, r1);
    return;
  case LLMEM_Q5_0:
    if (j->cols / 32 <= TILE_T_MAX_BLOCKS) range_t_vnni(LLMEM_Q5_0, j, r0, r1);
    else range_q_vnni(LLMEM_Q5_0, j, r0, r1);
    return;
  case LLMEM_F32:
  case LLMEM_F16: tile_f_vnni_range(j, r0, r1); return;
  case LLMEM_Q4_K:
    matmul_rows_q4_k_vnni(j->w, j->row_bytes, r0, r1, j->xq, j->xq_stride, j->n, j->cols, j->y, j->rows);
    return;
  default: matmul_range_avx2(j, r0, r1);
  }
}
#endif

static void matmul_rows(void *ctx, size_t task) {
  const llmem_matmul_job *j = ctx;
  const size_t r0 = task * j->chunk, r1 = r0 + j->chunk < j->rows ? r0 + j->chunk : j->rows;
  llmem_isa_kernels_active.matmul_range(j, r0, r1);
}

/* X's token t in the scratch, llmem_matmul_scratch_stride bytes per token: cols/32 f32 block
 * scales, then (vec_dot format Q8_0 only) two int32 half-block sums per block, then x in the
 * vec_dot format. Rounded up to a cache line: each token's scales start aligned. */
static size_t scales_bytes(size_t cols) { return cols / 32 * sizeof(float); }
static size_t sums_bytes(int vec_dot_format, size_t cols) {
  return vec_dot_format == LLMEM_Q8_0 ? cols / 32 * 2 * sizeof(int32_t) : 0;
}

size_t llmem_matmul_scratch_stride(int format, size_t cols) {
  if (!llmem_format_has(format, LLMEM_FORMAT_MATRIX)) return 0;
  const int vf = llmem_formats[format].vec_dot_format;
  if (vf == LLMEM_F32) return 0;
  const llmem_format_traits *q = &llmem_formats[vf];
  return (scales_bytes(cols) + sums_bytes(vf, cols) + cols / (size_t)q->block_size * q->block_bytes + 63) &
         ~(size_t)63;
}

/* Converting X: tokens split over the pool like the rows (each token's bytes are the same on any
 * thread). */
typedef struct {
  const float *x;
  size_t cols, per_task, n, stride, scales, sums;
  int vec_dot_format;
  uint8_t *scratch;
} matmul_prep_job;

static void matmul_prep(void *ctx, size_t task) {
  const matmul_prep_job *p = ctx;
  const llmem_from_float_fn quantize = llmem_format_kernels_active[p->vec_dot_format].from_float;
  const size_t t1 = (task + 1) * p->per_task < p->n ? (task + 1) * p->per_task : p->n;
  for (size_t t = task * p->per_task; t < t1; t++) {
    uint8_t *s = p->scratch + t * p->stride, *xq = s + p->scales + p->sums;
    quantize(p->x + t * p->cols, xq, p->cols);
    if (p->vec_dot_format != LLMEM_Q8_0) continue;
    float *xd = (float *)(void *)s;
    for (size_t b = 0; b < p->cols / 32; b++) xd[b] = scale_at(xq + b * Q8_0_BYTES);
    llmem_isa_kernels_active.q8_0_half_sums(xq, p->cols / 32, (int32_t *)(void *)(s + p->scales));
  }
}

LLMEM_SCALAR void q8_0_half_sums_scalar(const uint8_t *xq, size_t nb, int32_t *xs) {
  for (size_t b = 0; b < nb; b++) {
    const int8_t *v = (const int8_t *)(xq + b * Q8_0_BYTES + 2);
    int32_t lo = 0, hi = 0;
    for (int e = 0; e < 16; e++) lo += v[e], hi += v[16 + e];
    xs[2 * b] = lo, xs[2 * b + 1] = hi;
  }
}

#if LLMEM_X86
/* Per block: maddubs with 1s sums pairs (exact in int16), madd sums those into 8 int32 lanes
 * (lanes 0-3 the first 16 values, 4-7 the last), two hadds fold each half: exact integer sums,
 * the scalar loop's values. */
LLMEM_AVX2 void q8_0_half_sums_avx2(const uint8_t *xq, size_t nb, int32_t *xs) {
  const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
  size_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const __m256i v0 = _mm256_loadu_si256((const __m256i *)(xq + b * Q8_0_BYTES + 2));
    const __m256i v1 = _mm256_loadu_si256((const __m256i *)(xq + (b + 1) * Q8_0_BYTES + 2));
    const __m256i s0 = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, v0), ones16);
    const __m256i s1 = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, v1), ones16);
    /* hadd within 128-bit lanes: [s0 a0+a1, a2+a3, s1 a0+a1, a2+a3 | the same for lanes 4-7] */
    const __m256i h = _mm256_hadd_epi32(s0, s1);
    const __m256i h2 = _mm256_hadd_epi32(h, h); /* [s0 lo, s1 lo, .., .. | s0 hi, s1 hi, .., ..] */
    const __m128i lo = _mm256_castsi256_si128(h2), hi = _mm256_extracti128_si256(h2, 1);
    /* xs: s0 lo, s0 hi, s1 lo, s1 hi */
    _mm_storeu_si128((__m128i *)(void *)(xs + 2 * b), _mm_unpacklo_epi32(lo, hi));
  }
  q8_0_half_sums_scalar(xq + b * Q8_0_BYTES, nb - b, xs + 2 * b);
}
#endif

/* The pool's view of llmem_matmul_parts: part p's tasks are [first_task[p], first_task[p+1]). */
typedef struct {
  llmem_matmul_job part[LLMEM_MATMUL_PARTS];
  size_t first_task[LLMEM_MATMUL_PARTS + 1];
} matmul_parts_job;

static void matmul_parts_rows(void *ctx, size_t task) {
  const matmul_parts_job *m = ctx;
  size_t p = 0;
  while (task >= m->first_task[p + 1]) p++;
  matmul_rows((void *)&m->part[p], task - m->first_task[p]);
}

int llmem_matmul_parts(int format, size_t cols, const float *x, size_t n, void *scratch, size_t parts,
                       const void *const w[], const size_t rows[], float *const y[]) {
  if (!llmem_format_has(format, LLMEM_FORMAT_MATRIX) || parts == 0 || parts > LLMEM_MATMUL_PARTS) return -1;
  const llmem_format_traits *f = &llmem_formats[format];
  if (cols == 0 || cols % (size_t)f->block_size) return -1;
  const llmem_matmul_job base = {.format = format, .cols = cols, .x = x, .n = n,
                                 .row_bytes = cols / (size_t)f->block_size * f->block_bytes};
  matmul_parts_job m;
  for (size_t p = 0; p < parts; p++) {
    m.part[p] = base;
    m.part[p].w = w[p], m.part[p].rows = rows[p], m.part[p].y = y[p];
  }
  const size_t threads = (size_t)llmem_get_threads();
  const int vf = f->vec_dot_format;
  if (vf != LLMEM_F32) {
    if (!scratch || cols % LLMEM_QK) return -1;
    const size_t stride = llmem_matmul_scratch_stride(format, cols);
    matmul_prep_job prep = {.x = x, .cols = cols, .n = n, .stride = stride, .scales = scales_bytes(cols),
                            .sums = sums_bytes(vf, cols), .vec_dot_format = vf, .scratch = scratch};
    /* A few tokens per task: converting one is ~0.1-0.4 µs, a pool hand-off ~1 µs. */
    const size_t tasks = threads == 1 || n < 16 ? 1 : threads * 4 < n / 4 ? threads * 4 : n / 4;
    prep.per_task = (n + tasks - 1) / tasks;
    if (n > 0) llmem_pool_run(matmul_prep, &prep, (n + prep.per_task - 1) / prep.per_task);
    for (size_t p = 0; p < parts; p++) {
      llmem_matmul_job *j = &m.part[p];
      j->xq = (const uint8_t *)scratch + prep.scales + prep.sums;
      j->xq_stride = stride;
      j->xd = scratch;
      j->xd_stride = stride / sizeof(float);
      if (prep.sums) {
        j->xs = (const int32_t *)(const void *)((const uint8_t *)scratch + prep.scales);
        j->xs_stride = stride / sizeof(int32_t);
      }
    }
  }
  if (n == 0) return 0;
  /* Every matrix of a chunk is worth splitting (n tokens of work per row): a few tasks per
   * thread and part, whole groups of eight rows each (the VNNI tile's; the others take four). */
  m.first_task[0] = 0;
  for (size_t p = 0; p < parts; p++) {
    llmem_matmul_job *j = &m.part[p];
    const size_t tasks = threads == 1 ? 1 : threads * 4 < j->rows ? threads * 4 : j->rows;
    j->chunk = j->rows == 0 ? 1 : ((j->rows + tasks - 1) / tasks + 7) & ~(size_t)7;
    m.first_task[p + 1] = m.first_task[p] + (j->rows + j->chunk - 1) / j->chunk;
  }
  for (size_t p = parts; p < LLMEM_MATMUL_PARTS; p++) m.first_task[p + 1] = m.first_task[parts];
  llmem_pool_run(matmul_parts_rows, &m, m.first_task[parts]);
  return 0;
}

int llmem_matmul(int format, const void *w, size_t rows, size_t cols, const float *x, size_t n, float *y,
                 void *scratch) {
  return llmem_matmul_parts(format, cols, x, n, scratch, 1, &w, &rows, &y);
}
