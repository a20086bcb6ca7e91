/* Attention building blocks over K/V rows of any row format: scores q·k_t and the weighted sum
 * Σ_t w_t v_t. f32/f16/bf16 rows are widened in registers; quantized rows are decoded one 32-value block at a time into registers and
 * scaled there: no f32 copy of a row is ever written. The scalar references fix the f32
 * operation order the TS reference mirrors. */
#include "../formats.h"
#include "quant_internal.h"

/* Block geometry of a row format: bytes per block and where the nibbles/bytes start. */
/* The quantized row formats' block bytes as compile-time constants (the layouts of
 * quant_internal.h, which the format table's rows agree with: native/test/test_formats.c): read
 * from the table, the row loops waited on two dependent loads per row (×1.15 on 1,024 rows of
 * 128 q8_0 values). */
static size_t block_bytes(int format) {
  return format == LLMEM_Q8_0 ? Q8_0_BYTES : format == LLMEM_Q4_0 ? Q4_0_BYTES : Q4_1_BYTES;
}

/* Value j of a block before scaling (q for Q8_0, q-8 for Q4_0, q for Q4_1). */
static inline float block_q(int format, const uint8_t *blk, int j) {
  if (format == LLMEM_Q8_0) return (float)(int8_t)blk[2 + j];
  const uint8_t byte = blk[(format == LLMEM_Q4_0 ? 2 : 4) + (j & 15)];
  const int nib = j < 16 ? byte & 15 : byte >> 4;
  return (float)(format == LLMEM_Q4_0 ? nib - 8 : nib);
}

/* The unblocked formats: one value per element, f32 or the top/IEEE half of one. */
static inline int is_float_format(int format) {
  return format == LLMEM_F32 || format == LLMEM_F16 || format == LLMEM_BF16;
}

/* Value i of an f32, f16 or bf16 row (also the SIMD paths' tail). */
static inline float float_at(int format, const uint8_t *row, size_t i) {
  if (format == LLMEM_F32) {
    float v;
    memcpy(&v, row + 4 * i, 4);
    return v;
  }
  const uint16_t h = ld_u16(row + 2 * i);
  return format == LLMEM_F16 ? fp16_to_fp32(h) : bits_f32((uint32_t)h << 16);
}

LLMEM_SCALAR static float row_dot_scalar(int format, const float *q, const uint8_t *row, size_t n) {
  float acc = 0.0f;
  if (is_float_format(format)) {
    for (size_t i = 0; i < n; i++) acc += q[i] * float_at(format, row, i);
  } else {
    const size_t bb = block_bytes(format);
    for (size_t b = 0; b < n / 32; b++, q += 32, row += bb) {
      float s = 0.0f, qsum = 0.0f;
      for (int j = 0; j < 32; j++) s += q[j] * block_q(format, row, j);
      if (format == LLMEM_Q4_1) {
        for (int j = 0; j < 32; j++) qsum += q[j];
        acc += scale_at(row) * s + scale_at(row + 2) * qsum;
      } else {
        acc += scale_at(row) * s;
      }
    }
  }
  return acc;
}

LLMEM_SCALAR static void row_axpy_scalar(int format, float w, const uint8_t *row, float *out, size_t n) {
  if (is_float_format(format)) {
    for (size_t i = 0; i < n; i++) out[i] += w * float_at(format, row, i);
  } else {
    const size_t bb = block_bytes(format);
    for (size_t b = 0; b < n / 32; b++, out += 32, row += bb) {
      const float d = scale_at(row), m = format == LLMEM_Q4_1 ? scale_at(row + 2) : 0.0f;
      for (int j = 0; j < 32; j++) {
        const float v = format == LLMEM_Q4_1 ? block_q(format, row, j) * d + m : block_q(format, row, j) * d;
        out[j] += w * v;
      }
    }
  }
}

#if LLMEM_X86
/* One block's 32 unscaled values into four vectors of 8 (elements 0..31 in order). */
LLMEM_AVX2 static inline void decode_block_avx2(int format, const uint8_t *blk, __m256 v[4]) {
  if (format == LLMEM_Q8_0) {
    for (int k = 0; k < 4; k++)
      v[k] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(blk + 2 + 8 * k))));
    return;
  }
  const __m128i raw = _mm_loadu_si128((const __m128i *)(blk + (format == LLMEM_Q4_0 ? 2 : 4)));
  const __m128i low4 = _mm_set1_epi8(0x0F), bias = _mm_set1_epi8(format == LLMEM_Q4_0 ? 8 : 0);
  const __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, low4), bias);
  const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), low4), bias);
  v[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
  v[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)));
  v[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
  v[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)));
}

/* Eight values of an f32, f16 or bf16 row from value i on. */
LLMEM_AVX2 static inline __m256 load8_avx2(int format, const uint8_t *row, size_t i) {
  if (format == LLMEM_F32) return _mm256_loadu_ps((const float *)(const void *)row + i);
  const __m128i h = _mm_loadu_si128((const __m128i *)(row + 2 * i));
  if (format == LLMEM_F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

LLMEM_AVX2 static float row_dot_avx2(int format, const float *q, const uint8_t *row, size_t n) {
  __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
  if (is_float_format(format)) {
    size_t i = 0;
    __m256 acc1 = _mm256_setzero_ps();
    for (; i + 16 <= n; i += 16) {
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8_avx2(format, row, i), acc);
      acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), load8_avx2(format, row, i + 8), acc1);
    }
    float tail = 0.0f;
    for (; i < n; i++) tail += q[i] * float_at(format, row, i);
    return hsum_avx2(_mm256_add_ps(acc, acc1)) + tail;
  }
  const size_t bb = block_bytes(format);
  for (size_t b = 0; b < n / 32; b++, q += 32, row += bb) {
    __m256 v[4];
    decode_block_avx2(format, row, v);
    const __m256 q0 = _mm256_loadu_ps(q), q1 = _mm256_loadu_ps(q + 8);
    const __m256 q2 = _mm256_loadu_ps(q + 16), q3 = _mm256_loadu_ps(q + 24);
    __m256 s = _mm256_mul_ps(v[0], q0);
    s = _mm256_fmadd_ps(v[1], q1, s);
    s = _mm256_fmadd_ps(v[2], q2, s);
    s = _mm256_fmadd_ps(v[3], q3, s);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(scale_at_avx2(row)), s, acc);
    if (format == LLMEM_Q4_1) {
      const __m256 qs = _mm256_add_ps(_mm256_add_ps(q0, q1), _mm256_add_ps(q2, q3));
      accm = _mm256_fmadd_ps(_mm256_set1_ps(scale_at_avx2(row + 2)), qs, accm);
    }
  }
  return hsum_avx2(_mm256_add_ps(acc, accm));
}

LLMEM_AVX2 static void row_axpy_avx2(int format, float w, const uint8_t *row, float *out, size_t n) {
  if (is_float_format(format)) {
    const __m256 wv = _mm256_set1_ps(w);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(out + i, _mm256_fmadd_ps(wv, load8_avx2(format, row, i), _mm256_loadu_ps(out + i)));
    for (; i < n; i++) out[i] += w * float_at(format, row, i);
    return;
  }
  const size_t bb = block_bytes(format);
  for (size_t b = 0; b < n / 32; b++, out += 32, row += bb) {
    __m256 v[4];
    decode_block_avx2(format, row, v);
    const __m256 wd = _mm256_set1_ps(w * scale_at_avx2(row));
    const __m256 wm = _mm256_set1_ps(format == LLMEM_Q4_1 ? w * scale_at_avx2(row + 2) : 0.0f);
    for (int k = 0; k < 4; k++)
      _mm256_storeu_ps(out + 8 * k, _mm256_add_ps(_mm256_loadu_ps(out + 8 * k), _mm256_fmadd_ps(wd, v[k], wm)));
  }
}
#endif

#if LLMEM_ARM
/* One block's 32 unscaled values into eight vectors of 4 (elements 0..31 in order). */
static inline void decode_block_neon(int format, const uint8_t *blk, float32x4_t v[8]) {
  int8x16_t lo, hi;
  if (format == LLMEM_Q8_0) {
    lo = vld1q_s8((const int8_t *)blk + 2);
    hi = vld1q_s8((const int8_t *)blk + 18);
  } else {
    const uint8x16_t raw = vld1q_u8(blk + (format == LLMEM_Q4_0 ? 2 : 4));
    const int8x16_t bias = vdupq_n_s8(format == LLMEM_Q4_0 ? 8 : 0);
    lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(15))), bias);
    hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), bias);
  }
  const int16x8_t w[4] = {vmovl_s8(vget_low_s8(lo)), vmovl_s8(vget_high_s8(lo)), vmovl_s8(vget_low_s8(hi)),
                          vmovl_s8(vget_high_s8(hi))};
  for (int k = 0; k < 4; k++) {
    v[2 * k] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(w[k])));
    v[2 * k + 1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(w[k])));
  }
}

/* Four values of an f32, f16 or bf16 row from value i on. */
static inline float32x4_t load_row4_neon(int format, const uint8_t *row, size_t i) {
  if (format == LLMEM_F32) return vld1q_f32((const float *)(const void *)row + i);
  const uint16x4_t h = vld1_u16((const uint16_t *)(const void *)row + i);
  return format == LLMEM_F16 ? vcvt_f32_f16(vreinterpret_f16_u16(h)) : vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}

static float row_dot_neon(int format, const float *q, const uint8_t *row, size_t n) {
  float32x4_t acc = vdupq_n_f32(0), accm = vdupq_n_f32(0);
  if (is_float_format(format)) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) acc = vfmaq_f32(acc, vld1q_f32(q + i), load_row4_neon(format, row, i));
    float sum = vaddvq_f32(acc);
    for (; i < n; i++) sum += q[i] * float_at(format, row, i);
    return sum;
  }
  const size_t bb = block_bytes(format);
  for (size_t b = 0; b < n / 32; b++, q += 32, row += bb) {
    float32x4_t v[8], s = vdupq_n_f32(0), qs = vdupq_n_f32(0);
    decode_block_neon(format, row, v);
    for (int k = 0; k < 8; k++) {
      const float32x4_t qk = vld1q_f32(q + 4 * k);
      s = vfmaq_f32(s, v[k], qk);
      qs = vaddq_f32(qs, qk);
    }
    acc = vfmaq_n_f32(acc, s, scale_at(row));
    if (format == LLMEM_Q4_1) accm = vfmaq_n_f32(accm, qs, scale_at(row + 2));
  }
  return vaddvq_f32(vaddq_f32(acc, accm));
}

static void row_axpy_neon(int format, float w, const uint8_t *row, float *out, size_t n) {
  if (is_float_format(format)) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vfmaq_n_f32(vld1q_f32(out + i), load_row4_neon(format, row, i), w));
    for (; i < n; i++) out[i] += w * float_at(format, row, i);
    return;
  }
  const size_t bb = block_bytes(format);
  for (size_t b = 0; b < n / 32; b++, out += 32, row += bb) {
    float32x4_t v[8];
    decode_block_neon(format, row, v);
    const float wd = w * scale_at(row);
    const float32x4_t wm = vdupq_n_f32(format == LLMEM_Q4_1 ? w * scale_at(row + 2) : 0.0f);
    for (int k = 0; k < 8; k++) vst1q_f32(out + 4 * k, vaddq_f32(vld1q_f32(out + 4 * k), vfmaq_n_f32(wm, v[k], wd)));
  }
}
#endif

/* The loops over count rows, one per ISA, each calling its own row kernel directly (so the row
 * kernel inlines with the loop); the ISA table picks one of them once. */
#define ATTN_LOOPS(attr, isa)                                                                                       \
  attr void attn_scores_##isa(int format, const float *query, const uint8_t *row, size_t stride_bytes, size_t count, \
                         size_t head_dim, float scale, float *out) {                                            \
    for (size_t t = 0; t < count; t++, row += stride_bytes) out[t] = scale * row_dot_##isa(format, query, row, head_dim); \
  }                                                                                                             \
  attr void attn_weighted_sum_##isa(int format, const float *weights, const uint8_t *row, size_t stride_bytes,        \
                               size_t count, size_t head_dim, float *out) {                                     \
    for (size_t t = 0; t < count; t++, row += stride_bytes) row_axpy_##isa(format, weights[t], row, out, head_dim); \
  }
ATTN_LOOPS(LLMEM_SCALAR, scalar)
#if LLMEM_X86
#define attn_weighted_sum_avx2 attn_weighted_sum_rows_avx2
ATTN_LOOPS(LLMEM_AVX2, avx2)
#undef attn_weighted_sum_avx2

/* Float rows (f32/f16/bf16) for 32 columns at a time: the 32 sums stay in four registers while
 * every row passes, instead of a load and a store of out per row and vector. Each sum still
 * takes the rows in order with one FMA each, so the bits are those of the row-by-row loop.
 * `format` is a constant in each call below, so load8_avx2's format test folds away. */
LLMEM_AVX2 static inline void weighted_columns_avx2(int format, const float *weights, const uint8_t *row,
                                                    size_t stride_bytes, size_t count, float *out, size_t i) {
  __m256 a0 = _mm256_loadu_ps(out + i), a1 = _mm256_loadu_ps(out + i + 8);
  __m256 a2 = _mm256_loadu_ps(out + i + 16), a3 = _mm256_loadu_ps(out + i + 24);
  for (size_t t = 0; t < count; t++, row += stride_bytes) {
    const __m256 w = _mm256_set1_ps(weights[t]);
    a0 = _mm256_fmadd_ps(w, load8_avx2(format, row, i), a0);
    a1 = _mm256_fmadd_ps(w, load8_avx2(format, row, i + 8), a1);
    a2 = _mm256_fmadd_ps(w, load8_avx2(format, row, i + 16), a2);
    a3 = _mm256_fmadd_ps(w, load8_avx2(format, row, i + 24), a3);
  }
  _mm256_storeu_ps(out + i, a0);
  _mm256_storeu_ps(out + i + 8, a1);
  _mm256_storeu_ps(out + i + 16, a2);
  _mm256_storeu_ps(out + i + 24, a3);
}

LLMEM_AVX2 void attn_weighted_sum_avx2(int format, const float *weights, const uint8_t *row, size_t stride_bytes,
                                       size_t count, size_t head_dim, float *out) {
  /* f32 rows go row by row: at a power-of-two stride (heads interleaved) every row's slice of
   * 32 columns lands in the same few cache sets, and four passes over the rows then thrash L2
   * (measured, 1,024 rows × 128 at a 4 KiB stride: ×2.0 the time of one row-by-row pass). 16-bit
   * rows are half the bytes, and keeping the sums in registers wins there (×0.5). */
  if (format == LLMEM_F32 || !is_float_format(format) || head_dim < 32) {
    attn_weighted_sum_rows_avx2(format, weights, row, stride_bytes, count, head_dim, out);
    return;
  }
  size_t i = 0;
  for (; i + 32 <= head_dim; i += 32) {
    if (format == LLMEM_F32) weighted_columns_avx2(LLMEM_F32, weights, row, stride_bytes, count, out, i);
    else if (format == LLMEM_F16) weighted_columns_avx2(LLMEM_F16, weights, row, stride_bytes, count, out, i);
    else weighted_columns_avx2(LLMEM_BF16, weights, row, stride_bytes, count, out, i);
  }
  /* The last head_dim % 32 columns row by row, as before (element i of a row is at i * size). */
  if (i < head_dim) {
    const size_t elem = format == LLMEM_F32 ? 4 : 2;
    for (size_t t = 0; t < count; t++, row += stride_bytes)
      row_axpy_avx2(format, weights[t], row + i * elem, out + i, head_dim - i);
  }
}
#endif
#if LLMEM_ARM
ATTN_LOOPS(, neon)
#endif

int llmem_attn_scores(int format, const float *query, const void *base, size_t offset_bytes, size_t stride_bytes,
                      size_t count, size_t head_dim, float scale, float *out) {
  if (!llmem_row_format_ok(format, head_dim)) return -1;
  llmem_isa_kernels_active.attn_scores(format, query, (const uint8_t *)base + offset_bytes, stride_bytes, count,
                                       head_dim, scale, out);
  return 0;
}

int llmem_attn_weighted_sum(int format, const float *weights, const void *base, size_t offset_bytes,
                            size_t stride_bytes, size_t count, size_t head_dim, float *out) {
  if (!llmem_row_format_ok(format, head_dim)) return -1;
  llmem_isa_kernels_active.attn_weighted_sum(format, weights, (const uint8_t *)base + offset_bytes, stride_bytes,
                                             count, head_dim, out);
  return 0;
}
