/**
 * Test helpers shared by every package's tests (`@llmem/core/testing`): one way to assert on
 * an LlmemError, so a change to the error shape is mended once.
 */

import { expect } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
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

/**
 * The shared model fixtures (`../shared/models/` beside the repository root; `LLMEM_MODELS`
 * overrides). Tests never copy them into the project.
 */
export const MODELS_DIR: string =
  process.env.LLMEM_MODELS ?? join(import.meta.dir, "..", "..", "..", "..", "shared", "models");

/**
 * The absolute path of a fixture under MODELS_DIR, or `undefined` when it is absent: then one
 * visible `SKIPPED` line names it, and under `CI=true` the absence throws, so a CI run missing
 * its fixtures fails instead of passing quietly. Use with `test.skipIf(path === undefined)`.
 */
export function fixturePath(...parts: string[]): string | undefined {
  const path = join(MODELS_DIR, ...parts);
  if (existsSync(path)) return path;
  if (process.env.CI === "true")
    throw new Error(`fixture ${path} is missing (CI=true: a missing fixture fails)`);
  console.warn(`SKIPPED: tests need the fixture ${path} (absent)`);
  return undefined;
}
