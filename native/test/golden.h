/* Reading the golden vectors of native/test/golden (made by ggml itself; see its README): one loader
 * and one hash of a dequantized 256-value block for every format test. */
#ifndef LLMEM_TEST_GOLDEN_H
#define LLMEM_TEST_GOLDEN_H

#include "harness.h"

/* The whole file test/golden/NAME (exactly BYTES long), or exit 2: a missing vector is a failure. */
static void *load(const char *name, size_t bytes) {
  char path[256];
  snprintf(path, sizeof path, "test/golden/%s", name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "missing golden file %s (run from native/)\n", path);
    exit(2);
  }
  void *p = malloc(bytes);
  const size_t got = fread(p, 1, bytes, f);
  fclose(f);
  if (got != bytes) {
    fprintf(stderr, "%s: %zu bytes, expected %zu\n", path, got, bytes);
    exit(2);
  }
  return p;
}

/* FNV-1a of one dequantized 256-value block, as the generator hashed it. */
static uint64_t fnv256(const float *y) {
  uint64_t v = 0xcbf29ce484222325ull;
  const uint8_t *p = (const uint8_t *)y;
  for (int i = 0; i < 256 * 4; i++) v = (v ^ p[i]) * 0x100000001b3ull;
  return v;
}


/* llmem_matvec of `format` rows wq (rb bytes each) against x, compared row by row with the
 * format's one-row dot of x quantized to `act` (in xq): the first row that differs, -1 when none
 * does, -2 when matvec refused. The per-format golden tests check their matvec with it. */
static inline int golden_matvec_bad_row(int format, int act, float (*dot)(const void *, const void *, size_t),
                                        const uint8_t *wq, size_t rb, size_t rows, size_t cols, const float *x,
                                        uint8_t *xq, float *y, void *scratch) {
  llmem_quantize(act, x, xq, cols);
  if (llmem_matvec(format, wq, rows, cols, x, y, scratch) != 0) return -2;
  for (size_t r = 0; r < rows; r++) {
    const float want = dot(wq + r * rb, xq, cols);
    if (memcmp(&want, y + r, 4)) return (int)r;
  }
  return -1;
}

#endif
