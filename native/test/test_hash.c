/* LH64: every ISA path equals the scalar reference, the chain equals block-by-block hashing,
 * and the committed vectors (shared with packages/prefix-hash/test/vectors.test.ts) hold. */
#include "harness.h"

static uint32_t words[100003 + 64];
static uint32_t extra[4096];
static uint32_t offsets[100003 / 1 + 2];
static uint32_t out_ref[2 * 8192], out_isa[2 * 8192];

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
    size_t bs = BS[s], nb = 8192 / bs < 500 ? 8192 / bs : 500;
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
  llmem_hash64_chain(words, 16, 0, NULL, NULL, 0, NULL); /* zero blocks touch nothing */
  return t_finish("test_hash");
}
