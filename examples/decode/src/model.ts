/**
 * The Llama forward pass of run.c: embedding → per layer (RMSNorm, QKV, RoPE, GQA
 * attention through the KV store, Wo, residual, RMSNorm, SwiGLU FFN, residual) → final
 * RMSNorm → classifier. Matvecs go through pluggable kernels, K/V through a KvSequence,
 * and each step's activations come from an arena that is reset after the step.
 */
import { Arena } from "@llmem/arena";
import type { Checkpoint } from "./checkpoint.ts";
import { headSize, kvDim, type ModelConfig } from "./config.ts";
import type { KvSequence } from "./kv.ts";
import { accumulate, rmsnorm, rope, ropeTable, swiglu } from "./math.ts";
import type { MatvecKernels, WeightFormat, WeightMatrix } from "./matvec.ts";

interface LayerWeights {
  wq: WeightMatrix;
  wk: WeightMatrix;
  wv: WeightMatrix;
  wo: WeightMatrix;
  w1: WeightMatrix;
  w2: WeightMatrix;
  w3: WeightMatrix;
}

export interface Activations {
  x: Float32Array;
  xb: Float32Array;
  xb2: Float32Array;
  hb: Float32Array;
  hb2: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  att: Float32Array;
  logits: Float32Array;
  cos: Float32Array;
  sin: Float32Array;
}

export class Transformer {
  readonly config: ModelConfig;
  readonly format: WeightFormat;
  readonly kernels: MatvecKernels;
  /** Bytes of the matrices the matvecs stream each token (in their stored format). */
  readonly matrixBytes: number;
  /** All weight bytes held (matrices, embedding table, norms). */
  readonly weightBytes: number;
  readonly arena: Arena;
  private readonly embedding: Float32Array;
  private readonly rmsAtt: Float32Array;
  private readonly rmsFfn: Float32Array;
  private readonly rmsFinal: Float32Array;
  private readonly layers: LayerWeights[];
  private readonly classifier: WeightMatrix;

  constructor(
    ckpt: Checkpoint,
    o: { format: WeightFormat; kernels: MatvecKernels; progress?: (done: number, total: number) => void },
  ) {
    this.config = ckpt.config;
    const c = this.config;
    this.format = o.format;
    this.kernels = o.kernels;
    const t = ckpt.tensors;
    const { dim, hiddenDim: hd } = c;
    const kvd = kvDim(c);
    let matrixBytes = 0;
    const total = c.nLayers * 7 + 1;
    let done = 0;
    const mat = (src: Float32Array, l: number, rows: number, cols: number): WeightMatrix => {
      const m = o.kernels.prepare(o.format, src.subarray(l * rows * cols, (l + 1) * rows * cols), rows, cols);
      matrixBytes += m.data.byteLength;
      o.progress?.(++done, total);
      return m;
    };
    this.layers = [];
    for (let l = 0; l < c.nLayers; l++) {
      this.layers.push({
        wq: mat(t.wq, l, dim, dim),
        wk: mat(t.wk, l, kvd, dim),
        wv: mat(t.wv, l, kvd, dim),
        wo: mat(t.wo, l, dim, dim),
        w1: mat(t.w1, l, hd, dim),
        w2: mat(t.w2, l, dim, hd),
        w3: mat(t.w3, l, hd, dim),
      });
    }
    this.classifier = mat(t.wcls, 0, c.vocabSize, dim);
    // With quantized matrices, own copies of what stays f32 let the checkpoint buffer go.
    const own = o.format === "f32" ? (a: Float32Array) => a : (a: Float32Array) => a.slice();
    this.embedding = own(t.tokenEmbedding);
    this.rmsAtt = own(t.rmsAtt);
    this.rmsFfn = own(t.rmsFfn);
    this.rmsFinal = own(t.rmsFinal);
    this.matrixBytes = matrixBytes;
    const shared = c.sharedClassifier && o.format === "f32";
    this.weightBytes =
      matrixBytes +
      (shared ? 0 : this.embedding.byteLength) +
      this.rmsAtt.byteLength +
      this.rmsFfn.byteLength +
      this.rmsFinal.byteLength;
    this.arena = new Arena(activationBytes(c) + 64 * 16);
  }

  /** Returns the arena's native memory; the model cannot run afterwards. */
  dispose(): void {
    this.arena.dispose();
  }

  /** Every matrix a token streams through, in forward order (benchmarks read them as a baseline). */
  matrices(): WeightMatrix[] {
    const out: WeightMatrix[] = [];
    for (const w of this.layers) out.push(w.wq, w.wk, w.wv, w.wo, w.w1, w.w3, w.w2);
    out.push(this.classifier);
    return out;
  }

  /**
   * Per-step buffers from the arena (the caller resets the arena once the step's logits are
   * used). Uninitialized: forward writes every element of each before reading it.
   */
  activations(): Activations {
    const c = this.config;
    const a = this.arena;
    return {
      x: a.allocUninit(Float32Array, c.dim),
      xb: a.allocUninit(Float32Array, c.dim),
      xb2: a.allocUninit(Float32Array, c.dim),
      hb: a.allocUninit(Float32Array, c.hiddenDim),
      hb2: a.allocUninit(Float32Array, c.hiddenDim),
      q: a.allocUninit(Float32Array, c.dim),
      k: a.allocUninit(Float32Array, kvDim(c)),
      v: a.allocUninit(Float32Array, kvDim(c)),
      att: a.allocUninit(Float32Array, c.seqLen),
      logits: a.allocUninit(Float32Array, c.vocabSize),
      cos: a.allocUninit(Float32Array, headSize(c) / 2),
      sin: a.allocUninit(Float32Array, headSize(c) / 2),
    };
  }

  /**
   * Runs token at `pos` through the model, writing its K/V into `kv`. With `wantLogits`
   * false (a prompt position whose successor is already known) the classifier is skipped.
   */
  forward(token: number, pos: number, kv: KvSequence, s: Activations, wantLogits = true): Float32Array {
    const c = this.config;
    const { dim, hiddenDim } = c;
    const hs = headSize(c);
    const kvd = kvDim(c);
    const mv = this.kernels;
    const x = s.x;
    x.set(this.embedding.subarray(token * dim, (token + 1) * dim));
    ropeTable(pos, hs, s.cos, s.sin);
    kv.beginStep(token);
    for (let l = 0; l < c.nLayers; l++) {
      const w = this.layers[l]!;
      rmsnorm(s.xb, x, this.rmsAtt, dim, l * dim);
      mv.matvec(w.wq, s.xb, s.q);
      mv.matvec(w.wk, s.xb, s.k);
      mv.matvec(w.wv, s.xb, s.v);
      rope(s.q, dim, hs, s.cos, s.sin);
      rope(s.k, kvd, hs, s.cos, s.sin);
      kv.write(l, s.k, s.v);
      kv.attend(l, s.q, s.xb);
      mv.matvec(w.wo, s.xb, s.xb2);
      accumulate(x, s.xb2, dim);
      rmsnorm(s.xb, x, this.rmsFfn, dim, l * dim);
      mv.matvec(w.w1, s.xb, s.hb);
      mv.matvec(w.w3, s.xb, s.hb2);
      swiglu(s.hb, s.hb2, hiddenDim);
      mv.matvec(w.w2, s.hb, s.xb);
      accumulate(x, s.xb, dim);
    }
    kv.end();
    if (!wantLogits) return s.logits;
    rmsnorm(x, x, this.rmsFinal, dim);
    mv.matvec(this.classifier, x, s.logits);
    return s.logits;
  }
}

/** Arena bytes one step needs (each allocation rounded up to 64-byte alignment). */
export function activationBytes(c: ModelConfig): number {
  const counts = [
    c.dim,
    c.dim,
    c.dim,
    c.hiddenDim,
    c.hiddenDim,
    c.dim,
    kvDim(c),
    kvDim(c),
    c.seqLen,
    c.vocabSize,
  ];
  let bytes = 0;
  for (const n of counts) bytes += Math.ceil((n * 4) / 64) * 64;
  return bytes + 2 * Math.ceil((headSize(c) * 2) / 64) * 64;
}
