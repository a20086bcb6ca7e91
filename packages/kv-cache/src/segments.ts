/**
 * Attention over several segments of one sequence (ring-buffer halves, tiers of different
 * formats), each run through the paged kernel on its own and merged exactly through the
 * per-head log-sum-exp, as flash-decoding combines splits.
 */
import { pagedAttentionMetal } from "./paged-metal.ts";
import type { RowFormat } from "./row-formats.ts";

export interface Segment {
  format: RowFormat;
  /** Pools of [block][token][kvHead][row] (without a block table: `count` consecutive tokens). */
  keys: Uint8Array;
  values: Uint8Array;
  count: number;
  /** Logical → physical blocks (default: one block of `count` tokens). */
  blockTable?: Uint32Array;
  blockSize?: number;
}

const ONE_BLOCK = new Uint32Array(1);

export class SegmentAttention {
  private outs: Float32Array[] = [];
  private lses: Float32Array[] = [];

  constructor(
    readonly numKvHeads: number,
    readonly headDim: number,
  ) {}

  private buffers(i: number, numHeads: number): { out: Float32Array; lse: Float32Array } {
    if (this.outs[i]?.length !== numHeads * this.headDim) {
      this.outs[i] = new Float32Array(numHeads * this.headDim);
      this.lses[i] = new Float32Array(numHeads);
    }
    return { out: this.outs[i]!, lse: this.lses[i]! };
  }

  /** out = softmax attention over the concatenation of `segments` (empty ones skipped). */
  attend(
    segments: readonly Segment[],
    query: Float32Array,
    numHeads: number,
    scale: number,
    out: Float32Array,
  ): void {
    const used = segments.filter((s) => s.count > 0);
    out.fill(0);
    if (used.length === 0) return;
    const hd = this.headDim;
    const parts = used.map((s, i) => {
      const b = this.buffers(i, numHeads);
      pagedAttentionMetal({
        format: s.format,
        query,
        numHeads,
        numKvHeads: this.numKvHeads,
        headDim: hd,
        kPool: s.keys,
        vPool: s.values,
        blockTable: s.blockTable ?? ONE_BLOCK,
        blockSize: s.blockSize ?? s.count,
        numTokens: s.count,
        scale,
        out: b.out,
        lse: b.lse,
      });
      return b;
    });
    if (parts.length === 1) {
      out.set(parts[0]!.out);
      return;
    }
    for (let h = 0; h < numHeads; h++) {
      let max = Number.NEGATIVE_INFINITY;
      for (const p of parts) max = Math.max(max, p.lse[h]!);
      let total = 0;
      for (const p of parts) total += Math.exp(p.lse[h]! - max);
      for (const p of parts) {
        const w = Math.exp(p.lse[h]! - max) / total;
        for (let d = 0; d < hd; d++) out[h * hd + d]! += w * p.out[h * hd + d]!;
      }
    }
  }
}
