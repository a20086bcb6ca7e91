/**
 * Attention quality of the quantized store tier against an f32 reference on keys with outlier
 * channels: 8 KV heads × 128, 32 query heads, 1,024 tokens (the setting), all of them
 * moved to the store (recentBlocks 0).
 */
import { expect, test } from "bun:test";
import { type KeyGrouping, PagedKvCache } from "../src/index.ts";
import type { RowFormat } from "../src/row-formats.ts";
import { gaussian, outlierKeys } from "./quality.ts";
import { cosine, referenceAttend } from "./reference.ts";

const KV = 8;
const HD = 128;
const HEADS = 32;
const T = 1024;
const BS = 32;
const keys = outlierKeys(T, KV, HD, 11);
const values = gaussian(T * KV * HD, 12);
const queries = [gaussian(HEADS * HD, 13), gaussian(HEADS * HD, 14), gaussian(HEADS * HD, 15)];
const refs = queries.map((q) => referenceAttend(keys, values, T, q, HEADS, KV, HD));

function measure(storeFormat: RowFormat, keyGrouping: KeyGrouping) {
  const c = new PagedKvCache({
    numLayers: 1,
    numKvHeads: KV,
    numHeads: HEADS,
    headDim: HD,
    blockSize: BS,
    numBlocks: T / BS,
    tiers: { recentBlocks: 0, storeFormat, numStoreBlocks: T / BS, keyGrouping },
  });
  const seq = c.admit([], { maxTokens: T })!;
  seq.beginStep(Array.from({ length: T }, (_, i) => i)).write(0, keys, values);
  seq.end();
  expect(seq.storedTokens).toBe(T);
  const s = c.stats();
  const out = new Float32Array(HEADS * HD);
  const cos = Math.min(...queries.map((q, i) => cosine(seq.attend(0, q, out), refs[i]!)));
  c.dispose();
  return { cos, storeRatio: s.storeBytesPerBlock / (BS * KV * HD * 4 * 2) };
}

const cases: [RowFormat, KeyGrouping, number, number][] = [
  ["q8_0", "token", 0.9998, 0.27],
  ["q4_0", "token", 0.965, 0.16],
  ["q4_1", "token", 0.965, 0.16],
  // q4_0 channel keys sit at the goal (0.9899-0.9907 over seeds); q4_1 (asymmetric, as KIVI) clears it.
  ["q4_0", "channel", 0.988, 0.16],
  ["q4_1", "channel", 0.99, 0.16],
];

for (const [format, grouping, minCos, maxRatio] of cases) {
  test(`${format} store, ${grouping} keys: cosine ≥ ${minCos}, store ≤ ${maxRatio}× f32`, () => {
    const { cos, storeRatio } = measure(format, grouping);
    console.log(
      `quality ${format}/${grouping}: cosine ${cos.toFixed(5)}, store ${storeRatio.toFixed(4)}× f32`,
    );
    expect(cos).toBeGreaterThanOrEqual(minCos);
    expect(storeRatio).toBeLessThanOrEqual(maxRatio);
  });
}
