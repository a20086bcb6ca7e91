/**
 * K/V pools for paged-attention tests and benchmarks: gaussian rows (seeds 1 and 2) of
 * `tokens` tokens encoded in `format` into [physical block][slot][kvHead] pools through
 * `blockTable`, as the paged cache lays them out.
 */
import type { PagedAttentionArgs } from "../src/paged-kernel.ts";
import { type RowFormat, rowBytes } from "../src/row-formats.ts";
import { encodeRow } from "../src/row-kernels.ts";
import { gaussian } from "./quality.ts";

export interface PoolLayout {
  tokens: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
}

/** Fills kPool/vPool; returns the f32 rows ([token][kvHead][headDim]) and where row (t, g) landed. */
export function fillPools(
  format: RowFormat,
  kPool: Uint8Array,
  vPool: Uint8Array,
  blockTable: Uint32Array,
  { tokens, numKvHeads: kv, headDim: hd, blockSize: bs }: PoolLayout,
): { k: Float32Array; v: Float32Array; rowAt: (t: number, g: number) => number } {
  const rb = rowBytes(format, hd);
  const rowAt = (t: number, g: number) => ((blockTable[Math.floor(t / bs)]! * bs + (t % bs)) * kv + g) * rb;
  const k = gaussian(tokens * kv * hd, 1);
  const v = gaussian(tokens * kv * hd, 2);
  for (let t = 0; t < tokens; t++) {
    for (let g = 0; g < kv; g++) {
      const o = (t * kv + g) * hd;
      encodeRow(format, k.subarray(o, o + hd), hd, kPool, rowAt(t, g));
      encodeRow(format, v.subarray(o, o + hd), hd, vPool, rowAt(t, g));
    }
  }
  return { k, v, rowAt };
}

export interface PagedSetup extends PoolLayout {
  numHeads: number;
  scale: number;
}

/** pagedAttention's arguments over pools filled by fillPools, with a gaussian query (seed 3). */
export function pagedArgs(
  format: RowFormat,
  kPool: Uint8Array,
  vPool: Uint8Array,
  blockTable: Uint32Array,
  s: PagedSetup,
): { args: PagedAttentionArgs; rowAt: (t: number, g: number) => number } {
  const { rowAt } = fillPools(format, kPool, vPool, blockTable, s);
  const args: PagedAttentionArgs = {
    format,
    query: gaussian(s.numHeads * s.headDim, 3),
    numHeads: s.numHeads,
    numKvHeads: s.numKvHeads,
    headDim: s.headDim,
    kPool,
    vPool,
    blockTable,
    blockSize: s.blockSize,
    numTokens: s.tokens,
    scale: s.scale,
    out: new Float32Array(s.numHeads * s.headDim),
    lse: new Float32Array(s.numHeads),
  };
  return { args, rowAt };
}
