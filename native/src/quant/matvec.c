/* y = W x over f32, f16, Q8_0 and Q4_0 rows, rows split over the thread pool; and the plain
 * read the benchmarks measure memory bandwidth with. */
#include "quant_internal.h"

typedef struct {
  int format;
  const uint8_t *w;
  size_t rows, cols, row_bytes, chunk;
  const float *x;
  const uint8_t *xq; /* x as Q8_0 for the block formats */
  float *y;
} matvec_job;

static void matvec_rows(void *ctx, size_t task) {
  const matvec_job *j = ctx;
  const size_t r0 = task * j->chunk, r1 = r0 + j->chunk < j->rows ? r0 + j->chunk : j->rows;
  const uint8_t *row = j->w + r0 * j->row_bytes;
  for (size_t r = r0; r < r1; r++, row += j->row_bytes) {
    switch (j->format) {
    case LLMEM_F32: j->y[r] = llmem_dot_f32((const float *)row, j->x, j->cols); break;
    case LLMEM_F16: j->y[r] = llmem_dot_f16_f32((const uint16_t *)row, j->x, j->cols); break;
    case LLMEM_Q8_0: j->y[r] = llmem_dot_q8_0_q8_0(row, j->xq, j->cols); break;
    default: j->y[r] = llmem_dot_q4_0_q8_0(row, j->xq, j->cols); break;
    }
  }
}

int llmem_matvec(int format, const void *w, size_t rows, size_t cols, const float *x, float *y, void *scratch) {
  matvec_job j = {.format = format, .w = w, .rows = rows, .cols = cols, .x = x, .xq = scratch, .y = y};
  switch (format) {
  case LLMEM_F32: j.row_bytes = cols * 4; break;
  case LLMEM_F16: j.row_bytes = cols * 2; break;
  case LLMEM_Q8_0:
  case LLMEM_Q4_0:
    if (cols % LLMEM_QK || !scratch) return -1;
    j.row_bytes = cols / 32 * (format == LLMEM_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES);
    llmem_quantize_q8_0(x, scratch, cols);
    break;
  default: return -1;
  }
  /* A few tasks per thread, so a thread slowed by other load hands rows to the others. */
  const size_t threads = (size_t)llmem_get_threads();
  const size_t tasks = threads == 1 ? 1 : threads * 4 < rows ? threads * 4 : rows;
  j.chunk = (rows + tasks - 1) / tasks;
  llmem_pool_run(matvec_rows, &j, tasks);
  return 0;
}

LLMEM_SCALAR static uint64_t read_bytes_scalar(const uint8_t *p, size_t bytes) {
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
LLMEM_AVX2 static uint64_t read_bytes_avx2(const uint8_t *p, size_t bytes) {
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
static uint64_t read_bytes_neon(const uint8_t *p, size_t bytes) {
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

uint64_t llmem_read_bytes(const void *p, size_t bytes) {
  switch (llmem_active_isa()) {
#if LLMEM_X86
  case LLMEM_ISA_AVX2: return read_bytes_avx2(p, bytes);
#endif
#if LLMEM_ARM
  case LLMEM_ISA_NEON: return read_bytes_neon(p, bytes);
#endif
  default: return read_bytes_scalar(p, bytes);
  }
}
