// FFI declarations for libllmem's paged functions (see native/include/llmem.h).
export const pagedSymbols = {} as const;
