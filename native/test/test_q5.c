/* Q5_0 and Q5_1 on every ISA this CPU has, against vectors made by GGML itself (test/golden,
 * see its README): quantize byte-identical to quantize_row_q5_*_ref (and Q8_0/Q8_1, their dot
 * partners, to quantize_row_q8_*_ref), dequantize bit-identical to dequantize_row_q5_*, dots
 * within f32 summation order of GGML's scalar ggml_vec_dot_q5_0_q8_0 / _q5_1_q8_1 and
 * bit-identical across our ISAs, SIMD paths bit-identical to the scalar one, matvec row by row. */
#include "../src/formats.h" /* llmem_use_vnni: internal */
#include "golden.h"

#define N (64 * 256) /* golden values */

typedef float (*dot_fn)(const void *, const void *, size_t);
static const struct {
  int format, act;
  const char *name, *act_name;
  size_t bytes, act_bytes;
  dot_fn dot;
} F[] = {{LLMEM_Q5_0, LLMEM_Q8_0, "q5_0", "q8_0", 22, 34, llmem_dot_q5_0_q8_0},
         {LLMEM_Q5_1, LLMEM_Q8_1, "q5_1", "q8_1", 24, 36, llmem_dot_q5_1_q8_1}};

static float *inputs;

static void golden_quantize(void) {
  const struct {
    int format;
    const char *name;
    size_t bytes;
  } Q[] = {{LLMEM_Q5_0, "q5_0", 22}, {LLMEM_Q5_1, "q5_1", 24}, {LLMEM_Q8_0, "q8_0", 34}, {LLMEM_Q8_1, "q8_1", 36}};
  for (int f = 0; f < 4; f++) {
    char name[64];
    snprintf(name, sizeof name, "%s.bin", Q[f].name);
    const size_t total = N / 32 * Q[f].bytes;
    uint8_t *want = load(name, total), *got = malloc(total);
    for (int k = 0; k < t_isa_count(); k++) {
      llmem_set_isa(t_isas[k]);
      memset(got, 0xAA, total);
      CHECK(llmem_quantize(Q[f].format, inputs, got, N) == 0, "quantize %s", Q[f].name);
      long bad = -1;
      for (size_t b = 0; b < N / 32 && bad < 0; b++)
        if (memcmp(got + b * Q[f].bytes, want + b * Q[f].bytes, Q[f].bytes)) bad = (long)b;
      CHECK(bad < 0, "[%s] quantize %s: golden block %ld differs from GGML's", llmem_isa_name(t_isas[k]), Q[f].name, bad);
    }
    free(want), free(got);
  }
}

static void golden_dequantize(void) {
  float *y = malloc(N * 4);
  for (int f = 0; f < 2; f++) {
    char name[64];
    snprintf(name, sizeof name, "%s.bin", F[f].name);
    uint8_t *q = load(name, N / 32 * F[f].bytes);
    snprintf(name, sizeof name, "%s.deq.fnv", F[f].name);
    uint64_t *want = load(name, N / 256 * 8);
    for (int k = 0; k < t_isa_count(); k++) {
      llmem_set_isa(t_isas[k]);
      CHECK(llmem_dequantize(F[f].format, q, y, N) == 0, "dequantize %s", F[f].name);
      int bad = -1;
      for (int b = 0; b < N / 256 && bad < 0; b++)
        if (fnv256(y + 256 * b) != want[b]) bad = b;
      CHECK(bad < 0, "[%s] dequantize %s: golden values %d..%d differ from GGML's", llmem_isa_name(t_isas[k]),
            F[f].name, 256 * bad, 256 * bad + 255);
    }
    free(q), free(want);
  }
  free(y);
}

/* Our dots against GGML's scalar ones on rows of 1024 golden values: the same exact integer
 * sums per block, only the f32 accumulation order of 32 block terms differs, so
 * |ours - GGML| <= 64·2^-24·Σ|x_i y_i| (plus Q8_1's fp16 s, which both use identically). */
static void golden_dot(void) {
  float *dx = malloc(1024 * 4), *dy = malloc(1024 * 4);
  for (int f = 0; f < 2; f++) {
    char name[64];
    snprintf(name, sizeof name, "%s.bin", F[f].name);
    uint8_t *w = load(name, N / 32 * F[f].bytes);
    snprintf(name, sizeof name, "%s.bin", F[f].act_name);
    uint8_t *a = load(name, N / 32 * F[f].act_bytes);
    snprintf(name, sizeof name, "dot_%s_%s.f32", F[f].name, F[f].act_name);
    float *want = load(name, 16 * 4);
    for (int i = 0; i < 16; i++) {
      const int r = (i + 5) % 16;
      const uint8_t *wr = w + (size_t)32 * i * F[f].bytes, *ar = a + (size_t)32 * r * F[f].act_bytes;
      llmem_set_isa(LLMEM_ISA_SCALAR);
      llmem_dequantize(F[f].format, wr, dx, 1024);
      llmem_dequantize(F[f].act, ar, dy, 1024);
      double mag = 0;
      for (int j = 0; j < 1024; j++) mag += fabs((double)dx[j] * dy[j]);
      const double tol = 64 * 0x1p-24 * mag + 1e-30;
      float first = 0;
      for (int k = 0; k < t_isa_count(); k++) {
        llmem_set_isa(t_isas[k]);
        const float got = F[f].dot(wr, ar, 1024);
        if (k == 0) first = got;
        /* Rows where Q8_1's fp16 s overflows (the 65000 block) give Inf/NaN in GGML too: equal there. */
        const int same = (isnan(got) && isnan(want[i])) || got == want[i];
        CHECK(same || fabs((double)got - want[i]) <= tol, "[%s] dot %s.%s row %d: %.9g, GGML %.9g (tol %g)",
              llmem_isa_name(t_isas[k]), F[f].name, F[f].act_name, i, got, want[i], tol);
        CHECK(memcmp(&got, &first, 4) == 0 || (isnan(got) && isnan(first)), "[%s] dot %s row %d: %.9g, scalar %.9g", llmem_isa_name(t_isas[k]),
              F[f].name, i, got, first);
      }
    }
    free(w), free(a), free(want);
  }
  free(dx), free(dy);
}

static void random_rows(void) {
  const size_t sizes[] = {32, 96, 1024, 4128};
  for (size_t s = 0; s < 4; s++) {
    const size_t n = sizes[s];
    float *x = malloc(n * 4), *d0 = malloc(n * 4), *d1 = malloc(n * 4);
    uint8_t *q0 = malloc(n / 32 * 36), *q1 = malloc(n / 32 * 36), *qa = malloc(n / 32 * 36);
    for (size_t i = 0; i < n; i++) x[i] = t_rand_f32(-1, 1) * (1 + (float)(i % 5));
    for (int f = 0; f < 2; f++) {
      llmem_set_isa(LLMEM_ISA_SCALAR);
      llmem_quantize(F[f].format, x, q0, n);
      llmem_dequantize(F[f].format, q0, d0, n);
      llmem_quantize(F[f].act, x, qa, n);
      const float want = F[f].dot(q0, qa, n);
      for (int k = 1; k < t_isa_count(); k++) {
        llmem_set_isa(t_isas[k]);
        const char *isa = llmem_isa_name(t_isas[k]);
        llmem_quantize(F[f].format, x, q1, n);
        CHECK(memcmp(q0, q1, n / 32 * F[f].bytes) == 0, "[%s] quantize %s n=%zu", isa, F[f].name, n);
        llmem_dequantize(F[f].format, q0, d1, n);
        CHECK(memcmp(d0, d1, n * 4) == 0, "[%s] dequantize %s n=%zu", isa, F[f].name, n);
        const float got = F[f].dot(q0, qa, n);
        CHECK(memcmp(&got, &want, 4) == 0, "[%s] dot %s n=%zu: %.9g vs %.9g", isa, F[f].name, n, got, want);
      }
    }
    free(x), free(d0), free(d1), free(q0), free(q1), free(qa);
  }
}

static void matvec_rows(void) {
  const int has_vnni = llmem_use_vnni(1) == 0;
  const size_t rows = 23, cols = 576; /* SmolLM2's width: a multiple of 32, not of 256 */
  float *w = malloc(rows * cols * 4), *x = malloc(cols * 4), *y = malloc(rows * 4);
  uint8_t *wq = malloc(rows * cols / 32 * 24), *xq = malloc(cols / 32 * 36), *scratch = malloc(cols / 32 * 40);
  for (size_t i = 0; i < rows * cols; i++) w[i] = t_rand_f32(-1, 1);
  for (size_t i = 0; i < cols; i++) x[i] = t_rand_f32(-1, 1);
  for (int f = 0; f < 2; f++) {
    const size_t rb = cols / 32 * F[f].bytes;
    for (int k = 0; k < t_isa_count(); k++) {
      /* On AVX2 with AVX-512 VNNI, the four-row Q5_0 pass runs with dpbusd and without it. */
      for (int vnni = t_isas[k] == LLMEM_ISA_AVX2 && has_vnni; vnni >= 0; vnni--) {
        llmem_set_isa(t_isas[k]);
        llmem_use_vnni(vnni);
        llmem_quantize(F[f].format, w, wq, rows * cols);
        const int bad = golden_matvec_bad_row(F[f].format, F[f].act, F[f].dot, wq, rb, rows, cols, x, xq, y, scratch);
        CHECK(bad == -1, "[%s%s] matvec %s: row %d differs from its dot (-2: refused)", llmem_isa_name(t_isas[k]),
              vnni ? "+vnni" : "", F[f].name, bad);
      }
    }
  }
  llmem_use_vnni(has_vnni);
  free(w), free(x), free(y), free(wq), free(xq), free(scratch);
}

int main(void) {
  inputs = load("inputs.f32", N * 4);
  golden_quantize();
  golden_dequantize();
  golden_dot();
  random_rows();
  matvec_rows();
  free(inputs);
  return t_finish("q5");
}
