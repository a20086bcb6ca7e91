/**
 * Validated paged attention over a block table: libllmem's kernel when loaded, the TS
 * building blocks otherwise. Every length and every block id is checked against the pools
 * before C sees a pointer.
 */
import { checkInt, checkRowFormat, LlmemError, type TypedArray } from "@llmem/core";
import {
  byteView,
  checkedByteLength,
  engineLength,
  isDetachedView,
  nativePagedAttention,
  nativePagedAttentionChunk,
  type PagedCall,
  pagedNative,
  typedArrayKind,
} from "@llmem/native";

import { attentionScores, attentionWeightedSum } from "./ops.ts";
import { checkHeadDimFor, type RowFormat, rowBytes } from "./row-formats.ts";

export interface PagedAttentionArgs {
  format: RowFormat;
  query: Float32Array;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Pools laid out [block][blockSize tokens][kvHead][row]. */
  kPool: TypedArray;
  vPool: TypedArray;
  blockTable: Uint32Array;
  blockSize: number;
  numTokens: number;
  scale: number;
  out: Float32Array;
  /** Per-head log-sum-exp of the scores (for merging segments); -Infinity with no tokens. */
  lse: Float32Array;
}

let scratch = new Float32Array(4096);

function fail(argument: string, message: string, details: Record<string, unknown> = {}): never {
  throw new LlmemError("INVALID_ARGUMENT", message, { argument, ...details });
}

export interface CheckedPagedArgs {
  format: RowFormat;
  /** Blocks of the table the tokens occupy. */
  numBlocks: number;
  /** Bytes of one physical block in each pool. */
  blockBytes: number;
}

/**
 * Every check a paged-attention kernel (CPU or GPU) needs before C sees a pointer: shapes,
 * lengths, and each block id of the table against both pools.
 */
export function checkPagedArgs(a: PagedAttentionArgs): CheckedPagedArgs {
  const format = checkRowFormat(a.format);
  const numKvHeads = checkInt("numKvHeads", a.numKvHeads, 1, 4096);
  const numHeads = checkInt("numHeads", a.numHeads, 1, 65536);
  const headDim = checkInt("headDim", a.headDim, 1, 65536);
  checkHeadDimFor(format, headDim);
  if (numHeads % numKvHeads !== 0)
    fail("numHeads", `numHeads ${numHeads} must be a multiple of numKvHeads ${numKvHeads}`);
  const blockSize = checkInt("blockSize", a.blockSize, 1, 1 << 20);
  const numTokens = checkInt("numTokens", a.numTokens, 0, 2 ** 31);
  // Lengths as the engine has them (an own `length` or a subclass cannot claim more floats).
  if (engineLengthOf(a.query, "Float32Array") !== numHeads * headDim) {
    fail("query", `query must be a Float32Array of numHeads*headDim = ${numHeads * headDim} floats`);
  }
  if (engineLengthOf(a.out, "Float32Array") !== numHeads * headDim) {
    fail("out", `out must be a Float32Array of ${numHeads * headDim} floats`);
  }
  if (engineLengthOf(a.lse, "Float32Array") !== numHeads)
    fail("lse", `lse must be a Float32Array of ${numHeads} floats`);
  const tableLength = engineLengthOf(a.blockTable, "Uint32Array");
  if (tableLength < 0) fail("blockTable", "blockTable must be a Uint32Array");
  if (!Number.isFinite(a.scale)) fail("scale", `scale must be finite, got ${a.scale}`);
  const blockBytes = blockSize * numKvHeads * rowBytes(format, headDim);
  const numBlocks = Math.ceil(numTokens / blockSize);
  if (tableLength < numBlocks) {
    throw new LlmemError(
      "OUT_OF_BOUNDS",
      `blockTable holds ${tableLength} blocks, ${numTokens} tokens need ${numBlocks}`,
      {
        argument: "blockTable",
      },
    );
  }
  const poolBlocks = Math.min(
    Math.floor(checkedByteLength("kPool", a.kPool) / blockBytes),
    Math.floor(checkedByteLength("vPool", a.vPool) / blockBytes),
  );
  for (let i = 0; i < numBlocks; i++) {
    if (a.blockTable[i]! >= poolBlocks) {
      throw new LlmemError(
        "OUT_OF_BOUNDS",
        `blockTable[${i}] = ${a.blockTable[i]} is not a block of the pools (${poolBlocks} blocks of ${blockBytes} bytes)`,
        { argument: "blockTable", index: i, value: a.blockTable[i], blocks: poolBlocks },
      );
    }
  }
  return { format, numBlocks, blockBytes };
}

/** Engine length of a live `kind` view; -1 for anything else (wrong kind, detached, not a view). */
function engineLengthOf(v: unknown, kind: "Float32Array" | "Uint32Array"): number {
  if (typedArrayKind(v) !== kind || isDetachedView(v as ArrayBufferView)) return -1;
  return engineLength(v);
}

/**
 * The arguments with each field read exactly once: checks and kernels then see the same values,
 * so a getter cannot hand the checks one block table (or token count) and the kernel another.
 */
export function snapshotPagedArgs(a: PagedAttentionArgs): PagedAttentionArgs {
  if (typeof a !== "object" || a === null) fail("args", "paged attention needs an arguments object");
  return {
    format: a.format,
    query: a.query,
    numHeads: a.numHeads,
    numKvHeads: a.numKvHeads,
    headDim: a.headDim,
    kPool: a.kPool,
    vPool: a.vPool,
    blockTable: a.blockTable,
    blockSize: a.blockSize,
    numTokens: a.numTokens,
    scale: a.scale,
    out: a.out,
    lse: a.lse,
  };
}

/**
 * The checked arguments as @llmem/native's kernels take them (pools as byte views). Allocates
 * one object and two views: for outside callers; the cache fills one PagedCall per segment once
 * and reuses it every step.
 */
export function pagedCall(a: PagedAttentionArgs, format: RowFormat, numBlocks: number): PagedCall {
  return {
    format,
    query: a.query,
    numHeads: a.numHeads,
    numKvHeads: a.numKvHeads,
    headDim: a.headDim,
    kBytes: byteView(a.kPool),
    vBytes: byteView(a.vPool),
    blockTable: a.blockTable,
    numBlocks,
    blockSize: a.blockSize,
    numTokens: a.numTokens,
    scale: a.scale,
    out: a.out,
    lse: a.lse,
  };
}

/** Paged attention for any caller: every shape and every block id checked before C sees a pointer. */
export function pagedAttention(args: PagedAttentionArgs): void {
  const a = snapshotPagedArgs(args);
  const { format, numBlocks } = checkPagedArgs(a);
  pagedAttentionTrusted(pagedCall(a, format, numBlocks));
}

/**
 * Paged attention for a caller that already holds `checkPagedArgs`'s guarantees: PagedKvCache,
 * whose block ids come from its own allocator and pools, whose shapes are checked once at
 * construction and whose query and output are checked once per call. Nothing is re-checked and
 * nothing is allocated here (the decode hot path); viewPtr still bounds every pointer.
 */
export function pagedAttentionTrusted(c: PagedCall): void {
  const { numHeads, headDim, numTokens } = c;
  if (numTokens === 0) {
    c.out.fill(0);
    c.lse.fill(Number.NEGATIVE_INFINITY);
    return;
  }
  const need = numTokens * numHeads + 32 * headDim;
  if (scratch.length < need) scratch = new Float32Array(Math.max(need, scratch.length * 2));
  if (pagedNative()) nativePagedAttention(c, scratch);
  else pagedAttentionTs(c);
}

/** pagedAttentionTrusted's one-query view of a chunk call (the TS path), reused call to call. */
const oneQuery: PagedCall = {
  format: "f32",
  query: new Float32Array(0),
  numHeads: 0,
  numKvHeads: 0,
  headDim: 0,
  kBytes: new Uint8Array(0),
  vBytes: new Uint8Array(0),
  blockTable: new Uint32Array(0),
  numBlocks: 0,
  blockSize: 0,
  numTokens: 0,
  scale: 0,
  out: new Float32Array(0),
  lse: new Float32Array(0),
};

/**
 * Causal attention of a prefill chunk under pagedAttentionTrusted's guarantees (the table covers
 * numTokens + numQueries - 1 tokens): c.query / c.out hold numQueries queries, c.lse numQueries ×
 * numHeads, and query i attends over the first c.numTokens + i tokens (c.numTokens >= 1). Native:
 * one libllmem call for the chunk (each query's bits as pagedAttentionTrusted gives it alone);
 * TS: that function query by query.
 */
export function pagedAttentionChunkTrusted(c: PagedCall, numQueries: number): void {
  if (pagedNative()) {
    nativePagedAttentionChunk(c, numQueries);
    return;
  }
  const q = c.numHeads * c.headDim;
  Object.assign(oneQuery, c);
  for (let i = 0; i < numQueries; i++) {
    oneQuery.query = c.query.subarray(i * q, (i + 1) * q);
    oneQuery.out = c.out.subarray(i * q, (i + 1) * q);
    oneQuery.lse = c.lse.subarray(i * c.numHeads, (i + 1) * c.numHeads);
    oneQuery.numTokens = c.numTokens + i;
    oneQuery.numBlocks = Math.ceil(oneQuery.numTokens / c.blockSize);
    pagedAttentionTrusted(oneQuery);
  }
}

function pagedAttentionTs(a: PagedCall): void {
  const { format, headDim, numKvHeads, blockSize, numTokens, numBlocks, query, out } = a;
  const group = a.numHeads / numKvHeads;
  const headBytes = rowBytes(format, headDim);
  const tokenBytes = numKvHeads * headBytes;
  const blockBytes = blockSize * tokenBytes;
  const s = scratch;
  for (let h = 0; h < a.numHeads; h++) {
    const g = Math.floor(h / group);
    const q = query.subarray(h * headDim, (h + 1) * headDim);
    for (let b = 0; b < numBlocks; b++) {
      const count = Math.min(blockSize, numTokens - b * blockSize);
      const at = a.blockTable[b]! * blockBytes + g * headBytes;
      attentionScores(
        format,
        q,
        a.kBytes,
        { count, headDim, offsetBytes: at, strideBytes: tokenBytes, scale: a.scale },
        s,
        b * blockSize,
      );
    }
    let max = Number.NEGATIVE_INFINITY;
    for (let t = 0; t < numTokens; t++) if (s[t]! > max) max = s[t]!;
    let sum = 0;
    for (let t = 0; t < numTokens; t++) sum += s[t] = Math.exp(s[t]! - max);
    for (let t = 0; t < numTokens; t++) s[t]! /= sum;
    a.lse[h] = max + Math.log(sum);
    const o = out.subarray(h * headDim, (h + 1) * headDim);
    o.fill(0);
    for (let b = 0; b < numBlocks; b++) {
      const count = Math.min(blockSize, numTokens - b * blockSize);
      const at = a.blockTable[b]! * blockBytes + g * headBytes;
      attentionWeightedSum(
        format,
        s,
        a.vBytes,
        { count, headDim, offsetBytes: at, strideBytes: tokenBytes, weightsOffset: b * blockSize },
        o,
      );
    }
  }
}
