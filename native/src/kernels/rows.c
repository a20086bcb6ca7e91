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

/* 2^(j/32), j < 32, each rounded to double: the vector e^x's table (AVX2 and NEON). */
static const double exp2_32nds[32] = {
    0x1.0000000000000p+0, 0x1.059b0d3158574p+0, 0x1.0b5586cf9890fp+0, 0x1.11301d0125b51p+0,
    0x1.172b83c7d517bp+0, 0x1.1d4873168b9aap+0, 0x1.2387a6e756238p+0, 0x1.29e9df51fdee1p+0,
    0x1.306fe0a31b715p+0, 0x1.371a7373aa9cbp+0, 0x1.3dea64c123422p+0, 0x1.44e086061892dp+0,
    0x1.4bfdad5362a27p+0, 0x1.5342b569d4f82p+0, 0x1.5ab07dd485429p+0, 0x1.6247eb03a5585p+0,
    0x1.6a09e667f3bcdp+0, 0x1.71f75e8ec5f74p+0, 0x1.7a11473eb0187p+0, 0x1.82589994cce13p+0,
    0x1.8ace5422aa0dbp+0, 0x1.93737b0cdc5e5p+0, 0x1.9c49182a3f090p+0, 0x1.a5503b23e255dp+0,
    0x1.ae89f995ad3adp+0, 0x1.b7f76f2fb5e47p+0, 0x1.c199bdd85529cp+0, 0x1.cb720dcef9069p+0,
    0x1.d5818dcfba487p+0, 0x1.dfc97337b9b5fp+0, 0x1.ea4afa2a490dap+0, 0x1.f50765b6e4540p+0};

#if LLMEM_X86

/* e^x in double on 4 lanes, for |x| <= 708: x = (32m + j)·ln2/32 + r with |r| <= ln2/64 (ln2/32
 * split in fdlibm's hi/lo parts), e^r by its Taylor series to r^6/6! (truncation below 2^-58
 * relative at |r| <= 0.0109), times 2^(j/32) from the table and 2^m built in the exponent field.
 * Relative error below 2^-50: the table's and the series' roundings, a few 2^-53 (test_rows.c
 * checks it against libm's exp over the whole range). The table cuts the series from 13 terms
 * (r up to ln2/2) to 6: ×0.83 of SwiGLU's time, and eight values per pass ×0.88 more (98304
 * values, one thread, paired with the previous library in one process). */
LLMEM_AVX2 static inline __m256d exp_pd_avx2(__m256d x) {
  const __m256d k = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(32 * 1.4426950408889634)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(6.93147180369123816490e-01 / 32), x);
  r = _mm256_fnmadd_pd(k, _mm256_set1_pd(1.90821492927058770002e-10 / 32), r);
  __m256d p = _mm256_set1_pd(1.0 / 720);
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 120));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 24));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 6));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 2));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
  const __m128i ki = _mm256_cvtpd_epi32(k);
  const __m256d t = _mm256_i32gather_pd(exp2_32nds, _mm_and_si128(ki, _mm_set1_epi32(31)), 8);
  const __m256i e = _mm256_slli_epi64(
      _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm_srai_epi32(ki, 5)), _mm256_set1_epi64x(1023)), 52);
  return _mm256_mul_pd(_mm256_mul_pd(p, t), _mm256_castsi256_pd(e));
}

/* The scalar loop's bits, eight values at a time. (float)exp(-(double)g) is taken from the vector
 * e^x when that is provably the same float: libm's exp is within 1 ulp (2^-52) of e^x and ours
 * within 2^-50, so when y·(1 - 2^-46) and y·(1 + 2^-46) round to the same float, libm's result
 * rounds to it too (rounding is monotonic). Otherwise (about one value in 2^20: a float rounding
 * boundary that close to y) and for |g| > 708 or NaN, the value takes the scalar path. */
LLMEM_AVX2 void swiglu_range_avx2(int style, float *gate, const float *up, size_t i0, size_t i1) {
  const __m256d limit = _mm256_set1_pd(708.0), sign = _mm256_set1_pd(-0.0);
  const __m256d below = _mm256_set1_pd(1.0 - 0x1p-46), above = _mm256_set1_pd(1.0 + 0x1p-46);
  const __m256 one = _mm256_set1_ps(1.0f);
  size_t i = i0;
  /* Eight values per pass (two independent exps in flight); a pass with any value out of range or
   * near a rounding boundary goes through the scalar loop whole. */
  for (; i + 8 <= i1; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    /* -(double)g, low and high four */
    const __m256d x0 = _mm256_xor_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(g)), sign);
    const __m256d x1 = _mm256_xor_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(g, 1)), sign);
    /* !(|x| <= 708) catches NaN as well */
    const __m256d far = _mm256_or_pd(_mm256_cmp_pd(_mm256_andnot_pd(sign, x0), limit, _CMP_NLE_UQ),
                                     _mm256_cmp_pd(_mm256_andnot_pd(sign, x1), limit, _CMP_NLE_UQ));
    const __m256d y0 = exp_pd_avx2(x0), y1 = exp_pd_avx2(x1);
    const __m256 e = _mm256_set_m128(_mm256_cvtpd_ps(y1), _mm256_cvtpd_ps(y0));
    const __m256 lo = _mm256_set_m128(_mm256_cvtpd_ps(_mm256_mul_pd(y1, below)), _mm256_cvtpd_ps(_mm256_mul_pd(y0, below)));
    const __m256 hi = _mm256_set_m128(_mm256_cvtpd_ps(_mm256_mul_pd(y1, above)), _mm256_cvtpd_ps(_mm256_mul_pd(y0, above)));
    if (_mm256_movemask_pd(far) | _mm256_movemask_ps(_mm256_cmp_ps(lo, hi, _CMP_NEQ_UQ))) {
      swiglu_range_scalar(style, gate, up, i, i + 8);
      continue;
    }
    const __m256 d = _mm256_add_ps(one, e);
    const __m256 silu = style == LLMEM_NORM_RUNC ? _mm256_mul_ps(g, _mm256_div_ps(one, d)) : _mm256_div_ps(g, d);
    _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  /* Four more (a width of 8k + 4, as stories260K's 172), then one by one. */
  if (i + 4 <= i1) {
    const __m128 g = _mm_loadu_ps(gate + i);
    const __m256d x = _mm256_xor_pd(_mm256_cvtps_pd(g), sign);
    const int far = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_andnot_pd(sign, x), limit, _CMP_NLE_UQ));
    const __m256d y = exp_pd_avx2(x);
    const __m128 e = _mm256_cvtpd_ps(y);
    const __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(y, below)), hi = _mm256_cvtpd_ps(_mm256_mul_pd(y, above));
    if (far || _mm_movemask_ps(_mm_cmpneq_ps(lo, hi))) {
      swiglu_range_scalar(style, gate, up, i, i + 4);
    } else {
      const __m128 one4 = _mm_set1_ps(1.0f), d = _mm_add_ps(one4, e);
      const __m128 silu = style == LLMEM_NORM_RUNC ? _mm_mul_ps(g, _mm_div_ps(one4, d)) : _mm_div_ps(g, d);
      _mm_storeu_ps(gate + i, _mm_mul_ps(silu, _mm_loadu_ps(up + i)));
    }
    i += 4;
  }
  swiglu_range_scalar(style, gate, up, i, i1);
}
#endif

#if LLMEM_ARM
/* exp_pd_avx2 on NEON's two double lanes: the same reduction, series and table, so the same
 * error bound (below 2^-50; the fallback test below relies on it). */
static inline float64x2_t exp_pd_neon(float64x2_t x) {
  const float64x2_t k = vrndnq_f64(vmulq_n_f64(x, 32 * 1.4426950408889634));
  float64x2_t r = vfmsq_f64(x, k, vdupq_n_f64(6.93147180369123816490e-01 / 32)); /* x - k·c, fused */
  r = vfmsq_f64(r, k, vdupq_n_f64(1.90821492927058770002e-10 / 32));
  float64x2_t p = vdupq_n_f64(1.0 / 720);
  p = vfmaq_f64(vdupq_n_f64(1.0 / 120), p, r);
  p = vfmaq_f64(vdupq_n_f64(1.0 / 24), p, r);
  p = vfmaq_f64(vdupq_n_f64(1.0 / 6), p, r);
  p = vfmaq_f64(vdupq_n_f64(1.0 / 2), p, r);
  p = vfmaq_f64(vdupq_n_f64(1.0), p, r);
  p = vfmaq_f64(vdupq_n_f64(1.0), p, r);
  const int64x2_t ki = vcvtq_s64_f64(k); /* k is a whole number: exact */
  const float64x2_t t = vcombine_f64(vld1_f64(&exp2_32nds[vgetq_lane_s64(ki, 0) & 31]),
                                     vld1_f64(&exp2_32nds[vgetq_lane_s64(ki, 1) & 31]));
  const int64x2_t e = vshlq_n_s64(vaddq_s64(vshrq_n_s64(ki, 5), vdupq_n_s64(1023)), 52);
  return vmulq_f64(vmulq_f64(p, t), vreinterpretq_f64_s64(e));
}

/* swiglu_range_avx2's proof and fallback, four values per pass (two exps of two lanes). */
void swiglu_range_neon(int style, float *gate, const float *up, size_t i0, size_t i1) {
  const float64x2_t below = vdupq_n_f64(1.0 - 0x1p-46), above = vdupq_n_f64(1.0 + 0x1p-46);
  const float64x2_t limit = vdupq_n_f64(708.0);
  const float32x4_t one = vdupq_n_f32(1.0f);
  size_t i = i0;
  for (; i + 4 <= i1; i += 4) {
    const float32x4_t g = vld1q_f32(gate + i);
    const float64x2_t x0 = vnegq_f64(vcvt_f64_f32(vget_low_f32(g))), x1 = vnegq_f64(vcvt_high_f64_f32(g));
    /* |x| <= 708 is false for NaN too */
    const uint64x2_t near = vandq_u64(vcleq_f64(vabsq_f64(x0), limit), vcleq_f64(vabsq_f64(x1), limit));
    const float64x2_t y0 = exp_pd_neon(x0), y1 = exp_pd_neon(x1);
    const float32x4_t e = vcvt_high_f32_f64(vcvt_f32_f64(y0), y1);
    const float32x4_t lo = vcvt_high_f32_f64(vcvt_f32_f64(vmulq_f64(y0, below)), vmulq_f64(y1, below));
    const float32x4_t hi = vcvt_high_f32_f64(vcvt_f32_f64(vmulq_f64(y0, above)), vmulq_f64(y1, above));
    if (vminvq_u32(vceqq_f32(lo, hi)) == 0 || (vgetq_lane_u64(near, 0) & vgetq_lane_u64(near, 1)) == 0) {
      swiglu_range_scalar(style, gate, up, i, i + 4);
      continue;
    }
    const float32x4_t d = vaddq_f32(one, e);
    const float32x4_t silu = style == LLMEM_NORM_RUNC ? vmulq_f32(g, vdivq_f32(one, d)) : vdivq_f32(g, d);
    vst1q_f32(gate + i, vmulq_f32(silu, vld1q_f32(up + i)));
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
