/* The format table (src/formats.c): every row is complete and self-consistent, the description
 * the binding reads matches it, and llmem_set_isa swaps in exactly the chosen ISA's kernels. */
#include "harness.h"
#include "../src/formats.h"
#include "../src/quant/k_quants.h"
#include "../src/quant/quant_internal.h"

static void test_rows(void) {
  CHECK(llmem_format_count() == LLMEM_FORMAT_COUNT, "count %d", llmem_format_count());
  for (int f = 0; f < LLMEM_FORMAT_COUNT; f++) {
    const llmem_format_traits *t = &llmem_formats[f];
    const llmem_format_kernels *ref = &t->isa[LLMEM_ISA_SCALAR];
    CHECK(t->name && strcmp(llmem_format_name(f), t->name) == 0, "format %d name", f);
    CHECK(t->block_size >= 1 && t->block_bytes >= 1, "%s geometry", t->name);
    /* Block formats hold whole 32-value groups the matvec and attention kernels walk. */
    CHECK(t->block_size == 1 || t->block_size % LLMEM_QK == 0, "%s block size %d", t->name, t->block_size);
    if (t->flags & LLMEM_FORMAT_QUANT) CHECK(t->block_size > 1 && ref->from_float && ref->to_float, "%s quant", t->name);
    if (f != LLMEM_F32 && (t->flags & LLMEM_FORMAT_ROW)) CHECK(ref->to_float != NULL, "%s row decode", t->name);
    if (t->vec_dot_format >= 0) {
      CHECK(ref->vec_dot != NULL, "%s vec_dot", t->name);
      CHECK(t->vec_dot_format < LLMEM_FORMAT_COUNT, "%s vec_dot format", t->name);
      /* The activation is converted to the vec_dot format, so that format needs a from_float
       * (f32 is the activation itself). */
      CHECK(t->vec_dot_format == LLMEM_F32 || llmem_formats[t->vec_dot_format].isa[LLMEM_ISA_SCALAR].from_float,
            "%s vec_dot format converts", t->name);
    } else {
      CHECK(ref->vec_dot == NULL, "%s has a vec_dot but no vec_dot format", t->name);
    }
    if (t->flags & LLMEM_FORMAT_MATRIX) CHECK(t->vec_dot_format >= 0, "%s matrix without vec_dot", t->name);
    uint32_t d[LLMEM_FORMAT_FIELDS];
    CHECK(llmem_format_describe(f, d) == 0, "%s describe", t->name);
    CHECK(d[0] == (uint32_t)t->block_size && d[1] == t->block_bytes && d[2] == (uint32_t)t->vec_dot_format &&
              d[3] == t->flags,
          "%s describe fields", t->name);
  }
  uint32_t d[LLMEM_FORMAT_FIELDS];
  CHECK(llmem_format_describe(LLMEM_FORMAT_COUNT, d) == -1 && llmem_format_describe(-1, d) == -1, "past the table");
  CHECK(llmem_format_name(LLMEM_FORMAT_COUNT) == NULL && llmem_format_name(-1) == NULL, "name past the table");
}

/* The kernels' compile-time block layouts (quant_internal.h, k_quants.h) are the table's rows:
 * the hot loops use the constants, the binding the table, so the two must not drift. */
static void test_layout_constants(void) {
  const struct {
    int format;
    int bytes;
  } layouts[] = {{LLMEM_Q8_0, Q8_0_BYTES}, {LLMEM_Q4_0, Q4_0_BYTES}, {LLMEM_Q4_1, Q4_1_BYTES},
                 {LLMEM_Q8_1, Q8_1_BYTES}, {LLMEM_Q5_0, Q5_0_BYTES}, {LLMEM_Q5_1, Q5_1_BYTES},
                 {LLMEM_Q8_K, Q8_K_BYTES}, {LLMEM_Q2_K, Q2_K_BYTES}, {LLMEM_Q3_K, Q3_K_BYTES},
                 {LLMEM_Q4_K, Q4_K_BYTES}, {LLMEM_Q5_K, Q5_K_BYTES}, {LLMEM_Q6_K, Q6_K_BYTES}};
  for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
    const llmem_format_traits *t = &llmem_formats[layouts[i].format];
    CHECK((int)t->block_bytes == layouts[i].bytes, "%s: table %u bytes, kernels' constant %d", t->name,
          (unsigned)t->block_bytes, layouts[i].bytes);
  }
}

/* The active kernels are the chosen ISA's where it has one, else the scalar reference. */
static void test_selection(void) {
  const int n = t_isa_count();
  for (int k = 0; k < n; k++) {
    const int isa = t_isas[k];
    CHECK(llmem_set_isa(isa) == 0 && llmem_active_isa() == isa, "set %s", llmem_isa_name(isa));
    for (int f = 0; f < LLMEM_FORMAT_COUNT; f++) {
      const llmem_format_kernels *want = &llmem_formats[f].isa[isa], *ref = &llmem_formats[f].isa[LLMEM_ISA_SCALAR];
      const llmem_format_kernels *got = &llmem_format_kernels_active[f];
      CHECK(got->from_float == (want->from_float ? want->from_float : ref->from_float), "%s from_float on %s",
            llmem_formats[f].name, llmem_isa_name(isa));
      CHECK(got->to_float == (want->to_float ? want->to_float : ref->to_float), "%s to_float", llmem_formats[f].name);
      CHECK(got->vec_dot == (want->vec_dot ? want->vec_dot : ref->vec_dot), "%s vec_dot", llmem_formats[f].name);
      /* The first seven formats have a SIMD path for every kernel (none may fall back silently);
       * a new format may start scalar-only. */
      if (isa != LLMEM_ISA_SCALAR && f <= LLMEM_Q8_1) {
        CHECK(!ref->from_float || want->from_float, "%s from_float has no %s path", llmem_formats[f].name,
              llmem_isa_name(isa));
        CHECK(!ref->to_float || want->to_float, "%s to_float has no %s path", llmem_formats[f].name, llmem_isa_name(isa));
        CHECK(!ref->vec_dot || want->vec_dot, "%s vec_dot has no %s path", llmem_formats[f].name, llmem_isa_name(isa));
      }
    }
    CHECK(llmem_isa_kernels_active.matvec_range != NULL && llmem_isa_kernels_active.hash64 != NULL, "isa kernels");
  }
  CHECK(llmem_set_isa(llmem_detect_isa()) == 0, "restore");
}

int main(void) {
  test_rows();
  test_layout_constants();
  test_selection();
  return t_finish("formats");
}
