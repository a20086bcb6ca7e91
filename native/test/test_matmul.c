/* llmem_matmul (batched prefill) against llmem_matvec token by token, and llmem_matmul_parts
 * against llmem_matmul: every matrix format,
 * every ISA (on AVX2 with and without its AVX-512 VNNI tiles when the CPU has them), 1..3
 * threads, chunks whose token and row counts leave short last tiles. */
#include "../src/formats.h" /* llmem_use_vnni: internal */
#include "quant_test_util.h"

static const char *fname(int f) { return (void)QT_NAMES, llmem_format_name(f); }

int main(void) {
  const int nisa = t_isa_count();
  const int has_vnni = llmem_use_vnni(1) == 0;
  /* {5, 37}: f32/f16 only (a column tail past the tiles' vector steps) */
  const size_t shapes[][2] = {{1, 32}, {3, 64}, {17, 96}, {64, 256}, {70, 768}, {257, 1024}, {5, 37}};
  const size_t counts[] = {1, 2, 3, 5, 8, 17, 40}; /* 40: two of the transposed tile's 32-token passes, the last short */
  const int formats[] = {LLMEM_F32, LLMEM_F16, LLMEM_Q8_0, LLMEM_Q4_0, LLMEM_Q4_K, LLMEM_Q6_K, LLMEM_Q5_0};
  const size_t nmax = 40;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    const size_t rows = shapes[s][0], cols = shapes[s][1];
    float *wf = malloc(rows * cols * 4), *x = malloc(nmax * cols * 4);
    float *want = malloc(nmax * rows * 4), *got = malloc(nmax * rows * 4), *parts_y = malloc(3 * nmax * rows * 4);
    uint8_t *w = malloc(rows * cols * 4), *vscratch = malloc(cols / 32 * 38 + 400);
    for (size_t i = 0; i < rows * cols; i++) wf[i] = t_rand_f32(-1, 1);
    for (size_t i = 0; i < nmax * cols; i++) x[i] = t_rand_f32(-1, 1);
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
      const int fmt = formats[f];
      uint32_t desc[LLMEM_FORMAT_FIELDS];
      llmem_format_describe(fmt, desc);
      if (cols % desc[0]) continue;
      llmem_set_isa(LLMEM_ISA_SCALAR);
      if (fmt == LLMEM_F32) memcpy(w, wf, rows * cols * 4);
      else if (fmt == LLMEM_F16) llmem_f32_to_f16(wf, (uint16_t *)(void *)w, rows * cols);
      else llmem_quantize(fmt, wf, w, rows * cols);
      const size_t stride = llmem_matmul_scratch_stride(fmt, cols);
      CHECK(stride % 64 == 0 && (fmt == LLMEM_F32 || fmt == LLMEM_F16 ? stride == 0 : stride >= cols),
            "%s scratch stride %zu", fname(fmt), stride);
      uint8_t *scratch = stride ? malloc(nmax * stride) : NULL;
      for (int k = 0; k < nisa; k++)
        for (int vnni = t_isas[k] == LLMEM_ISA_AVX2 && has_vnni; vnni >= 0; vnni--) {
          llmem_set_isa(t_isas[k]);
          llmem_use_vnni(vnni);
          const int exact = t_isas[k] == LLMEM_ISA_SCALAR || (fmt != LLMEM_F32 && fmt != LLMEM_F16);
          for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            const size_t n = counts[c];
            llmem_set_threads(1);
            for (size_t t = 0; t < n; t++) llmem_matvec(fmt, w, rows, cols, x + t * cols, want + t * rows, vscratch);
            for (int threads = 1; threads <= 3; threads++) {
              llmem_set_threads(threads);
              for (size_t i = 0; i < n * rows; i++) got[i] = NAN;
              CHECK(llmem_matmul(fmt, w, rows, cols, x, n, got, scratch) == 0, "matmul %s", fname(fmt));
              double worst = 0;
              for (size_t i = 0; i < n * rows; i++) {
                const double e = fabs((double)got[i] - want[i]);
                worst = isnan(e) ? INFINITY : e > worst ? e : worst;
              }
              /* f32/f16 tiles keep one accumulator per pair where matvec keeps four. */
              const double tol = exact ? 0 : 1e-6 * (double)cols;
              CHECK(worst <= tol, "%s%s %s %zux%zu n=%zu threads=%d: error %g vs matvec", llmem_isa_name(t_isas[k]),
                    vnni ? "+vnni" : "", fname(fmt), rows, cols, n, threads, worst);
              /* With and without the VNNI kernels (8-row tiles, dpbusd, 8 × 3 f32/f16 tiles): the same bits. */
              if (vnni) {
                llmem_use_vnni(0);
                for (size_t i = 0; i < n * rows; i++) parts_y[i] = NAN;
                llmem_matmul(fmt, w, rows, cols, x, n, parts_y, scratch);
                llmem_use_vnni(1);
                CHECK(memcmp(parts_y, got, n * rows * sizeof(float)) == 0, "%s %zux%zu n=%zu threads=%d: VNNI changes the bits",
                      fname(fmt), rows, cols, n, threads);
              }
              /* The same rows as three parts of one llmem_matmul_parts call (some empty when rows < 3):
               * each part's Y is exactly its rows of the whole matmul's. (At 2 threads only: the
               * parts share the pool as one job; qemu's NEON run is the slowest of CI's steps.) */
              if (threads != 2) continue;
              const size_t cut[4] = {0, rows / 3, 2 * rows / 3, rows}, row_bytes = cols / desc[0] * desc[1];
              const void *pw[3];
              size_t prows[3];
              float *py[3];
              for (int p = 0; p < 3; p++) {
                pw[p] = w + cut[p] * row_bytes, prows[p] = cut[p + 1] - cut[p];
                py[p] = parts_y + p * nmax * rows;
                for (size_t i = 0; i < n * prows[p]; i++) py[p][i] = NAN;
              }
              CHECK(llmem_matmul_parts(fmt, cols, x, n, scratch, 3, pw, prows, py) == 0, "matmul parts %s", fname(fmt));
              size_t differ = 0;
              for (int p = 0; p < 3; p++)
                for (size_t t = 0; t < n; t++)
                  differ += memcmp(py[p] + t * prows[p], got + t * rows + cut[p], prows[p] * sizeof(float)) != 0;
              CHECK(differ == 0, "%s%s %s %zux%zu n=%zu threads=%d: %zu part rows differ from matmul",
                    llmem_isa_name(t_isas[k]), vnni ? "+vnni" : "", fname(fmt), rows, cols, n, threads, differ);
            }
          }
        }
      /* Refusals: a missing scratch where x must be quantized, partial blocks, non-matrix rows. */
      if (stride) CHECK(llmem_matmul(fmt, w, rows, cols, x, 2, got, NULL) == -1, "%s without scratch", fname(fmt));
      if (desc[0] > 1)
        CHECK(llmem_matmul(fmt, w, rows, cols + 1, x, 2, got, scratch) == -1, "%s partial block", fname(fmt));
      free(scratch);
    }
    CHECK(llmem_matmul(LLMEM_Q4_1, w, rows, cols, x, 1, got, vscratch) == -1, "q4_1 rows are not a matmul format");
    {
      const void *pw[4] = {w, w, w, w};
      const size_t pr[4] = {rows, rows, rows, rows};
      float *py[4] = {got, got, got, got};
      CHECK(llmem_matmul_parts(LLMEM_F32, cols, x, 1, NULL, 0, pw, pr, py) == -1, "no parts");
      CHECK(llmem_matmul_parts(LLMEM_F32, cols, x, 1, NULL, 4, pw, pr, py) == -1, "four parts");
    }
    if (cols % 32 == 0) CHECK(llmem_matmul(LLMEM_Q8_0, w, rows, cols, x, 0, got, vscratch) == 0, "n = 0 is a no-op");
    llmem_set_threads(1);
    free(wf), free(x), free(want), free(got), free(parts_y), free(w), free(vscratch);
  }
  llmem_use_vnni(has_vnni);
  printf("matmul tiles ran on %s%s (against matvec on the same ISA)\n", llmem_isa_name(t_isas[nisa - 1]),
         has_vnni ? ", with and without VNNI" : "");
  return t_finish("matmul");
}
