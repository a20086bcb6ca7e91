/**
 * A prefill chunk's activations: the one-token step's buffers (model.ts Activations) with a row
 * per chunk token, token after token, plus a view of each row built once, so the per-token
 * element-wise steps (RMSNorm, RoPE, attention) run on the same functions as the one-token path
 * without allocating per token.
 */
import { headSize, kvDim, type ModelConfig } from "./config.ts";
import { LinearScratch } from "./linear.ts";

export interface ChunkRows {
  /** n × width floats. */
  all: Float32Array;
  /** row t: all[t·width .. (t+1)·width). */
  rows: Float32Array[];
  width: number;
}

function rowsOf(capacity: number, width: number): ChunkRows {
  const all = new Float32Array(capacity * width);
  const rows = Array.from({ length: capacity }, (_, t) => all.subarray(t * width, (t + 1) * width));
  return { all, rows, width };
}

/** The first n rows of a ChunkRows' buffer. */
export function firstRows(r: ChunkRows, n: number): Float32Array {
  return n * r.width === r.all.length ? r.all : r.all.subarray(0, n * r.width);
}

export class ChunkBuffers {
  readonly capacity: number;
  readonly x: ChunkRows;
  readonly xb: ChunkRows;
  readonly xb2: ChunkRows;
  readonly hb: ChunkRows;
  readonly hb2: ChunkRows;
  readonly q: ChunkRows;
  readonly k: ChunkRows;
  readonly v: ChunkRows;
  readonly cos: ChunkRows;
  readonly sin: ChunkRows;
  /** Rounded inputs (f16/bf16 weights) for the chunk's widest matrix input. */
  readonly linear: LinearScratch;

  constructor(c: ModelConfig, capacity: number) {
    this.capacity = capacity;
    const hs = headSize(c);
    this.x = rowsOf(capacity, c.dim);
    this.xb = rowsOf(capacity, c.dim);
    this.xb2 = rowsOf(capacity, c.dim);
    this.hb = rowsOf(capacity, c.hiddenDim);
    this.hb2 = rowsOf(capacity, c.hiddenDim);
    this.q = rowsOf(capacity, c.dim);
    this.k = rowsOf(capacity, kvDim(c));
    this.v = rowsOf(capacity, kvDim(c));
    this.cos = rowsOf(capacity, hs / 2);
    this.sin = rowsOf(capacity, hs / 2);
    this.linear = new LinearScratch(capacity * Math.max(c.dim, c.hiddenDim));
  }
}
