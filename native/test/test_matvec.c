/* matvec over f32/f16/Q8_0/Q4_0 rows, every ISA and 1..4 threads, against the scalar path. */
#include "quant_test_util.h"
#include "../src/formats.h" /* llmem_use_vnni: internal */

/* llmem_matvec_parts against llmem_matvec per part, bit for bit: every matrix format, ISA (with
 * and without VNNI), 1..3 threads; part row counts off a multiple of four, and parts large enough
 * to be split over the pool (their tasks cut across part boundaries). */
static void parts_match_matvec(void) {
  const int has_vnni = llmem_use_vnni(1) == 0;
  const int formats[] = {LLMEM_F32, LLMEM_F16, LLMEM_Q8_0, LLMEM_Q4_0, LLMEM_Q5_0, LLMEM_Q4_K, LLMEM_Q6_K, LLMEM_IQ4_XS};
  const size_t sets[][3] = {{5, 3, 7}, {300, 129, 64}, {1, 0, 2}};
  const size_t cols = 1024;
  float *x = malloc(cols * 4), *want = malloc(512 * 4), *got = malloc(512 * 4);
  uint8_t *scratch = malloc(cols / 32 * 4 + cols / 256 * 292 + cols / 32 * 34);
  for (size_t i = 0; i < cols; i++) x[i] = t_rand_f32(-1, 1);
  for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++)
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
      const int fmt = formats[f];
      uint32_t d[LLMEM_FORMAT_FIELDS];
      llmem_format_describe(fmt, d);
      const size_t row_bytes = cols / d[0] * d[1];
      const void *w[3];
      size_t rows[3], off[4] = {0};
      float *y[3];
      for (int p = 0; p < 3; p++) rows[p] = sets[s][p], off[p + 1] = off[p] + rows[p];
      float *wf = malloc(off[3] * cols * 4);
      uint8_t *wq = malloc(off[3] * row_bytes + 1);
      for (size_t i = 0; i < off[3] * cols; i++) wf[i] = t_rand_f32(-1, 1);
      llmem_set_isa(LLMEM_ISA_SCALAR);
      if (fmt == LLMEM_F32) memcpy(wq, wf, off[3] * cols * 4);
      else if (fmt == LLMEM_F16) llmem_f32_to_f16(wf, (uint16_t *)(void *)wq, off[3] * cols);
      else llmem_quantize(fmt, wf, wq, off[3] * cols);
      for (int p = 0; p < 3; p++) w[p] = wq + off[p] * row_bytes, y[p] = got + off[p];
      for (int k = 0; k < t_isa_count(); k++)
        for (int vnni = t_isas[k] == LLMEM_ISA_AVX2 && has_vnni; vnni >= 0; vnni--)
          for (int threads = 1; threads <= 3; threads++) {
            llmem_set_isa(t_isas[k]);
            llmem_use_vnni(vnni);
            llmem_set_threads(threads);
            for (int p = 0; p < 3; p++) llmem_matvec(fmt, w[p], rows[p], cols, x, want + off[p], scratch);
            for (size_t r = 0; r < off[3]; r++) got[r] = NAN;
            const int rc = llmem_matvec_parts(fmt, cols, x, scratch, 3, w, rows, y);
            CHECK(rc == 0 && memcmp(got, want, off[3] * 4) == 0, "%s%s %s parts %zu/%zu/%zu threads %d: rc %d, rows differ from matvec",
                  llmem_isa_name(t_isas[k]), vnni ? "+vnni" : "", llmem_format_name(fmt), rows[0], rows[1], rows[2],
                  threads, rc);
          }
      free(wf), free(wq);
    }
  const void *w4[4] = {x, x, x, x};
  const size_t r4[4] = {1, 1, 1, 1};
  float *y4[4] = {got, got, got, got};
  CHECK(llmem_matvec_parts(LLMEM_F32, 32, x, NULL, 0, w4, r4, y4) == -1, "no parts refused");
  CHECK(llmem_matvec_parts(LLMEM_F32, 32, x, NULL, 4, w4, r4, y4) == -1, "four parts refused");
  llmem_set_threads(1);
  llmem_use_vnni(has_vnni);
  llmem_set_isa(llmem_detect_isa());
  free(x), free(want), free(got), free(scratch);
}

int main(void) {
  parts_match_matvec();
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
