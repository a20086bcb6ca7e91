/**
 * Attention quality of the quantized store against an f32 reference on keys with outlier
 * channels: 8 KV heads × 128, 32 query heads, 1,024 tokens (the setting).
 */
import { expect, test } from "bun:test";
import { type KeyGrouping, type StorePrecision, TwoTierKvCache } from "../src/index.ts";
import { gaussian, outlierKeys } from "./quality.ts";
import { cosine, referenceAttend } from "./reference.ts";

const KV = 8;
const HD = 128;
const HEADS = 32;
const T = 1024;
const keys = outlierKeys(T, KV, HD, 11);
const values = gaussian(T * KV * HD, 12);
const queries = [gaussian(HEADS * HD, 13), gaussian(HEADS * HD, 14), gaussian(HEADS * HD, 15)];
const refs = queries.map((q) => referenceAttend(keys, values, T, q, HEADS, KV, HD));

function measure(storePrecision: StorePrecision, keyGrouping: KeyGrouping) {
  // tailLength 31 with batches of 32: all 1,024 tokens end up in the store.
  const c = new TwoTierKvCache({
    numKvHeads: KV,
    headDim: HD,
    tailLength: 31,
    migrationBatch: 32,
    maxTokens: T,
    storePrecision,
    keyGrouping,
  });
  c.append(keys, values);
  const s = c.stats();
  expect(s.storeTokens).toBe(T);
  const cos = Math.min(...queries.map((q, i) => cosine(c.attend(q, { numHeads: HEADS }), refs[i]!)));
  return { cos, storeRatio: s.storeBytesRatio };
}

const cases: [StorePrecision, KeyGrouping, number, number][] = [
  ["q8_0", "token", 0.9998, 0.27],
  ["q4_0", "token", 0.965, 0.16],
  ["q4_1", "token", 0.965, 0.16],
  // q4_0 channel keys sit at the goal (0.9899-0.9907 over seeds); q4_1 (asymmetric, as KIVI) clears it.
  ["q4_0", "channel", 0.988, 0.16],
  ["q4_1", "channel", 0.99, 0.16],
];

for (const [precision, grouping, minCos, maxRatio] of cases) {
  test(`${precision} store, ${grouping} keys: cosine ≥ ${minCos}, store ≤ ${maxRatio}× f32`, () => {
    const { cos, storeRatio } = measure(precision, grouping);
    console.log(
      `quality ${precision}/${grouping}: cosine ${cos.toFixed(5)}, store ${storeRatio.toFixed(4)}× f32`,
    );
    expect(cos).toBeGreaterThanOrEqual(minCos);
    expect(storeRatio).toBeLessThanOrEqual(maxRatio);
  });
}
