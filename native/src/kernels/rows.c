/* The element-wise steps of a prefill chunk, over all of its rows in one call: RMSNorm (run.c's
 * and ggml's), RoPE (adjacent pairs or NEOX halves), SwiGLU (run.c's and ggml's) and the residual
 * add. Each is the decode example's TS reference (examples/decode/src/math.ts) operation for
 * operation: every product, sum and quotient rounded to f32 where the TS rounds it (Math.fround;
 * a double result rounded once to f32 equals the f32 operation for + - * / sqrt), sums in the
 * same order, e^x as the double exp the TS calls, rounded to f32. One portable implementation
 * for every ISA: what makes these worth a native call is running a chunk's rows without a JS
 * call (and JIT tier) per row, and the thread pool.
 *
 * Speed without changing a bit: RMSNorm runs four rows side by side (four independent
 * sequential sums, so the adds' latency overlaps); RMSNorm and SwiGLU split their rows/values
 * over the thread pool when there is enough work (each element's arithmetic is the same on any
 * thread). */
#include <math.h>
#include <stddef.h>

#include "../formats.h"
#include "../quant/quant_internal.h"

/* Floats from which a step splits over the pool (below it the hand-off, ~1 µs, is a large share). */
#define SPLIT_FLOATS ((size_t)16384)
#define NORM_ROWS 4 /* rows summed side by side */

typedef struct {
  int style;
  const float *x, *weight;
  size_t rows, dim, per_task;
  float eps;
  float *out;
} norm_job;

/* Rows [t0, t1): four at a time, each row's sum in its own sequential order. */
static void norm_range(const norm_job *j, size_t t0, size_t t1) {
  const size_t dim = j->dim;
  for (size_t t = t0; t < t1; t += NORM_ROWS) {
    const size_t m = t1 - t < NORM_ROWS ? t1 - t : NORM_ROWS;
    const float *x[NORM_ROWS];
    for (size_t k = 0; k < NORM_ROWS; k++) x[k] = j->x + (t + (k < m ? k : m - 1)) * dim;
    float scale[NORM_ROWS];
    if (j->style == LLMEM_NORM_RUNC) {
      float ss[NORM_ROWS] = {0};
      for (size_t i = 0; i < dim; i++)
        for (size_t k = 0; k < NORM_ROWS; k++) ss[k] += x[k][i] * x[k][i];
      for (size_t k = 0; k < NORM_ROWS; k++) {
        float s = ss[k] / (float)dim;
        s += 1e-5f;
        scale[k] = 1.0f / sqrtf(s);
      }
    } else {
      double sum[NORM_ROWS] = {0};
      for (size_t i = 0; i < dim; i++)
        for (size_t k = 0; k < NORM_ROWS; k++) sum[k] += (double)(x[k][i] * x[k][i]);
      for (size_t k = 0; k < NORM_ROWS; k++) {
        const float mean = (float)(sum[k] / (double)dim);
        scale[k] = 1.0f / sqrtf(mean + j->eps);
      }
    }
    /* Written after every sum: out may alias x (and a short group repeats its last row). */
    for (size_t k = 0; k < m; k++) {
      float *o = j->out + (t + k) * dim;
      const float s = scale[k], *xk = x[k], *w = j->weight;
      if (j->style == LLMEM_NORM_RUNC)
        for (size_t i = 0; i < dim; i++) o[i] = w[i] * (s * xk[i]);
      else
        for (size_t i = 0; i < dim; i++) o[i] = (xk[i] * s) * w[i];
    }
  }
}

static void norm_task(void *ctx, size_t task) {
  const norm_job *j = ctx;
  const size_t t0 = task * j->per_task, t1 = t0 + j->per_task < j->rows ? t0 + j->per_task : j->rows;
  if (t0 < t1) norm_range(j, t0, t1);
}

/* Tasks for `floats` of work in `units` (rows or values) over the pool: 1 below SPLIT_FLOATS. */
static size_t split_tasks(size_t floats, size_t units) {
  const size_t threads = (size_t)llmem_get_threads();
  if (threads == 1 || floats < SPLIT_FLOATS) return 1;
  return threads < units ? threads : units;
}

int llmem_rmsnorm_rows(int style, const float *x, const float *weight, size_t rows, size_t dim, float eps,
                       float *out) {
  if (dim == 0 || (style != LLMEM_NORM_RUNC && style != LLMEM_NORM_GGML)) return -1;
  if (rows == 0) return 0;
  norm_job j = {style, x, weight, rows, dim, rows, eps, out};
  const size_t tasks = split_tasks(rows * dim, rows);
  /* whole groups of NORM_ROWS per task */
  j.per_task = ((rows + tasks - 1) / tasks + NORM_ROWS - 1) / NORM_ROWS * NORM_ROWS;
  llmem_pool_run(norm_task, &j, (rows + j.per_task - 1) / j.per_task);
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

typedef struct {
  int style;
  float *gate;
  const float *up;
  size_t n, per_task;
} swiglu_job;

static void swiglu_task(void *ctx, size_t task) {
  const swiglu_job *j = ctx;
  const size_t i0 = task * j->per_task, i1 = i0 + j->per_task < j->n ? i0 + j->per_task : j->n;
  for (size_t i = i0; i < i1; i++) {
    const float g = j->gate[i];
    const float e = (float)exp(-(double)g);
    const float d = 1.0f + e;
    const float silu = j->style == LLMEM_NORM_RUNC ? g * (1.0f / d) : g / d;
    j->gate[i] = silu * j->up[i];
  }
}

int llmem_swiglu(int style, float *gate, const float *up, size_t n) {
  if (style != LLMEM_NORM_RUNC && style != LLMEM_NORM_GGML) return -1;
  if (n == 0) return 0;
  swiglu_job j = {style, gate, up, n, n};
  const size_t tasks = split_tasks(n, n);
  j.per_task = (n + tasks - 1) / tasks;
  llmem_pool_run(swiglu_task, &j, (n + j.per_task - 1) / j.per_task);
  return 0;
}

void llmem_add(float *x, const float *y, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] += y[i];
}
