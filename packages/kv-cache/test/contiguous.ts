/**
 * The simplest correct KV cache: f32 keys and values for one sequence and one layer,
 * layout [token][kvHead][headDim], with grouped-query multi-head attention.
 */
import { checkFiniteNumber, checkInt, LlmemError } from "@llmem/core";
import { pagedAttention } from "../src/paged-kernel.ts";
import { checkFloat32Array } from "../src/validate.ts";

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

export interface AttendOptions {
  /** Query heads; a multiple of numKvHeads (grouped-query attention). */
  numHeads: number;
  /** Score scale; default 1/sqrt(headDim). */
  scale?: number;
  /** Output buffer of numHeads*headDim floats (default: a new one). */
  out?: Float32Array;
}

export interface CheckedAttend {
  numHeads: number;
  scale: number;
  out: Float32Array;
}

export function checkAttend(
  query: unknown,
  options: AttendOptions,
  numKvHeads: number,
  headDim: number,
): CheckedAttend {
  if (typeof options !== "object" || options === null) {
    throw new LlmemError("INVALID_ARGUMENT", "options must be an object with numHeads", {
      argument: "options",
    });
  }
  const numHeads = checkInt("numHeads", options.numHeads, 1, 65536);
  if (numHeads % numKvHeads !== 0) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `numHeads ${numHeads} must be a multiple of numKvHeads ${numKvHeads}`,
      { argument: "numHeads", value: numHeads, numKvHeads },
    );
  }
  const q = checkFloat32Array("query", query);
  if (q.length !== numHeads * headDim) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `query must hold numHeads*headDim = ${numHeads * headDim} floats, got ${q.length}`,
      { argument: "query", length: q.length, expected: numHeads * headDim },
    );
  }
  const scale =
    options.scale === undefined ? 1 / Math.sqrt(headDim) : checkFiniteNumber("scale", options.scale);
  let out = options.out;
  if (out === undefined) out = new Float32Array(q.length);
  else {
    checkFloat32Array("out", out);
    if (out.length !== q.length) {
      throw new LlmemError("INVALID_ARGUMENT", `out must hold ${q.length} floats, got ${out.length}`, {
        argument: "out",
        length: out.length,
        expected: q.length,
      });
    }
    out.fill(0);
  }
  return { numHeads, scale, out };
}
