/* Quantized dot products: every ISA against the scalar reference and the exact f64 sum. */
#include "quant_test_util.h"

typedef float (*dot_fn)(const void *, const void *, size_t);

int main(void) {
  const int nisa = t_isa_count();
  const struct {
    dot_fn fn;
    int fx, fy;
    double slack; /* Q8_1's s is an fp16 of d*sum(q): a rounding the exact sum does not have */
  } pairs[] = {{llmem_dot_q8_0_q8_0, LLMEM_Q8_0, LLMEM_Q8_0, 0},
               {llmem_dot_q4_0_q8_0, LLMEM_Q4_0, LLMEM_Q8_0, 0},
               {llmem_dot_q4_1_q8_1, LLMEM_Q4_1, LLMEM_Q8_1, 2e-3}};
  for (size_t s = 0; s < T_NSIZES; s++) {
    const size_t n = T_SIZES[s] / 32 * 32;
    float *x = malloc((n + 1) * 4), *y = malloc((n + 1) * 4), *dx = malloc((n + 1) * 4), *dy = malloc((n + 1) * 4);
    uint8_t *qx = malloc(n / 32 * 36 + 1), *qy = malloc(n / 32 * 36 + 1);
    for (size_t i = 0; i < n; i++) x[i] = t_rand_f32(-2, 2), y[i] = t_rand_f32(-1, 1);
    for (int p = 0; p < 3; p++) {
      llmem_set_isa(LLMEM_ISA_SCALAR);
      llmem_quantize(pairs[p].fx, x, qx, n);
      llmem_quantize(pairs[p].fy, y, qy, n);
      llmem_dequantize(pairs[p].fx, qx, dx, n);
      llmem_dequantize(pairs[p].fy, qy, dy, n);
      double exact = 0, mag = 0;
      for (size_t i = 0; i < n; i++) exact += (double)dx[i] * dy[i], mag += fabs((double)dx[i] * dy[i]);
      const double tol = mag * (1e-5 + pairs[p].slack) + 1e-6;
      for (int k = 0; k < nisa; k++) {
        llmem_set_isa(t_isas[k]);
        const float got = pairs[p].fn(qx, qy, n);
        CHECK(fabs(got - exact) <= tol, "%s %s.%s n=%zu: %g vs %g", llmem_isa_name(t_isas[k]), QT_NAMES[pairs[p].fx],
              QT_NAMES[pairs[p].fy], n, got, exact);
      }
    }
    /* f16 . f32 at every size, not only whole blocks */
    const size_t m = T_SIZES[s];
    uint16_t *h = malloc((m + 1) * 2);
    float *xf = malloc((m + 1) * 4), *yf = malloc((m + 1) * 4);
    for (size_t i = 0; i < m; i++) xf[i] = t_rand_f32(-1, 1), yf[i] = t_rand_f32(-1, 1);
    llmem_set_isa(LLMEM_ISA_SCALAR);
    llmem_f32_to_f16(xf, h, m);
    llmem_f16_to_f32(h, xf, m);
    double exact = 0, mag = 0;
    for (size_t i = 0; i < m; i++) exact += (double)xf[i] * yf[i], mag += fabs((double)xf[i] * yf[i]);
    for (int k = 0; k < nisa; k++) {
      llmem_set_isa(t_isas[k]);
      const float got = llmem_dot_f16_f32(h, yf, m);
      CHECK(fabs(got - exact) <= mag * 1e-5 + 1e-6, "%s f16.f32 n=%zu: %g vs %g", llmem_isa_name(t_isas[k]), m, got,
            exact);
    }
    free(h), free(xf), free(yf);
    free(x), free(y), free(dx), free(dy), free(qx), free(qy);
  }
  return t_finish("quant_dot");
}
