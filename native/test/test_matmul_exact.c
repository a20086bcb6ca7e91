/* Q8_0/Q4_0/Q5_0 matvec and matmul against the scalar reference, bit for bit, on every ISA whose
 * kernels fold each block as the scalar reference does: NEON for all three (matmul_neon.c, with
 * and without SDOT: run by test-neon and test-neon-dotprod), AVX2 for Q5_0. Row counts that are
 * not a multiple of the four-row group, token counts that are not a multiple of the tile, 1..3
 * threads, and weight blocks of raw random bytes (every level, Q8_0's -128 included, which no
 * quantizer writes but a file may hold). */
#include "quant_test_util.h"

static int exact_on(int isa, int fmt) { return isa == LLMEM_ISA_SCALAR || isa == LLMEM_ISA_NEON || fmt == LLMEM_Q5_0; }

/* rows × cols of format fmt: random block bytes, each block's fp16 scale a random finite value. */
static void random_blocks(int fmt, uint8_t *w, size_t rows, size_t cols) {
  uint32_t desc[LLMEM_FORMAT_FIELDS];
  llmem_format_describe(fmt, desc);
  const size_t blocks = rows * cols / desc[0], bytes = desc[1];
  for (size_t b = 0; b < blocks; b++) {
    uint8_t *blk = w + b * bytes;
    for (size_t i = 0; i < bytes; i++) blk[i] = (uint8_t)t_rand_u32();
    const float d = t_rand_f32(-0.02f, 0.02f);
    uint16_t h;
    llmem_f32_to_f16(&d, &h, 1);
    memcpy(blk, &h, 2);
  }
}

int main(void) {
  const int nisa = t_isa_count();
  const int formats[] = {LLMEM_Q8_0, LLMEM_Q4_0, LLMEM_Q5_0};
  const size_t row_counts[] = {1, 2, 3, 5, 6, 7, 9, 33};
  const size_t col_counts[] = {32, 96, 288};
  const size_t token_counts[] = {1, 2, 3, 5, 6, 7, 9, 17};
  const size_t nmax = 17, rmax = 33, cmax = 288;
  float *x = malloc(nmax * cmax * 4), *want = malloc(nmax * rmax * 4), *got = malloc(nmax * rmax * 4);
  float *mv = malloc(rmax * 4);
  uint8_t *w = malloc(rmax * cmax / 32 * 34), *scratch = malloc(nmax * llmem_matmul_scratch_stride(LLMEM_Q8_0, cmax));
  uint8_t *vscratch = malloc(cmax / 32 * 38);
  for (size_t i = 0; i < nmax * cmax; i++) x[i] = t_rand_f32(-1, 1);
  int compared = 0;
  for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++)
    for (size_t ci = 0; ci < sizeof col_counts / sizeof col_counts[0]; ci++)
      for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++) {
        const int fmt = formats[f];
        const size_t rows = row_counts[ri], cols = col_counts[ci];
        random_blocks(fmt, w, rows, cols);
        for (size_t ti = 0; ti < sizeof token_counts / sizeof token_counts[0]; ti++) {
          const size_t n = token_counts[ti];
          llmem_set_isa(LLMEM_ISA_SCALAR);
          llmem_set_threads(1);
          CHECK(llmem_matmul(fmt, w, rows, cols, x, n, want, scratch) == 0, "scalar matmul %s", QT_NAMES[fmt]);
          for (int k = 0; k < nisa; k++) {
            if (!exact_on(t_isas[k], fmt)) continue;
            llmem_set_isa(t_isas[k]);
            for (int threads = 1; threads <= 3; threads++) {
              llmem_set_threads(threads);
              for (size_t i = 0; i < n * rows; i++) got[i] = NAN;
              CHECK(llmem_matmul(fmt, w, rows, cols, x, n, got, scratch) == 0, "matmul");
              CHECK(memcmp(got, want, n * rows * 4) == 0, "%s %s matmul %zux%zu n=%zu threads=%d: not the scalar bits",
                    llmem_isa_name(t_isas[k]), QT_NAMES[fmt], rows, cols, n, threads);
              compared++;
            }
            /* matvec, token by token: the same bits as matmul's row of that token */
            llmem_set_threads(1);
            for (size_t t = 0; t < n; t++) {
              for (size_t r = 0; r < rows; r++) mv[r] = NAN;
              CHECK(llmem_matvec(fmt, w, rows, cols, x + t * cols, mv, vscratch) == 0, "matvec");
              CHECK(memcmp(mv, want + t * rows, rows * 4) == 0, "%s %s matvec %zux%zu token %zu: not the scalar bits",
                    llmem_isa_name(t_isas[k]), QT_NAMES[fmt], rows, cols, t);
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
