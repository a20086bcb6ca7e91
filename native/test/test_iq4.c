/* IQ4_NL and IQ4_XS on every ISA this CPU has, against vectors made by GGML itself (test/golden,
 * see its README): quantize byte-identical to quantize_row_iq4_nl_ref / quantize_row_iq4_xs_ref,
 * dequantize bit-identical to dequantize_row_iq4_nl / _xs, dots within f32 summation order of
 * GGML's scalar ggml_vec_dot_iq4_nl_q8_0 and equal bit for bit to ggml_vec_dot_iq4_xs_q8_K (whose
 * order the IQ4_XS dots keep), bit-identical across our ISAs, SIMD paths bit-identical to the
 * scalar one, matvec row by row. */
#include "golden.h"

#define N (64 * 256) /* golden values */

typedef float (*dot_fn)(const void *, const void *, size_t);
/* block: values per block of the format and of its activation format. skip: leading golden
 * blocks GGML leaves undefined (IQ4_NL's all-zero row 0, see below). exact: the dot must equal
 * GGML's bit for bit (else within its summation order). */
static const struct {
  int format, act;
  const char *name, *act_name;
  size_t block, bytes, act_bytes, skip;
  int exact;
  dot_fn dot;
} F[] = {{LLMEM_IQ4_NL, LLMEM_Q8_0, "iq4_nl", "q8_0", 32, 18, 34, 8, 0, llmem_dot_iq4_nl_q8_0},
         {LLMEM_IQ4_XS, LLMEM_Q8_K, "iq4_xs", "q8_K", 256, 136, 292, 0, 1, llmem_dot_iq4_xs_q8_k}};
#define NF (int)(sizeof F / sizeof F[0])

static float *inputs;

static void golden_quantize(void) {
  for (int f = 0; f < NF; f++) {
    char name[64];
    snprintf(name, sizeof name, "%s.bin", F[f].name);
    const size_t blocks = N / F[f].block, total = blocks * F[f].bytes;
    uint8_t *want = load(name, total), *got = malloc(total);
    for (int k = 0; k < t_isa_count(); k++) {
      llmem_set_isa(t_isas[k]);
      memset(got, 0xAA, total);
      CHECK(llmem_quantize(F[f].format, inputs, got, N) == 0, "quantize %s", F[f].name);
      long bad = -1;
      /* IQ4_NL: golden row 0 is all zeros, where GGML's reference packs its uninitialised index
       * buffer (see src/quant/iq4.c), so its 8 blocks are undefined; every later zero block
       * carries the indices of the block before it, which is checked. IQ4_XS re-derives every
       * index, so its all-zero block 0 is defined and checked. */
      for (size_t b = F[f].skip; b < blocks && bad < 0; b++)
        if (memcmp(got + b * F[f].bytes, want + b * F[f].bytes, F[f].bytes)) bad = (long)b;
      CHECK(bad < 0, "[%s] quantize %s: golden block %ld differs from GGML's", llmem_isa_name(t_isas[k]), F[f].name, bad);
    }
    free(want), free(got);
  }
}

static void golden_dequantize(void) {
  float *y = malloc(N * 4);
  for (int f = 0; f < NF; f++) {
    char name[64];
    snprintf(name, sizeof name, "%s.bin", F[f].name);
    uint8_t *q = load(name, N / F[f].block * F[f].bytes);
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
 * sums per block; for IQ4_NL only the f32 accumulation order of 32 block terms differs, so
 * |ours - GGML| <= 64·2^-24·Σ|x_i y_i|; IQ4_XS folds its 32 sub-block terms in GGML's scalar
 * order, so it must be equal bit for bit. */
static void golden_dot(void) {
  float *dx = malloc(1024 * 4), *dy = malloc(1024 * 4);
  for (int f = 0; f < NF; f++) {
    char name[64];
    snprintf(name, sizeof name, "%s.bin", F[f].name);
    uint8_t *w = load(name, N / F[f].block * F[f].bytes);
    snprintf(name, sizeof name, "%s.bin", F[f].act_name);
    uint8_t *a = load(name, N / F[f].block * F[f].act_bytes);
    snprintf(name, sizeof name, "dot_%s_%s.f32", F[f].name, F[f].act_name);
    float *want = load(name, 16 * 4);
    for (int i = 0; i < 16; i++) {
      const int r = (i + 5) % 16;
      const size_t per_row = 1024 / F[f].block;
      const uint8_t *wr = w + per_row * i * F[f].bytes, *ar = a + per_row * r * F[f].act_bytes;
      llmem_set_isa(LLMEM_ISA_SCALAR);
      llmem_dequantize(F[f].format, wr, dx, 1024);
      llmem_dequantize(F[f].act, ar, dy, 1024);
      double mag = 0;
      for (int j = 0; j < 1024; j++) mag += fabs((double)dx[j] * dy[j]);
      const double tol = F[f].exact ? 0 : 64 * 0x1p-24 * mag + 1e-30;
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
  const size_t sizes[] = {32, 96, 256, 1024, 1280, 4096, 4128};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    const size_t n = sizes[s];
    float *x = malloc(n * 4), *d0 = malloc(n * 4), *d1 = malloc(n * 4), *da = malloc(n * 4);
    uint8_t *q0 = malloc(n / 32 * 40), *q1 = malloc(n / 32 * 40), *qa = malloc(n / 32 * 40);
    for (size_t i = 0; i < n; i++) x[i] = t_rand_f32(-1, 1) * (1 + (float)(i % 5));
    for (int f = 0; f < NF; f++) {
      if (n % F[f].block) continue;
      llmem_set_isa(LLMEM_ISA_SCALAR);
      llmem_quantize(F[f].format, x, q0, n);
      llmem_dequantize(F[f].format, q0, d0, n);
      llmem_quantize(F[f].act, x, qa, n);
      llmem_dequantize(F[f].act, qa, da, n);
      const float want = F[f].dot(q0, qa, n);
      double exact = 0, mag = 0;
      for (size_t i = 0; i < n; i++) exact += (double)d0[i] * da[i], mag += fabs((double)d0[i] * da[i]);
      CHECK(fabs(want - exact) <= 1e-5 * mag, "%s dot n=%zu: %g vs exact %g", F[f].name, n, want, exact);
      for (int k = 1; k < t_isa_count(); k++) {
        llmem_set_isa(t_isas[k]);
        const char *isa = llmem_isa_name(t_isas[k]);
        llmem_quantize(F[f].format, x, q1, n);
        CHECK(memcmp(q0, q1, n / F[f].block * F[f].bytes) == 0, "[%s] quantize %s n=%zu", isa, F[f].name, n);
        llmem_dequantize(F[f].format, q0, d1, n);
        CHECK(memcmp(d0, d1, n * 4) == 0, "[%s] dequantize %s n=%zu", isa, F[f].name, n);
        const float got = F[f].dot(q0, qa, n);
        CHECK(memcmp(&got, &want, 4) == 0, "[%s] dot %s n=%zu: %.9g vs %.9g", isa, F[f].name, n, got, want);
      }
    }
    free(x), free(d0), free(d1), free(da), free(q0), free(q1), free(qa);
  }
}

static void matvec_rows(void) {
  for (int f = 0; f < NF; f++) {
    /* IQ4_NL: SmolLM2's width (a multiple of 32, not of 256); IQ4_XS: three super-blocks. */
    const size_t rows = 23, cols = F[f].block == 32 ? 576 : 768, rb = cols / F[f].block * F[f].bytes;
    float *w = malloc(rows * cols * 4), *x = malloc(cols * 4), *y = malloc(rows * 4);
    uint8_t *wq = malloc(rows * rb), *xq = malloc(cols / 32 * 40), *scratch = malloc(cols / 32 * 44);
    for (size_t i = 0; i < rows * cols; i++) w[i] = t_rand_f32(-1, 1);
    for (size_t i = 0; i < cols; i++) x[i] = t_rand_f32(-1, 1);
    for (int k = 0; k < t_isa_count(); k++) {
      llmem_set_isa(t_isas[k]);
      llmem_quantize(F[f].format, w, wq, rows * cols);
      const int bad = golden_matvec_bad_row(F[f].format, F[f].act, F[f].dot, wq, rb, rows, cols, x, xq, y, scratch);
      CHECK(bad == -1, "[%s] matvec %s: row %d differs from its dot (-2: refused)", llmem_isa_name(t_isas[k]),
            F[f].name, bad);
      CHECK(llmem_matvec(F[f].format, wq, rows, cols - 32 * (F[f].block / 32 > 1), x, y, scratch) ==
                (F[f].block == 32 ? 0 : -1),
            "matvec %s: cols not a whole number of blocks refused", F[f].name);
    }
    free(w), free(x), free(y), free(wq), free(xq), free(scratch);
  }
}

/* A partial super-block is refused before any kernel runs; an all-zero super-block is GGML's
 * d = -0 (0x8000), every scale 32 (ls - 32 = 0) and every index 8 (level 1, nearest 0). */
static void edges(void) {
  float x[256] = {0}, y[256];
  uint8_t q[136];
  CHECK(llmem_quantize(LLMEM_IQ4_XS, x, q, 128) == -1, "iq4_xs refuses a partial super-block");
  CHECK(llmem_dequantize(LLMEM_IQ4_XS, q, y, 32) == -1, "iq4_xs refuses a partial super-block (dequantize)");
  CHECK(llmem_quantize(LLMEM_IQ4_XS, x, q, 256) == 0, "iq4_xs quantizes zeros");
  int ok = q[0] == 0x00 && q[1] == 0x80 && q[2] == 0xAA && q[3] == 0xAA;
  for (int i = 4; i < 8; i++) ok &= q[i] == 0;
  for (int i = 8; i < 136; i++) ok &= q[i] == 0x88;
  CHECK(ok, "iq4_xs zero block: d -0, scales 32, indices 8");
  for (int k = 0; k < t_isa_count(); k++) {
    llmem_set_isa(t_isas[k]);
    llmem_dequantize(LLMEM_IQ4_XS, q, y, 256);
    int zero = 1;
    for (int i = 0; i < 256; i++) zero &= y[i] == 0.0f;
    CHECK(zero, "[%s] iq4_xs zero block dequantizes to zeros", llmem_isa_name(t_isas[k]));
  }
}

int main(void) {
  inputs = load("inputs.f32", N * 4);
  golden_quantize();
  golden_dequantize();
  golden_dot();
  random_rows();
  matvec_rows();
  edges();
  free(inputs);
  return t_finish("iq4");
}
