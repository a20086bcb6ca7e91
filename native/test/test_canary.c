/* Canaries for every exported entry point of libllmem (every LLMEM_API declaration of
 * include/llmem.h; the test parses the header and fails for one it did not call).
 *
 * Each caller buffer is exactly as large as the call needs, followed by guard bytes (poisoned for
 * ASan in the sanitized build, so a stray read or write there aborts; compared byte for byte in
 * every build, so a stray write fails a CHECK). Every bounded entry point is called once with
 * the exact capacities (it must run and leave the guards alone), then once per buffer with that
 * buffer's capacity one byte short (it must return LLMEM_EBOUNDS and leave every byte of every
 * buffer, guards included, as it was). Entry points that take no caller buffer are called once
 * so the list stays complete. */
#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define GUARD 64
#define GUARD_BYTE 0xA5
#define MAX_BUFS 8

/* ---- which entry points were called ---- */
#define MAX_NAMES 128
static const char *called[MAX_NAMES];
static int n_called = 0;
static void touch(const char *name) {
  for (int i = 0; i < n_called; i++)
    if (strcmp(called[i], name) == 0) return;
  if (n_called < MAX_NAMES) called[n_called++] = name;
}

/* ---- guarded buffers ---- */
typedef struct {
  uint8_t *p;   /* payload: exactly `bytes` bytes, then GUARD guard bytes */
  size_t bytes;
  uint8_t *saved; /* snapshot of payload + guard */
} gbuf;

static gbuf g_new(size_t bytes) {
  gbuf g = {NULL, bytes, NULL};
  /* 64-aligned payload (kernels need element alignment at most). */
  g.p = aligned_alloc(64, (bytes + GUARD + 63) / 64 * 64);
  g.saved = malloc(bytes + GUARD);
  for (size_t i = 0; i < bytes; i++) g.p[i] = (uint8_t)(t_rand_u32() & 0x3B); /* finite fp16/bf16 */
  memset(g.p + bytes, GUARD_BYTE, GUARD);
  POISON(g.p + bytes, GUARD);
  return g;
}

static void g_f32(gbuf *g) {
  float *f = (float *)(void *)g->p;
  for (size_t i = 0; i < g->bytes / 4; i++) f[i] = t_rand_f32(-1, 1);
}

static int g_guard_ok(const gbuf *g) {
  UNPOISON(g->p + g->bytes, GUARD);
  int ok = 1;
  for (size_t i = 0; i < GUARD; i++) ok &= g->p[g->bytes + i] == GUARD_BYTE;
  POISON(g->p + g->bytes, GUARD);
  return ok;
}

static void g_snap(gbuf *g) {
  UNPOISON(g->p + g->bytes, GUARD);
  memcpy(g->saved, g->p, g->bytes + GUARD);
  POISON(g->p + g->bytes, GUARD);
}

static int g_same(const gbuf *g) {
  UNPOISON(g->p + g->bytes, GUARD);
  const int same = memcmp(g->saved, g->p, g->bytes + GUARD) == 0;
  POISON(g->p + g->bytes, GUARD);
  return same;
}

static void g_free(gbuf *g) {
  UNPOISON(g->p + g->bytes, GUARD);
  free(g->p);
  free(g->saved);
}

/* One call of an entry point with these capacities; returns its code (value-returning calls
 * return llmem_last_error() when they gave their refusal value). */
typedef int (*call_fn)(gbuf *b, const size_t *cap, const void *ctx);

/* Exact capacities: the call runs (rc 0, or `alt_ok` when not -0: e.g. Metal unavailable) and
 * every guard is intact. Then each non-empty buffer one byte short: LLMEM_EBOUNDS, nothing
 * touched. */
static void canary(const char *name, int nb, gbuf *b, call_fn fn, const void *ctx, int alt_ok) {
  touch(name);
  size_t cap[MAX_BUFS];
  for (int i = 0; i < nb; i++) cap[i] = b[i].bytes;
  const int rc = fn(b, cap, ctx);
  CHECK(rc == 0 || (alt_ok && rc == alt_ok), "%s: exact capacities refused (rc %d)", name, rc);
  for (int i = 0; i < nb; i++) CHECK(g_guard_ok(&b[i]), "%s: guard after buffer %d overwritten", name, i);
  for (int short_one = 0; short_one < nb; short_one++) {
    if (b[short_one].bytes == 0) continue;
    for (int i = 0; i < nb; i++) {
      cap[i] = b[i].bytes;
      g_snap(&b[i]);
    }
    cap[short_one] = b[short_one].bytes - 1;
    const int r = fn(b, cap, ctx);
    CHECK(r == LLMEM_EBOUNDS, "%s: buffer %d one byte short not refused (rc %d)", name, short_one, r);
    for (int i = 0; i < nb; i++)
      CHECK(g_same(&b[i]), "%s: buffer %d touched by a refused call (buffer %d short)", name, i, short_one);
  }
}

static uint32_t fmt_field(int format, int field) {
  uint32_t d[LLMEM_FORMAT_FIELDS];
  return llmem_format_describe(format, d) == 0 ? d[field] : 0;
}
/* Bytes of n values (whole blocks) of a format. */
static size_t fmt_bytes(int format, size_t n) { return n / fmt_field(format, 0) * fmt_field(format, 1); }

/* ---- memory ---- */
static int c_zero(gbuf *b, const size_t *c, const void *x) {
  (void)x;
  return llmem_zero_checked(b[0].p, c[0], b[0].bytes);
}
static int c_copy(gbuf *b, const size_t *c, const void *x) {
  (void)x;
  return llmem_copy_checked(b[0].p, c[0], b[1].p, c[1], b[0].bytes);
}
static int c_read(gbuf *b, const size_t *c, const void *x) {
  (void)x;
  const uint64_t r = llmem_read_bytes_checked(b[0].p, c[0], b[0].bytes);
  return r == 0 ? llmem_last_error() : 0;
}

static void memory_canaries(void) {
  gbuf b[2] = {g_new(100), g_new(100)};
  canary("llmem_zero_checked", 1, b, c_zero, NULL, 0);
  canary("llmem_copy_checked", 2, b, c_copy, NULL, 0);
  canary("llmem_read_bytes_checked", 1, b, c_read, NULL, 0);
  g_free(&b[0]);
  g_free(&b[1]);
}

/* ---- dots ---- */
typedef float (*dot_fn)(const void *, uint32_t, const void *, uint32_t, uint32_t);
typedef struct {
  const char *name;
  dot_fn fn;
  int fx, fy;
  size_t n;
} dot_case;

static int c_dot(gbuf *b, const size_t *c, const void *x) {
  const dot_case *d = x;
  const float r = d->fn(b[0].p, (uint32_t)c[0], b[1].p, (uint32_t)c[1], (uint32_t)d->n);
  return isnan(r) ? llmem_last_error() : 0;
}

static void dot_canaries(void) {
  const dot_case cases[] = {
      {"llmem_dot_f32_checked", llmem_dot_f32_checked, LLMEM_F32, LLMEM_F32, 100},
      {"llmem_dot_f16_f32_checked", llmem_dot_f16_f32_checked, LLMEM_F16, LLMEM_F32, 100},
      {"llmem_dot_q8_0_q8_0_checked", llmem_dot_q8_0_q8_0_checked, LLMEM_Q8_0, LLMEM_Q8_0, 256},
      {"llmem_dot_q4_0_q8_0_checked", llmem_dot_q4_0_q8_0_checked, LLMEM_Q4_0, LLMEM_Q8_0, 256},
      {"llmem_dot_q4_1_q8_1_checked", llmem_dot_q4_1_q8_1_checked, LLMEM_Q4_1, LLMEM_Q8_1, 256},
      {"llmem_dot_q4_k_q8_k_checked", llmem_dot_q4_k_q8_k_checked, LLMEM_Q4_K, LLMEM_Q8_K, 512},
      {"llmem_dot_q5_k_q8_k_checked", llmem_dot_q5_k_q8_k_checked, LLMEM_Q5_K, LLMEM_Q8_K, 512},
      {"llmem_dot_q2_k_q8_k_checked", llmem_dot_q2_k_q8_k_checked, LLMEM_Q2_K, LLMEM_Q8_K, 512},
      {"llmem_dot_q3_k_q8_k_checked", llmem_dot_q3_k_q8_k_checked, LLMEM_Q3_K, LLMEM_Q8_K, 512},
      {"llmem_dot_q6_k_q8_k_checked", llmem_dot_q6_k_q8_k_checked, LLMEM_Q6_K, LLMEM_Q8_K, 512},
      {"llmem_dot_q5_0_q8_0_checked", llmem_dot_q5_0_q8_0_checked, LLMEM_Q5_0, LLMEM_Q8_0, 256},
      {"llmem_dot_q5_1_q8_1_checked", llmem_dot_q5_1_q8_1_checked, LLMEM_Q5_1, LLMEM_Q8_1, 256},
      {"llmem_dot_iq4_nl_q8_0_checked", llmem_dot_iq4_nl_q8_0_checked, LLMEM_IQ4_NL, LLMEM_Q8_0, 256},
      {"llmem_dot_iq4_xs_q8_k_checked", llmem_dot_iq4_xs_q8_k_checked, LLMEM_IQ4_XS, LLMEM_Q8_K, 512},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const dot_case *d = &cases[k];
    gbuf b[2] = {g_new(fmt_bytes(d->fx, d->n)), g_new(fmt_bytes(d->fy, d->n))};
    if (d->fx == LLMEM_F32) g_f32(&b[0]);
    if (d->fy == LLMEM_F32) g_f32(&b[1]);
    canary(d->name, 2, b, c_dot, d, 0);
    g_free(&b[0]);
    g_free(&b[1]);
  }
}

/* ---- conversions, quantize ---- */
typedef struct {
  const char *name;
  int (*fn)(const void *, size_t, void *, size_t, size_t);
  int from, to;
} convert_case;

static int c_convert(gbuf *b, const size_t *c, const void *x) {
  const convert_case *k = x;
  return k->fn(b[0].p, c[0], b[1].p, c[1], 96);
}

typedef struct {
  const char *name;
  int (*fn)(int, const void *, size_t, void *, size_t, size_t);
  int format;
  size_t n;
} quant_case;

static int c_quant(gbuf *b, const size_t *c, const void *x) {
  const quant_case *q = x;
  return q->fn(q->format, b[0].p, c[0], b[1].p, c[1], q->n);
}

static void convert_canaries(void) {
  const convert_case cases[] = {
      {"llmem_f32_to_f16_checked", (void *)llmem_f32_to_f16_checked, LLMEM_F32, LLMEM_F16},
      {"llmem_f16_to_f32_checked", (void *)llmem_f16_to_f32_checked, LLMEM_F16, LLMEM_F32},
      {"llmem_f32_to_bf16_checked", (void *)llmem_f32_to_bf16_checked, LLMEM_F32, LLMEM_BF16},
      {"llmem_bf16_to_f32_checked", (void *)llmem_bf16_to_f32_checked, LLMEM_BF16, LLMEM_F32},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    gbuf b[2] = {g_new(fmt_bytes(cases[k].from, 96)), g_new(fmt_bytes(cases[k].to, 96))};
    if (cases[k].from == LLMEM_F32) g_f32(&b[0]);
    canary(cases[k].name, 2, b, c_convert, &cases[k], 0);
    g_free(&b[0]);
    g_free(&b[1]);
  }
  for (int f = 0; f < llmem_format_count(); f++) {
    if (!(fmt_field(f, 3) & LLMEM_FORMAT_QUANT)) continue;
    const size_t n = 512;
    const quant_case q = {"llmem_quantize_checked", (void *)llmem_quantize_checked, f, n};
    const quant_case d = {"llmem_dequantize_checked", (void *)llmem_dequantize_checked, f, n};
    const quant_case m = {"llmem_metal_dequantize_checked", (void *)llmem_metal_dequantize_checked, f, n};
    gbuf qb[2] = {g_new(n * 4), g_new(fmt_bytes(f, n))};
    g_f32(&qb[0]);
    canary(q.name, 2, qb, c_quant, &q, 0);
    gbuf db[2] = {qb[1], qb[0]};
    canary(d.name, 2, db, c_quant, &d, 0);
    /* Off macOS (or without a device, or a format Metal lacks) the exact call reports -1. */
    canary(m.name, 2, db, c_quant, &m, -1);
    g_free(&qb[0]);
    g_free(&qb[1]);
  }
  for (int f = LLMEM_Q4_0; f <= LLMEM_Q4_1; f++) {
    const quant_case r = {"llmem_kv_quantize_refined_checked", (void *)llmem_kv_quantize_refined_checked, f, 128};
    gbuf b[2] = {g_new(128 * 4), g_new(fmt_bytes(f, 128))};
    g_f32(&b[0]);
    canary(r.name, 2, b, c_quant, &r, 0);
    g_free(&b[0]);
    g_free(&b[1]);
  }
}

/* ---- matvec / matmul ---- */
typedef struct {
  int format;
  size_t rows, cols, n;
} matrix_case;

static int c_matvec(gbuf *b, const size_t *c, const void *x) {
  const matrix_case *m = x;
  return llmem_matvec_checked(m->format, b[0].p, c[0], (uint32_t)m->rows, (uint32_t)m->cols, (float *)(void *)b[1].p,
                              (uint32_t)c[1], (float *)(void *)b[2].p, (uint32_t)c[2], b[3].p, (uint32_t)c[3]);
}
static int c_matmul(gbuf *b, const size_t *c, const void *x) {
  const matrix_case *m = x;
  return llmem_matmul_checked(m->format, b[0].p, c[0], m->rows, m->cols, (float *)(void *)b[1].p, c[1], m->n,
                              (float *)(void *)b[2].p, c[2], b[3].p, c[3]);
}
/* Three parts of 5, 3 and 2 rows: b = w0, w1, w2, x, y0, y1, y2, scratch. */
static const size_t PART_ROWS[3] = {5, 3, 2};
static int c_matmul3(gbuf *b, const size_t *c, const void *x) {
  const matrix_case *m = x;
  return llmem_matmul3_checked(m->format, m->cols, (float *)(void *)b[3].p, c[3], m->n, b[7].p, c[7], b[0].p, c[0],
                               PART_ROWS[0], (float *)(void *)b[4].p, c[4], b[1].p, c[1], PART_ROWS[1],
                               (float *)(void *)b[5].p, c[5], b[2].p, c[2], PART_ROWS[2], (float *)(void *)b[6].p, c[6]);
}
/* The same three parts for one token: b = w0, w1, w2, x, y0, y1, y2, scratch. */
static int c_matvec3(gbuf *b, const size_t *c, const void *x) {
  const matrix_case *m = x;
  return llmem_matvec3_checked(m->format, (uint32_t)m->cols, (float *)(void *)b[3].p, (uint32_t)c[3], b[7].p,
                               (uint32_t)c[7], b[0].p, c[0], (uint32_t)PART_ROWS[0], (float *)(void *)b[4].p,
                               (uint32_t)c[4], b[1].p, c[1], (uint32_t)PART_ROWS[1], (float *)(void *)b[5].p,
                               (uint32_t)c[5], b[2].p, c[2], (uint32_t)PART_ROWS[2], (float *)(void *)b[6].p,
                               (uint32_t)c[6]);
}
static int c_metal_matvec(gbuf *b, const size_t *c, const void *x) {
  const matrix_case *m = x;
  return llmem_metal_matvec_checked(m->format, b[0].p, c[0], m->rows, m->cols, (float *)(void *)b[1].p, c[1],
                                    (float *)(void *)b[2].p, c[2]);
}

/* Matvec's scratch: cols/32 f32 scales, then x in the vec_dot format (none when that is f32). */
static size_t matvec_scratch(int format, size_t cols) {
  const uint32_t vf = fmt_field(format, 2);
  return vf == LLMEM_F32 ? 0 : cols / 32 * 4 + fmt_bytes((int)vf, cols);
}

static void matrix_canaries(void) {
  for (int f = 0; f < llmem_format_count(); f++) {
    if (!(fmt_field(f, 3) & LLMEM_FORMAT_MATRIX)) continue;
    const matrix_case m = {f, 5, 512, 3};
    {
      gbuf b[4] = {g_new(m.rows * fmt_bytes(f, m.cols)), g_new(m.cols * 4), g_new(m.rows * 4),
                   g_new(matvec_scratch(f, m.cols))};
      if (f == LLMEM_F32) g_f32(&b[0]);
      g_f32(&b[1]);
      canary("llmem_matvec_checked", 4, b, c_matvec, &m, 0);
      canary("llmem_metal_matvec_checked", 3, b, c_metal_matvec, &m, -1);
      for (int i = 0; i < 4; i++) g_free(&b[i]);
    }
    {
      gbuf b[4] = {g_new(m.rows * fmt_bytes(f, m.cols)), g_new(m.n * m.cols * 4), g_new(m.n * m.rows * 4),
                   g_new(m.n * llmem_matmul_scratch_stride(f, m.cols))};
      if (f == LLMEM_F32) g_f32(&b[0]);
      g_f32(&b[1]);
      canary("llmem_matmul_checked", 4, b, c_matmul, &m, 0);
      for (int i = 0; i < 4; i++) g_free(&b[i]);
    }
    {
      gbuf b[8];
      for (int p = 0; p < 3; p++) {
        b[p] = g_new(PART_ROWS[p] * fmt_bytes(f, m.cols));
        b[4 + p] = g_new(m.n * PART_ROWS[p] * 4);
        if (f == LLMEM_F32) g_f32(&b[p]);
      }
      b[3] = g_new(m.n * m.cols * 4);
      b[7] = g_new(m.n * llmem_matmul_scratch_stride(f, m.cols));
      g_f32(&b[3]);
      canary("llmem_matmul3_checked", 8, b, c_matmul3, &m, 0);
      /* Parts in use come first: a used part after an unused one, or one without its Y, is refused. */
      CHECK(llmem_matmul3_checked(f, m.cols, (float *)(void *)b[3].p, b[3].bytes, m.n, b[7].p, b[7].bytes, b[0].p,
                                  b[0].bytes, PART_ROWS[0], (float *)(void *)b[4].p, b[4].bytes, NULL, 0, 0, NULL, 0,
                                  b[2].p, b[2].bytes, PART_ROWS[2], (float *)(void *)b[6].p, b[6].bytes) == LLMEM_EINVAL,
            "%s matmul3 with a gap", llmem_format_name(f));
      CHECK(llmem_matmul3_checked(f, m.cols, (float *)(void *)b[3].p, b[3].bytes, m.n, b[7].p, b[7].bytes, b[0].p,
                                  b[0].bytes, PART_ROWS[0], NULL, 0, NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, 0) == LLMEM_EINVAL,
            "%s matmul3 without y0", llmem_format_name(f));
      CHECK(llmem_matmul3_checked(f, m.cols, (float *)(void *)b[3].p, b[3].bytes, m.n, b[7].p, b[7].bytes, NULL, 0, 0,
                                  NULL, 0, NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, 0) == LLMEM_EINVAL,
            "%s matmul3 without parts", llmem_format_name(f));
      for (int i = 0; i < 8; i++) g_free(&b[i]);
      const matrix_case one = {f, m.rows, m.cols, 1};
      for (int p = 0; p < 3; p++) {
        b[p] = g_new(PART_ROWS[p] * fmt_bytes(f, m.cols));
        b[4 + p] = g_new(PART_ROWS[p] * 4);
        if (f == LLMEM_F32) g_f32(&b[p]);
      }
      b[3] = g_new(m.cols * 4);
      b[7] = g_new(matvec_scratch(f, m.cols));
      g_f32(&b[3]);
      canary("llmem_matvec3_checked", 8, b, c_matvec3, &one, 0);
      CHECK(llmem_matvec3_checked(f, (uint32_t)m.cols, (float *)(void *)b[3].p, (uint32_t)b[3].bytes, b[7].p,
                                  (uint32_t)b[7].bytes, NULL, 0, 0, NULL, 0, b[1].p, b[1].bytes, (uint32_t)PART_ROWS[1],
                                  (float *)(void *)b[5].p, (uint32_t)b[5].bytes, NULL, 0, 0, NULL, 0) == LLMEM_EINVAL,
            "%s matvec3 with a gap", llmem_format_name(f));
      for (int i = 0; i < 8; i++) g_free(&b[i]);
    }
  }
}

/* ---- attention over rows ---- */
typedef struct {
  int format;
  size_t offset, stride, count, head_dim;
} rows_case;

static int c_scores(gbuf *b, const size_t *c, const void *x) {
  const rows_case *r = x;
  return llmem_attn_scores_checked(r->format, (float *)(void *)b[0].p, (uint32_t)c[0], b[1].p, c[1], r->offset,
                                   r->stride, (uint32_t)r->count, (uint32_t)r->head_dim, 0.125f,
                                   (float *)(void *)b[2].p, (uint32_t)c[2]);
}
static int c_wsum(gbuf *b, const size_t *c, const void *x) {
  const rows_case *r = x;
  return llmem_attn_weighted_sum_checked(r->format, (float *)(void *)b[0].p, (uint32_t)c[0], b[1].p, c[1], r->offset,
                                         r->stride, (uint32_t)r->count, (uint32_t)r->head_dim,
                                         (float *)(void *)b[2].p, (uint32_t)c[2]);
}

static void rows_canaries(void) {
  for (int f = 0; f < llmem_format_count(); f++) {
    if (!(fmt_field(f, 3) & LLMEM_FORMAT_ROW)) continue;
    const size_t hd = 64, row = llmem_kv_row_bytes(f, hd);
    const rows_case r = {f, 12, row + 8, 3, hd};
    const size_t base = r.offset + (r.count - 1) * r.stride + row;
    gbuf s[3] = {g_new(hd * 4), g_new(base), g_new(r.count * 4)};
    g_f32(&s[0]);
    if (f == LLMEM_F32) g_f32(&s[1]);
    canary("llmem_attn_scores_checked", 3, s, c_scores, &r, 0);
    gbuf w[3] = {g_new(r.count * 4), s[1], g_new(hd * 4)};
    g_f32(&w[0]);
    g_f32(&w[2]);
    canary("llmem_attn_weighted_sum_checked", 3, w, c_wsum, &r, 0);
    g_free(&s[0]);
    g_free(&s[1]);
    g_free(&s[2]);
    g_free(&w[0]);
    g_free(&w[2]);
  }
}

/* ---- element-wise rows: 3 rows of 64 (rope: heads of 16, 8 rotated dims, table stride 6) ---- */
static int c_rmsnorm(gbuf *b, const size_t *c, const void *x) {
  (void)x;
  return llmem_rmsnorm_rows_checked(LLMEM_NORM_GGML, (float *)(void *)b[0].p, c[0], (float *)(void *)b[1].p, c[1],
                                    3, 64, 1e-5f, (float *)(void *)b[2].p, c[2]);
}
static int c_rope(gbuf *b, const size_t *c, const void *x) {
  (void)x;
  return llmem_rope_rows_checked((float *)(void *)b[0].p, c[0], 3, 64, 16, 8, 0, (float *)(void *)b[1].p, c[1],
                                 (float *)(void *)b[2].p, c[2], 6);
}
static int c_swiglu(gbuf *b, const size_t *c, const void *x) {
  (void)x;
  return llmem_swiglu_checked(LLMEM_NORM_RUNC, (float *)(void *)b[0].p, c[0], (float *)(void *)b[1].p, c[1], 64);
}
static int c_add(gbuf *b, const size_t *c, const void *x) {
  (void)x;
  return llmem_add_checked((float *)(void *)b[0].p, c[0], (float *)(void *)b[1].p, c[1], 64);
}

static void rows_step_canaries(void) {
  gbuf n[3] = {g_new(3 * 64 * 4), g_new(64 * 4), g_new(3 * 64 * 4)};
  g_f32(&n[0]);
  g_f32(&n[1]);
  canary("llmem_rmsnorm_rows_checked", 3, n, c_rmsnorm, NULL, 0);
  /* Row 2 reads angles [12, 16): a table of exactly 16 floats. */
  gbuf r[3] = {n[0], g_new((2 * 6 + 4) * 4), g_new((2 * 6 + 4) * 4)};
  g_f32(&r[1]);
  g_f32(&r[2]);
  canary("llmem_rope_rows_checked", 3, r, c_rope, NULL, 0);
  gbuf w[2] = {g_new(64 * 4), g_new(64 * 4)};
  g_f32(&w[0]);
  g_f32(&w[1]);
  canary("llmem_swiglu_checked", 2, w, c_swiglu, NULL, 0);
  canary("llmem_add_checked", 2, w, c_add, NULL, 0);
  for (int i = 0; i < 3; i++) g_free(&n[i]);
  g_free(&r[1]);
  g_free(&r[2]);
  g_free(&w[0]);
  g_free(&w[1]);
}

/* ---- hashing ---- */
static int c_hash(gbuf *b, const size_t *c, const void *x) {
  (void)x;
  const uint64_t h = llmem_hash64_checked((uint32_t *)(void *)b[0].p, c[0], b[0].bytes / 4,
                                          (uint32_t *)(void *)b[1].p, c[1], b[1].bytes / 4, 7);
  return h == 0 ? llmem_last_error() : 0;
}
static int c_chain(gbuf *b, const size_t *c, const void *x) {
  (void)x;
  return llmem_hash64_chain_checked((uint32_t *)(void *)b[0].p, c[0], 4, 3, (uint32_t *)(void *)b[1].p, c[1],
                                    (uint32_t *)(void *)b[2].p, c[2], 7, (uint32_t *)(void *)b[3].p, c[3]);
}

static void hash_canaries(void) {
  gbuf h[2] = {g_new(10 * 4), g_new(3 * 4)};
  canary("llmem_hash64_checked", 2, h, c_hash, NULL, 0);
  g_free(&h[0]);
  g_free(&h[1]);
  /* 3 blocks of 4 tokens; block i hashes extra[offsets[i] .. offsets[i+1]). */
  gbuf b[4] = {g_new(12 * 4), g_new(3 * 4), g_new(4 * 4), g_new(6 * 4)};
  const uint32_t offsets[4] = {0, 1, 1, 3};
  memcpy(b[2].p, offsets, sizeof offsets);
  canary("llmem_hash64_chain_checked", 4, b, c_chain, NULL, 0);
  /* Offsets that go back are refused too, before anything is written. */
  const uint32_t back[4] = {0, 2, 1, 3};
  memcpy(b[2].p, back, sizeof back);
  for (int i = 0; i < 4; i++) g_snap(&b[i]);
  const size_t cap[4] = {b[0].bytes, b[1].bytes, b[2].bytes, b[3].bytes};
  CHECK(c_chain(b, cap, NULL) == LLMEM_EINVAL, "hash64_chain: decreasing offsets accepted");
  for (int i = 0; i < 4; i++) CHECK(g_same(&b[i]), "hash64_chain: buffer %d touched by a refused call", i);
  for (int i = 0; i < 4; i++) g_free(&b[i]);
}

/* ---- paged attention ---- */
typedef struct {
  int format;
  size_t heads, kv, hd, bs, tokens;
} paged_case;

static int c_paged(gbuf *b, const size_t *c, const void *x) {
  const paged_case *p = x;
  return llmem_paged_attention_checked(p->format, (float *)(void *)b[0].p, c[0], p->heads, p->kv, p->hd, b[1].p,
                                       c[1], b[2].p, c[2], (uint32_t *)(void *)b[3].p, c[3], p->bs, p->tokens,
                                       0.125f, (float *)(void *)b[4].p, c[4], (float *)(void *)b[5].p, c[5],
                                       (float *)(void *)b[6].p, c[6]);
}
static int c_metal_paged(gbuf *b, const size_t *c, const void *x) {
  const paged_case *p = x;
  return llmem_metal_paged_attention_checked(p->format, (float *)(void *)b[0].p, c[0], p->heads, p->kv, p->hd,
                                             b[1].p, c[1], b[2].p, c[2], (uint32_t *)(void *)b[3].p, c[3], p->bs,
                                             p->tokens, 0.125f, (float *)(void *)b[5].p, c[5],
                                             (float *)(void *)b[6].p, c[6]);
}

/* The chunk version: 3 queries over the first 4, 5, 6 tokens (the same table and pools). */
static int c_paged_chunk(gbuf *b, const size_t *c, const void *x) {
  const paged_case *p = x;
  return llmem_paged_attention_chunk_checked(p->format, (float *)(void *)b[0].p, c[0], 3, p->heads, p->kv, p->hd,
                                             b[1].p, c[1], b[2].p, c[2], (uint32_t *)(void *)b[3].p, c[3], p->bs,
                                             p->tokens - 2, 0.125f, (float *)(void *)b[4].p, c[4],
                                             (float *)(void *)b[5].p, c[5], (float *)(void *)b[6].p, c[6]);
}

static void paged_canaries(void) {
  for (int f = 0; f < llmem_format_count(); f++) {
    if (!(fmt_field(f, 3) & LLMEM_FORMAT_ROW)) continue;
    const paged_case p = {f, 4, 2, 32, 4, 6}; /* 6 tokens: 2 blocks, physical 1 then 0 */
    const size_t block = p.bs * p.kv * llmem_kv_row_bytes(f, p.hd);
    gbuf b[7] = {g_new(p.heads * p.hd * 4), g_new(2 * block), g_new(2 * block), g_new(2 * 4),
                 g_new((p.tokens * p.heads + 32 * p.hd) * 4), g_new(p.heads * p.hd * 4), g_new(p.heads * 4)};
    g_f32(&b[0]);
    if (f == LLMEM_F32) {
      g_f32(&b[1]);
      g_f32(&b[2]);
    }
    const uint32_t table[2] = {1, 0};
    memcpy(b[3].p, table, sizeof table);
    canary("llmem_paged_attention_checked", 7, b, c_paged, &p, 0);
    /* The Metal version has no scratch (buffer 4 unused: given 0 bytes' worth of checks). */
    gbuf m[7] = {b[0], b[1], b[2], b[3], g_new(0), b[5], b[6]};
    canary("llmem_metal_paged_attention_checked", 7, m, c_metal_paged, &p, -1);
    g_free(&m[4]);
    {
      const size_t slot = llmem_paged_attention_chunk_slot(3, p.heads, p.hd, p.tokens - 2);
      gbuf q[7] = {g_new(3 * p.heads * p.hd * 4), b[1], b[2], b[3], g_new(slot * 4), g_new(3 * p.heads * p.hd * 4),
                   g_new(3 * p.heads * 4)};
      g_f32(&q[0]);
      canary("llmem_paged_attention_chunk_checked", 7, q, c_paged_chunk, &p, 0);
      g_free(&q[0]);
      g_free(&q[4]);
      g_free(&q[5]);
      g_free(&q[6]);
    }
    /* A table entry naming a block past the pools is refused with nothing written. */
    const uint32_t far[2] = {1, 2};
    memcpy(b[3].p, far, sizeof far);
    size_t cap[7];
    for (int i = 0; i < 7; i++) {
      cap[i] = b[i].bytes;
      g_snap(&b[i]);
    }
    CHECK(c_paged(b, cap, &p) == LLMEM_EBOUNDS, "paged: block id past the pool accepted");
    for (int i = 0; i < 7; i++) CHECK(g_same(&b[i]), "paged: buffer %d touched by a refused call", i);
    for (int i = 0; i < 7; i++) g_free(&b[i]);
  }
}

/* ---- entry points without caller buffers: called so the list is complete ---- */
static void plain_calls(void) {
  touch("llmem_version");
  CHECK(llmem_version() != NULL, "version");
  touch("llmem_detect_isa");
  touch("llmem_active_isa");
  touch("llmem_set_isa");
  touch("llmem_isa_name");
  CHECK(llmem_set_isa(llmem_active_isa()) == 0 && llmem_isa_name(llmem_detect_isa()) != NULL, "isa");
  touch("llmem_alloc");
  touch("llmem_free");
  touch("llmem_live_bytes");
  void *p = llmem_alloc(64, 64);
  CHECK(p != NULL && llmem_live_bytes() >= 64, "alloc");
  llmem_free(p);
  touch("llmem_free_deallocator");
  llmem_free_deallocator(llmem_alloc(16, 16), NULL);
  touch("llmem_format_count");
  touch("llmem_format_name");
  touch("llmem_format_describe");
  /* describe writes exactly LLMEM_FORMAT_FIELDS words. */
  gbuf d = g_new(LLMEM_FORMAT_FIELDS * 4);
  CHECK(llmem_format_describe(0, (uint32_t *)(void *)d.p) == 0 && g_guard_ok(&d), "describe");
  CHECK(llmem_format_describe(llmem_format_count(), (uint32_t *)(void *)d.p) == -1, "describe past the table");
  g_free(&d);
  CHECK(llmem_format_name(llmem_format_count()) == NULL, "format_name past the table");
  touch("llmem_kv_row_bytes");
  CHECK(llmem_kv_row_bytes(LLMEM_Q8_0, 31) == 0, "row bytes of a partial block");
  touch("llmem_matmul_scratch_stride");
  touch("llmem_paged_attention_chunk_slot");
  CHECK(llmem_paged_attention_chunk_slot(0, 4, 32, 1) == 0, "chunk slot of no queries");
  touch("llmem_set_threads");
  touch("llmem_get_threads");
  CHECK(llmem_set_threads(llmem_get_threads()) == 0, "threads");
  touch("llmem_last_error");
  CHECK(llmem_last_error() == 0, "no pending error");
  touch("llmem_metal_available");
  touch("llmem_metal_buffer_new");
  touch("llmem_metal_buffer_release");
  touch("llmem_metal_buffer_contents");
  touch("llmem_metal_buffer_length");
  touch("llmem_metal_buffer_on_device");
  touch("llmem_metal_holds");
  void *buf = llmem_metal_buffer_new(256);
  if (llmem_metal_available()) {
    CHECK(buf != NULL && llmem_metal_buffer_length(buf) >= 256 && llmem_metal_buffer_contents(buf) != NULL &&
              llmem_metal_buffer_on_device(buf) == 1 && llmem_metal_holds(llmem_metal_buffer_contents(buf), 256),
          "metal buffer");
  } else {
    CHECK(buf == NULL && llmem_metal_holds(&buf, sizeof buf) == 0, "no Metal: no buffer");
  }
  touch("llmem_metal_residency_new");
  touch("llmem_metal_residency_add");
  touch("llmem_metal_residency_remove");
  touch("llmem_metal_residency_commit");
  touch("llmem_metal_residency_count");
  touch("llmem_metal_residency_release");
  void *set = llmem_metal_residency_new();
  if (set && buf) {
    CHECK(llmem_metal_residency_add(set, buf) == 0 && llmem_metal_residency_count(set) == 1, "residency");
    llmem_metal_residency_commit(set);
    llmem_metal_residency_remove(set, buf);
  }
  if (set) llmem_metal_residency_release(set);
  if (buf) llmem_metal_buffer_release(buf);
}

/* Every `LLMEM_API <type> <name>(` of include/llmem.h must have been called above. */
static void every_export_has_a_canary(void) {
  char path[512];
  const char *slash = strrchr(__FILE__, '/');
  snprintf(path, sizeof path, "%.*s/../include/llmem.h", slash ? (int)(slash - __FILE__) : 1,
           slash ? __FILE__ : ".");
  FILE *h = fopen(path, "r");
  CHECK(h != NULL, "cannot open %s (run from native/)", path);
  if (!h) return;
  char line[1024];
  int exports = 0;
  while (fgets(line, sizeof line, h)) {
    const char *a = strstr(line, "LLMEM_API ");
    if (a != line) continue; /* declarations start their line with LLMEM_API */
    const char *paren = strchr(a, '(');
    if (!paren) continue;
    const char *end = paren;
    const char *start = end;
    while (start > a && (start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z') ||
                         (start[-1] >= '0' && start[-1] <= '9')))
      start--;
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(end - start), start);
    exports++;
    int found = 0;
    for (int i = 0; i < n_called; i++) found |= strcmp(called[i], name) == 0;
    CHECK(found, "exported %s has no canary in test_canary.c", name);
  }
  fclose(h);
  CHECK(exports == n_called, "header exports %d entry points, the canaries called %d", exports, n_called);
}

int main(void) {
  const int nisa = t_isa_count();
  for (int k = 0; k < nisa; k++) {
    CHECK(llmem_set_isa(t_isas[k]) == 0, "set isa");
    memory_canaries();
    dot_canaries();
    convert_canaries();
    matrix_canaries();
    rows_canaries();
    rows_step_canaries();
    hash_canaries();
    paged_canaries();
  }
  plain_calls();
  every_export_has_a_canary();
  return t_finish("canary");
}
