/* Q8_0/Q4_0/Q5_0/Q4_K/Q6_K matvec and matmul against the scalar reference, bit for bit, on every
 * ISA whose kernels fold each block as the scalar reference does: NEON for all five (matmul_neon.c,
 * q4_k.c, q6_k.c; with and without SDOT: run by test-neon and test-neon-dotprod), AVX2 for Q5_0
 * and the K-quants. Row counts that are
 * not a multiple of the four-row group, token counts that are not a multiple of the tile, 1..3
 * threads, and weight blocks of raw random bytes (every level, Q8_0's -128 included, which no
 * quantizer writes but a file may hold). */
#include "harness.h"

static int exact_on(int isa, int fmt) {
  return isa == LLMEM_ISA_SCALAR || isa == LLMEM_ISA_NEON || (fmt != LLMEM_Q8_0 && fmt != LLMEM_Q4_0);
}

/* The formats, their column counts (whole blocks) and their blocks' fp16 scale offsets. */
static const struct {
  int fmt;
  size_t cols[3];
  size_t scales[2], nscales;
} FORMATS[] = {{LLMEM_Q8_0, {32, 96, 288}, {0}, 1},
               {LLMEM_Q4_0, {32, 96, 288}, {0}, 1},
               {LLMEM_Q5_0, {32, 96, 288}, {0}, 1},
               {LLMEM_Q4_K, {256, 512, 768}, {0, 2}, 2},
               {LLMEM_Q6_K, {256, 512, 768}, {208}, 1}};

/* rows × cols of FORMATS[f]: random block bytes, each fp16 scale (d, Q4_K's dmin) a random finite value. */
static void random_blocks(size_t f, uint8_t *w, size_t rows, size_t cols) {
  const int fmt = FORMATS[f].fmt;
  uint32_t desc[LLMEM_FORMAT_FIELDS];
  llmem_format_describe(fmt, desc);
  const size_t blocks = rows * cols / desc[0], bytes = desc[1];
  for (size_t b = 0; b < blocks; b++) {
    uint8_t *blk = w + b * bytes;
    for (size_t i = 0; i < bytes; i++) blk[i] = (uint8_t)t_rand_u32();
    for (size_t k = 0; k < FORMATS[f].nscales; k++) {
      const float d = t_rand_f32(-0.02f, 0.02f);
      uint16_t h;
      llmem_f32_to_f16(&d, &h, 1);
      memcpy(blk + FORMATS[f].scales[k], &h, 2);
    }
  }
}

int main(void) {
  const int nisa = t_isa_count();
  const size_t row_counts[] = {1, 2, 3, 5, 6, 7, 9, 33};
  const size_t token_counts[] = {1, 2, 3, 5, 6, 7, 9, 17};
  const size_t nmax = 17, rmax = 33, cmax = 768;
  float *x = malloc(nmax * cmax * 4), *want = malloc(nmax * rmax * 4), *got = malloc(nmax * rmax * 4);
  float *mv = malloc(rmax * 4);
  size_t stride = 0; /* the largest per-token scratch of any format here (matvec needs no more) */
  for (size_t f = 0; f < sizeof FORMATS / sizeof FORMATS[0]; f++) {
    const size_t s = llmem_matmul_scratch_stride(FORMATS[f].fmt, FORMATS[f].cols[2]);
    stride = s > stride ? s : stride;
  }
  uint8_t *w = malloc(rmax * cmax / 32 * 34), *scratch = malloc(nmax * stride), *vscratch = malloc(stride);
  for (size_t i = 0; i < nmax * cmax; i++) x[i] = t_rand_f32(-1, 1);
  int compared = 0;
  for (size_t f = 0; f < sizeof FORMATS / sizeof FORMATS[0]; f++)
    for (size_t ci = 0; ci < 3; ci++)
      for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++) {
        const int fmt = FORMATS[f].fmt;
        const size_t rows = row_counts[ri], cols = FORMATS[f].cols[ci];
        random_blocks(f, w, rows, cols);
        for (size_t ti = 0; ti < sizeof token_counts / sizeof token_counts[0]; ti++) {
          const size_t n = token_counts[ti];
          llmem_set_isa(LLMEM_ISA_SCALAR);
          llmem_set_threads(1);
          CHECK(llmem_matmul(fmt, w, rows, cols, x, n, want, scratch) == 0, "scalar matmul %s", llmem_format_name(fmt));
          for (int k = 0; k < nisa; k++) {
            if (!exact_on(t_isas[k], fmt)) continue;
            llmem_set_isa(t_isas[k]);
            for (int threads = 1; threads <= 3; threads++) {
              llmem_set_threads(threads);
              for (size_t i = 0; i < n * rows; i++) got[i] = NAN;
              CHECK(llmem_matmul(fmt, w, rows, cols, x, n, got, scratch) == 0, "matmul");
              CHECK(memcmp(got, want, n * rows * 4) == 0, "%s %s matmul %zux%zu n=%zu threads=%d: not the scalar bits",
                    llmem_isa_name(t_isas[k]), llmem_format_name(fmt), rows, cols, n, threads);
              compared++;
            }
            /* matvec, token by token: the same bits as matmul's row of that token */
            llmem_set_threads(1);
            for (size_t t = 0; t < n; t++) {
              for (size_t r = 0; r < rows; r++) mv[r] = NAN;
              CHECK(llmem_matvec(fmt, w, rows, cols, x + t * cols, mv, vscratch) == 0, "matvec");
              CHECK(memcmp(mv, want + t * rows, rows * 4) == 0, "%s %s matvec %zux%zu token %zu: not the scalar bits",
                    llmem_isa_name(t_isas[k]), llmem_format_name(fmt), rows, cols, t);
            }
          }
        }
      }
  llmem_set_threads(1);
  /* On an AArch64 build (test-neon, test-neon-dotprod) the NEON kernels were among those compared. */
  CHECK(compared > 0, "no ISA compared");
  if (llmem_detect_isa() == LLMEM_ISA_NEON) CHECK(nisa == 2 && t_isas[1] == LLMEM_ISA_NEON, "NEON compared");
  free(x), free(want), free(got), free(mv), free(w), free(scratch), free(vscratch);
  return t_finish("matmul_exact");
}
