// The README's tokenizer example, verbatim, run from a file at the repository root; every
// `// expected` comment in it must match what the line printed.
import { expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixturePath } from "@llmem/core/testing";

const root = join(import.meta.dir, "..", "..", "..");
const model = fixturePath("gguf", "stories260K-f32.gguf");

test.skipIf(model === undefined)("the README's tokenizer example runs and prints what it says", () => {
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Tokenizers"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(code).toBeDefined();
  const expected = [...code!.matchAll(/^console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
  expect(expected.length).toBeGreaterThan(6);
  const file = join(root, `.gguf-tokenizer-readme-${process.pid}.ts`);
  writeFileSync(file, code!);
  try {
    const r = Bun.spawnSync([process.execPath, file], { cwd: root });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString().trimEnd().split("\n")).toEqual(expected as string[]);
  } finally {
    rmSync(file, { force: true });
  }
});
