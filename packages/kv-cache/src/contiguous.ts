/**
 * The simplest correct KV cache: f32 keys and values for one sequence and one layer,
 * layout [token][kvHead][headDim], with grouped-query multi-head attention.
 */
import { checkInt, LlmemError } from "@llmem/core";
import { dotF32 } from "@llmem/native";

export interface ContiguousKvCacheOptions {
  numKvHeads: number;
  headDim: number;
  maxTokens: number;
}

export class ContiguousKvCache {
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly maxTokens: number;
  private readonly keys: Float32Array;
  private readonly values: Float32Array;
  private tokens = 0;

  constructor(o: ContiguousKvCacheOptions) {
    this.numKvHeads = checkInt("numKvHeads", o.numKvHeads, 1, 4096);
    this.headDim = checkInt("headDim", o.headDim, 1, 65536);
    this.maxTokens = checkInt("maxTokens", o.maxTokens, 1, 2 ** 24);
    this.keys = new Float32Array(this.maxTokens * this.numKvHeads * this.headDim);
    this.values = new Float32Array(this.keys.length);
  }

  get length(): number {
    return this.tokens;
  }

  /** Appends whole tokens; nothing is appended if the input is malformed or would not fit. */
  append(keys: Float32Array, values: Float32Array): void {
    const row = this.numKvHeads * this.headDim;
    if (keys.length % row !== 0 || values.length !== keys.length) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `keys and values must both hold whole tokens of ${row} floats`,
        {
          keys: keys.length,
          values: values.length,
        },
      );
    }
    const n = keys.length / row;
    if (this.tokens + n > this.maxTokens) {
      throw new LlmemError("CAPACITY_EXCEEDED", `appending ${n} tokens exceeds maxTokens ${this.maxTokens}`);
    }
    this.keys.set(keys, this.tokens * row);
    this.values.set(values, this.tokens * row);
    this.tokens += n;
  }

  /** Softmax attention of `query` ([head][headDim]) over every cached token; output has the query's layout. */
  attend(query: Float32Array, options: { numHeads: number; scale?: number }): Float32Array {
    const { headDim, numKvHeads } = this;
    const numHeads = checkInt("numHeads", options.numHeads, 1, 65536);
    if (numHeads % numKvHeads !== 0) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `numHeads ${numHeads} must be a multiple of numKvHeads ${numKvHeads}`,
      );
    }
    if (query.length !== numHeads * headDim) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `query must hold numHeads*headDim = ${numHeads * headDim} floats`,
      );
    }
    const scale = options.scale ?? 1 / Math.sqrt(headDim);
    const out = new Float32Array(query.length);
    const scores = new Float32Array(this.tokens);
    const row = numKvHeads * headDim;
    for (let h = 0; h < numHeads; h++) {
      const kvh = Math.floor(h / (numHeads / numKvHeads));
      const q = query.subarray(h * headDim, (h + 1) * headDim);
      let max = Number.NEGATIVE_INFINITY;
      for (let t = 0; t < this.tokens; t++) {
        const k = this.keys.subarray(t * row + kvh * headDim, t * row + (kvh + 1) * headDim);
        scores[t] = dotF32(q, k) * scale;
        if (scores[t]! > max) max = scores[t]!;
      }
      let sum = 0;
      for (let t = 0; t < this.tokens; t++) sum += scores[t] = Math.exp(scores[t]! - max);
      const o = out.subarray(h * headDim, (h + 1) * headDim);
      for (let t = 0; t < this.tokens; t++) {
        const w = scores[t]! / sum;
        const base = t * row + kvh * headDim;
        for (let d = 0; d < headDim; d++) o[d]! += w * this.values[base + d]!;
      }
    }
    return out;
  }
}
