#include "harness.h"

int main(void) {
  const int nisa = t_isa_count();
  for (size_t s = 0; s < T_NSIZES; s++) {
    const size_t n = T_SIZES[s];
    float *a = malloc((n + 1) * sizeof(float)), *b = malloc((n + 1) * sizeof(float));
    double exact = 0, mag = 0;
    for (size_t i = 0; i < n; i++) {
      a[i] = t_rand_f32(-1, 1);
      b[i] = t_rand_f32(-1, 1);
      exact += (double)a[i] * b[i];
      mag += fabs((double)a[i] * b[i]);
    }
    for (int k = 0; k < nisa; k++) {
      CHECK(llmem_set_isa(t_isas[k]) == 0, "set isa");
      const float got = llmem_dot_f32(a, b, n);
      /* Summation order differs between paths; bound the error by the magnitude. */
      CHECK(fabs(got - exact) <= 1e-5 * mag + 1e-6, "%s n=%zu got %g want %g", llmem_isa_name(t_isas[k]), n,
            got, exact);
    }
    free(a);
    free(b);
  }
  return t_finish("dot_f32");
}
