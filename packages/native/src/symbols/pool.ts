// FFI declarations for libllmem's pool functions (see native/include/llmem.h).
export const poolSymbols = {} as const;
