/* llmem_paged_attention_chunk: every query of a chunk gets exactly (bit for bit) what
 * llmem_paged_attention gives it alone over its causal prefix, for every KV format, ISA and
 * thread count; bad shapes write nothing. */
#include "harness.h"

enum { POOL_BLOCKS = 16 };

typedef struct {
  int fmt;
  size_t nh, nkv, hd, bs, rb;
  uint8_t *kp, *vp;
  uint32_t table[POOL_BLOCKS];
} pool_t;

/* One row of random values in fmt. */
static void encode_row(int fmt, const float *src, uint8_t *row, size_t hd) {
  if (fmt == LLMEM_F32) memcpy(row, src, hd * sizeof(float));
  else if (fmt == LLMEM_F16) llmem_f32_to_f16(src, (uint16_t *)(void *)row, hd);
  else if (fmt == LLMEM_BF16) llmem_f32_to_bf16(src, (uint16_t *)(void *)row, hd);
  else CHECK(llmem_quantize(fmt, src, row, hd) == 0, "quantize fmt %d", fmt);
}

/* Pools of random rows, and a scattered block table. */
static void pool_init(pool_t *p, int fmt, size_t nh, size_t nkv, size_t hd, size_t bs) {
  *p = (pool_t){.fmt = fmt, .nh = nh, .nkv = nkv, .hd = hd, .bs = bs, .rb = llmem_kv_row_bytes(fmt, hd)};
  const size_t rows = POOL_BLOCKS * bs * nkv;
  p->kp = malloc(rows * p->rb);
  p->vp = malloc(rows * p->rb);
  float *src = malloc(hd * sizeof(float));
  for (size_t r = 0; r < rows; r++) {
    for (size_t d = 0; d < hd; d++) src[d] = t_rand_f32(-2, 2);
    encode_row(fmt, src, p->kp + r * p->rb, hd);
    for (size_t d = 0; d < hd; d++) src[d] = t_rand_f32(-2, 2);
    encode_row(fmt, src, p->vp + r * p->rb, hd);
  }
  free(src);
  for (size_t i = 0; i < POOL_BLOCKS; i++) p->table[i] = (uint32_t)((i * 7 + 3) % POOL_BLOCKS);
}

static void pool_free(pool_t *p) { free(p->kp), free(p->vp); }

static void chunk_case(const pool_t *p, size_t first, size_t nq, int threads) {
  const size_t qf = p->nh * p->hd;
  const float scale = 1.0f / sqrtf((float)p->hd);
  float *q = malloc(nq * qf * sizeof(float));
  for (size_t i = 0; i < nq * qf; i++) q[i] = t_rand_f32(-1, 1);
  const size_t slot = llmem_paged_attention_chunk_slot(nq, p->nh, p->hd, first);
  const size_t slots = 8;
  float *scratch = malloc(slots * slot * sizeof(float));
  float *out = malloc(nq * qf * sizeof(float)), *lse = malloc(nq * p->nh * sizeof(float));
  float *one = malloc(qf * sizeof(float)), *one_lse = malloc(p->nh * sizeof(float));
  llmem_set_threads(threads);
  for (int i = 0; i < t_isa_count(); i++) {
    llmem_set_isa(t_isas[i]);
    /* One slot (everything on one task) and eight (spread over the pool). */
    for (size_t s = 1; s <= slots; s += slots - 1) {
      memset(out, 0xff, nq * qf * sizeof(float));
      const int rc = llmem_paged_attention_chunk(p->fmt, q, nq, p->nh, p->nkv, p->hd, p->kp, p->vp, p->table, p->bs,
                                                 first, scale, scratch, s * slot, out, lse);
      size_t differ = 0;
      for (size_t k = 0; k < nq; k++) {
        llmem_paged_attention(p->fmt, q + k * qf, p->nh, p->nkv, p->hd, p->kp, p->vp, p->table, p->bs, first + k,
                              scale, scratch, one, one_lse);
        differ += memcmp(one, out + k * qf, qf * sizeof(float)) != 0;
        differ += memcmp(one_lse, lse + k * p->nh, p->nh * sizeof(float)) != 0;
      }
      CHECK(rc == 0 && differ == 0, "fmt %d isa %s threads %d slots %zu nh %zu nkv %zu hd %zu bs %zu first %zu nq %zu: "
            "rc %d, %zu queries differ from the one-query kernel", p->fmt, llmem_isa_name(t_isas[i]), threads, s,
            p->nh, p->nkv, p->hd, p->bs, first, nq, rc, differ);
    }
  }
  llmem_set_isa(llmem_detect_isa());
  llmem_set_threads(1);
  free(q), free(scratch), free(out), free(lse), free(one), free(one_lse);
}

static void chunk_matches_one_query_kernel(void) {
  int formats = 0;
  for (int fmt = 0; fmt < llmem_format_count(); fmt++) {
    uint32_t d[LLMEM_FORMAT_FIELDS];
    if (llmem_format_describe(fmt, d) != 0 || !(d[3] & LLMEM_FORMAT_ROW)) continue;
    formats++;
    pool_t p;
    pool_init(&p, fmt, 4, 2, 64, 5);
    static const size_t firsts[] = {1, 7};
    static const size_t counts[] = {1, 9, 40};
    for (size_t a = 0; a < 2; a++)
      for (size_t b = 0; b < 3; b++)
        for (int threads = 1; threads <= 2; threads++) chunk_case(&p, firsts[a], counts[b], threads);
    pool_free(&p);
    pool_init(&p, fmt, 6, 6, 32, 16); /* MHA, as the stories models */
    chunk_case(&p, 3, 33, 2);
    pool_free(&p);
    /* stories15M's heads (48 values: one 32-value pass and one of 16), a group of 3 queries per
     * head, and a block larger than the chunk; one and two heads cap the group at the heads */
    static const size_t heads[] = {6, 2, 1};
    for (size_t h = 0; h < 3; h++) {
      pool_init(&p, fmt, heads[h], heads[h] == 6 ? 3 : heads[h], fmt == LLMEM_F32 || fmt == LLMEM_F16 ? 48 : 64, 32);
      chunk_case(&p, 1, 17, 1);
      chunk_case(&p, 2, 10, 2);
      pool_free(&p);
    }
    if (fmt == LLMEM_F32 || fmt == LLMEM_F16) { /* values past a multiple of 8 (one by one) */
      pool_init(&p, fmt, 4, 4, 13, 3);
      chunk_case(&p, 1, 11, 2);
      chunk_case(&p, 5, 7, 1);
      pool_free(&p);
    }
  }
  CHECK(formats >= 6, "KV formats checked: %d", formats);
}

static void chunk_refuses_bad_shapes(void) {
  pool_t p;
  pool_init(&p, LLMEM_Q8_0, 4, 2, 64, 5);
  const size_t nq = 4, qf = p.nh * p.hd;
  float q[4 * 256], out[4 * 256], lse[16], scratch[4096];
  for (size_t i = 0; i < nq * qf; i++) q[i] = t_rand_f32(-1, 1);
  const size_t slot = llmem_paged_attention_chunk_slot(nq, p.nh, p.hd, 2);
  CHECK(slot == (2 + nq - 1) * p.nh + 32 * p.hd, "slot floats %zu", slot);
  CHECK(llmem_paged_attention_chunk_slot(0, p.nh, p.hd, 2) == 0, "no queries, no slot");
  struct {
    int fmt;
    size_t nh, nkv, hd, first, scratch;
    const char *what;
  } bad[] = {
      {99, 4, 2, 64, 2, 4096, "unknown format"},
      {LLMEM_Q8_0, 4, 2, 40, 2, 4096, "head_dim a block format cannot split"},
      {LLMEM_Q8_0, 4, 3, 64, 2, 4096, "num_heads not a multiple of num_kv_heads"},
      {LLMEM_Q8_0, 4, 0, 64, 2, 4096, "no KV heads"},
      {LLMEM_Q8_0, 4, 2, 64, 0, 4096, "first_tokens 0"},
      {LLMEM_Q8_0, 4, 2, 64, 2, 0, "scratch below one slot"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(out, 0x5a, sizeof out);
    memset(lse, 0x5a, sizeof lse);
    const size_t scratch_floats = bad[i].scratch ? bad[i].scratch : slot - 1;
    const int rc = llmem_paged_attention_chunk(bad[i].fmt, q, nq, bad[i].nh, bad[i].nkv, bad[i].hd, p.kp, p.vp,
                                               p.table, p.bs, bad[i].first, 0.125f, scratch, scratch_floats, out, lse);
    int untouched = 1;
    for (size_t j = 0; j < sizeof out; j++) untouched &= ((uint8_t *)out)[j] == 0x5a;
    for (size_t j = 0; j < sizeof lse; j++) untouched &= ((uint8_t *)lse)[j] == 0x5a;
    CHECK(rc == -1 && untouched, "%s: rc %d, untouched %d", bad[i].what, rc, untouched);
  }
  CHECK(llmem_paged_attention_chunk(LLMEM_Q8_0, q, 0, 4, 2, 64, p.kp, p.vp, p.table, p.bs, 2, 0.125f, scratch, 0,
                                    out, lse) == 0,
        "no queries: nothing to do");
  pool_free(&p);
}

int main(void) {
  chunk_matches_one_query_kernel();
  chunk_refuses_bad_shapes();
  return t_finish("paged_attention_chunk");
}
