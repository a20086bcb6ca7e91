/* Shared by the quant-kernels sources: block layouts, scalar fp16/bf16, ISA helpers. */
#ifndef LLMEM_QUANT_INTERNAL_H
#define LLMEM_QUANT_INTERNAL_H

#include <float.h>
#include <math.h>
#include <string.h>

#include "../formats.h"

/* Block sizes in bytes (GGML's layouts; scales are little-endian fp16, read with memcpy
 * because blocks of 34/18/20 bytes leave them unaligned). */
#define Q8_0_BYTES 34
#define Q4_0_BYTES 18
#define Q4_1_BYTES 20
#define Q8_1_BYTES 36
#define Q5_0_BYTES 22
#define Q5_1_BYTES 24

/* The scalar references are the yardstick the SIMD paths are measured against, so the
 * compiler must not auto-vectorize them (GCC would, at -O3): an honest "scalar" baseline. */
#if defined(__GNUC__) && !defined(__clang__)
#define LLMEM_SCALAR __attribute__((optimize("no-tree-vectorize")))
#else
#define LLMEM_SCALAR
#endif

static inline uint16_t ld_u16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}
static inline void st_u16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline uint32_t f32_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  return u;
}
static inline float bits_f32(uint32_t u) {
  float x;
  memcpy(&x, &u, 4);
  return x;
}

/* f32 -> fp16, round to nearest even; NaN keeps its sign and top payload bits, quieted
 * (what F16C and AArch64 FCVT do, so every path agrees bit for bit). */
static inline uint16_t fp32_to_fp16(float x) {
  const uint32_t u = f32_bits(x), sign = (u >> 16) & 0x8000, a = u & 0x7fffffff;
  if (a > 0x7f800000) return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
  if (a >= 0x477ff000) return (uint16_t)(sign | 0x7c00);
  if (a >= 0x38800000) {
    const uint32_t r = a - 0x38000000;
    return (uint16_t)(sign | ((r + 0xfff + ((r >> 13) & 1)) >> 13));
  }
  if (a <= 0x33000000) return (uint16_t)sign;
  const uint32_t e = a >> 23, mant = (a & 0x7fffff) | 0x800000, shift = 126 - e;
  uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) q++;
  return (uint16_t)(sign | q);
}

static inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e == 0x1f) return bits_f32(sign | 0x7f800000 | (m << 13) | (m ? 0x400000 : 0));
  if (e != 0) return bits_f32(sign | ((e + 112) << 23) | (m << 13));
  if (m == 0) return bits_f32(sign);
  return bits_f32(sign | f32_bits((float)m * 0x1p-24f)); /* exact: subnormal fp16 is normal f32 */
}

static inline uint16_t fp32_to_bf16(float x) {
  const uint32_t u = f32_bits(x);
  if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);
  return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static inline float scale_at(const uint8_t *p) { return fp16_to_fp32(ld_u16(p)); }

/* One Q8_0/Q4_0/Q5_0 block's fold into a dot product, the order of the scalar references:
 * sum + sumi·(dw·dx), one statement per rounding (so no compiler contracts it into an FMA). The
 * NEON vec_dots and the NEON multi-row kernels (matmul_neon.c, four rows per lane vector) fold
 * the same way, so on NEON these formats' dots, matvec and matmul equal the scalar ones bit for bit. */
static inline float q_block_fold(float sum, int sumi, float dw, float dx) {
  const float dd = dw * dx;
  const float t = (float)sumi * dd;
  return sum + t;
}

/* roundf for the 8-bit formats: |p| < 127.5 rounds half away from zero; a non-finite p
 * (1/d overflowed, or an Inf input) gives 0, where GGML's reference is undefined. */
static inline int8_t q8_round(float p) { return fabsf(p) < 127.5f ? (int8_t)roundf(p) : 0; }
/* min(15, (int8)v) for the 4-bit formats, truncating; non-finite -> 0. */
static inline uint8_t q4_trunc(float v) {
  if (!(fabsf(v) <= FLT_MAX)) return 0;
  const int t = (int)fmaxf(-1.0f, fminf(16.0f, v));
  return (uint8_t)(t < 0 ? 0 : t > 15 ? 15 : t);
}

/* The per-format kernels are declared in ../formats.h and reached through its tables. */

/* Runs fn(ctx, i) for i in [0, tasks) over the thread pool (the caller runs its share). */
typedef void (*llmem_task_fn)(void *ctx, size_t task);
void llmem_pool_run(llmem_task_fn fn, void *ctx, size_t tasks);

#if LLMEM_X86
LLMEM_AVX2 static inline float hsum_avx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
/* Σ of eight int32 lanes. */
LLMEM_AVX2 static inline int hsum_i32_avx2(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}
LLMEM_AVX2 static inline float hmax_avx2(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
LLMEM_AVX2 static inline float hmin_avx2(__m256 v) {
  __m128 s = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_min_ps(s, _mm_movehl_ps(s, s));
  s = _mm_min_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
LLMEM_AVX2 static inline float scale_at_avx2(const uint8_t *p) { return _cvtsh_ss(ld_u16(p)); }
LLMEM_AVX2 static inline uint16_t fp16_avx2(float x) { return (uint16_t)_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT); }

/* q8_round on 8 lanes. _mm256_round_ps has no "half away from zero" mode (GGML's AVX2
 * quantizer rounds to nearest even and so disagrees with its own reference on .5 ties).
 * Adding copysign(0.5 - 2^-25, p) and truncating is exactly roundf for |p| < 2^23: the
 * largest fraction below .5 stays below the next integer, and .5 itself reaches it. */
LLMEM_AVX2 static inline __m256i round_q8_avx2(__m256 p) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 ok = _mm256_cmp_ps(_mm256_andnot_ps(sign, p), _mm256_set1_ps(127.5f), _CMP_LT_OQ);
  const __m256 nudge = _mm256_or_ps(_mm256_and_ps(p, sign), _mm256_set1_ps(0x1.fffffep-2f));
  return _mm256_and_si256(_mm256_cvttps_epi32(_mm256_add_ps(p, nudge)), _mm256_castps_si256(ok));
}

/* Four vectors of 8 int32 (elements 0..31) to 32 int8 in order (packs interleave lanes). */
LLMEM_AVX2 static inline __m256i pack_q8_avx2(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i abcd = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* q4_trunc on 8 lanes: truncation, and the clamp to [0, 15] also maps the "integer
 * indefinite" result of a non-finite or huge lane to 0, as the scalar rule says. */
LLMEM_AVX2 static inline __m256i trunc_q4_avx2(__m256 v) {
  const __m256i t = _mm256_cvttps_epi32(v);
  return _mm256_min_epi32(_mm256_max_epi32(t, _mm256_setzero_si256()), _mm256_set1_epi32(15));
}

/* 32 values of 0..15 (elements 0..31 in a..d) to 16 bytes: low nibble j, high nibble j+16. */
LLMEM_AVX2 static inline __m128i pack_q4_avx2(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i lo = _mm256_packs_epi32(a, b), hi = _mm256_packs_epi32(c, d); /* 0-3,8-11|4-7,12-15 */
  const __m256i both = _mm256_permute4x64_epi64(_mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)), 0xD8);
  return _mm_packus_epi16(_mm256_castsi256_si128(both), _mm256_extracti128_si256(both, 1));
}

/* The 32 levels 0..31 of a block in element order: nibbles (low = 0..15, high = 16..31) plus
 * the fifth bit, spread from qh's 32 bits to bytes (byte e <- bit e) by a byte shuffle and a
 * per-byte bit test. (q5.c's dots and matmul.c's Q5_0 tile.) */
LLMEM_AVX2 static inline __m256i q5_levels_avx2(const uint8_t *h, const uint8_t *q) {
  uint32_t qh;
  memcpy(&qh, h, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32((int)qh), _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
  const __m256i high = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
  const __m128i raw = _mm_loadu_si128((const __m128i *)q);
  const __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
  return _mm256_or_si256(nib, high);
}

/* 8×8 transpose of 32-bit groups: T[g] lane i = u[i] lane g (the matmul tiles' row-to-lane
 * layout: lane i then holds row i's 4 bytes of values 4g..4g+3). */
LLMEM_AVX2 static inline void transpose8x8_epi32_avx2(const __m256i u[8], __m256i T[8]) {
  const __m256i a0 = _mm256_unpacklo_epi32(u[0], u[1]), a1 = _mm256_unpackhi_epi32(u[0], u[1]);
  const __m256i a2 = _mm256_unpacklo_epi32(u[2], u[3]), a3 = _mm256_unpackhi_epi32(u[2], u[3]);
  const __m256i a4 = _mm256_unpacklo_epi32(u[4], u[5]), a5 = _mm256_unpackhi_epi32(u[4], u[5]);
  const __m256i a6 = _mm256_unpacklo_epi32(u[6], u[7]), a7 = _mm256_unpackhi_epi32(u[6], u[7]);
  const __m256i b0 = _mm256_unpacklo_epi64(a0, a2), b1 = _mm256_unpackhi_epi64(a0, a2);
  const __m256i b2 = _mm256_unpacklo_epi64(a1, a3), b3 = _mm256_unpackhi_epi64(a1, a3);
  const __m256i b4 = _mm256_unpacklo_epi64(a4, a6), b5 = _mm256_unpackhi_epi64(a4, a6);
  const __m256i b6 = _mm256_unpacklo_epi64(a5, a7), b7 = _mm256_unpackhi_epi64(a5, a7);
  /* b0: rows 0-3 group 0 | group 4; b4: rows 4-7 group 0 | group 4; b1: group 1|5, b2: 2|6, b3: 3|7. */
  T[0] = _mm256_permute2x128_si256(b0, b4, 0x20), T[1] = _mm256_permute2x128_si256(b1, b5, 0x20);
  T[2] = _mm256_permute2x128_si256(b2, b6, 0x20), T[3] = _mm256_permute2x128_si256(b3, b7, 0x20);
  T[4] = _mm256_permute2x128_si256(b0, b4, 0x31), T[5] = _mm256_permute2x128_si256(b1, b5, 0x31);
  T[6] = _mm256_permute2x128_si256(b2, b6, 0x31), T[7] = _mm256_permute2x128_si256(b3, b7, 0x31);
}
#endif

#if LLMEM_ARM
/* q8_round on 4 lanes: FCVTAS rounds half away from zero, exactly roundf. */
static inline int32x4_t round_q8_neon(float32x4_t p) {
  const uint32x4_t ok = vcaltq_f32(p, vdupq_n_f32(127.5f));
  return vcvtaq_s32_f32(vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(p), ok)));
}
/* q4_trunc on 4 lanes (FCVTZS saturates, so a non-finite lane is zeroed first). */
static inline int32x4_t trunc_q4_neon(float32x4_t v) {
  const uint32x4_t finite = vcaleq_f32(v, vdupq_n_f32(FLT_MAX));
  const int32x4_t t = vcvtq_s32_f32(vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), finite)));
  return vminq_s32(vmaxq_s32(t, vdupq_n_s32(0)), vdupq_n_s32(15));
}
/* 8 vectors of 4 int32 (elements 0..31) to 32 int8. */
static inline void store_q8_neon(int8_t *y, const int32x4_t q[8]) {
  const int16x8_t h0 = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
  const int16x8_t h1 = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
  const int16x8_t h2 = vcombine_s16(vqmovn_s32(q[4]), vqmovn_s32(q[5]));
  const int16x8_t h3 = vcombine_s16(vqmovn_s32(q[6]), vqmovn_s32(q[7]));
  vst1q_s8(y, vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1)));
  vst1q_s8(y + 16, vcombine_s8(vqmovn_s16(h2), vqmovn_s16(h3)));
}
/* 8 vectors of 4 values 0..15 (elements 0..31) to 16 bytes: low nibble j, high nibble j+16. */
static inline void store_q4_neon(uint8_t *y, const int32x4_t q[8]) {
  const uint16x8_t l0 = vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(q[0])), vmovn_u32(vreinterpretq_u32_s32(q[1])));
  const uint16x8_t l1 = vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(q[2])), vmovn_u32(vreinterpretq_u32_s32(q[3])));
  const uint16x8_t h0 = vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(q[4])), vmovn_u32(vreinterpretq_u32_s32(q[5])));
  const uint16x8_t h1 = vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(q[6])), vmovn_u32(vreinterpretq_u32_s32(q[7])));
  const uint8x16_t lo = vcombine_u8(vmovn_u16(l0), vmovn_u16(l1)), hi = vcombine_u8(vmovn_u16(h0), vmovn_u16(h1));
  vst1q_u8(y, vorrq_u8(lo, vshlq_n_u8(hi, 4)));
}
/* scale_at by the hardware (FCVT: fp16 -> f32 is exact, so the same bits). */
static inline float scale_at_neon(const uint8_t *p) {
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(ld_u16(p)))), 0);
}
/* The 32 products a·b (int8 × int8, any values) in int32 lanes, from zero (the plain branch
 * then needs no zeroed accumulator). The lanes' split differs between the branches. */
static inline int32x4_t dot32_first_neon(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), a0, b0), a1, b1);
#else
  int32x4_t acc = vpaddlq_s16(vmull_s8(vget_low_s8(a0), vget_low_s8(b0)));
  acc = vpadalq_s16(acc, vmull_high_s8(a0, b0));
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a1), vget_low_s8(b1)));
  return vpadalq_s16(acc, vmull_high_s8(a1, b1));
#endif
}
/* acc + the 32 products a·b (int8 × int8, any values) in int32 lanes. Lanes hold partial sums
 * whose split differs between the two branches; callers use only the lanes' total (exact either way). */
static inline int32x4_t dot32_neon(int32x4_t acc, int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(vdotq_s32(acc, a0, b0), a1, b1);
#else
  /* Without SDOT (plain ARMv8.0): widening multiplies into int16 (|a·b| <= 128·128), then
   * pairwise accumulate into int32. */
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a0), vget_low_s8(b0)));
  acc = vpadalq_s16(acc, vmull_high_s8(a0, b0));
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a1), vget_low_s8(b1)));
  return vpadalq_s16(acc, vmull_high_s8(a1, b1));
#endif
}
/* Q5_0/Q5_1 levels of values 0..15 and 16..31 (h: the 32 fifth bits, q: the 16 nibble bytes):
 * nibbles plus the fifth bit, each qh byte tested against the bit of its value (vtst: 0xFF where set). */
static inline void q5_levels_neon(const uint8_t *h, const uint8_t *q, uint8x16_t *lo, uint8x16_t *hi) {
  static const uint8_t bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t bit = vld1q_u8(bits);
  const uint8x16_t h01 = vcombine_u8(vdup_n_u8(h[0]), vdup_n_u8(h[1]));
  const uint8x16_t h23 = vcombine_u8(vdup_n_u8(h[2]), vdup_n_u8(h[3]));
  const uint8x16_t raw = vld1q_u8(q), f = vdupq_n_u8(0x10);
  *lo = vorrq_u8(vandq_u8(raw, vdupq_n_u8(0x0F)), vandq_u8(vtstq_u8(h01, bit), f));
  *hi = vorrq_u8(vshrq_n_u8(raw, 4), vandq_u8(vtstq_u8(h23, bit), f));
}
/* Bytes per block of the formats whose vec_dot pairs with Q8_0 and has NEON block levels. */
static inline size_t q_block_bytes(int format) {
  return format == LLMEM_Q8_0 ? Q8_0_BYTES : format == LLMEM_Q4_0 ? Q4_0_BYTES : Q5_0_BYTES;
}
/* One Q8_0/Q4_0/Q5_0 block's values as int8 in element order (lo: 0..15, hi: 16..31), what its
 * vec_dot multiplies x's int8 by: q, nibble - 8, level - 16. `format` is a constant where inlined. */
static inline __attribute__((always_inline)) void q_block_levels_neon(int format, const uint8_t *blk, int8x16_t *lo,
                                                                      int8x16_t *hi) {
  if (format == LLMEM_Q8_0) {
    *lo = vld1q_s8((const int8_t *)blk + 2);
    *hi = vld1q_s8((const int8_t *)blk + 18);
  } else if (format == LLMEM_Q4_0) {
    const uint8x16_t raw = vld1q_u8(blk + 2);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(15))), vdupq_n_s8(8));
    *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), vdupq_n_s8(8));
  } else {
    uint8x16_t l, h;
    q5_levels_neon(blk + 2, blk + 6, &l, &h);
    *lo = vsubq_s8(vreinterpretq_s8_u8(l), vdupq_n_s8(16));
    *hi = vsubq_s8(vreinterpretq_s8_u8(h), vdupq_n_s8(16));
  }
}
/* One row · x of Q8_0/Q4_0/Q5_0 (x: Q8_0 blocks), folded per block as the scalar reference. */
static inline __attribute__((always_inline)) float q_row_dot_neon(int format, const uint8_t *x, const uint8_t *y,
                                                                  size_t n) {
  const size_t bb = q_block_bytes(format);
  float sum = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += bb, y += Q8_0_BYTES) {
    int8x16_t lo, hi;
    q_block_levels_neon(format, x, &lo, &hi);
    const int32x4_t s = dot32_first_neon(lo, hi, vld1q_s8((const int8_t *)y + 2), vld1q_s8((const int8_t *)y + 18));
    sum = q_block_fold(sum, vaddvq_s32(s), scale_at_neon(x), scale_at_neon(y));
  }
  return sum;
}
/* 8 int8 to two f32x4 (scaled by d). */
static inline void widen8_neon(int8x8_t q, float d, float32x4_t *lo, float32x4_t *hi) {
  const int16x8_t w = vmovl_s8(q);
  *lo = vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(w))), d);
  *hi = vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_high_s16(w))), d);
}
#endif

#endif
