/* The K-quants (Q8_K, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) on every ISA this CPU has: quantize byte-identical to GGML's
 * quantize_row_*_ref and dequantize bit-identical to its dequantize_row_* on the golden vectors
 * (test/golden, made by GGML itself: see its README), dots against GGML's scalar dot, every SIMD
 * path bit-identical to the scalar one on random data, and matvec row by row. */
#include "golden.h"

#include <float.h>

#define QK_K 256
#define NBLK 64 /* golden blocks */

typedef float (*dot_fn)(const void *, const void *, size_t);
static const struct {
  int format;
  const char *name;
  size_t bytes;
} KF[] = {{LLMEM_Q8_K, "q8_K", 292}, {LLMEM_Q4_K, "q4_K", 144}, {LLMEM_Q6_K, "q6_K", 210}, {LLMEM_Q5_K, "q5_K", 176}, {LLMEM_Q2_K, "q2_K", 84}, {LLMEM_Q3_K, "q3_K", 110}};
#define NKF (sizeof KF / sizeof KF[0])

/* The Q8_K dot of a weight format. */
static dot_fn dot_of(int format) {
  return format == LLMEM_Q4_K   ? llmem_dot_q4_k_q8_k
         : format == LLMEM_Q5_K ? llmem_dot_q5_k_q8_k
         : format == LLMEM_Q2_K ? llmem_dot_q2_k_q8_k
         : format == LLMEM_Q3_K ? llmem_dot_q3_k_q8_k
                                : llmem_dot_q6_k_q8_k;
}

static float *inputs;

static void golden_quantize(void) {
  for (size_t f = 0; f < NKF; f++) {
    char name[64];
    snprintf(name, sizeof name, "%s.bin", KF[f].name);
    uint8_t *want = load(name, NBLK * KF[f].bytes), *got = malloc(NBLK * KF[f].bytes);
    for (int k = 0; k < t_isa_count(); k++) {
      llmem_set_isa(t_isas[k]);
      memset(got, 0xAA, NBLK * KF[f].bytes);
      CHECK(llmem_quantize(KF[f].format, inputs, got, NBLK * QK_K) == 0, "quantize %s", KF[f].name);
      int bad = -1;
      for (int b = 0; b < NBLK && bad < 0; b++)
        if (memcmp(got + b * KF[f].bytes, want + b * KF[f].bytes, KF[f].bytes)) bad = b;
      CHECK(bad < 0, "[%s] quantize %s: golden block %d differs from GGML's", llmem_isa_name(t_isas[k]), KF[f].name, bad);
    }
    free(want), free(got);
  }
}

static void golden_dequantize(void) {
  float *y = malloc(NBLK * QK_K * 4);
  for (size_t f = 0; f < NKF; f++) {
    char name[64];
    snprintf(name, sizeof name, "%s.bin", KF[f].name);
    uint8_t *q = load(name, NBLK * KF[f].bytes);
    snprintf(name, sizeof name, "%s.deq.fnv", KF[f].name);
    uint64_t *want = load(name, NBLK * 8);
    for (int k = 0; k < t_isa_count(); k++) {
      llmem_set_isa(t_isas[k]);
      CHECK(llmem_dequantize(KF[f].format, q, y, NBLK * QK_K) == 0, "dequantize %s", KF[f].name);
      int bad = -1;
      for (int b = 0; b < NBLK && bad < 0; b++)
        if (fnv256(y + b * QK_K) != want[b]) bad = b;
      CHECK(bad < 0, "[%s] dequantize %s: golden block %d differs from GGML's", llmem_isa_name(t_isas[k]), KF[f].name,
            bad);
    }
    free(q), free(want);
  }
  free(y);
}

/* Our dot against GGML's scalar ggml_vec_dot_*_q8_K on rows of 4 golden blocks. Both form the
 * same exact integer sums per sub-block; only the f32 accumulation of the per-block terms
 * differs in order (GGML: 8 lane sums plus the min term; here: one running sum). Each of the
 * at most ~40 roundings is within 2^-24 of the magnitude, so |ours - GGML| <= 64·2^-24·Σ|x_i y_i|.
 * Q2_K's scalar GGML dot folds each block exactly as k_fold does: there we require equal bits. */
static void golden_dot(void) {
  uint8_t *q8 = load("q8_K.bin", NBLK * 292);
  float *dx = malloc(4 * QK_K * 4), *dy = malloc(4 * QK_K * 4);
  const struct {
    int format;
    const char *name, *file;
    size_t bytes;
    dot_fn fn;
  } P[] = {{LLMEM_Q4_K, "q4_K", "q4_K.bin", 144, llmem_dot_q4_k_q8_k},
           {LLMEM_Q6_K, "q6_K", "q6_K.bin", 210, llmem_dot_q6_k_q8_k},
           {LLMEM_Q5_K, "q5_K", "q5_K.bin", 176, llmem_dot_q5_k_q8_k},
           {LLMEM_Q2_K, "q2_K", "q2_K.bin", 84, llmem_dot_q2_k_q8_k},
           {LLMEM_Q3_K, "q3_K", "q3_K.bin", 110, llmem_dot_q3_k_q8_k}};
  for (int p = 0; p < (int)(sizeof P / sizeof P[0]); p++) {
    uint8_t *w = load(P[p].file, NBLK * P[p].bytes);
    char name[64];
    snprintf(name, sizeof name, "dot_%s_q8_K.f32", P[p].name);
    float *want = load(name, NBLK / 4 * 4);
    for (int i = 0; i < NBLK / 4; i++) {
      const int a = (i + 5) % (NBLK / 4);
      llmem_set_isa(LLMEM_ISA_SCALAR);
      llmem_dequantize(P[p].format, w + 4 * i * P[p].bytes, dx, 4 * QK_K);
      llmem_dequantize(LLMEM_Q8_K, q8 + 4 * a * 292, dy, 4 * QK_K);
      double mag = 0;
      for (int j = 0; j < 4 * QK_K; j++) mag += fabs((double)dx[j] * dy[j]);
      const int exact = P[p].format == LLMEM_Q2_K || P[p].format == LLMEM_Q3_K;
      const double tol = exact ? 0 : 64 * 0x1p-24 * mag + 1e-30;
      float first = 0;
      for (int k = 0; k < t_isa_count(); k++) {
        llmem_set_isa(t_isas[k]);
        const float got = P[p].fn(w + 4 * i * P[p].bytes, q8 + 4 * a * 292, 4 * QK_K);
        if (k == 0) first = got;
        CHECK(fabs((double)got - want[i]) <= tol, "[%s] dot %s.q8_K row %d: %.9g, GGML %.9g (tol %g)",
              llmem_isa_name(t_isas[k]), P[p].name, i, got, want[i], tol);
        CHECK(memcmp(&got, &first, 4) == 0, "[%s] dot %s.q8_K row %d: %.9g, scalar %.9g", llmem_isa_name(t_isas[k]),
              P[p].name, i, got, first);
      }
    }
    free(w), free(want);
  }
  free(q8), free(dx), free(dy);
}

/* Random rows of several lengths: SIMD quantize/dequantize/dot bit-identical to the scalar path,
 * and the dot close to the f64 dot of the dequantized rows. */
static void random_rows(void) {
  const size_t sizes[] = {256, 512, 1280, 4096};
  for (size_t s = 0; s < 4; s++) {
    const size_t n = sizes[s];
    float *x = malloc(n * 4), *a = malloc(n * 4), *d0 = malloc(n * 4), *d1 = malloc(n * 4), *da = malloc(n * 4);
    for (size_t i = 0; i < n; i++) x[i] = t_rand_f32(-1, 1) * (1 + (float)(i % 7)), a[i] = t_rand_f32(-2, 2);
    uint8_t *q0 = malloc(n / QK_K * 292), *q1 = malloc(n / QK_K * 292), *qa = malloc(n / QK_K * 292);
    for (size_t f = 0; f < NKF; f++) {
      llmem_set_isa(LLMEM_ISA_SCALAR);
      llmem_quantize(KF[f].format, x, q0, n);
      llmem_dequantize(KF[f].format, q0, d0, n);
      llmem_quantize(LLMEM_Q8_K, a, qa, n);
      llmem_dequantize(LLMEM_Q8_K, qa, da, n);
      const dot_fn fn = dot_of(KF[f].format);
      const float want = KF[f].format == LLMEM_Q8_K ? 0 : fn(q0, qa, n);
      double exact = 0, mag = 0;
      for (size_t i = 0; i < n; i++) exact += (double)d0[i] * da[i], mag += fabs((double)d0[i] * da[i]);
      if (KF[f].format != LLMEM_Q8_K)
        CHECK(fabs(want - exact) <= 1e-5 * mag, "%s dot n=%zu: %g vs exact %g", KF[f].name, n, want, exact);
      for (int k = 1; k < t_isa_count(); k++) {
        llmem_set_isa(t_isas[k]);
        const char *isa = llmem_isa_name(t_isas[k]);
        llmem_quantize(KF[f].format, x, q1, n);
        CHECK(memcmp(q0, q1, n / QK_K * KF[f].bytes) == 0, "[%s] quantize %s n=%zu differs from scalar", isa,
              KF[f].name, n);
        llmem_dequantize(KF[f].format, q0, d1, n);
        CHECK(memcmp(d0, d1, n * 4) == 0, "[%s] dequantize %s n=%zu differs from scalar", isa, KF[f].name, n);
        if (KF[f].format != LLMEM_Q8_K) {
          const float got = fn(q0, qa, n);
          CHECK(memcmp(&got, &want, 4) == 0, "[%s] dot %s n=%zu: %.9g, scalar %.9g", isa, KF[f].name, n, got, want);
        }
      }
    }
    free(x), free(a), free(d0), free(d1), free(da), free(q0), free(q1), free(qa);
  }
}

/* matvec over Q4_K/Q6_K rows equals the format's dot of each row with x quantized to Q8_K once. */
static void matvec_rows(void) {
  const size_t rows = 37, cols = 768;
  float *w = malloc(rows * cols * 4), *x = malloc(cols * 4), *y = malloc(rows * 4);
  uint8_t *wq = malloc(rows * cols / QK_K * 210), *xq = malloc(cols / QK_K * 292);
  uint8_t *scratch = malloc(cols / 32 * 4 + cols / QK_K * 292);
  for (size_t i = 0; i < rows * cols; i++) w[i] = t_rand_f32(-1, 1);
  for (size_t i = 0; i < cols; i++) x[i] = t_rand_f32(-1, 1);
  for (size_t f = 1; f < NKF; f++) {
    const dot_fn fn = dot_of(KF[f].format);
    const size_t rb = cols / QK_K * KF[f].bytes;
    for (int k = 0; k < t_isa_count(); k++) {
      llmem_set_isa(t_isas[k]);
      llmem_quantize(KF[f].format, w, wq, rows * cols);
      llmem_quantize(LLMEM_Q8_K, x, xq, cols);
      CHECK(llmem_matvec(KF[f].format, wq, rows, cols, x, y, scratch) == 0, "matvec %s", KF[f].name);
      int bad = -1;
      for (size_t r = 0; r < rows && bad < 0; r++) {
        const float want = fn(wq + r * rb, xq, cols);
        if (memcmp(&want, y + r, 4)) bad = (int)r;
      }
      CHECK(bad < 0, "[%s] matvec %s row %d differs from its dot", llmem_isa_name(t_isas[k]), KF[f].name, bad);
      CHECK(llmem_matvec(KF[f].format, wq, rows, 200, x, y, scratch) == -1, "matvec %s cols 200 refused",
            KF[f].name);
    }
  }
  CHECK(llmem_matvec(LLMEM_Q8_K, wq, rows, cols, x, y, scratch) == -1, "q8_K is no weight format");
  free(w), free(x), free(y), free(wq), free(xq), free(scratch);
}

static void refusals(void) {
  float x[QK_K] = {0};
  uint8_t q[292];
  CHECK(llmem_quantize(LLMEM_Q4_K, x, q, 128) == -1, "q4_K refuses a partial super-block");
  CHECK(llmem_dequantize(LLMEM_Q6_K, q, x, 32) == -1, "q6_K refuses a partial super-block");
  CHECK(llmem_quantize(LLMEM_Q5_K, x, q, 128) == -1, "q5_K refuses a partial super-block");
  CHECK(llmem_quantize(LLMEM_Q2_K, x, q, 128) == -1, "q2_K refuses a partial super-block");
  CHECK(llmem_dequantize(LLMEM_Q2_K, q, x, 255) == -1, "q2_K dequantize refuses a partial super-block");
}

int main(void) {
  inputs = load("inputs.f32", NBLK * QK_K * 4);
  golden_quantize();
  golden_dequantize();
  golden_dot();
  random_rows();
  matvec_rows();
  refusals();
  free(inputs);
  return t_finish("kquants");
}
