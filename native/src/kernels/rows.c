/* The element-wise steps of a prefill chunk, over all of its rows in one call: RMSNorm (run.c's
 * and ggml's), RoPE (adjacent pairs or NEOX halves), SwiGLU (run.c's and ggml's) and the residual
 * add. Each is the decode example's TS reference (examples/decode/src/math.ts) operation for
 * operation: every product, sum and quotient rounded to f32 where the TS rounds it (Math.fround;
 * a double result rounded once to f32 equals the f32 operation for + - * / sqrt), sums in the
 * same order (so no SIMD reduction), e^x as the double exp the TS calls, rounded to f32. One
 * portable implementation for every ISA: what makes these worth a native call is not SIMD but
 * running a chunk's rows without a JS call (and JIT tier) per row. */
#include <math.h>
#include <stddef.h>

#include "../../include/llmem.h"

int llmem_rmsnorm_rows(int style, const float *x, const float *weight, size_t rows, size_t dim, float eps,
                       float *out) {
  if (dim == 0 || (style != LLMEM_NORM_RUNC && style != LLMEM_NORM_GGML)) return -1;
  for (size_t t = 0; t < rows; t++) {
    const float *xt = x + t * dim;
    float *ot = out + t * dim;
    if (style == LLMEM_NORM_RUNC) {
      float ss = 0.0f;
      for (size_t j = 0; j < dim; j++) ss += xt[j] * xt[j];
      ss /= (float)dim;
      ss += 1e-5f;
      ss = 1.0f / sqrtf(ss);
      for (size_t j = 0; j < dim; j++) ot[j] = weight[j] * (ss * xt[j]);
    } else {
      double sum = 0.0;
      for (size_t j = 0; j < dim; j++) sum += (double)(xt[j] * xt[j]);
      const float mean = (float)(sum / (double)dim);
      const float scale = 1.0f / sqrtf(mean + eps);
      for (size_t j = 0; j < dim; j++) ot[j] = (xt[j] * scale) * weight[j];
    }
  }
  return 0;
}

int llmem_rope_rows(float *v, size_t rows, size_t width, size_t head_size, size_t dims, int neox, const float *cos,
                    const float *sin, size_t table_stride) {
  if (head_size == 0 || width % head_size || dims % 2 || dims > head_size || dims / 2 > table_stride) return -1;
  const size_t half = dims / 2;
  for (size_t t = 0; t < rows; t++) {
    float *vt = v + t * width;
    const float *c = cos + t * table_stride, *s = sin + t * table_stride;
    for (size_t h = 0; h < width; h += head_size) {
      for (size_t i = 0; i < half; i++) {
        const size_t a = neox ? h + i : h + 2 * i, b = neox ? a + half : a + 1;
        const float v0 = vt[a], v1 = vt[b];
        const float p = v0 * c[i], q = v1 * s[i], r = v0 * s[i], u = v1 * c[i];
        vt[a] = p - q;
        vt[b] = r + u;
      }
    }
  }
  return 0;
}

int llmem_swiglu(int style, float *gate, const float *up, size_t n) {
  if (style != LLMEM_NORM_RUNC && style != LLMEM_NORM_GGML) return -1;
  for (size_t i = 0; i < n; i++) {
    const float g = gate[i];
    const float e = (float)exp(-(double)g);
    const float d = 1.0f + e;
    const float silu = style == LLMEM_NORM_RUNC ? g * (1.0f / d) : g / d;
    gate[i] = silu * up[i];
  }
  return 0;
}

void llmem_add(float *x, const float *y, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] += y[i];
}
