// The README's example, verbatim, run from a file at the repository root: it exits cleanly
// and every `// expected` comment matches what its line printed.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { runReadmeExample } from "@llmem/core/testing";

test("the README example runs from the repository root and prints what it says", () => {
  const run = runReadmeExample(join(import.meta.dir, "..", "README.md"));
  expect(run.expected.length).toBeGreaterThan(2);
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.expected);
});
