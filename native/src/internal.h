/* Shared by the library's sources only; not part of the public API. */
#ifndef LLMEM_INTERNAL_H
#define LLMEM_INTERNAL_H

#include "../include/llmem.h"

#if defined(__x86_64__) || defined(_M_X64)
#define LLMEM_X86 1
#include <immintrin.h>
/* AVX2 functions are compiled with target attributes so one library runs on any x86-64. */
#define LLMEM_AVX2 __attribute__((target("avx2,fma,f16c")))
/* AVX2 kernels that also use AVX-512 VNNI on 256-bit vectors (dpbusd): chosen at load only when
 * the CPU and OS have it (llmem_cpu_has_vnni). */
#define LLMEM_AVX512VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))
#endif

#if defined(__aarch64__)
#define LLMEM_ARM 1
#include <arm_neon.h>
#endif

#endif
