/** `decode tokenize`: a GGUF file's tokenizer from the command line, ids as llama-tokenize prints them. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixturePath } from "@llmem/core/testing";

const CLI = join(import.meta.dir, "..", "src", "cli.ts");
const dir = mkdtempSync(join(tmpdir(), "llmem-tokenize-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]) {
  const r = Bun.spawnSync(["bun", CLI, "tokenize", ...args]);
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

const stories = fixturePath("gguf", "stories260K-f32.gguf");
const spm = fixturePath("gguf", "ggml-vocab-llama-spm.gguf");
const gpt2 = fixturePath("gguf", "ggml-vocab-gpt-2.gguf");
const TEXT = "Hello world, it's 2024! 🦙";

test.skipIf(stories === undefined)("stories260K: 'Once upon a time' with BOS, --json", () => {
  const r = run(["--model", stories!, "--text", "Once upon a time", "--json"]);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  expect(r.out).toBe('{"tokens":[1,403,407,261,378]}\n');
  expect(run(["--model", stories!, "--text=Once upon a time", "--no-bos", "--json"]).out).toBe(
    '{"tokens":[403,407,261,378]}\n',
  );
});

// Expected ids from llama.cpp c392e50: llama-tokenize -m FILE -p TEXT --ids --no-parse-special [--no-bos].
test.skipIf(spm === undefined || gpt2 === undefined)("vocab-only files give llama-tokenize's ids", () => {
  const llama = [
    15043, 3186, 29892, 372, 29915, 29879, 29871, 29906, 29900, 29906, 29946, 29991, 29871, 243, 162, 169,
    156,
  ];
  expect(run(["--model", spm!, "--text", TEXT, "--json"]).out).toBe(
    `${JSON.stringify({ tokens: [1, ...llama] })}\n`,
  );
  expect(run(["--model", spm!, "--text", TEXT, "--json", "--no-bos"]).out).toBe(
    `${JSON.stringify({ tokens: llama })}\n`,
  );
  const g = [15496, 995, 11, 340, 338, 48609, 0, 12520, 99, 247];
  expect(run(["--model", gpt2!, "--text", TEXT, "--json"]).out).toBe(`${JSON.stringify({ tokens: g })}\n`);
});

test.skipIf(gpt2 === undefined)(
  "control tokens only with --parse-special; plain output names each token",
  () => {
    expect(run(["--model", gpt2!, "--text", "<|endoftext|>", "--json"]).out).not.toContain("50256");
    expect(run(["--model", gpt2!, "--text", "<|endoftext|>", "--json", "--parse-special"]).out).toBe(
      '{"tokens":[50256]}\n',
    );
    expect(run(["--model", gpt2!, "--text", "Hello world"]).out).toBe(
      ' 15496 -> "Hello"\n   995 -> "Ġworld"\n',
    );
  },
);

test("bad arguments and files: one line on stderr, exit 2", () => {
  const notGguf = join(dir, "not.gguf");
  writeFileSync(notGguf, "definitely not a GGUF file");
  const cases: [string[], string][] = [
    [["--text", "x"], "--model FILE.gguf is required"],
    [["--model", "m.gguf"], "--text STR is required"],
    [["--model", "m.gguf", "--text", "x", "--bos"], "unknown argument --bos"],
    [["--model"], "--model needs a value"],
    [["--model", join(dir, "absent.gguf"), "--text", "x"], "no file"],
    [["--model", notGguf, "--text", "x"], "magic"],
  ];
  for (const [args, words] of cases) {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    expect(r.err).toContain(words);
  }
});
