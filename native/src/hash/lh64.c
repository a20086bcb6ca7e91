/*
 * LH64, the prefix-hash `fast` mode (specified in packages/prefix-hash/src/fast.ts, which is
 * the bit-identical TypeScript path): eight 32-bit lanes absorb 8-word stripes with
 * v = rotl(v + w*P2, 13) * P1, then a fold and a short finish that mixes in the parent hash.
 * Only the stripe absorption is vectorized (one AVX2 register, or two NEON registers, holds
 * the eight lanes); the parent enters after the content digest, so consecutive blocks'
 * absorptions and digests are independent and the out-of-order core overlaps them.
 */
#include <string.h>

#include "../internal.h"

#define P1 0x9E3779B1u
#define P2 0x85EBCA77u
#define P3 0xC2B2AE3Du
#define P4 0x27D4EB2Fu
#define P5 0x165667B1u

static const uint32_t IV[8] = {P1 * 1u, P1 * 3u, P1 * 5u, P1 * 7u, P1 * 9u, P1 * 11u, P1 * 13u, P1 * 15u};

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

typedef void (*absorb_fn)(uint32_t v[8], const uint32_t *src, size_t stripes);

static void absorb_scalar(uint32_t v[8], const uint32_t *src, size_t stripes) {
  for (size_t s = 0; s < stripes; s++, src += 8) {
    for (int j = 0; j < 8; j++) v[j] = rotl32(v[j] + src[j] * P2, 13) * P1;
  }
}

#if LLMEM_X86
LLMEM_AVX2 static void absorb_avx2(uint32_t v[8], const uint32_t *src, size_t stripes) {
  const __m256i p1 = _mm256_set1_epi32((int)P1), p2 = _mm256_set1_epi32((int)P2);
  __m256i acc = _mm256_loadu_si256((const __m256i *)v);
  for (size_t s = 0; s < stripes; s++, src += 8) {
    acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)src), p2));
    acc = _mm256_or_si256(_mm256_slli_epi32(acc, 13), _mm256_srli_epi32(acc, 19));
    acc = _mm256_mullo_epi32(acc, p1);
  }
  _mm256_storeu_si256((__m256i *)v, acc);
}
#endif

#if LLMEM_ARM
static void absorb_neon(uint32_t v[8], const uint32_t *src, size_t stripes) {
  uint32x4_t a = vld1q_u32(v), b = vld1q_u32(v + 4);
  for (size_t s = 0; s < stripes; s++, src += 8) {
    a = vmlaq_n_u32(a, vld1q_u32(src), P2);
    b = vmlaq_n_u32(b, vld1q_u32(src + 4), P2);
    a = vmulq_n_u32(vsriq_n_u32(vshlq_n_u32(a, 13), a, 19), P1);
    b = vmulq_n_u32(vsriq_n_u32(vshlq_n_u32(b, 13), b, 19), P1);
  }
  vst1q_u32(v, a);
  vst1q_u32(v + 4, b);
}
#endif

/* tokens[0..n) then extra[0..m) as one message, the last stripe zero-padded. */
static inline __attribute__((always_inline)) void absorb_message(absorb_fn absorb, uint32_t v[8],
                                                                  const uint32_t *tokens, size_t n,
                                                                  const uint32_t *extra, size_t m) {
  uint32_t tail[8];
  memcpy(v, IV, sizeof IV);
  size_t full = n / 8, t = n % 8, k = 0;
  absorb(v, tokens, full);
  if (t > 0) {
    /* the stripe that straddles the token/extra boundary */
    memcpy(tail, tokens + full * 8, t * sizeof *tail);
    while (t < 8 && k < m) tail[t++] = extra[k++];
    memset(tail + t, 0, (8 - t) * sizeof *tail);
    absorb(v, tail, 1);
  }
  if (k < m) {
    size_t fullb = (m - k) / 8;
    absorb(v, extra + k, fullb);
    k += fullb * 8;
    if (k < m) {
      memset(tail, 0, sizeof tail);
      memcpy(tail, extra + k, (m - k) * sizeof *tail);
      absorb(v, tail, 1);
    }
  }
}

/* Steps 4 and 5 of the spec: the content digest, then the parent (the chain's serial step). */
static inline uint64_t mix(uint32_t lo, uint32_t hi, size_t words, size_t tokens, uint64_t parent) {
  /* content digest: independent of the parent, so blocks of a chain overlap */
  uint32_t a = lo + (uint32_t)words * P5;
  uint32_t b = hi + (uint32_t)tokens * P4;
  a ^= rotl32(b, 11);
  a *= P1;
  a ^= a >> 15;
  b ^= rotl32(a, 17);
  b *= P2;
  b ^= b >> 13;
  a ^= rotl32(b, 11);
  a *= P3;
  a ^= a >> 16;
  b ^= rotl32(a, 17);
  b *= P4;
  b ^= b >> 16;
  /* the parent: a short bijective mix */
  a ^= (uint32_t)parent;
  b ^= (uint32_t)(parent >> 32);
  a = (a ^ rotl32(b, 16)) * P1;
  b = (b ^ (a >> 15)) * P3;
  return ((uint64_t)b << 32) | (uint32_t)(a ^ (b >> 16));
}

/* Step 3: fold the lanes. */
static inline uint64_t finish(const uint32_t v[8], size_t words, size_t tokens, uint64_t parent) {
  uint32_t lo = rotl32(v[0], 1) + rotl32(v[1], 7) + rotl32(v[2], 12) + rotl32(v[3], 18);
  uint32_t hi = rotl32(v[4], 1) + rotl32(v[5], 7) + rotl32(v[6], 12) + rotl32(v[7], 18);
  return mix(lo, hi, words, tokens, parent);
}

static inline __attribute__((always_inline)) uint64_t hash_one(absorb_fn absorb, const uint32_t *tokens,
                                                                size_t n, const uint32_t *extra, size_t m,
                                                                uint64_t parent) {
  uint32_t v[8];
  absorb_message(absorb, v, tokens, n, extra, m);
  return finish(v, n + m, n, parent);
}

static inline __attribute__((always_inline)) void chain(absorb_fn absorb, const uint32_t *tokens,
                                                         size_t block_size, size_t n_blocks,
                                                         const uint32_t *extra, const uint32_t *offsets,
                                                         uint64_t parent, uint32_t *out) {
  for (size_t i = 0; i < n_blocks; i++) {
    const uint32_t *e = offsets ? extra + offsets[i] : NULL;
    size_t m = offsets ? (size_t)(offsets[i + 1] - offsets[i]) : 0;
    parent = hash_one(absorb, tokens + i * block_size, block_size, e, m, parent);
    out[2 * i] = (uint32_t)parent;
    out[2 * i + 1] = (uint32_t)(parent >> 32);
  }
}

/* The common chain (no extra keys, blocks of whole stripes) with the lanes kept in registers
 * from load to fold, instead of going through memory once per block. */
#if LLMEM_X86
LLMEM_AVX2 static void chain_plain_avx2(const uint32_t *tokens, size_t block_size, size_t n_blocks,
                                        uint64_t parent, uint32_t *out) {
  const __m256i p1 = _mm256_set1_epi32((int)P1), p2 = _mm256_set1_epi32((int)P2);
  const __m256i iv = _mm256_loadu_si256((const __m256i *)IV);
  const __m256i left = _mm256_setr_epi32(1, 7, 12, 18, 1, 7, 12, 18);
  const __m256i right = _mm256_setr_epi32(31, 25, 20, 14, 31, 25, 20, 14);
  for (size_t i = 0; i < n_blocks; i++, tokens += block_size) {
    __m256i acc = iv;
    for (size_t s = 0; s < block_size; s += 8) {
      acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)(tokens + s)), p2));
      acc = _mm256_or_si256(_mm256_slli_epi32(acc, 13), _mm256_srli_epi32(acc, 19));
      acc = _mm256_mullo_epi32(acc, p1);
    }
    __m256i r = _mm256_or_si256(_mm256_sllv_epi32(acc, left), _mm256_srlv_epi32(acc, right));
    __m128i x = _mm_hadd_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    x = _mm_hadd_epi32(x, x); /* lo = lanes 0-3, hi = lanes 4-7 */
    parent = mix((uint32_t)_mm_cvtsi128_si32(x), (uint32_t)_mm_extract_epi32(x, 1), block_size, block_size, parent);
    out[2 * i] = (uint32_t)parent;
    out[2 * i + 1] = (uint32_t)(parent >> 32);
  }
}
#endif

#if LLMEM_ARM
static void chain_plain_neon(const uint32_t *tokens, size_t block_size, size_t n_blocks, uint64_t parent,
                             uint32_t *out) {
  static const int32_t left[4] = {1, 7, 12, 18}, right[4] = {-31, -25, -20, -14};
  const int32x4_t l = vld1q_s32(left), r = vld1q_s32(right);
  const uint32x4_t iva = vld1q_u32(IV), ivb = vld1q_u32(IV + 4);
  for (size_t i = 0; i < n_blocks; i++, tokens += block_size) {
    uint32x4_t a = iva, b = ivb;
    for (size_t s = 0; s < block_size; s += 8) {
      a = vmlaq_n_u32(a, vld1q_u32(tokens + s), P2);
      b = vmlaq_n_u32(b, vld1q_u32(tokens + s + 4), P2);
      a = vmulq_n_u32(vsriq_n_u32(vshlq_n_u32(a, 13), a, 19), P1);
      b = vmulq_n_u32(vsriq_n_u32(vshlq_n_u32(b, 13), b, 19), P1);
    }
    uint32_t lo = vaddvq_u32(vorrq_u32(vshlq_u32(a, l), vshlq_u32(a, r)));
    uint32_t hi = vaddvq_u32(vorrq_u32(vshlq_u32(b, l), vshlq_u32(b, r)));
    parent = mix(lo, hi, block_size, block_size, parent);
    out[2 * i] = (uint32_t)parent;
    out[2 * i + 1] = (uint32_t)(parent >> 32);
  }
}
#endif

static uint64_t hash64_scalar(const uint32_t *t, size_t n, const uint32_t *e, size_t m, uint64_t p) {
  return hash_one(absorb_scalar, t, n, e, m, p);
}
static void chain_scalar(const uint32_t *t, size_t bs, size_t nb, const uint32_t *e, const uint32_t *o,
                         uint64_t p, uint32_t *out) {
  chain(absorb_scalar, t, bs, nb, e, o, p, out);
}
#if LLMEM_X86
LLMEM_AVX2 static uint64_t hash64_avx2(const uint32_t *t, size_t n, const uint32_t *e, size_t m, uint64_t p) {
  return hash_one(absorb_avx2, t, n, e, m, p);
}
LLMEM_AVX2 static void chain_avx2(const uint32_t *t, size_t bs, size_t nb, const uint32_t *e,
                                  const uint32_t *o, uint64_t p, uint32_t *out) {
  if (!o && bs % 8 == 0) chain_plain_avx2(t, bs, nb, p, out);
  else chain(absorb_avx2, t, bs, nb, e, o, p, out);
}
#endif
#if LLMEM_ARM
static uint64_t hash64_neon(const uint32_t *t, size_t n, const uint32_t *e, size_t m, uint64_t p) {
  return hash_one(absorb_neon, t, n, e, m, p);
}
static void chain_neon(const uint32_t *t, size_t bs, size_t nb, const uint32_t *e, const uint32_t *o,
                       uint64_t p, uint32_t *out) {
  if (!o && bs % 8 == 0) chain_plain_neon(t, bs, nb, p, out);
  else chain(absorb_neon, t, bs, nb, e, o, p, out);
}
#endif

uint64_t llmem_hash64(const uint32_t *tokens, size_t n_tokens, const uint32_t *extra, size_t n_extra,
                      uint64_t parent) {
  switch (llmem_active_isa()) {
#if LLMEM_X86
  case LLMEM_ISA_AVX2: return hash64_avx2(tokens, n_tokens, extra, n_extra, parent);
#endif
#if LLMEM_ARM
  case LLMEM_ISA_NEON: return hash64_neon(tokens, n_tokens, extra, n_extra, parent);
#endif
  default: return hash64_scalar(tokens, n_tokens, extra, n_extra, parent);
  }
}

void llmem_hash64_chain(const uint32_t *tokens, size_t block_size, size_t n_blocks, const uint32_t *extra,
                        const uint32_t *extra_offsets, uint64_t parent, uint32_t *out) {
  switch (llmem_active_isa()) {
#if LLMEM_X86
  case LLMEM_ISA_AVX2: chain_avx2(tokens, block_size, n_blocks, extra, extra_offsets, parent, out); return;
#endif
#if LLMEM_ARM
  case LLMEM_ISA_NEON: chain_neon(tokens, block_size, n_blocks, extra, extra_offsets, parent, out); return;
#endif
  default: chain_scalar(tokens, block_size, n_blocks, extra, extra_offsets, parent, out);
  }
}
