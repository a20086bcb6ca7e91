// FFI declarations for libllmem's hash functions (see native/include/llmem.h).
export const hashSymbols = {} as const;
