/**
 * Continuous batching with the paged store and prefix reuse must not change a single token:
 * every request decodes exactly as it would alone (reused blocks hold the very values the
 * request would have computed, and attention reads them in the same order).
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { viewCheckpoint } from "../src/checkpoint.ts";
import type { ModelConfig } from "../src/config.ts";
import { quantKernels } from "../src/kernels.ts";
import { KvStore } from "../src/kv-store.ts";
import { Transformer } from "../src/model.ts";
import { type RequestSpec, runRequests } from "../src/scheduler.ts";
import { syntheticCheckpoint, syntheticTokenizer } from "../src/synthetic.ts";
import { Tokenizer } from "../src/tokenizer.ts";

const shape: ModelConfig = {
  dim: 32,
  hiddenDim: 64,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 300,
  seqLen: 48,
  sharedClassifier: false,
};
const model = new Transformer(viewCheckpoint(syntheticCheckpoint(shape, 7), "m"), {
  format: "f32",
  kernels: quantKernels,
});
const tokenizer = Tokenizer.parse(syntheticTokenizer(shape.vocabSize), shape.vocabSize);
const common = { model, tokenizer, temperature: 1, topp: 0.9 };

/** The same request alone in a fresh store of the same block size: no batching, no reuse. */
function alone(r: RequestSpec, steps: number, blockSize: number): number[] {
  const kv = new KvStore(shape, { blockSize, numBlocks: Math.ceil(shape.seqLen / blockSize), format: "f32" });
  return runRequests([r], { ...common, kv, steps, maxLive: 1 }).sequences[0]!.tokens;
}

describe("continuous batching over the paged, prefix-sharing store", () => {
  test("requests sharing a prefix reuse its blocks and decode exactly as alone", () => {
    const base = tokenizer.encode(
      "once upon a time the little girl and the boy saw a big red ball in the park",
    );
    const requests: RequestSpec[] = [0, 1, 2, 3].map((i) => ({
      prompt: [...base, 3 + 40 + i, 3 + 50 + i],
      seed: BigInt(10 + i),
    }));
    const pool = new KvStore(shape, { blockSize: 4, numBlocks: 60, format: "f32" });
    const out = runRequests(requests, { ...common, kv: pool, steps: 40, maxLive: 3 });
    expect(out.timing.reusedTokens).toBeGreaterThan(0);
    expect(pool.cache.stats().prefixHits).toBeGreaterThan(0);
    for (const [i, s] of out.sequences.entries()) expect(s.tokens).toEqual(alone(requests[i]!, 40, 4));
    expect(pool.cache.stats().blocksInUse).toBe(0);
  });

  test("property: any mix of prompts, pool sizes and block sizes gives the tokens of solo runs", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 3, max: 299 }), { minLength: 0, maxLength: 12 }),
        fc.array(fc.array(fc.integer({ min: 3, max: 299 }), { maxLength: 6 }), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.constantFrom(1, 2, 4, 16),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 48 }),
        (prefix, tails, blockSize, maxLive, steps) => {
          const requests = tails.map((t, i) => ({ prompt: [1, ...prefix, ...t], seed: BigInt(i + 1) }));
          const perSeq = Math.ceil(shape.seqLen / blockSize);
          const pool = new KvStore(shape, {
            blockSize,
            numBlocks: perSeq * (maxLive + 1),
            format: "f32",
          });
          const out = runRequests(requests, { ...common, kv: pool, steps, maxLive });
          return out.sequences.every(
            (s, i) => JSON.stringify(s.tokens) === JSON.stringify(alone(requests[i]!, steps, blockSize)),
          );
        },
      ),
      { numRuns: Number(process.env.BATCH_RUNS ?? 40) },
    );
  });

  test("f16 K/V decodes (close to f32, not bit-identical)", () => {
    const pool = new KvStore(shape, { blockSize: 8, numBlocks: 12, format: "f16" });
    const out = runRequests([{ prompt: tokenizer.encode("the girl"), seed: 3n }], {
      ...common,
      kv: pool,
      steps: 30,
      maxLive: 1,
    });
    expect(out.sequences[0]!.tokens.length).toBeGreaterThan(0);
    expect(pool.cache.stats().poolBytes).toBe(2 * 2 * 12 * 8 * 16 * 2);
  });

  test("q8_0 and q4_0 K/V decode on a model with 32-wide heads; narrower heads are refused clearly", () => {
    const wide: ModelConfig = { ...shape, dim: 64, nHeads: 2, nKvHeads: 1 };
    const m = new Transformer(viewCheckpoint(syntheticCheckpoint(wide, 3), "w"), {
      format: "f32",
      kernels: quantKernels,
    });
    for (const format of ["q8_0", "q4_0"] as const) {
      const kv = new KvStore(wide, { blockSize: 8, numBlocks: 6, format });
      const out = runRequests([{ prompt: tokenizer.encode("the girl"), seed: 3n }], {
        ...common,
        model: m,
        kv,
        steps: 40,
        maxLive: 1,
      });
      expect(out.sequences[0]!.tokens.length).toBeGreaterThan(2);
      expect(kv.cache.stats().poolBytes).toBe(2 * 2 * 6 * 8 * (format === "q8_0" ? 34 : 18));
    }
    expect(() => new KvStore(shape, { blockSize: 8, numBlocks: 6, format: "q8_0" })).toThrow(
      /--kv q8_0 stores each head in 32-value blocks; this model's head size is 8/,
    );
  });
});
