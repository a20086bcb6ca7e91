/* matvec over f32/f16/Q8_0/Q4_0 rows, every ISA and 1..4 threads, against the scalar path. */
#include "quant_test_util.h"
#include "../src/formats.h" /* llmem_use_vnni: internal */

int main(void) {
  const int nisa = t_isa_count();
  const size_t shapes[][2] = {{1, 32}, {3, 64}, {17, 96}, {64, 256}, {257, 1024}};
  const int formats[] = {LLMEM_F32, LLMEM_F16, LLMEM_Q8_0, LLMEM_Q4_0};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    const size_t rows = shapes[s][0], cols = shapes[s][1];
    float *wf = malloc(rows * cols * 4), *x = malloc(cols * 4), *want = malloc(rows * 4), *got = malloc(rows * 4);
    uint8_t *w = malloc(rows * cols * 4), *scratch = malloc(cols / 32 * 38);
    for (size_t i = 0; i < rows * cols; i++) wf[i] = t_rand_f32(-1, 1);
    for (size_t i = 0; i < cols; i++) x[i] = t_rand_f32(-1, 1);
    for (int f = 0; f < 4; f++) {
      const int fmt = formats[f];
      llmem_set_isa(LLMEM_ISA_SCALAR);
      if (fmt == LLMEM_F32) memcpy(w, wf, rows * cols * 4);
      else if (fmt == LLMEM_F16) llmem_f32_to_f16(wf, (uint16_t *)(void *)w, rows * cols);
      else llmem_quantize(fmt, wf, w, rows * cols);
      CHECK(llmem_matvec(fmt, w, rows, cols, x, want, scratch) == 0, "matvec %s", QT_NAMES[fmt]);
      for (int threads = 1; threads <= 4; threads++) {
        CHECK(llmem_set_threads(threads) == 0 && llmem_get_threads() == threads, "set threads %d", threads);
        for (int k = 0; k < nisa; k++) {
          llmem_set_isa(t_isas[k]);
          for (size_t r = 0; r < rows; r++) got[r] = NAN;
          llmem_matvec(fmt, w, rows, cols, x, got, scratch);
          double worst = 0;
          for (size_t r = 0; r < rows; r++) {
            const double e = fabs((double)got[r] - want[r]);
            worst = isnan(e) ? INFINITY : e > worst ? e : worst;
          }
          const double tol = t_isas[k] == LLMEM_ISA_SCALAR ? 0 : 1e-5 * (double)cols;
          CHECK(worst <= tol, "%s %s %zux%zu threads=%d: error %g", llmem_isa_name(t_isas[k]), QT_NAMES[fmt], rows,
                cols, threads, worst);
        }
      }
      llmem_set_threads(1);
    }
    CHECK(llmem_matvec(LLMEM_Q8_0, w, rows, cols + 1, x, got, scratch) == -1, "partial block cols refused");
    CHECK(llmem_matvec(LLMEM_Q4_1, w, rows, cols, x, got, scratch) == -1, "q4_1 rows are not a matvec format");
    free(wf), free(x), free(want), free(got), free(w), free(scratch);
  }
  /* On a CPU with AVX-512 VNNI the AVX2 ISA's Q8_0/Q4_0 rows take their integer sums from
   * dpbusd: the plain AVX2 kernel must give the same bits (both sums are exact). */
  if (llmem_detect_isa() == LLMEM_ISA_AVX2 && llmem_use_vnni(1) == 0) {
    const size_t rows = 37, cols = 320;
    float *wf = malloc(rows * cols * 4), *x = malloc(cols * 4), *a = malloc(rows * 4), *b = malloc(rows * 4);
    uint8_t *w = malloc(rows * cols / 32 * 34), *scratch = malloc(cols / 32 * 38);
    for (size_t i = 0; i < rows * cols; i++) wf[i] = t_rand_f32(-1, 1);
    for (size_t i = 0; i < cols; i++) x[i] = t_rand_f32(-1, 1);
    llmem_set_isa(LLMEM_ISA_AVX2);
    const int qf[] = {LLMEM_Q8_0, LLMEM_Q4_0};
    for (int f = 0; f < 2; f++) {
      llmem_quantize(qf[f], wf, w, rows * cols);
      llmem_use_vnni(1);
      llmem_matvec(qf[f], w, rows, cols, x, a, scratch);
      llmem_use_vnni(0);
      llmem_matvec(qf[f], w, rows, cols, x, b, scratch);
      CHECK(memcmp(a, b, rows * 4) == 0, "%s: VNNI and plain AVX2 matvec give the same bits", QT_NAMES[qf[f]]);
    }
    llmem_use_vnni(1);
    free(wf), free(x), free(a), free(b), free(w), free(scratch);
  } else {
    CHECK(llmem_use_vnni(0) == 0, "turning VNNI off always works");
  }
  /* Restarting the pool between jobs must never replay an old job (its context is gone). The
   * matrix is above the size matvec keeps on the calling thread, so the pool really runs it. */
  {
    const size_t rows = 2049, cols = 64;
    float *wf = malloc(rows * cols * 4), *x = malloc(cols * 4), *want = malloc(rows * 4), *got = malloc(rows * 4);
    uint8_t *w = malloc(rows * cols / 32 * 34), *scratch = malloc(cols / 32 * 38);
    for (size_t i = 0; i < rows * cols; i++) wf[i] = t_rand_f32(-1, 1);
    for (size_t i = 0; i < cols; i++) x[i] = t_rand_f32(-1, 1);
    llmem_quantize(LLMEM_Q8_0, wf, w, rows * cols);
    llmem_set_threads(1);
    llmem_matvec(LLMEM_Q8_0, w, rows, cols, x, want, scratch);
    int bad = 0;
    for (int i = 0; i < 200; i++) {
      llmem_set_threads(1 + i % 4);
      for (int k = 0; k < 3; k++) {
        for (size_t r = 0; r < rows; r++) got[r] = NAN;
        llmem_matvec(LLMEM_Q8_0, w, rows, cols, x, got, scratch);
        bad += memcmp(got, want, rows * 4) != 0;
      }
    }
    CHECK(bad == 0, "%d of 600 matvecs after pool restarts differ", bad);
    llmem_set_threads(1);
    free(wf), free(x), free(want), free(got), free(w), free(scratch);
  }
  /* Row results never depend on the thread count (a decode with 2 threads gives the tokens of
   * 1): every format and ISA, a pool-sized matrix whose row count leaves a short last group. */
  {
    const size_t rows = 1027, cols = 256;
    float *wf = malloc(rows * cols * 4), *x = malloc(cols * 4), *want = malloc(rows * 4), *got = malloc(rows * 4);
    uint8_t *w = malloc(rows * cols * 4), *scratch = malloc(cols / 32 * 38);
    for (size_t i = 0; i < rows * cols; i++) wf[i] = t_rand_f32(-1, 1);
    for (size_t i = 0; i < cols; i++) x[i] = t_rand_f32(-1, 1);
    for (int f = 0; f < 4; f++) {
      const int fmt = formats[f];
      if (fmt == LLMEM_F32) memcpy(w, wf, rows * cols * 4);
      else if (fmt == LLMEM_F16) llmem_f32_to_f16(wf, (uint16_t *)(void *)w, rows * cols);
      else llmem_quantize(fmt, wf, w, rows * cols);
      for (int k = 0; k < nisa; k++) {
        llmem_set_isa(t_isas[k]);
        llmem_set_threads(1);
        llmem_matvec(fmt, w, rows, cols, x, want, scratch);
        for (int threads = 2; threads <= 3; threads++) {
          llmem_set_threads(threads);
          for (size_t r = 0; r < rows; r++) got[r] = NAN;
          llmem_matvec(fmt, w, rows, cols, x, got, scratch);
          CHECK(memcmp(got, want, rows * 4) == 0, "%s %s: %d threads give the bits of 1", llmem_isa_name(t_isas[k]),
                QT_NAMES[fmt], threads);
        }
      }
    }
    llmem_set_threads(1);
    free(wf), free(x), free(want), free(got), free(w), free(scratch);
  }
  CHECK(llmem_set_threads(0) == -1 && llmem_set_threads(65) == -1, "thread count limits");
  CHECK(llmem_get_threads() == 1, "threads unchanged after a refused count");
  /* the bandwidth baseline reads every byte */
  uint8_t buf[300];
  uint64_t sum = 0;
  for (int i = 0; i < 300; i++) buf[i] = (uint8_t)i, sum += (uint64_t)i;
  for (int k = 0; k < nisa; k++) {
    llmem_set_isa(t_isas[k]);
    (void)llmem_read_bytes(buf, 300);
    CHECK(llmem_read_bytes(buf, 5) == 0 + 1 + 2 + 3 + 4, "read_bytes tail");
  }
  (void)sum;
  return t_finish("matvec");
}
