#include "formats.h"

#if LLMEM_X86
#include <cpuid.h>
#endif

static int llmem_isa_current = -1;

const char *llmem_version(void) { return "0.1.0"; }

int llmem_detect_isa(void) {
#if LLMEM_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return LLMEM_ISA_SCALAR;
  const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
  if (!(fma && osxsave && avx && f16c)) return LLMEM_ISA_SCALAR;
  /* The OS must save YMM state (XCR0 bits 1 and 2) or AVX registers get clobbered. */
  unsigned xlo, xhi;
  __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  if ((xlo & 6) != 6) return LLMEM_ISA_SCALAR;
  if (__get_cpuid_max(0, 0) < 7) return LLMEM_ISA_SCALAR;
  __cpuid_count(7, 0, a, b, c, d);
  return ((b >> 5) & 1) ? LLMEM_ISA_AVX2 : LLMEM_ISA_SCALAR;
#elif LLMEM_ARM
  return LLMEM_ISA_NEON; /* NEON is architectural on AArch64. */
#else
  return LLMEM_ISA_SCALAR;
#endif
}

/* AVX-512 VNNI with VL (dpbusd on 256-bit vectors), and the OS saving the AVX-512 state
 * (XCR0 bits 5-7) that its EVEX encoding needs. An extra within the AVX2 ISA: same results. */
int llmem_cpu_has_vnni(void) {
#if LLMEM_X86
  if (llmem_detect_isa() != LLMEM_ISA_AVX2) return 0;
  unsigned a, b, c, d, xlo, xhi;
  __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  if ((xlo & 0xE6) != 0xE6) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return ((b >> 16) & 1) && ((b >> 31) & 1) && ((c >> 11) & 1); /* AVX512F, AVX512VL, AVX512_VNNI */
#else
  return 0;
#endif
}

int llmem_active_isa(void) {
  if (llmem_isa_current < 0) llmem_isa_current = llmem_detect_isa();
  return llmem_isa_current;
}

int llmem_set_isa(int isa) {
  const int best = llmem_detect_isa();
  if (isa != LLMEM_ISA_SCALAR && isa != best) return -1;
  llmem_isa_current = isa;
  llmem_select_kernels(isa);
  return 0;
}

const char *llmem_isa_name(int isa) {
  switch (isa) {
  case LLMEM_ISA_SCALAR: return "scalar";
  case LLMEM_ISA_AVX2: return "avx2";
  case LLMEM_ISA_NEON: return "neon";
  default: return "unknown";
  }
}
