// FFI declarations for libllmem's attention functions (see native/include/llmem.h).
export const attentionSymbols = {} as const;
