/** `decode convert`: a llama2.c checkpoint to llama.cpp's GGUF, and bad input as one line + exit 2. */
import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixturePath } from "@llmem/core/testing";

const CLI = join(import.meta.dir, "..", "src", "cli.ts");
const dir = mkdtempSync(join(tmpdir(), "llmem-convert-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]) {
  const r = Bun.spawnSync(["bun", CLI, "convert", ...args]);
  return { code: r.exitCode, err: r.stderr.toString() };
}

const ckpt = fixturePath("stories260K.bin");
const tok = fixturePath("tok512.bin");

test.skipIf(ckpt === undefined || tok === undefined)(
  "stories260K.bin → the llama.cpp fixture's bytes",
  () => {
    const out = join(dir, "s.gguf");
    const r = run([ckpt!, out, "--tokenizer", tok!]);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`wrote ${out} (1185376 bytes)\n`);
    const sha = createHash("sha256").update(readFileSync(out)).digest("hex");
    expect(sha).toBe("047bf46455a544931cff6fef14d7910154c56afbc23ab1c5e56a72e69912c04b");
  },
);

test("missing arguments, a missing file, a wrong tokenizer: one line, exit 2", () => {
  const cases: [string[], string][] = [
    [["in.bin"], "expected IN.bin and OUT.gguf"],
    [["in.bin", "out.gguf"], "--tokenizer T.bin is required"],
    [["in.bin", "out.gguf", "--tok", "x"], "unknown flag --tok"],
    [[join(dir, "absent.bin"), join(dir, "o.gguf"), "--tokenizer", "t.bin"], "cannot read the checkpoint"],
  ];
  if (ckpt !== undefined) {
    const big = fixturePath("tokenizer.bin");
    if (big !== undefined) cases.push([[ckpt, join(dir, "o.gguf"), "--tokenizer", big], "tokenizer size"]);
  }
  for (const [args, words] of cases) {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(words);
    expect(r.err.trimEnd().split("\n")).toHaveLength(1);
  }
});
