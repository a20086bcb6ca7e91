/* NEON per-row vs multi-row kernels, for an estimate under qemu (a dev tool, not a test, and not
 * a measurement of any real AArch64 CPU): one W (rows × cols, default 768 × 288, stories15M's
 * w1 shape) of one format against n tokens (default 128), by
 *   rows     the format's vec_dot per (row, token): matmul_range_generic, what NEON ran before
 *   tiled    llmem_matmul's NEON kernels (matmul_neon.c: 4 rows × 4 tokens per tile)
 *   mv-rows  llmem_matvec once per token through the vec_dot per row (matvec_range_generic)
 *   mv-tiled llmem_matvec once per token, four rows per pass (matvec_range_neon)
 * Usage: bench MODE [format rows cols n reps]; MODE "time" runs every mode interleaved for
 * `reps` rounds and prints medians (wall time inside qemu) and ratios to "rows". One thread.
 * run.sh builds it for AArch64 (with and without the dot-product extension) against a native/
 * tree and counts executed guest instructions per mode under qemu. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llmem.h"
#include "formats.h" /* the ISA table's entries: internal (-I native/src) */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static const char *MODES[] = {"rows", "tiled", "mv-rows", "mv-tiled"};
enum { NMODES = 4 };

typedef struct {
  int format;
  size_t rows, cols, n;
  uint8_t *w, *scratch, *vscratch;
  float *x, *y;
} bench;

static void run(const bench *b, int mode) {
  const llmem_isa_kernels saved = llmem_isa_kernels_active;
  if (mode == 0) llmem_isa_kernels_active.matmul_range = matmul_range_generic;
  if (mode == 2) llmem_isa_kernels_active.matvec_range = matvec_range_generic;
  if (mode <= 1) llmem_matmul(b->format, b->w, b->rows, b->cols, b->x, b->n, b->y, b->scratch);
  else
    for (size_t t = 0; t < b->n; t++)
      llmem_matvec(b->format, b->w, b->rows, b->cols, b->x + t * b->cols, b->y + t * b->rows, b->vscratch);
  llmem_isa_kernels_active = saved;
}

static int cmp(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "time";
  bench b = {.format = LLMEM_Q8_0, .rows = 768, .cols = 288, .n = 128};
  if (argc > 2) {
    for (int f = 0; f < llmem_format_count(); f++)
      if (strcmp(llmem_format_name(f), argv[2]) == 0) b.format = f;
  }
  if (argc > 3) b.rows = strtoul(argv[3], NULL, 10);
  if (argc > 4) b.cols = strtoul(argv[4], NULL, 10);
  if (argc > 5) b.n = strtoul(argv[5], NULL, 10);
  const int reps = argc > 6 ? atoi(argv[6]) : 5;
  llmem_set_threads(1);
  float *wf = malloc(b.rows * b.cols * 4);
  b.x = malloc(b.n * b.cols * 4), b.y = malloc(b.n * b.rows * 4);
  b.w = malloc(b.rows * b.cols * 4);
  b.scratch = malloc(b.n * llmem_matmul_scratch_stride(b.format, b.cols) + 64);
  b.vscratch = malloc(b.cols / 32 * 38 + 1024);
  for (size_t i = 0; i < b.rows * b.cols; i++) wf[i] = frand();
  for (size_t i = 0; i < b.n * b.cols; i++) b.x[i] = frand();
  if (b.format == LLMEM_F32) memcpy(b.w, wf, b.rows * b.cols * 4);
  else if (b.format == LLMEM_F16) llmem_f32_to_f16(wf, (uint16_t *)(void *)b.w, b.rows * b.cols);
  else if (llmem_quantize(b.format, wf, b.w, b.rows * b.cols) != 0) return fprintf(stderr, "quantize failed\n"), 1;
  for (int m = 0; m < NMODES; m++)
    if (strcmp(mode, MODES[m]) == 0) {
      run(&b, m);
      return 0;
    }
  if (strcmp(mode, "none") == 0) return 0;
  double *times = malloc(sizeof(double) * NMODES * (size_t)reps);
  for (int r = 0; r < reps; r++)
    for (int m = 0; m < NMODES; m++) {
      const double t0 = now();
      run(&b, m);
      times[m * reps + r] = now() - t0;
    }
  printf("%s %zux%zu, %zu tokens, %s, 1 thread, %d interleaved rounds (wall time under emulation)\n",
         llmem_format_name(b.format), b.rows, b.cols, b.n, llmem_isa_name(llmem_active_isa()), reps);
  double med[NMODES];
  for (int m = 0; m < NMODES; m++) {
    qsort(times + m * reps, (size_t)reps, sizeof(double), cmp);
    med[m] = times[m * reps + reps / 2];
    printf("  %-9s median %8.2f ms (min %.2f, max %.2f)  %.2fx the time of rows\n", MODES[m], med[m] * 1e3,
           times[m * reps] * 1e3, times[m * reps + reps - 1] * 1e3, med[m] / med[0]);
  }
  return 0;
}
