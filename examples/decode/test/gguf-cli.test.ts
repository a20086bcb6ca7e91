/**
 * `--model X.gguf` end to end: llama.cpp's greedy tokens on the shared fixtures, and every
 * bad file (hostile bytes, unknown architecture, missing tensor, wrong shape, unusable type)
 * as one line on stderr and exit code 2.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixturePath } from "@llmem/core/testing";
import { parseGguf } from "@llmem/gguf";
import vectors from "./fixtures/llamacpp-greedy.json";
import {
  llamaQuantized,
  patch,
  rewrite,
  SMALL,
  smallGguf,
  tensorInfoFields,
  variantGguf,
} from "./gguf-files.ts";

const CLI = join(import.meta.dir, "..", "src", "cli.ts");
const PROMPT = "Once upon a time";
/** Prompt tokens after BOS ("Once upon a time" is 4 tokens in the 512-token vocabulary). */
const PROMPT_TOKENS = 4;

function run(args: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync(["bun", CLI, ...args], { env: { ...process.env, ...env } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

function greedy(model: string, generate: number, extra: string[] = [], promptTokens = PROMPT_TOKENS) {
  const r = run([
    "--model",
    model,
    "--temperature",
    "0",
    "--kv",
    "f32",
    "--prompt",
    PROMPT,
    "--steps",
    String(promptTokens + generate),
    "--json",
    ...extra,
  ]);
  if (r.code !== 0) throw new Error(`decode failed: ${r.err}`);
  return JSON.parse(r.out) as { tokens: number[]; text: string; weights: string; model: string };
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
function tempFile(name: string, bytes: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), "llmem-gguf-"));
  tempDirs.push(dir);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** The fixtures README's greedy text and 64 ids for one file. */
function readmeCase(readme: string, file: string): { text: string; ids: number[] } {
  const section = readme.split(`\`${file}\`:\n`)[1];
  if (!section) throw new Error(`${file} has no greedy section in the fixtures README`);
  const text = section.split("```")[1]!.trim();
  const ids = JSON.parse(/generated ids: `(\[[\d, ]+\])`/.exec(section)![1]!) as number[];
  return { text, ids };
}

const readmePath = fixturePath("gguf", "README.md");

describe("greedy GGUF decoding gives llama.cpp's tokens", () => {
  for (const name of ["stories260K-f32.gguf", "stories260K-q8_0.gguf"]) {
    const path = fixturePath("gguf", name);
    test.skipIf(path === undefined || readmePath === undefined)(
      `${name}: the fixtures README's ids and text`,
      () => {
        const want = readmeCase(readFileSync(readmePath!, "utf8"), name);
        expect(want.ids).toHaveLength(64);
        const r = greedy(path!, 64);
        expect(r.model).toBe("gguf");
        expect(r.tokens.slice(PROMPT_TOKENS)).toEqual(want.ids);
        expect(r.text).toBe(want.text);
      },
    );
  }

  const f32 = fixturePath("gguf", "stories260K-f32.gguf");
  test.skipIf(f32 === undefined || readmePath === undefined)(
    "stories260K-f32.gguf without output.weight (tied embeddings: its classifier was the embedding table) keeps llama.cpp's ids",
    () => {
      const want = readmeCase(readFileSync(readmePath!, "utf8"), "stories260K-f32.gguf");
      const tied = rewrite(readFileSync(f32!), { tensors: (t) => (t.name === "output.weight" ? null : t) });
      const r = greedy(tempFile("tied.gguf", tied), 64);
      expect(r.tokens.slice(PROMPT_TOKENS)).toEqual(want.ids);
    },
  );

  test.skipIf(f32 === undefined)(
    "generation ends at the vocabulary's EOS, which is neither kept nor printed",
    () => {
      // Token 383 (" there") is the second greedy token after "Once upon a time"; made EOS, it ends the run.
      const eos383 = rewrite(readFileSync(f32!), { metadata: { "tokenizer.ggml.eos_token_id": 383 } });
      const r = greedy(tempFile("eos.gguf", eos383), 20);
      expect(r.tokens).toEqual([403, 407, 261, 378, 432]);
      expect(r.text).toBe("Once upon a time,");
    },
  );

  for (const [name, v] of Object.entries(vectors.cases)) {
    const path = fixturePath("gguf", name);
    test.skipIf(path === undefined)(`${name}: llama.cpp's ids apart from near-ties (gap < 1e-4)`, () => {
      const r = greedy(path!, v.ids.length);
      expect(r.tokens.slice(0, PROMPT_TOKENS)).toEqual(v.promptIds.slice(1));
      expectLlamaCppIds(r.tokens.slice(PROMPT_TOKENS), v);
    });
  }
});

/** Ids equal llama.cpp's, or differ first where llama.cpp's two best logits were within 1e-4. */
function expectLlamaCppIds(got: number[], want: { ids: number[]; gaps: number[] }): void {
  // After a near-tie picks the other token the two runs continue from different text.
  const first = got.findIndex((id, i) => id !== want.ids[i]);
  if (first >= 0) expect(want.gaps[first]!).toBeLessThan(1e-4);
  else expect(got).toEqual(want.ids);
}

describe("fixtures quantized as llama-quantize quantizes them give llama.cpp's tokens", () => {
  for (const [kind, v] of Object.entries(vectors.quantized)) {
    const source = fixturePath("gguf", v.source);
    test.skipIf(source === undefined)(`${kind}: llama-quantize's bytes and llama.cpp's ids`, () => {
      const mixture = kind.replace(/^synthk-/, "") as Parameters<typeof llamaQuantized>[1];
      const bytes = llamaQuantized(readFileSync(source!), mixture);
      // Byte for byte the file llama-quantize wrote (so the vectors were made from these bytes).
      expect(new Bun.CryptoHasher("sha256").update(bytes).digest("hex")).toBe(v.sha256);
      const r = greedy(tempFile(`${kind}.gguf`, bytes), v.ids.length);
      expect(r.tokens.slice(0, PROMPT_TOKENS)).toEqual(v.promptIds.slice(1));
      expectLlamaCppIds(r.tokens.slice(PROMPT_TOKENS), v);
    });
  }
});

const VARIANTS = {
  qwen2: "q/k/v biases, NEOX rope",
  "llama-meta": "rope base and RMS epsilon from the metadata",
  f16: "F16 matrices and embedding table, x rounded to fp16",
  bf16: "BF16 matrices and embedding table, x rounded to bf16",
} as const;

describe("generated qwen2, llama, F16 and BF16 files give llama.cpp's tokens", () => {
  for (const [kind, v] of Object.entries(vectors.variants)) {
    test(`${kind}: ${VARIANTS[kind as keyof typeof VARIANTS]}`, () => {
      const bytes = variantGguf(kind as keyof typeof VARIANTS);
      // The vectors were made from exactly these bytes.
      expect(new Bun.CryptoHasher("sha256").update(bytes).digest("hex")).toBe(v.sha256);
      const r = greedy(tempFile(`${kind}.gguf`, bytes), v.ids.length, [], v.promptIds.length - 1);
      expect(r.tokens.slice(0, v.promptIds.length - 1)).toEqual(v.promptIds.slice(1));
      expectLlamaCppIds(r.tokens.slice(v.promptIds.length - 1), v);
    });
  }
});

describe("bad GGUF files end with one line and exit 2", () => {
  const good = smallGguf();

  test("the small synthetic GGUF itself decodes", () => {
    const r = greedy(tempFile("good.gguf", good), 8);
    expect(r.tokens.length).toBeGreaterThan(0);
  });

  const q = tensorInfoFields(good, "blk.0.attn_q.weight");
  const hostile: [string, Uint8Array, RegExp][] = [
    [
      "truncated",
      good.subarray(0, good.length - 100),
      /"blk\.1\.ffn_norm\.weight" offset: .* ends past the data section/,
    ],
    [
      "misaligned tensor offset",
      patch(good, q.offset, BigInt(parseGguf(good).tensorInfos[0]!.offset) + 1n, 8),
      /"blk\.0\.attn_q\.weight" offset: .* is not a multiple of the alignment/,
    ],
    ["oversized tensor count", patch(good, 8, 2n ** 40n, 8), /tensor_count/],
    ["unknown tensor type", patch(good, q.type, 99, 4), /type/],
    ["offset past the end", patch(good, q.offset, 2n ** 32n, 8), /offset/],
    [
      "unknown architecture",
      rewrite(good, { metadata: { "general.architecture": "mamba" } }),
      /general\.architecture "mamba" is not supported/,
    ],
    [
      "missing tensor",
      rewrite(good, { tensors: (t) => (t.name === "blk.1.ffn_up.weight" ? null : t) }),
      /"blk\.1\.ffn_up\.weight" is missing/,
    ],
    [
      "wrong shape",
      rewrite(good, {
        tensors: (t) => (t.name === "blk.0.attn_k.weight" ? { ...t, dims: [...t.dims].reverse() } : t),
      }),
      /"blk\.0\.attn_k\.weight" has shape \[32, 64\], expected \[64, 32\]/,
    ],
    [
      "a type the kernels cannot multiply",
      rewrite(good, {
        tensors: (t) =>
          t.name === "blk.0.attn_q.weight"
            ? { ...t, type: "i16", data: new Uint8Array(SMALL.dim * SMALL.dim * 2) }
            : t,
      }),
      /"blk\.0\.attn_q\.weight" has type i16, which llmem cannot use as a matrix yet/,
    ],
    [
      "missing hyperparameter",
      rewrite(good, { metadata: { "llama.feed_forward_length": undefined } }),
      /llama\.feed_forward_length/,
    ],
  ];
  for (const [what, bytes, message] of hostile) {
    test(what, () => {
      const r = run(["--model", tempFile("bad.gguf", bytes), "--prompt", "hi", "--steps", "4"]);
      expect(r.code).toBe(2);
      expect(r.out).toBe("");
      expect(r.err.split("\n")).toEqual([expect.stringMatching(/^decode: /), ""]);
      expect(r.err).toMatch(message);
    });
  }

  test("a vocabulary that adds no BOS: the first prompt token is kept and printed too", () => {
    const noBos = rewrite(good, { metadata: { "tokenizer.ggml.add_bos_token": false } });
    const r = run([
      "--model",
      tempFile("nobos.gguf", noBos),
      "--temperature",
      "0",
      "--prompt",
      "the girl",
      "--steps",
      "20",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { tokens: number[]; text: string };
    expect(out.text.startsWith("the girl")).toBe(true);
    expect(out.tokens).toHaveLength(21); // the first prompt token, then one per position
  });

  test("--tokenizer and --weights are refused for a GGUF model", () => {
    const path = tempFile("good.gguf", good);
    const a = run(["--model", path, "--tokenizer", path]);
    expect([a.code, a.err]).toEqual([
      2,
      expect.stringMatching(/^decode: --tokenizer is for llama2\.c \.bin models.*\n$/),
    ]);
    const b = run(["--model", path, "--weights", "q8_0"]);
    expect([b.code, b.err]).toEqual([
      2,
      expect.stringMatching(/^decode: --weights q8_0 re-quantizes llama2\.c .*\n$/),
    ]);
  });
});
