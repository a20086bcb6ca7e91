/**
 * What the forward pass needs of a model, whatever file it came from: its shape, the
 * numerics to reproduce (run.c's or ggml's), and per tensor the matrix as the kernels take
 * it. A llama2.c checkpoint (src/checkpoint-weights.ts) and a GGUF file (src/gguf-model.ts)
 * both become one of these.
 */
import type { ModelConfig } from "./config.ts";
import type { WeightMatrix } from "./matvec.ts";

/**
 * Whose rounding the element-wise steps follow. `runc`: llama2.c's run.c (rope angles from
 * powf per pair, f32 RMS sum, eps 1e-5). `ggml`: llama.cpp's graph (rope angles by repeated
 * multiplication, RMS sum in double, eps and rope base from the file, silu as x/(1+e^-x)).
 */
export type NumericsStyle = "runc" | "ggml";

export interface Numerics {
  style: NumericsStyle;
  rmsEps: number;
  ropeTheta: number;
  /** Leading values of each head that are rotated (the rest pass through). */
  ropeDims: number;
  /** NEOX pairs (i, i + ropeDims/2) as qwen2 uses; otherwise adjacent pairs (i, i+1), ggml's NORM mode. */
  ropeNeox: boolean;
}

/** run.c's numerics for a model of this head size. */
export function runcNumerics(headSize: number): Numerics {
  return { style: "runc", rmsEps: 1e-5, ropeTheta: 10000, ropeDims: headSize, ropeNeox: false };
}

/**
 * y = W x (+ bias). ggml's matmul first converts x to the weight's `vec_dot_type`: for F16
 * weights x is rounded to fp16, for BF16 to bf16; `round` says which (the product of two
 * such halves is exact in f32, so an f16 or widened-f32 matrix times the rounded x gives
 * ggml's products).
 */
export interface Linear {
  w: WeightMatrix;
  round?: "f16" | "bf16";
  bias?: Float32Array;
}

export interface LayerWeights {
  rmsAtt: Float32Array;
  rmsFfn: Float32Array;
  wq: Linear;
  wk: Linear;
  wv: Linear;
  wo: Linear;
  /** Gate (SwiGLU's silu input). */
  w1: Linear;
  /** Down projection. */
  w2: Linear;
  /** Up. */
  w3: Linear;
}

/** Token embedding rows, stored in any format: `row` writes token `id`'s f32 values. */
export interface EmbeddingTable {
  row(id: number, out: Float32Array): void;
  /** Bytes it holds (0 when it is the classifier's matrix, counted there). */
  readonly bytes: number;
}

export interface ModelWeights {
  config: ModelConfig;
  numerics: Numerics;
  embedding: EmbeddingTable;
  layers: LayerWeights[];
  rmsFinal: Float32Array;
  classifier: Linear;
  /** Names the stored formats for the report ("f32", "q8_0", "mixed: q8_0 ×32, f16 ×5, ..."). */
  formatLabel: string;
}

/** Every matrix of the model (the embedding table apart), in forward order. */
export function linears(w: ModelWeights): Linear[] {
  const out: Linear[] = [];
  for (const l of w.layers) out.push(l.wq, l.wk, l.wv, l.wo, l.w1, l.w3, l.w2);
  out.push(w.classifier);
  return out;
}

/** "f32", or "q8_0 ×32, f16 ×5" when the matrices mix formats (most frequent first). */
export function describeFormats(formats: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const f of formats) counts.set(f, (counts.get(f) ?? 0) + 1);
  if (counts.size === 1) return formats[0]!;
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([f, n]) => `${f} ×${n}`)
    .join(", ");
}
