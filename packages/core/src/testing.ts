/**
 * Test helpers shared by every package's tests (`@llmem/core/testing`): one way to assert on
 * an LlmemError, so a change to the error shape is mended once.
 */
import { expect } from "bun:test";
import { LlmemError, type LlmemErrorCode } from "./errors.ts";

/**
 * The `code` of the LlmemError `fn` throws; `undefined` when it returns normally, and
 * `"not-llmem: …"` when it throws anything else, so an assertion on the code fails loudly.
 */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof LlmemError ? e.code : `not-llmem: ${e}`;
  }
  return undefined;
}

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
