/** --logprobs: log-softmax of the raw logits, the chosen token's value and the top N, best first. */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { fixturePath } from "@llmem/core/testing";
import { tokenLogprob } from "../src/logprobs.ts";
import vectors from "./fixtures/llamacpp-greedy.json";

const CLI = join(import.meta.dir, "..", "src", "cli.ts");

describe("tokenLogprob", () => {
  test("log-softmax: probabilities sum to 1, the top list is sorted with ties to the lower id", () => {
    const logits = Float32Array.of(1, 3, 3, -2, 0.5);
    const r = tokenLogprob(logits, 3, 4);
    const z = Math.log([...logits].reduce((s, v) => s + Math.exp(v), 0));
    expect(r.id).toBe(4);
    expect(r.logprob).toBeCloseTo(0.5 - z, 12);
    expect(r.top.map((a) => a.id)).toEqual([1, 2, 0]);
    expect(r.top[0]!.logprob).toBeCloseTo(3 - z, 12);
    expect([...logits].reduce((s, v) => s + Math.exp(v - z), 0)).toBeCloseTo(1, 12);
  });

  test("N beyond the vocabulary lists every token; N = 0 lists none", () => {
    expect(tokenLogprob(Float32Array.of(0, 1), 5, 0).top.map((a) => a.id)).toEqual([1, 0]);
    expect(tokenLogprob(Float32Array.of(0, 1), 0, 0).top).toEqual([]);
  });
});

describe("bun run decode --logprobs", () => {
  test("needs --json", () => {
    const r = Bun.spawnSync(["bun", CLI, "--logprobs", "2"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toBe("decode: --logprobs adds to the --json output; pass --json too\n");
  });

  const synthk = fixturePath("gguf", "synthk-f32.gguf");
  test.skipIf(synthk === undefined)(
    "one entry per generated token; top-1 minus top-2 is llama.cpp's logit gap",
    () => {
      const r = Bun.spawnSync([
        "bun",
        CLI,
        ...["--model", synthk!, "--temperature", "0", "--prompt", "Once upon a time", "--steps", "24"],
        ...["--json", "--logprobs", "2"],
      ]);
      expect(r.exitCode).toBe(0);
      const out = JSON.parse(r.stdout.toString()) as {
        tokens: number[];
        logprobs: { id: number; logprob: number; top: { id: number; logprob: number }[] }[];
      };
      const generated = out.tokens.slice(4);
      expect(out.logprobs.map((l) => l.id)).toEqual(generated);
      const gaps = vectors.cases["synthk-f32.gguf"].gaps;
      out.logprobs.forEach((l, i) => {
        expect(l.top.map((a) => a.id)[0]).toBe(l.id);
        expect(l.logprob).toBeLessThan(0);
        expect(l.top[0]!.logprob - l.top[1]!.logprob).toBeCloseTo(gaps[i]!, 4);
      });
    },
  );
});
