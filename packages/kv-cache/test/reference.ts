/** Simple reference models the caches are checked against: plain arrays, no rings, no bytes. */

import { encodeStoreRow } from "../src/refine.ts";
import type { RowFormat } from "../src/row-formats.ts";
import { decodeRow, encodeRow } from "../src/row-kernels.ts";

export function roundTrip(f: RowFormat, src: Float32Array, store = false): Float32Array {
  const bytes = new Uint8Array(src.length * 4);
  (store ? encodeStoreRow : encodeRow)(f, src, src.length, bytes, 0);
  const out = new Float32Array(src.length);
  decodeRow(f, bytes, 0, src.length, out);
  return out;
}

/** Naive f32 grouped-query attention over [token][kvHead][headDim] keys and values. */
export function referenceAttend(
  keys: Float32Array,
  values: Float32Array,
  tokens: number,
  query: Float32Array,
  numHeads: number,
  numKvHeads: number,
  headDim: number,
  scale = 1 / Math.sqrt(headDim),
): Float64Array {
  const out = new Float64Array(numHeads * headDim);
  if (tokens === 0) return out;
  const row = numKvHeads * headDim;
  const s = new Float64Array(tokens);
  for (let h = 0; h < numHeads; h++) {
    const g = Math.floor(h / (numHeads / numKvHeads));
    let max = Number.NEGATIVE_INFINITY;
    for (let t = 0; t < tokens; t++) {
      let dot = 0;
      for (let d = 0; d < headDim; d++) dot += query[h * headDim + d]! * keys[t * row + g * headDim + d]!;
      s[t] = dot * scale;
      max = Math.max(max, s[t]!);
    }
    let sum = 0;
    for (let t = 0; t < tokens; t++) sum += s[t] = Math.exp(s[t]! - max);
    for (let t = 0; t < tokens; t++) {
      const w = s[t]! / sum;
      for (let d = 0; d < headDim; d++) out[h * headDim + d]! += w * values[t * row + g * headDim + d]!;
    }
  }
  return out;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

interface Token {
  k: Float32Array;
  v: Float32Array;
}

/** The two-tier cache as a list of tokens, with what getAll must return for each. */
export class TwoTierModel {
  tokens: Token[] = [];
  storeCount = 0;
  appended = 0;
  migrated = 0;
  evicted = 0;

  constructor(
    readonly tail: RowFormat,
    readonly store: RowFormat,
    readonly channel: boolean,
    readonly headDim: number,
    readonly numKvHeads: number,
    public tailLength: number,
    public maxTokens: number,
    public batch: number,
  ) {}

  get tailCount(): number {
    return this.tokens.length - this.storeCount;
  }

  append(k: Float32Array, v: Float32Array): void {
    this.tokens.push({ k: roundTrip(this.tail, k), v: roundTrip(this.tail, v) });
    this.appended++;
    if (this.tokens.length > this.maxTokens) this.evict(1);
    if (this.tailCount > this.tailLength) this.migrate(this.batch);
  }

  evict(n: number): void {
    for (let i = 0; i < n; i++) {
      this.tokens.shift();
      if (this.storeCount > 0) this.storeCount--;
    }
    this.evicted += n;
  }

  migrate(n: number): void {
    const moving = this.tokens.slice(this.storeCount, this.storeCount + n);
    for (const t of moving) {
      t.v = roundTrip(this.store, t.v, true);
      if (!this.channel) t.k = roundTrip(this.store, t.k, true);
    }
    if (this.channel) {
      for (let g = 0; g < n; g += 32) {
        const group = moving.slice(g, g + 32);
        for (let c = 0; c < group[0]!.k.length; c++) {
          const col = roundTrip(
            this.store,
            Float32Array.from(group, (t) => t.k[c]!),
            true,
          );
          group.forEach((t, i) => {
            t.k[c] = col[i]!;
          });
        }
      }
    }
    this.storeCount += n;
    this.migrated += n;
  }

  setPolicy(tailLength: number, maxTokens: number, batch: number): void {
    if (this.tokens.length > maxTokens) this.evict(this.tokens.length - maxTokens);
    while (this.tailCount > tailLength) this.migrate(this.channel ? 32 : 1);
    this.tailLength = tailLength;
    this.maxTokens = maxTokens;
    this.batch = batch;
  }

  flat(): { keys: Float32Array; values: Float32Array } {
    const row = this.numKvHeads * this.headDim;
    const keys = new Float32Array(this.tokens.length * row);
    const values = new Float32Array(keys.length);
    this.tokens.forEach((t, i) => {
      keys.set(t.k, i * row);
      values.set(t.v, i * row);
    });
    return { keys, values };
  }
}
