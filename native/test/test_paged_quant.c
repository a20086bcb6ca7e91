/* llmem_kv_quantize_refined: ordinary q4_0/q4_1 blocks whose error never exceeds GGML's
 * round-to-nearest (which is one of the candidates) and is lower on average; every ISA path
 * against the scalar reference. */
#include "harness.h"

static double sq_error(int fmt, const float *x, const void *blocks, size_t n) {
  float *y = malloc(n * sizeof(float));
  llmem_dequantize(fmt, blocks, y, n);
  double e = 0;
  for (size_t i = 0; i < n; i++) e += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
  free(y);
  return e;
}

static void fill(float *x, size_t n, int kind) {
  for (size_t i = 0; i < n; i++) {
    x[i] = t_rand_f32(-1, 1);
    if (kind == 1 && i % 16 == 0) x[i] *= 8; /* outliers */
    if (kind == 2) x[i] = 0.25f;            /* constant */
    if (kind == 3) x[i] = 0;                /* zeros */
    if (kind == 4) x[i] = t_rand_f32(3, 5); /* all positive, offset */
  }
}

int main(void) {
  const size_t n = 32 * 64;
  float *x = malloc(n * sizeof(float));
  uint8_t *rtn = malloc(n), *ref = malloc(n), *got = malloc(n);
  for (int fmt = LLMEM_Q4_0; fmt <= LLMEM_Q4_1; fmt++) {
    const size_t bb = fmt == LLMEM_Q4_0 ? 18 : 20;
    for (int kind = 0; kind < 5; kind++) {
      fill(x, n, kind);
      llmem_set_isa(LLMEM_ISA_SCALAR);
      CHECK(llmem_quantize(fmt, x, rtn, n) == 0, "reference quantize");
      CHECK(llmem_kv_quantize_refined(fmt, x, ref, n) == 0, "refined scalar");
      for (int i = 0; i < t_isa_count(); i++) {
        llmem_set_isa(t_isas[i]);
        CHECK(llmem_kv_quantize_refined(fmt, x, got, n) == 0, "refined");
        double total_rtn = 0, total_got = 0, total_ref = 0;
        for (size_t b = 0; b < n / 32; b++) {
          const double e_rtn = sq_error(fmt, x + 32 * b, rtn + bb * b, 32);
          const double e_got = sq_error(fmt, x + 32 * b, got + bb * b, 32);
          total_rtn += e_rtn, total_got += e_got, total_ref += sq_error(fmt, x + 32 * b, ref + bb * b, 32);
          CHECK(e_got <= e_rtn * 1.02 + 1e-9, "fmt %d kind %d isa %s block %zu: refined error %g > round-to-nearest %g", fmt,
                kind, llmem_isa_name(t_isas[i]), b, e_got, e_rtn);
        }
        CHECK(fabs(total_got - total_ref) <= 1e-3 * total_ref + 1e-9, "fmt %d kind %d isa %s: error %g vs scalar %g", fmt,
              kind, llmem_isa_name(t_isas[i]), total_got, total_ref);
        if (kind <= 1 || kind == 4) {
          CHECK(total_got < 0.97 * total_rtn, "fmt %d kind %d isa %s: refined %g not below round-to-nearest %g", fmt, kind,
                llmem_isa_name(t_isas[i]), total_got, total_rtn);
        } else {
          CHECK(total_got <= 1e-6, "fmt %d kind %d: constant blocks must be exact (error %g)", fmt, kind, total_got);
        }
      }
    }
  }
  llmem_set_isa(llmem_detect_isa());
  CHECK(llmem_kv_quantize_refined(LLMEM_Q4_0, x, got, 31) == -1, "partial block rejected");
  CHECK(llmem_kv_quantize_refined(LLMEM_Q8_0, x, got, 32) == -1, "other formats rejected");
  free(x), free(rtn), free(ref), free(got);
  return t_finish("paged_quant");
}
