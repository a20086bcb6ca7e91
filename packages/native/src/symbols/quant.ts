// FFI declarations for libllmem's quant functions (see native/include/llmem.h).
export const quantSymbols = {} as const;
