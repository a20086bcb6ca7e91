/* LH64: every ISA path equals the scalar reference, the chain equals block-by-block hashing,
 * and the committed vectors (shared with packages/prefix-hash/test/vectors.test.ts) hold. */
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

static uint32_t words[100003 + 64];
static uint32_t extra[4096];
static uint32_t offsets[100003 / 1 + 2];
static uint32_t out_ref[2 * 8192], out_isa[2 * 8192];

/* LH64 written literally from the spec (README, fast.ts), independent of lh64.c: the library's
 * chain-state form of step 5 must give the same hash for every parent. */
static uint32_t rl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
static uint64_t spec_lh64(const uint32_t *t, size_t n, const uint32_t *e, size_t m, uint64_t parent) {
  uint32_t v[8], w[8];
  for (uint32_t j = 0; j < 8; j++) v[j] = 0x9E3779B1u * (2 * j + 1);
  for (size_t at = 0; at < n + m; at += 8) {
    for (size_t j = 0; j < 8; j++) {
      size_t k = at + j;
      w[j] = k < n ? t[k] : k < n + m ? e[k - n] : 0;
      v[j] = rl(v[j] + w[j] * 0x85EBCA77u, 13) * 0x9E3779B1u;
    }
  }
  uint32_t lo = rl(v[0], 1) + rl(v[1], 7) + rl(v[2], 12) + rl(v[3], 18);
  uint32_t hi = rl(v[4], 1) + rl(v[5], 7) + rl(v[6], 12) + rl(v[7], 18);
  uint32_t a = lo + (uint32_t)(n + m) * 0x165667B1u, b = hi + (uint32_t)n * 0x27D4EB2Fu;
  a ^= rl(b, 11);
  a *= 0x9E3779B1u;
  a ^= a >> 15;
  b ^= rl(a, 17);
  b *= 0x85EBCA77u;
  b ^= b >> 13;
  a ^= rl(b, 11);
  a *= 0xC2B2AE3Du;
  a ^= a >> 16;
  b ^= rl(a, 17);
  b *= 0x27D4EB2Fu;
  b ^= b >> 16;
  a ^= (uint32_t)parent;
  b ^= (uint32_t)(parent >> 32);
  a = (a ^ rl(b, 16)) * 0x9E3779B1u;
  b = (b ^ (a >> 15)) * 0xC2B2AE3Du;
  return ((uint64_t)b << 32) | (a ^ (b >> 16));
}

int main(void) {
  uint32_t seq[40];
  for (uint32_t i = 0; i < 40; i++) seq[i] = i;
  for (size_t i = 0; i < sizeof words / sizeof *words; i++) words[i] = t_rand_u32();
  for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) extra[i] = t_rand_u32();

  int n_isas = t_isa_count();
  for (int k = 0; k < n_isas; k++) {
    CHECK(llmem_set_isa(t_isas[k]) == 0, "set isa %d", t_isas[k]);
    /* committed vectors */
    uint32_t v[4];
    llmem_hash64_chain(seq, 16, 2, NULL, NULL, 0, v);
    CHECK(v[0] == 0x69fd72b8u && v[1] == 0x4d3a9695u, "[%s] chain block 0 = %08x%08x",
          llmem_isa_name(t_isas[k]), v[1], v[0]);
    CHECK(v[2] == 0xfe788ef5u && v[3] == 0xf4c1f4e3u, "[%s] chain block 1", llmem_isa_name(t_isas[k]));
    CHECK(llmem_hash64(seq, 40, NULL, 0, 0) == 0x2c09bcb670e473ccull, "[%s] one-call vector",
          llmem_isa_name(t_isas[k]));
    CHECK(llmem_hash64(NULL, 0, NULL, 0, 0) == 0x8b99f72a2bdd9476ull, "[%s] empty", llmem_isa_name(t_isas[k]));
  }

  /* every ISA against the literal spec, under random parents (the chain state's whole range) */
  for (int k = 0; k < n_isas; k++) {
    llmem_set_isa(t_isas[k]);
    int same = 1;
    for (int r = 0; r < 2000; r++) {
      size_t n = t_rand_u32() % 40, m = t_rand_u32() % 12;
      uint64_t parent = ((uint64_t)t_rand_u32() << 32) | t_rand_u32();
      if (r < 4) parent = r & 1 ? ~0ull : (uint64_t)r << 47; /* edges: all ones, single high bits */
      const uint32_t *t = words + t_rand_u32() % 1000, *e = m ? extra + t_rand_u32() % 1000 : NULL;
      same &= llmem_hash64(t, n, e, m, parent) == spec_lh64(t, n, e, m, parent);
    }
    CHECK(same, "[%s] hash64 == literal spec for random parents", llmem_isa_name(t_isas[k]));
    /* a chain of whole stripes (the SIMD chain path) against the spec, block by block */
    uint64_t parent = ((uint64_t)t_rand_u32() << 32) | t_rand_u32(), p = parent;
    llmem_hash64_chain(words, 16, 500, NULL, NULL, parent, out_isa);
    same = 1;
    for (size_t i = 0; i < 500; i++) {
      p = spec_lh64(words + 16 * i, 16, NULL, 0, p);
      same &= out_isa[2 * i] == (uint32_t)p && out_isa[2 * i + 1] == (uint32_t)(p >> 32);
    }
    CHECK(same, "[%s] chain == literal spec", llmem_isa_name(t_isas[k]));
    /* every count of blocks around the SIMD chains' groups (8 blocks on AVX2, 4 on NEON) */
    for (size_t bs = 8; bs <= 24; bs += 8) {
      same = 1;
      for (size_t nb = 1; nb <= 19; nb++) {
        llmem_hash64_chain(words + nb, bs, nb, NULL, NULL, parent, out_isa);
        p = parent;
        for (size_t i = 0; i < nb; i++) {
          p = spec_lh64(words + nb + bs * i, bs, NULL, 0, p);
          same &= out_isa[2 * i] == (uint32_t)p && out_isa[2 * i + 1] == (uint32_t)(p >> 32);
        }
      }
      CHECK(same, "[%s] chains of 1..19 blocks of %zu == literal spec", llmem_isa_name(t_isas[k]), bs);
    }
  }

  /* every SIMD path against scalar, at the edge sizes, with and without extra words */
  int best = t_isas[n_isas - 1];
  for (size_t s = 0; s < T_NSIZES; s++) {
    size_t n = T_SIZES[s];
    for (size_t m = 0; m < 20; m += 7) {
      uint64_t parent = ((uint64_t)t_rand_u32() << 32) | t_rand_u32();
      llmem_set_isa(LLMEM_ISA_SCALAR);
      uint64_t want = llmem_hash64(words, n, m ? extra : NULL, m, parent);
      llmem_set_isa(best);
      uint64_t got = llmem_hash64(words, n, m ? extra : NULL, m, parent);
      CHECK(got == want, "hash64 n=%zu m=%zu", n, m);
    }
  }

  /* chains: block sizes around the 8-word stripe, per-block extra words of varying length */
  static const size_t BS[] = {1, 3, 7, 8, 9, 16, 17, 32, 64};
  for (size_t s = 0; s < sizeof BS / sizeof *BS; s++) {
    size_t bs = BS[s], nb = (8192 / bs < 500 ? 8192 / bs : 500) - 1; /* odd: SIMD groups and a tail */
    offsets[0] = 0;
    for (size_t i = 0; i < nb; i++) offsets[i + 1] = offsets[i] + (uint32_t)(t_rand_u32() % 12);
    for (int with_extra = 0; with_extra < 2; with_extra++) {
      const uint32_t *e = with_extra ? extra : NULL;
      const uint32_t *o = with_extra ? offsets : NULL;
      llmem_set_isa(LLMEM_ISA_SCALAR);
      llmem_hash64_chain(words, bs, nb, e, o, 7, out_ref);
      /* the chain is block-by-block hashing, each block chained to the one before */
      uint64_t parent = 7;
      int same = 1;
      for (size_t i = 0; i < nb; i++) {
        size_t m = with_extra ? offsets[i + 1] - offsets[i] : 0;
        parent = llmem_hash64(words + i * bs, bs, with_extra ? extra + offsets[i] : NULL, m, parent);
        same &= (uint32_t)parent == out_ref[2 * i] && (uint32_t)(parent >> 32) == out_ref[2 * i + 1];
      }
      CHECK(same, "chain == blockwise, bs=%zu extra=%d", bs, with_extra);
      llmem_set_isa(best);
      llmem_hash64_chain(words, bs, nb, e, o, 7, out_isa);
      CHECK(memcmp(out_ref, out_isa, 2 * nb * sizeof *out_ref) == 0, "chain simd == scalar, bs=%zu extra=%d", bs,
            with_extra);
    }
  }
  /* extra words ending at a page whose successor is inaccessible: the SIMD chains' last,
   * partial stripe of extra words must read only the words that exist */
  {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED && mprotect(map + pg, pg, PROT_NONE) == 0, "guard page");
    uint32_t *e = (uint32_t *)(map + pg) - 16 * 3, off[17];
    for (size_t i = 0; i < 16 * 3; i++) e[i] = t_rand_u32();
    for (size_t i = 0; i <= 16; i++) off[i] = (uint32_t)(3 * i);
    llmem_set_isa(LLMEM_ISA_SCALAR);
    llmem_hash64_chain(words, 8, 16, e, off, 5, out_ref);
    llmem_set_isa(best);
    llmem_hash64_chain(words, 8, 16, e, off, 5, out_isa);
    CHECK(memcmp(out_ref, out_isa, 32 * sizeof *out_ref) == 0, "chain with extra words up to a guard page");
    munmap(map, 2 * pg);
  }
  llmem_hash64_chain(words, 16, 0, NULL, NULL, 0, NULL); /* zero blocks touch nothing */
  return t_finish("test_hash");
}
