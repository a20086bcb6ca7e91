/**
 * The K/V store seen by the forward pass: write one position's keys and values per layer,
 * then attend over positions 0..pos. Implementations differ in layout and precision
 * (contiguous f32 as run.c; paged and quantized from @llmem/kv-cache), never in the loop.
 */
import type { ModelConfig } from "./config.ts";
import { headSize, kvDim } from "./config.ts";
import { softmax } from "./math.ts";

export interface KvSequence {
  /** Makes room for position `pos` (paged stores map a block); throws if the store is full. */
  reserve(pos: number): void;
  /** k, v: kvDim floats for this layer at `pos`. */
  write(layer: number, pos: number, k: Float32Array, v: Float32Array): void;
  /** out[h·hs ..] = Σ_t softmax(q_h·k_t / √hs) v_t over t ≤ pos; att holds pos+1 scores. */
  attend(layer: number, pos: number, q: Float32Array, out: Float32Array, att: Float32Array): void;
  /** The token fed in at `pos` (known once it is chosen), for stores that hash full blocks. */
  noteInput?(pos: number, token: number): void;
  /** Gives back what the sequence holds. */
  release(): void;
}

/** run.c's cache: [layer][position][kvDim] f32, one sequence, seq_len positions. */
export class ContiguousF32Kv implements KvSequence {
  readonly bytes: number;
  private readonly keys: Float32Array;
  private readonly values: Float32Array;
  private readonly kvDim: number;
  private readonly headSize: number;
  private readonly kvMul: number;
  private readonly nHeads: number;
  private readonly seqLen: number;

  constructor(c: ModelConfig) {
    this.kvDim = kvDim(c);
    this.headSize = headSize(c);
    this.kvMul = c.nHeads / c.nKvHeads;
    this.nHeads = c.nHeads;
    this.seqLen = c.seqLen;
    this.keys = new Float32Array(c.nLayers * c.seqLen * this.kvDim);
    this.values = new Float32Array(this.keys.length);
    this.bytes = this.keys.byteLength * 2;
  }

  reserve(pos: number): void {
    if (pos >= this.seqLen) throw new RangeError(`position ${pos} is beyond seq_len ${this.seqLen}`);
  }

  write(layer: number, pos: number, k: Float32Array, v: Float32Array): void {
    const at = (layer * this.seqLen + pos) * this.kvDim;
    this.keys.set(k.subarray(0, this.kvDim), at);
    this.values.set(v.subarray(0, this.kvDim), at);
  }

  attend(layer: number, pos: number, q: Float32Array, out: Float32Array, att: Float32Array): void {
    const hs = this.headSize;
    const kvd = this.kvDim;
    const base = layer * this.seqLen * kvd;
    const keys = this.keys;
    const values = this.values;
    const scale = Math.fround(Math.sqrt(hs));
    for (let h = 0; h < this.nHeads; h++) {
      const qo = h * hs;
      const ko = base + ((h / this.kvMul) | 0) * hs;
      for (let t = 0; t <= pos; t++) {
        const kt = ko + t * kvd;
        let s = 0;
        for (let i = 0; i < hs; i++) s += q[qo + i]! * keys[kt + i]!;
        att[t] = Math.fround(s) / scale;
      }
      softmax(att, pos + 1);
      out.fill(0, qo, qo + hs);
      for (let t = 0; t <= pos; t++) {
        const a = att[t]!;
        const vt = ko + t * kvd;
        for (let i = 0; i < hs; i++) out[qo + i] = out[qo + i]! + Math.fround(a * values[vt + i]!);
      }
    }
  }

  release(): void {}
}
