import { LlmemError } from "@llmem/core";

/**
 * A GGUF file broke a rule of the format. Every message starts with the field it concerns
 * (`GGUF tensor "x" dims[1]: ...`) and states the limit, so one line tells what is wrong.
 */
export function formatError(
  field: string,
  problem: string,
  details: Record<string, unknown> = {},
): LlmemError {
  return new LlmemError("FORMAT_ERROR", `GGUF ${field}: ${problem}`, { field, ...details });
}

/** A well-formed file that uses something this reader does not know (a ggml or value type id). */
export function unsupportedError(
  field: string,
  problem: string,
  details: Record<string, unknown> = {},
): LlmemError {
  return new LlmemError("UNSUPPORTED", `GGUF ${field}: ${problem}`, { field, ...details });
}
