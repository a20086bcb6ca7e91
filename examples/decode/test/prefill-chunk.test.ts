/**
 * Batched prefill (Transformer.forwardChunk, --prefill-chunk) against the one-token path it
 * replaces, which stays the reference: greedy tokens on stories260K identical in every weight
 * format and chunk size; logits after the prompt bit-identical where the chunk's matmul gives
 * matvec's bits (the block formats, and everything without libllmem), and within a measured
 * bound for f32 (its AVX2 tiles sum in another order).
 */
import { describe, expect, test } from "bun:test";
import { fixturePath } from "@llmem/core/testing";
import { matvecNative } from "@llmem/native";
import { readCheckpoint, viewCheckpoint } from "../src/checkpoint.ts";
import type { ModelConfig } from "../src/config.ts";
import { quantKernels } from "../src/kernels.ts";
import { KvStore } from "../src/kv-store.ts";
import type { WeightFormat } from "../src/matvec.ts";
import { Transformer } from "../src/model.ts";
import { runRequests } from "../src/scheduler.ts";
import { syntheticCheckpoint } from "../src/synthetic.ts";
import { Tokenizer } from "../src/tokenizer.ts";

const STORIES = fixturePath("stories260K.bin");
const TOK512 = fixturePath("tok512.bin");
const storiesTest = test.skipIf(STORIES === undefined || TOK512 === undefined);
const ckpt = STORIES === undefined ? undefined : readCheckpoint(STORIES);
const tokenizer = ckpt && TOK512 ? Tokenizer.read(TOK512, ckpt.config.vocabSize) : undefined;
const PROMPT =
  tokenizer?.encode(
    "Once upon a time, there was a little girl named Lily. She loved to play in the park with her mom and dad. One day",
  ) ?? [];

function store(c: ModelConfig, format: "f32" | "f16" = "f32"): KvStore {
  return new KvStore(c, { blockSize: 16, numBlocks: Math.ceil(c.seqLen / 16) + 1, format });
}

/** Logits after the prompt: its first L-1 positions token by token (chunk 1) or in chunks, then the last. */
function logitsAfter(
  model: Transformer,
  prompt: readonly number[],
  chunk: number,
  kvFormat: "f32" | "f16" = "f32",
) {
  const kv = store(model.config, kvFormat).open(prompt)!.kv;
  const last = prompt.length - 1;
  for (let p = 0; p < last; ) {
    const n = Math.min(chunk, last - p);
    if (n === 1) model.forward(prompt[p]!, p, kv, model.activations(), false);
    else model.forwardChunk(prompt.slice(p, p + n), p, kv);
    model.arena.reset();
    p += n;
  }
  const logits = model.forward(prompt[last]!, last, kv, model.activations()).slice();
  model.arena.reset();
  kv.release();
  return logits;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

const FORMATS: WeightFormat[] = ["f32", "q8_0", "q4_0"];

describe("batched prefill against the one-token path", () => {
  for (const format of FORMATS) {
    storiesTest(`stories260K ${format}: greedy tokens identical for chunks of 1, 5, 16 and 128`, () => {
      const model = new Transformer(ckpt!, { format, kernels: quantKernels });
      const run = (chunk: number) =>
        runRequests([{ prompt: PROMPT, seed: 1n }], {
          model,
          tokenizer: tokenizer!,
          kv: store(model.config),
          steps: PROMPT.length + 40,
          temperature: 0,
          topp: 0.9,
          maxLive: 1,
          prefillChunk: chunk,
        });
      const ref = run(1);
      for (const chunk of [5, 16, 128]) {
        const got = run(chunk);
        expect(got.sequences[0]!.tokens).toEqual(ref.sequences[0]!.tokens);
        // The timing counts every prompt position once, whatever the chunking.
        expect(got.timing.prefillTokens).toBe(ref.timing.prefillTokens);
        expect(got.timing.decodeTokens).toBe(ref.timing.decodeTokens);
      }
      model.dispose();
    });

    storiesTest(`stories260K ${format}: logits after the prompt, chunked vs token by token`, () => {
      const model = new Transformer(ckpt!, { format, kernels: quantKernels });
      const ref = logitsAfter(model, PROMPT, 1);
      for (const chunk of [3, 16, 64]) {
        const got = logitsAfter(model, PROMPT, chunk);
        const d = maxDiff(got, ref);
        // f32 chunks sum in another order natively (one accumulator per row × token).
        if (format === "f32" && matvecNative()) expect(d).toBeLessThan(1e-3);
        else expect(d).toBe(0);
        if (format === "f32" && chunk === 16)
          console.log(`stories260K f32: max |Δlogit| chunked vs one-token = ${d}`);
      }
      // An f16 K/V store (rows converted at write) too.
      const f16 = maxDiff(logitsAfter(model, PROMPT, 16, "f16"), logitsAfter(model, PROMPT, 1, "f16"));
      if (format === "f32" && matvecNative()) expect(f16).toBeLessThan(1e-3);
      else expect(f16).toBe(0);
      model.dispose();
    });
  }

  test("random weights (stories15M-shaped width, 2 layers): f32 difference measured, q8_0 exact", () => {
    const shape: ModelConfig = {
      dim: 288,
      hiddenDim: 768,
      nLayers: 2,
      nHeads: 6,
      nKvHeads: 6,
      vocabSize: 512,
      seqLen: 96,
      sharedClassifier: true,
    };
    const ck = viewCheckpoint(syntheticCheckpoint(shape, 3), "random");
    const prompt = Array.from({ length: 80 }, (_, i) => (i * 37 + 11) % shape.vocabSize);
    for (const format of ["f32", "q8_0"] as const) {
      const model = new Transformer(ck, { format, kernels: quantKernels });
      const ref = logitsAfter(model, prompt, 1);
      const got = logitsAfter(model, prompt, 32);
      const d = maxDiff(got, ref);
      let scale = 0;
      for (const v of ref) scale = Math.max(scale, Math.abs(v));
      console.log(`random 288-dim ${format}: max |Δlogit| = ${d} (max |logit| ${scale.toFixed(3)})`);
      if (format === "f32" && matvecNative()) expect(d).toBeLessThan(1e-4 * Math.max(1, scale));
      else expect(d).toBe(0);
      model.dispose();
    }
  });
});
