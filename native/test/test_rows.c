/* The element-wise steps' ISA paths against the scalar one, bit for bit. SwiGLU's AVX2 path takes
 * e^-g from a vector double-precision exp and falls back to libm's exp whenever that could round
 * to another float (kernels/rows.c): over millions of values across exp's whole range, and at its
 * edges (overflow, underflow, denormals, NaN, infinities, ±0), every result must be the scalar
 * loop's. A vector exp less accurate than the 2^-50 its fallback test assumes shows up here as
 * differing values. */
#include <math.h>

#include "harness.h"

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

int main(void) {
  const int nisa = t_isa_count();
  const size_t n = (size_t)1 << 22;
  float *gate = malloc(n * 4), *up = malloc(n * 4), *want = malloc(n * 4), *got = malloc(n * 4);
  const float edges[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-45f, -1e-45f, 87.3f, -87.3f, 88.72f, -88.72f,
                         103.9f, -103.9f, 104.0f, -104.0f, 707.9f, -707.9f, 708.0f, -708.0f, 708.5f, -708.5f,
                         745.2f, -745.2f, 1e30f, -1e30f, INFINITY, -INFINITY, NAN, -NAN, 1e-7f, 0.5f,
                         /* e^-g within 2^-46 of a float rounding boundary (found by scanning every
                          * float g in ±[2^-7, 100] against libm's exp): the AVX2 path must take its
                          * scalar fallback for these */
                         0x1.548c34p-7f, -0x1.bb899p-7f, -0x1.c1141cp-7f, 0x1.f691dap-7f, -0x1.0885a4p-6f,
                         -0x1.2dc3fp-6f, -0x1.2e3554p-6f, -0x1.5ffc5cp-6f, -0x1.707136p-6f, 0x1.71e81ep-6f,
                         0x1.c02f76p-6f, -0x1.344e9cp-5f};
  const size_t nedges = sizeof edges / sizeof edges[0];
  for (size_t i = 0; i < n; i++) {
    /* a quarter each: |g| < 1 (e^-g near 1), < 20, < 110 (float overflow/underflow), < 800 */
    const float range = (i & 3) == 0 ? 1.0f : (i & 3) == 1 ? 20.0f : (i & 3) == 2 ? 110.0f : 800.0f;
    gate[i] = i < nedges ? edges[i] : t_rand_f32(-range, range);
    up[i] = t_rand_f32(-2, 2);
  }
  /* The whole run, and short runs that leave 4 and 7 values past the vector passes. */
  const size_t lens[] = {n, 4092, 4089};
  for (size_t li = 0; li < 3; li++)
  for (int style = LLMEM_NORM_RUNC; style <= LLMEM_NORM_GGML; style++) {
    const size_t len = lens[li];
    llmem_set_isa(LLMEM_ISA_SCALAR);
    memcpy(want, gate, n * 4);
    CHECK(llmem_swiglu(style, want, up, len) == 0, "scalar swiglu");
    for (int k = 1; k < nisa; k++) {
      llmem_set_isa(t_isas[k]);
      memcpy(got, gate, n * 4);
      CHECK(llmem_swiglu(style, got, up, len) == 0, "swiglu");
      size_t differ = 0, first = 0;
      for (size_t i = 0; i < n; i++)
        if (bits_of(got[i]) != bits_of(want[i]) && differ++ == 0) first = i;
      CHECK(differ == 0, "[%s] style %d, %zu values: %zu differ from the scalar loop (first: g=%a got %a want %a)",
            llmem_isa_name(t_isas[k]), style, len, differ, differ ? gate[first] : 0.0f, differ ? got[first] : 0.0f,
            differ ? want[first] : 0.0f);
    }
  }
  free(gate), free(up), free(want), free(got);
  return t_finish("rows");
}
