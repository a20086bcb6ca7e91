// The README's example, verbatim, run from a file at the repository root: it exits cleanly
// and every `// expected` comment matches what its line printed.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { fixturePath, runReadmeExample } from "@llmem/core/testing";

const model = fixturePath("gguf", "stories260K-f32.gguf");

test.skipIf(model === undefined)(
  "the README example runs from the repository root and prints what it says",
  () => {
    const run = runReadmeExample(join(import.meta.dir, "..", "README.md"));
    expect(run.expected.length).toBeGreaterThan(4);
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    expect(run.printed).toEqual(run.expected);
  },
);

test.skipIf(model === undefined)("the README's tokenizer example runs and prints what it says", () => {
  const run = runReadmeExample(join(import.meta.dir, "..", "README.md"), "## Tokenizers");
  expect(run.expected.length).toBeGreaterThan(6);
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.expected);
});
