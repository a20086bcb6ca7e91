/**
 * The Llama forward pass of run.c: embedding → per layer (RMSNorm, QKV, RoPE, GQA
 * attention through the KV store, Wo, residual, RMSNorm, SwiGLU FFN, residual) → final
 * RMSNorm → classifier. Matvecs go through pluggable kernels, K/V through a KvSequence,
 * and each step's activations come from an arena that is reset after the step.
 */
import { Arena } from "@llmem/arena";
import type { Checkpoint } from "./checkpoint.ts";
import { checkpointWeights } from "./checkpoint-weights.ts";
import { ChunkBuffers, firstRows } from "./chunk.ts";
import { addAll, normRow, normRows, ropeRow, ropeRows, swigluAll } from "./chunk-steps.ts";
import { headSize, kvDim, type ModelConfig } from "./config.ts";
import type { KvSequence } from "./kv.ts";
import { applyLinear, applyLinearChunk, applyLinears, applyLinearsChunk, LinearScratch } from "./linear.ts";
import { ropeTable, ropeTableGgml } from "./math.ts";
import type { MatvecKernels, WeightFormat, WeightMatrix } from "./matvec.ts";
import {
  type EmbeddingTable,
  type LayerWeights,
  type Linear,
  linears,
  type ModelWeights,
  type Numerics,
} from "./model-weights.ts";
import { RopeCache } from "./rope-cache.ts";

export interface Activations {
  x: Float32Array;
  xb: Float32Array;
  xb2: Float32Array;
  hb: Float32Array;
  hb2: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  logits: Float32Array;
  cos: Float32Array;
  sin: Float32Array;
}

export class Transformer {
  readonly config: ModelConfig;
  readonly numerics: Numerics;
  /** The stored weight formats, as the report names them. */
  readonly format: string;
  readonly kernels: MatvecKernels;
  /** Bytes of the matrices the matvecs stream each token (in their stored format). */
  readonly matrixBytes: number;
  /** All weight bytes held (matrices, embedding table, norms). */
  readonly weightBytes: number;
  readonly arena: Arena;
  private readonly embedding: EmbeddingTable;
  private readonly rmsFinal: Float32Array;
  private readonly layers: LayerWeights[];
  private readonly classifier: Linear;
  /** Per layer, the matrices that read the same input: [wq, wk, wv] and [w1, w3] (one pass each). */
  private readonly qkv: readonly (readonly Linear[])[];
  private readonly gateUp: readonly (readonly Linear[])[];
  /** The Activations the output lists below were built for (forward is usually given the same one). */
  private outsFor: Activations | null = null;
  private readonly qkvOut: Float32Array[] = [];
  private readonly gateUpOut: Float32Array[] = [];
  private readonly scratch: LinearScratch;
  /** Every position's rope angles (cos/sin), computed once. */
  private readonly rope: RopeCache;
  /** The prefill chunk's buffers, built at the first chunk (and again for a larger one). */
  private chunk: ChunkBuffers | null = null;

  /**
   * From a llama2.c checkpoint (matrices prepared in `format`, run.c's numerics) or from
   * ModelWeights already built (a GGUF file: src/gguf-model.ts).
   */
  constructor(
    src: Checkpoint | ModelWeights,
    o: { format?: WeightFormat; kernels: MatvecKernels; progress?: (done: number, total: number) => void },
  ) {
    const w =
      "tensors" in src
        ? checkpointWeights(src, { format: o.format ?? "f32", kernels: o.kernels, progress: o.progress })
        : src;
    this.config = w.config;
    const c = this.config;
    this.numerics = w.numerics;
    this.format = w.formatLabel;
    this.kernels = o.kernels;
    this.embedding = w.embedding;
    this.layers = w.layers;
    this.classifier = w.classifier;
    this.qkv = w.layers.map((l) => [l.wq, l.wk, l.wv]);
    this.gateUp = w.layers.map((l) => [l.w1, l.w3]);
    this.rmsFinal = w.rmsFinal;
    let matrixBytes = 0;
    let biasBytes = 0;
    for (const m of linears(w)) {
      matrixBytes += m.w.data.byteLength;
      biasBytes += m.bias?.byteLength ?? 0;
    }
    this.matrixBytes = matrixBytes;
    const norms = this.layers.reduce((n, l) => n + l.rmsAtt.byteLength + l.rmsFfn.byteLength, 0);
    this.weightBytes = matrixBytes + biasBytes + this.embedding.bytes + norms + this.rmsFinal.byteLength;
    this.scratch = new LinearScratch(Math.max(c.dim, c.hiddenDim));
    const hs = headSize(c);
    const nm = this.numerics;
    // Up to 4096 positions cached (2 MB of tables at 128-wide heads); later ones computed per call.
    this.rope = new RopeCache(hs / 2, Math.min(c.seqLen, 4096), (pos, cos, sin) => {
      if (nm.style === "ggml") ropeTableGgml(pos, nm.ropeDims, nm.ropeTheta, cos, sin);
      else ropeTable(pos, hs, cos, sin);
    });
    // One decode step's activations (hiddenDim: the widest of them); reset after every step.
    this.arena = Arena.forModel({
      hiddenDim: Math.max(c.dim, c.hiddenDim),
      vocabSize: c.vocabSize,
      batchSize: 1,
      contextLength: c.seqLen,
    });
  }

  /** Returns the arena's native memory; the model cannot run afterwards. */
  dispose(): void {
    this.arena.dispose();
  }

  /** Every matrix a token streams through, in forward order (benchmarks read them as a baseline). */
  matrices(): WeightMatrix[] {
    const out: WeightMatrix[] = [];
    for (const w of this.layers) out.push(w.wq.w, w.wk.w, w.wv.w, w.wo.w, w.w1.w, w.w3.w, w.w2.w);
    out.push(this.classifier.w);
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
    const n = this.numerics;
    const x = s.x;
    this.embedding.row(token, x);
    this.rope.copy(pos, 1, s.cos, s.sin);
    // Element-wise steps: chunk-steps.ts as one-row chunks (one native call each, bit for bit math.ts).
    if (this.outsFor !== s) {
      // Refilled in place: the same two arrays for every step (no allocation per token).
      this.outsFor = s;
      this.qkvOut[0] = s.q;
      this.qkvOut[1] = s.k;
      this.qkvOut[2] = s.v;
      this.gateUpOut[0] = s.hb;
      this.gateUpOut[1] = s.hb2;
    }
    // One pool job for Q/K/V (and gate/up) pays with threads to share it: s15m q4_0 decode at 2
    // threads ×1.06 tok/s, at 1 thread ×1.00; on stories260K (64 wide) at 1 thread the grouping
    // cost more than it saved (×0.97), so one thread keeps one call per matrix.
    const grouped = this.kernels.matvecParts !== undefined && this.kernels.threads() > 1;
    kv.beginStep(token);
    for (let l = 0; l < c.nLayers; l++) {
      const w = this.layers[l]!;
      normRow(n, s.xb, x, w.rmsAtt, dim);
      if (grouped) applyLinears(this.kernels, this.qkv[l]!, s.xb, this.qkvOut, this.scratch);
      else {
        this.linear(w.wq, s.xb, s.q);
        this.linear(w.wk, s.xb, s.k);
        this.linear(w.wv, s.xb, s.v);
      }
      ropeRow(n, s.q, dim, hs, s.cos, s.sin);
      ropeRow(n, s.k, kvd, hs, s.cos, s.sin);
      kv.write(l, s.k, s.v);
      kv.attend(l, s.q, s.xb);
      this.linear(w.wo, s.xb, s.xb2);
      addAll(x, s.xb2, dim);
      normRow(n, s.xb, x, w.rmsFfn, dim);
      if (grouped) applyLinears(this.kernels, this.gateUp[l]!, s.xb, this.gateUpOut, this.scratch);
      else {
        this.linear(w.w1, s.xb, s.hb);
        this.linear(w.w3, s.xb, s.hb2);
      }
      swigluAll(n, s.hb, s.hb2, hiddenDim);
      this.linear(w.w2, s.hb, s.xb);
      addAll(x, s.xb, dim);
    }
    kv.end();
    if (!wantLogits) return s.logits;
    normRow(n, x, x, this.rmsFinal, dim);
    this.linear(this.classifier, x, s.logits);
    return s.logits;
  }

  /**
   * Batched prefill: runs tokens[i] at positions pos + i (i < n) through the model in one step
   * of `kv`, each weight matrix once for the whole chunk (kernels.matmul), each token attending
   * over the positions up to its own (the causal mask). Computes no logits: the chunk's
   * successors are prompt tokens. Every element-wise step is forward's arithmetic over the whole
   * chunk (chunk-steps.ts: one libllmem call per step, or math.ts row by row), so a token's K/V
   * and activations are forward's (bit for bit where matmul gives matvec's bits: the block
   * formats; see examples/decode/README.md for f32/f16).
   */
  forwardChunk(tokens: readonly number[], pos: number, kv: KvSequence): void {
    const n = tokens.length;
    const c = this.config;
    const { dim, hiddenDim } = c;
    const hs = headSize(c);
    const nm = this.numerics;
    if (this.chunk === null || this.chunk.capacity < n) this.chunk = new ChunkBuffers(c, n);
    const b = this.chunk;
    for (let t = 0; t < n; t++) this.embedding.row(tokens[t]!, b.x.rows[t]!);
    this.rope.copy(pos, n, b.cos.all, b.sin.all);
    const x = firstRows(b.x, n);
    const xb = firstRows(b.xb, n);
    const xb2 = firstRows(b.xb2, n);
    const hb = firstRows(b.hb, n);
    const hb2 = firstRows(b.hb2, n);
    const q = firstRows(b.q, n);
    const k = firstRows(b.k, n);
    const v = firstRows(b.v, n);
    const linear = (m: Linear, input: Float32Array, out: Float32Array) =>
      applyLinearChunk(this.kernels, m, input, n, out, b.linear);
    // Matrices reading the same input: one matmul pass (x converted once) where they can share it.
    const linears = (ms: readonly Linear[], input: Float32Array, outs: readonly Float32Array[]) =>
      applyLinearsChunk(this.kernels, ms, input, n, outs, b.linear);
    kv.beginStep(tokens);
    for (let l = 0; l < c.nLayers; l++) {
      const w = this.layers[l]!;
      normRows(nm, b.xb, b.x, w.rmsAtt, n);
      linears(this.qkv[l]!, xb, [q, k, v]);
      ropeRows(nm, b.q, n, hs, b.cos, b.sin);
      ropeRows(nm, b.k, n, hs, b.cos, b.sin);
      kv.write(l, k, v);
      kv.attend(l, q, xb, pos + 1); // token t over positions ≤ pos + t: one call for the chunk
      linear(w.wo, xb, xb2);
      addAll(x, xb2, n * dim);
      normRows(nm, b.xb, b.x, w.rmsFfn, n);
      linears(this.gateUp[l]!, xb, [hb, hb2]);
      swigluAll(nm, hb, hb2, n * hiddenDim);
      linear(w.w2, hb, xb);
      addAll(x, xb, n * dim);
    }
    kv.end();
  }

  private linear(m: Linear, x: Float32Array, y: Float32Array): void {
    applyLinear(this.kernels, m, x, y, this.scratch);
  }
}
