/* A tiny test harness: counts checks, prints "N passed, N failed", exits non-zero on failure.
 * Tests compare every SIMD path with the scalar reference through llmem_set_isa. */
#ifndef LLMEM_TEST_HARNESS_H
#define LLMEM_TEST_HARNESS_H

#include <math.h>
/* Build-time extensions the kernels compiled in, shown beside the ISA (CI checks the label). */
#if defined(__ARM_FEATURE_DOTPROD)
#define T_ISA_EXTRA "+dotprod"
#else
#define T_ISA_EXTRA ""
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmem.h"

static int t_passed = 0, t_failed = 0;

/* Test cases are the functions CHECKs run in (one case however many checks or calls): CI counts
 * cases, and reports the CHECK totals apart. A case fails when any of its checks failed. */
#define T_MAX_CASES 256
static const char *t_case_names[T_MAX_CASES];
static int t_case_failed[T_MAX_CASES];
static int t_case_count = 0;
static void t_note(const char *fn, int ok) {
  int i = 0;
  while (i < t_case_count && t_case_names[i] != fn && strcmp(t_case_names[i], fn) != 0) i++;
  if (i == t_case_count) {
    if (t_case_count == T_MAX_CASES) {
      fprintf(stderr, "harness: more than %d test functions\n", T_MAX_CASES);
      exit(2);
    }
    t_case_names[t_case_count++] = fn;
  }
  if (!ok) t_case_failed[i] = 1;
}

#define CHECK(cond, ...)                                                  \
  do {                                                                    \
    if (cond) {                                                           \
      t_passed++;                                                         \
      t_note(__func__, 1);                                                \
    } else {                                                              \
      t_failed++;                                                         \
      t_note(__func__, 0);                                                \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                \
      fprintf(stderr, __VA_ARGS__);                                       \
      fputc('\n', stderr);                                                \
    }                                                                     \
  } while (0)

/* Prints "<name> [isa]: N cases passed, N cases failed (checks: N passed, N failed)". */
static int t_finish(const char *name) {
  int cases_failed = 0;
  for (int i = 0; i < t_case_count; i++) cases_failed += t_case_failed[i];
  printf("%s [%s%s]: %d cases passed, %d cases failed (checks: %d passed, %d failed)\n", name,
         llmem_isa_name(llmem_detect_isa()), T_ISA_EXTRA, t_case_count - cases_failed, cases_failed, t_passed,
         t_failed);
  return t_failed ? 1 : 0;
}

/* Deterministic xorshift so a failure reproduces. */
static uint64_t t_rng = 0x9E3779B97F4A7C15ull;
static inline uint32_t t_rand_u32(void) {
  t_rng ^= t_rng >> 12;
  t_rng ^= t_rng << 25;
  t_rng ^= t_rng >> 27;
  return (uint32_t)((t_rng * 0x2545F4914F6CDD1Dull) >> 32);
}
static inline float t_rand_f32(float lo, float hi) { return lo + (hi - lo) * (float)(t_rand_u32() >> 8) / 16777216.0f; }

/* The sizes every kernel is checked at: empty, one, around a 32-wide block, large. */
static const size_t T_SIZES[] = {0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 255, 4096, 4097, 100003};
#define T_NSIZES (sizeof(T_SIZES) / sizeof(T_SIZES[0]))

/* ISAs to run: scalar plus the best this CPU has (the same one twice on a scalar-only CPU). */
static int t_isas[2];
static int t_isa_count(void) {
  t_isas[0] = LLMEM_ISA_SCALAR;
  t_isas[1] = llmem_detect_isa();
  return t_isas[1] == LLMEM_ISA_SCALAR ? 1 : 2;
}

#endif
