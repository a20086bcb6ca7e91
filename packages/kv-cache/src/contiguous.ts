/**
 * The simplest correct KV cache: f32 keys and values for one sequence and one layer,
 * layout [token][kvHead][headDim], with grouped-query multi-head attention.
 */
import { checkInt, LlmemError } from "@llmem/core";
import { pagedAttention } from "./paged-kernel.ts";
import { type AttendOptions, checkAttend } from "./validate.ts";

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
  attend(query: Float32Array, options: AttendOptions): Float32Array {
    const { numHeads, scale, out } = checkAttend(query, options, this.numKvHeads, this.headDim);
    // The whole cache is one block of the paged kernel: the same code path as PagedKvCache.
    pagedAttention({
      format: "f32",
      query,
      numHeads,
      numKvHeads: this.numKvHeads,
      headDim: this.headDim,
      kPool: this.keys,
      vPool: this.values,
      blockTable: ONE_BLOCK,
      blockSize: this.maxTokens,
      numTokens: this.tokens,
      scale,
      out,
      lse: lseScratch(numHeads),
    });
    return out;
  }
}

const ONE_BLOCK = new Uint32Array(1);
let lse = new Float32Array(64);
function lseScratch(n: number): Float32Array {
  if (lse.length < n) lse = new Float32Array(n);
  return lse.subarray(0, n);
}
