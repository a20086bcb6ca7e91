/**
 * Attention over several segments of one sequence (tiers of different formats and key
 * layouts), each attended on its own and merged exactly through the per-head log-sum-exp, as
 * flash-decoding combines splits. Token-grouped segments run through the paged kernel;
 * channel-grouped keys are scored with the weighted-sum building block (score[t] =
 * Σ_c q[c]·K[c][t], the query as weights over the channel rows of a 32-token group).
 */

import type { PagedCall } from "@llmem/native";
import { attentionWeightedSum } from "./ops.ts";
import { pagedAttentionChunkTrusted, pagedAttentionTrusted } from "./paged-kernel.ts";
import { metalAvailable, pagedAttentionMetalTrusted } from "./paged-metal.ts";
import { QK, type RowFormat, rowBytes } from "./row-formats.ts";

export interface Segment {
  format: RowFormat;
  /** Pools of [block][token][kvHead][row] (without a block table: `count` consecutive tokens). */
  keys: Uint8Array;
  values: Uint8Array;
  count: number;
  /** Logical → physical blocks (default: one block of `count` tokens). */
  blockTable?: Uint32Array;
  blockSize?: number;
  /**
   * Keys per channel: in each block, per 32-token group, one quantized row of 32 values per
   * channel ([group][kvHead][headDim][32 tokens]); needs blockTable and a blockSize of whole groups.
   */
  channelKeys?: boolean;
}

const ONE_BLOCK = new Uint32Array(1);
const NO_FLOATS = new Float32Array(0);
const EMPTY_CALL: PagedCall = {
  format: "f32",
  query: NO_FLOATS,
  numHeads: 0,
  numKvHeads: 0,
  headDim: 0,
  kBytes: new Uint8Array(0),
  vBytes: new Uint8Array(0),
  blockTable: ONE_BLOCK,
  numBlocks: 0,
  blockSize: 0,
  numTokens: 0,
  scale: 0,
  out: NO_FLOATS,
  lse: NO_FLOATS,
};

export class SegmentAttention {
  private outs: Float32Array[] = [];
  private lses: Float32Array[] = [];
  /** One kernel call per segment slot, filled in place each step (the hot path allocates nothing). */
  private readonly calls: PagedCall[] = [];
  private scores = new Float32Array(1024);
  private readonly lanes = new Float32Array(QK);
  private chunkLse = new Float32Array(0);

  /**
   * The kernel, chosen once: the Metal-aware one (GPU or CPU per call, from where the pools
   * live) only where Metal is available, otherwise the CPU kernel straight. Neither re-checks
   * the block ids: the segments come from the cache's own pools and allocators, and the cache
   * checks the query and output once per call.
   */
  private readonly viaMetal = metalAvailable();

  constructor(
    readonly numKvHeads: number,
    readonly headDim: number,
  ) {}

  private buffers(i: number, numHeads: number): void {
    if (this.outs[i]?.length !== numHeads * this.headDim) {
      this.outs[i] = new Float32Array(numHeads * this.headDim);
      this.lses[i] = new Float32Array(numHeads);
    }
  }

  /** out = softmax attention over the concatenation of `segments` (empty ones skipped). */
  attend(
    segments: readonly Segment[],
    query: Float32Array,
    numHeads: number,
    scale: number,
    out: Float32Array,
  ): void {
    out.fill(0);
    let parts = 0;
    for (const s of segments) {
      if (s.count === 0) continue;
      this.buffers(parts, numHeads);
      const o = this.outs[parts]!;
      const lse = this.lses[parts]!;
      if (s.channelKeys) this.channelAttend(s, query, numHeads, scale, o, lse);
      else {
        const call = this.call(parts, s, query, numHeads, scale, o, lse);
        if (this.viaMetal) pagedAttentionMetalTrusted(call);
        else pagedAttentionTrusted(call);
      }
      parts++;
    }
    if (parts === 0) return;
    if (parts === 1) {
      out.set(this.outs[0]!);
      return;
    }
    const hd = this.headDim;
    for (let h = 0; h < numHeads; h++) {
      let max = Number.NEGATIVE_INFINITY;
      for (let p = 0; p < parts; p++) max = Math.max(max, this.lses[p]![h]!);
      let total = 0;
      for (let p = 0; p < parts; p++) total += Math.exp(this.lses[p]![h]! - max);
      for (let p = 0; p < parts; p++) {
        const w = Math.exp(this.lses[p]![h]! - max) / total;
        const po = this.outs[p]!;
        for (let d = 0; d < hd; d++) out[h * hd + d]! += w * po[h * hd + d]!;
      }
    }
  }

  /**
   * Causal attention of a chunk in one kernel call over one token-grouped segment: `queries` and
   * `out` hold numQueries × numHeads × headDim floats, and query i attends over the segment's
   * first s.count + i tokens (its table covering them all). False (nothing written) where only
   * the one-query path runs (Metal, channel-grouped keys, an empty or unblocked segment): the caller then
   * attends query by query.
   */
  attendChunk(
    s: Segment,
    queries: Float32Array,
    numQueries: number,
    numHeads: number,
    scale: number,
    out: Float32Array,
  ): boolean {
    if (this.viaMetal || s.channelKeys || s.count === 0 || s.blockSize === undefined) return false;
    if (this.chunkLse.length < numQueries * numHeads) this.chunkLse = new Float32Array(numQueries * numHeads);
    const call = this.call(0, s, queries, numHeads, scale, out, this.chunkLse);
    call.numBlocks = Math.ceil((s.count + numQueries - 1) / call.blockSize);
    pagedAttentionChunkTrusted(call, numQueries);
    return true;
  }

  /** Slot i's kernel call, rewritten in place for segment s. */
  private call(
    i: number,
    s: Segment,
    query: Float32Array,
    numHeads: number,
    scale: number,
    out: Float32Array,
    lse: Float32Array,
  ): PagedCall {
    const blockSize = s.blockSize ?? s.count;
    // Created once per slot with placeholder fields, every one of which is set below.
    let c = this.calls[i];
    if (c === undefined) {
      c = { ...EMPTY_CALL, numKvHeads: this.numKvHeads, headDim: this.headDim };
      this.calls[i] = c;
    }
    c.format = s.format;
    c.query = query;
    c.numHeads = numHeads;
    c.kBytes = s.keys;
    c.vBytes = s.values;
    c.blockTable = s.blockTable ?? ONE_BLOCK;
    c.numBlocks = Math.ceil(s.count / blockSize);
    c.blockSize = blockSize;
    c.numTokens = s.count;
    c.scale = scale;
    c.out = out;
    c.lse = lse;
    return c;
  }

  /** One segment with channel-grouped keys and token-grouped values: out and lse per head. */
  private channelAttend(
    s: Segment,
    query: Float32Array,
    numHeads: number,
    scale: number,
    out: Float32Array,
    lse: Float32Array,
  ): void {
    const hd = this.headDim;
    const bs = s.blockSize!;
    const table = s.blockTable!;
    const n = s.count;
    const row = rowBytes(s.format, QK);
    const headBytes = rowBytes(s.format, hd);
    const tokenBytes = this.numKvHeads * headBytes;
    const blockBytes = bs * tokenBytes;
    const groupBytes = this.numKvHeads * hd * row;
    if (this.scores.length < n) this.scores = new Float32Array(Math.max(n, 2 * this.scores.length));
    const scores = this.scores;
    const lanes = this.lanes;
    const group = numHeads / this.numKvHeads;
    for (let h = 0; h < numHeads; h++) {
      const g = Math.floor(h / group);
      const q = query.subarray(h * hd, (h + 1) * hd);
      for (let t0 = 0; t0 < n; t0 += QK) {
        const block = table[Math.floor(t0 / bs)]!;
        lanes.fill(0);
        attentionWeightedSum(
          s.format,
          q,
          s.keys,
          {
            count: hd,
            headDim: QK,
            offsetBytes: block * blockBytes + ((t0 % bs) / QK) * groupBytes + g * hd * row,
            strideBytes: row,
          },
          lanes,
        );
        const m = Math.min(QK, n - t0);
        for (let t = 0; t < m; t++) scores[t0 + t] = scale * lanes[t]!;
      }
      let max = Number.NEGATIVE_INFINITY;
      for (let t = 0; t < n; t++) if (scores[t]! > max) max = scores[t]!;
      let sum = 0;
      for (let t = 0; t < n; t++) sum += scores[t] = Math.exp(scores[t]! - max);
      for (let t = 0; t < n; t++) scores[t]! /= sum;
      lse[h] = max + Math.log(sum);
      const o = out.subarray(h * hd, (h + 1) * hd);
      o.fill(0);
      for (let t0 = 0; t0 < n; t0 += bs) {
        attentionWeightedSum(
          s.format,
          scores,
          s.values,
          {
            count: Math.min(bs, n - t0),
            headDim: hd,
            offsetBytes: table[t0 / bs]! * blockBytes + g * headBytes,
            strideBytes: tokenBytes,
            weightsOffset: t0,
          },
          o,
        );
      }
    }
  }
}
