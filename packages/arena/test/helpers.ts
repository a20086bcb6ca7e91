import { expect } from "bun:test";
import { LlmemError, type LlmemErrorCode } from "@llmem/core";

/** Asserts `fn` throws an LlmemError with `code` whose message mentions every `words`. */
export function expectLlmemError(fn: () => unknown, code: LlmemErrorCode, ...words: string[]): LlmemError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(LlmemError);
  const err = caught as LlmemError;
  expect(err.code).toBe(code);
  for (const w of words) expect(err.message).toContain(w);
  return err;
}
