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

/* One value of SwiGLU given e = e^-g already rounded to f32: the TS reference's operations. */
static inline float swiglu_one(int style, float g, float e, float up) {
  const float d = 1.0f + e;
  const float silu = style == LLMEM_NORM_RUNC ? g * (1.0f / d) : g / d;
  return silu * up;
}

LLMEM_SCALAR void swiglu_range_scalar(int style, float *gate, const float *up, size_t i0, size_t i1) {
  for (size_t i = i0; i < i1; i++) gate[i] = swiglu_one(style, gate[i], (float)exp(-(double)gate[i]), up[i]);
}

#if LLMEM_X86
/* e^x in double on 4 lanes, for |x| <= 708: x = k·ln2 + r (|r| <= ln2/2, ln2 split in fdlibm's
 * hi/lo parts), e^r by its Taylor series to r^13/13! (truncation below 2^-58 relative), times 2^k
 * built in the exponent field. Relative error below 2^-50 (test_rows.c checks it against libm's
 * exp over the whole range). */
LLMEM_AVX2 static inline __m256d exp_pd_avx2(__m256d x) {
  const __m256d k = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(6.93147180369123816490e-01), x);
  r = _mm256_fnmadd_pd(k, _mm256_set1_pd(1.90821492927058770002e-10), r);
  static const double inv_fact[14] = {1.0,
                                      1.0,
                                      1.0 / 2,
                                      1.0 / 6,
                                      1.0 / 24,
                                      1.0 / 120,
                                      1.0 / 720,
                                      1.0 / 5040,
                                      1.0 / 40320,
                                      1.0 / 362880,
                                      1.0 / 3628800,
                                      1.0 / 39916800,
                                      1.0 / 479001600,
                                      1.0 / 6227020800};
  __m256d p = _mm256_set1_pd(inv_fact[13]);
  for (int i = 12; i >= 0; i--) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(inv_fact[i]));
  const __m256i e = _mm256_slli_epi64(
      _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(k)), _mm256_set1_epi64x(1023)), 52);
  return _mm256_mul_pd(p, _mm256_castsi256_pd(e));
}

/* The scalar loop's bits, four values at a time. (float)exp(-(double)g) is taken from the vector
 * e^x when that is provably the same float: libm's exp is within 1 ulp (2^-52) of e^x and ours
 * within 2^-50, so when y·(1 - 2^-46) and y·(1 + 2^-46) round to the same float, libm's result
 * rounds to it too (rounding is monotonic). Otherwise (about one value in 2^20: a float rounding
 * boundary that close to y) and for |g| > 708 or NaN, the value takes the scalar path. */
LLMEM_AVX2 void swiglu_range_avx2(int style, float *gate, const float *up, size_t i0, size_t i1) {
  const __m256d limit = _mm256_set1_pd(708.0), sign = _mm256_set1_pd(-0.0);
  const __m256d below = _mm256_set1_pd(1.0 - 0x1p-46), above = _mm256_set1_pd(1.0 + 0x1p-46);
  const __m128 one = _mm_set1_ps(1.0f);
  size_t i = i0;
  for (; i + 4 <= i1; i += 4) {
    const __m128 g = _mm_loadu_ps(gate + i);
    const __m256d x = _mm256_xor_pd(_mm256_cvtps_pd(g), sign); /* -(double)g */
    /* !(|x| <= 708) catches NaN as well */
    const int out_of_range = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_andnot_pd(sign, x), limit, _CMP_NLE_UQ));
    const __m256d y = exp_pd_avx2(x);
    const __m128 e = _mm256_cvtpd_ps(y);
    const __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(y, below)), hi = _mm256_cvtpd_ps(_mm256_mul_pd(y, above));
    if (out_of_range || _mm_movemask_ps(_mm_cmpneq_ps(lo, hi))) {
      swiglu_range_scalar(style, gate, up, i, i + 4);
      continue;
    }
    const __m128 d = _mm_add_ps(one, e);
    const __m128 silu = style == LLMEM_NORM_RUNC ? _mm_mul_ps(g, _mm_div_ps(one, d)) : _mm_div_ps(g, d);
    _mm_storeu_ps(gate + i, _mm_mul_ps(silu, _mm_loadu_ps(up + i)));
  }
  swiglu_range_scalar(style, gate, up, i, i1);
}
#endif

static void swiglu_task(void *ctx, size_t task) {
  const swiglu_job *j = ctx;
  const size_t i0 = task * j->per_task, i1 = i0 + j->per_task < j->n ? i0 + j->per_task : j->n;
  llmem_isa_kernels_active.swiglu_range(j->style, j->gate, j->up, i0, i1);
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
