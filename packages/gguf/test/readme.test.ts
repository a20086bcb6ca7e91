// The README's example, verbatim, run from a file at the repository root; every
// `// expected` comment in it must match what the line printed.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fixturePath, readmeTsBlocks, runReadmeBlock } from "@llmem/core/testing";

const model = fixturePath("gguf", "stories260K-f32.gguf");

test.skipIf(model === undefined)(
  "the README example runs from the repository root and prints what it says",
  () => {
    const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
    const block = readmeTsBlocks(readme)[0];
    if (block === undefined) throw new Error("README.md: the example block is gone");
    const r = runReadmeBlock(block.code);
    expect(r.expected.length).toBeGreaterThan(4);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.printed).toEqual(r.expected);
  },
);
