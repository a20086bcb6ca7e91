/* y = W x over f32, f16, Q8_0, Q4_0 and Q5_0 rows (the K-quants' and IQ4_XS's row kernels live in their files), rows split over the thread pool; and the plain
 * read the benchmarks measure memory bandwidth with. */
#include "../formats.h"
#include "quant_internal.h"

#define SMALL_MATRIX_BYTES ((size_t)16 << 10)
/* From this size W no longer stays in the last-level cache between calls (32 MB shared here):
 * block rows then go one at a time instead of four per pass.
 *
 * Software prefetch: only the four-row Q8_0/Q4_0/Q5_0 pass over long rows asks for W 16 KB
 * ahead; every other row kernel leaves it to the hardware prefetchers, which do better alone.
 * Measured on AMD EPYC (paired, both libraries in one process, 31 rounds, bits equal): removing
 * the prefetches took ×0.75-0.87 of the time with W flushed to DRAM (f32 32000x288 and 4096²,
 * q8_0 32000x288, f16 4096², Q4_K / Q6_K 4096²: ×0.87 / ×0.67) and ×0.79-0.95 with W hot, but
 * ×1.38 for a flushed q4_0 4096² (2.3 KB rows: four rows are four separate streams). */
#define LONG_ROW_BYTES ((size_t)1024)
#define STREAMING_MATRIX_BYTES ((size_t)16 << 20)

#if LLMEM_X86
/* An f16 row · x, as llmem_dot_f16_f32. */
LLMEM_AVX2 static float row_dot_f16_avx2(const uint16_t *w, const float *x, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8))), _mm256_loadu_ps(x + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 16))), _mm256_loadu_ps(x + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 24))), _mm256_loadu_ps(x + i + 24), acc3);
  }
  float sum = hsum_avx2(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; i++) sum += _cvtsh_ss(w[i]) * x[i];
  return sum;
}

/* Row · x for Q8_0/Q4_0 rows with x's scales already in f32: per block, the exact integer sum
 * times dw·dx. Q8_0: the weights' |q| against x's q carrying the weights' sign (exact for any
 * weight byte, as x is quantized here and never holds -128). Q4_0: the unsigned nibbles n
 * against x, plus -8·Σx (Σ(n-8)·x exactly), so no sign fix-up per row: ncx, x's block's -8·Σx per
 * lane, is computed once per block for all rows (neg_offset_avx2; Q5_0 likewise with -16·Σx). The integer sums of one
 * block, 8 int32 lanes: */
LLMEM_AVX2 static inline __m256i q4_nibbles_avx2(const uint8_t *w) {
  const __m128i raw = _mm_loadu_si128((const __m128i *)(w + 2));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
}
/* -o·Σx per lane for unsigned levels with offset o (Q4_0: 8, Q5_0: 16; o·x pairs fit int16). */
LLMEM_AVX2 static inline __m256i neg_offset_avx2(int format, __m256i qx) {
  const __m256i o = _mm256_set1_epi8(format == LLMEM_Q4_0 ? 8 : 16);
  const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(o, qx), _mm256_set1_epi16(1));
  return _mm256_sub_epi32(_mm256_setzero_si256(), s);
}
LLMEM_AVX2 static inline __m256i block_isums_avx2(int format, const uint8_t *w, __m256i qx, __m256i ncx) {
  const __m256i ones = _mm256_set1_epi16(1);
  if (format == LLMEM_Q4_0) /* nibble·x pairs fit int16: at most 2·15·128 */
    return _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q4_nibbles_avx2(w), qx), ones), ncx);
  if (format == LLMEM_Q5_0) /* level·x pairs fit int16: at most 2·31·128 */
    return _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q5_levels_avx2(w + 2, w + 6), qx), ones), ncx);
  const __m256i qw = _mm256_loadu_si256((const __m256i *)(w + 2));
  return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(qw, qw), _mm256_sign_epi8(qx, qw)), ones);
}

/* The same sums as f32, x's block read from xq. */
LLMEM_AVX2 static inline __m256 block_sums_avx2(int format, const uint8_t *w, const uint8_t *xq) {
  const __m256i qx = _mm256_loadu_si256((const __m256i *)(xq + 2));
  const __m256i ncx = format == LLMEM_Q4_0 ? neg_offset_avx2(format, qx) : _mm256_setzero_si256();
  return _mm256_cvtepi32_ps(block_isums_avx2(format, w, qx, ncx));
}

/* The four-row Q8_0/Q4_0 kernels, once on plain AVX2 (maddubs + madd) and once with AVX-512
 * VNNI's dpbusd on 256-bit vectors (the same exact int32 sums in one instruction; chosen at
 * load when the CPU has it, see matvec_range_avx2_vnni). */
#define ROWS_Q_SUFFIX avx2
#define ROWS_Q_ATTR LLMEM_AVX2
#define ROWS_Q_ISUMS block_isums_avx2
#include "matvec_rows_q.h"

/* dpbusd: four u8·s8 products per int32 lane added to the accumulator, exactly (no int16 step). */
LLMEM_AVX512VNNI static inline __m256i block_isums_vnni(int format, const uint8_t *w, __m256i qx, __m256i ncx) {
  if (format == LLMEM_Q4_0) return _mm256_dpbusd_epi32(ncx, q4_nibbles_avx2(w), qx);
  if (format == LLMEM_Q5_0) return _mm256_dpbusd_epi32(ncx, q5_levels_avx2(w + 2, w + 6), qx);
  const __m256i qw = _mm256_loadu_si256((const __m256i *)(w + 2));
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(qw, qw), _mm256_sign_epi8(qx, qw));
}
#define ROWS_Q_SUFFIX vnni
#define ROWS_Q_ATTR LLMEM_AVX512VNNI
#define ROWS_Q_ISUMS block_isums_vnni
#include "matvec_rows_q.h"

/* One Q8_0/Q4_0 row against x, two blocks per step: the kernel for
 * matrices that stream from DRAM, where four interleaved rows are more concurrent streams
 * than the hardware prefetchers follow well (measured: 8192² Q8_0 fell from ~85% to ~33% of
 * a plain read with the four-row kernel). */
LLMEM_AVX2 static float row_dot_q_avx2(int format, const uint8_t *w, const uint8_t *xq, const float *xd, size_t nb) {
  const size_t bb = format == LLMEM_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= nb; b += 2, w += 2 * bb, xq += 2 * Q8_0_BYTES) {
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(scale_at_avx2(w) * xd[b]), block_sums_avx2(format, w, xq), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(scale_at_avx2(w + bb) * xd[b + 1]),
                           block_sums_avx2(format, w + bb, xq + Q8_0_BYTES), acc1);
  }
  if (b < nb) acc0 = _mm256_fmadd_ps(_mm256_set1_ps(scale_at_avx2(w) * xd[b]), block_sums_avx2(format, w, xq), acc0);
  return hsum_avx2(_mm256_add_ps(acc0, acc1));
}

/* An f32 row · x in llmem_dot_f32's AVX2 summation order (so the f32 decode stays bit-identical
 * to it). */
LLMEM_AVX2 static float row_dot_f32_avx2(const float *w, const float *x, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), acc0);
  float sum = hsum_avx2(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; i++) sum += w[i] * x[i];
  return sum;
}
#endif

/* Rows [r0, r1) through the format's vec_dot against x in its vec_dot format (every ISA's path
 * for formats without a row kernel of their own, and the scalar and NEON paths for all). */
void matvec_range_generic(const llmem_matvec_job *j, size_t r0, size_t r1) {
  const llmem_vec_dot_fn dot = llmem_format_kernels_active[j->format].vec_dot;
  const void *x = j->xq ? (const void *)j->xq : (const void *)j->x;
  for (size_t r = r0; r < r1; r++) j->y[r] = dot(j->w + r * j->row_bytes, x, j->cols);
}

#if LLMEM_X86
/* Rows [r0, r1) on AVX2. Block rows go four per pass (a short last group repeats its last row,
 * so every row takes the same arithmetic whichever group it falls in, and results do not
 * depend on the thread count). f32 rows stay one at a time: measured here, interleaving 4 f32
 * rows (sharing x loads) gained nothing, the stream from DRAM being the limit. */
LLMEM_AVX2 void matvec_range_avx2(const llmem_matvec_job *j, size_t r0, size_t r1) {
  switch (j->format) {
  case LLMEM_F32:
    for (size_t r = r0; r < r1; r++)
      j->y[r] = row_dot_f32_avx2((const float *)(const void *)(j->w + r * j->row_bytes), j->x, j->cols);
    return;
  case LLMEM_F16:
    for (size_t r = r0; r < r1; r++)
      j->y[r] = row_dot_f16_avx2((const uint16_t *)(const void *)(j->w + r * j->row_bytes), j->x, j->cols);
    return;
  case LLMEM_Q5_0:
    /* Bit for bit Q5_0's vec_dot per row (its fold, not Q8_0/Q4_0's), so the scalar reference and
     * matmul agree; a streaming matrix takes the vec_dot itself. */
    if (j->streams) matvec_range_generic(j, r0, r1);
    else rows_q_avx2(LLMEM_Q5_0, j, r0, r1);
    return;
  case LLMEM_Q8_0:
  case LLMEM_Q4_0:
    if (j->streams) {
      for (size_t r = r0; r < r1; r++) j->y[r] = row_dot_q_avx2(j->format, j->w + r * j->row_bytes, j->xq, j->xd, j->cols / 32);
      return;
    }
    if (j->format == LLMEM_Q8_0) rows_q_avx2(LLMEM_Q8_0, j, r0, r1);
    else rows_q_avx2(LLMEM_Q4_0, j, r0, r1);
    return;
  case LLMEM_Q4_K:
  case LLMEM_Q6_K:
    /* Bit for bit the format's vec_dot per row (so the scalar reference and matmul agree). */
    if (j->streams) matvec_range_generic(j, r0, r1);
    else if (j->format == LLMEM_Q4_K) matvec_rows_q4_k_avx2(j->w, j->row_bytes, r0, r1, j->xq, j->cols, j->y);
    else matvec_rows_q6_k_avx2(j->w, j->row_bytes, r0, r1, j->xq, j->cols, j->y);
    return;
  case LLMEM_IQ4_XS:
    if (!j->streams) {
      matvec_rows_iq4_xs_avx2(j->w, j->row_bytes, r0, r1, j->xq, j->cols, j->y);
      return;
    }
    matvec_range_generic(j, r0, r1);
    return;
  default: matvec_range_generic(j, r0, r1);
  }
}

/* matvec_range_avx2 on a CPU with AVX-512 VNNI (+VL): the Q8_0/Q4_0 four-row passes take their
 * integer sums from dpbusd (same bits); everything else is matvec_range_avx2. Chosen once by
 * llmem_select_kernels. Measured (native/tools/vs-ggml, one thread, under load): ~10-15% off
 * the q8_0 matvec. */
LLMEM_AVX512VNNI void matvec_range_avx2_vnni(const llmem_matvec_job *j, size_t r0, size_t r1) {
  if (j->streams || (j->format != LLMEM_Q8_0 && j->format != LLMEM_Q4_0 && j->format != LLMEM_Q5_0)) {
    matvec_range_avx2(j, r0, r1);
    return;
  }
  if (j->format == LLMEM_Q8_0) rows_q_vnni(LLMEM_Q8_0, j, r0, r1);
  else if (j->format == LLMEM_Q4_0) rows_q_vnni(LLMEM_Q4_0, j, r0, r1);
  else rows_q_vnni(LLMEM_Q5_0, j, r0, r1);
}
#endif

/* The pool's view of llmem_matvec_parts: the parts' rows laid end to end, each part starting at a
 * multiple of four (base[p]), cut into tasks of `chunk` rows (a multiple of four): a task's rows
 * of a part start on a four-row group of that part, so every row takes the same kernel path
 * whatever the task and thread count. */
typedef struct {
  llmem_matvec_job part[LLMEM_MATMUL_PARTS];
  size_t base[LLMEM_MATMUL_PARTS + 1], parts, chunk;
} matvec_parts_job;

static void matvec_parts_rows(void *ctx, size_t task) {
  const matvec_parts_job *m = ctx;
  const size_t g0 = task * m->chunk, g1 = g0 + m->chunk;
  for (size_t p = 0; p < m->parts; p++) {
    const llmem_matvec_job *j = &m->part[p];
    if (g1 <= m->base[p] || g0 >= m->base[p] + j->rows) continue;
    const size_t lo = g0 > m->base[p] ? g0 - m->base[p] : 0;
    const size_t hi = g1 - m->base[p] < j->rows ? g1 - m->base[p] : j->rows;
    llmem_isa_kernels_active.matvec_range(j, lo, hi);
  }
}

int llmem_matvec_parts(int format, size_t cols, const float *x, void *scratch, size_t parts, const void *const w[],
                       const size_t rows[], float *const y[]) {
  if (!llmem_format_has(format, LLMEM_FORMAT_MATRIX) || parts == 0 || parts > LLMEM_MATMUL_PARTS) return -1;
  const llmem_format_traits *f = &llmem_formats[format];
  if (cols % (size_t)f->block_size) return -1;
  const llmem_matvec_job base = {.format = format, .cols = cols, .x = x,
                                 .row_bytes = cols / (size_t)f->block_size * f->block_bytes};
  matvec_parts_job m = {.parts = parts};
  for (size_t p = 0; p < parts; p++) m.part[p] = base;
  if (f->vec_dot_format != LLMEM_F32) {
    /* x in the vec_dot format (its blocks after cols/32 floats of scratch); for Q8_0 the floats
     * hold its block scales as f32, so the AVX2 rows do not convert them per row. */
    if (!scratch || cols % LLMEM_QK) return -1;
    uint8_t *xq = (uint8_t *)scratch + cols / 32 * sizeof(float);
    llmem_format_kernels_active[f->vec_dot_format].from_float(x, xq, cols);
    float *xd = NULL;
    if (f->vec_dot_format == LLMEM_Q8_0) {
      xd = scratch;
      for (size_t b = 0; b < cols / 32; b++) xd[b] = scale_at(xq + b * Q8_0_BYTES);
    }
    for (size_t p = 0; p < parts; p++) m.part[p].xq = xq, m.part[p].xd = xd;
  }
  size_t bytes = 0;
  for (size_t p = 0; p < parts; p++) {
    llmem_matvec_job *j = &m.part[p];
    j->w = w[p], j->rows = rows[p], j->y = y[p];
    j->streams = j->rows * j->row_bytes >= STREAMING_MATRIX_BYTES;
    m.base[p + 1] = m.base[p] + ((j->rows + 3) & ~(size_t)3);
    bytes += j->rows * j->row_bytes;
  }
  const size_t total = m.base[parts];
  if (total == 0) return 0;
  /* A few tasks per thread, so a thread slowed by other load hands rows to the others. Matrices
   * under SMALL_MATRIX_BYTES in all run on the calling thread (a hand-off to a spinning worker
   * costs ~1 µs). Measured (steady-state decode, 2 threads, paired runs): lowering the bound from
   * 128 KB to 16 KB, so that stories15M-shaped layer matrices (46-124 KB) split too, took
   * s15m q4_0 from 897-1014 to 809-867 µs per token; 1-thread runs are unaffected. */
  const size_t threads = bytes < SMALL_MATRIX_BYTES ? 1 : (size_t)llmem_get_threads();
  const size_t tasks = threads == 1 ? 1 : threads * 4 < total / 4 ? threads * 4 : total / 4;
  m.chunk = ((total + tasks - 1) / tasks + 3) & ~(size_t)3; /* whole groups of four rows per task */
  llmem_pool_run(matvec_parts_rows, &m, (total + m.chunk - 1) / m.chunk);
  return 0;
}

int llmem_matvec(int format, const void *w, size_t rows, size_t cols, const float *x, float *y, void *scratch) {
  return llmem_matvec_parts(format, cols, x, scratch, 1, &w, &rows, &y);
}

LLMEM_SCALAR uint64_t read_bytes_scalar(const uint8_t *p, size_t bytes) {
  uint64_t sum = 0;
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, 8);
    sum += v;
  }
  for (; i < bytes; i++) sum += p[i];
  return sum;
}

#if LLMEM_X86
LLMEM_AVX2 uint64_t read_bytes_avx2(const uint8_t *p, size_t bytes) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 128 <= bytes; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256((const __m256i *)(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256((const __m256i *)(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_loadu_si256((const __m256i *)(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_loadu_si256((const __m256i *)(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  uint64_t lanes[4];
  _mm256_storeu_si256((__m256i *)lanes, s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + read_bytes_scalar(p + i, bytes - i);
}
#endif

#if LLMEM_ARM
uint64_t read_bytes_neon(const uint8_t *p, size_t bytes) {
  uint64x2_t a0 = vdupq_n_u64(0), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 64 <= bytes; i += 64) {
    a0 = vaddq_u64(a0, vld1q_u64((const uint64_t *)(const void *)(p + i)));
    a1 = vaddq_u64(a1, vld1q_u64((const uint64_t *)(const void *)(p + i + 16)));
    a2 = vaddq_u64(a2, vld1q_u64((const uint64_t *)(const void *)(p + i + 32)));
    a3 = vaddq_u64(a3, vld1q_u64((const uint64_t *)(const void *)(p + i + 48)));
  }
  return vaddvq_u64(vaddq_u64(vaddq_u64(a0, a1), vaddq_u64(a2, a3))) + read_bytes_scalar(p + i, bytes - i);
}
#endif

uint64_t llmem_read_bytes(const void *p, size_t bytes) { return llmem_isa_kernels_active.read_bytes(p, bytes); }
