/**
 * A llama2.c checkpoint as ModelWeights: f32 views of the file, or matrices re-quantized at
 * load to `--weights` q8_0/q4_0 (run.c's numerics either way).
 */
import type { Checkpoint } from "./checkpoint.ts";
import { headSize, kvDim } from "./config.ts";
import type { MatvecKernels, WeightFormat } from "./matvec.ts";
import { type EmbeddingTable, type LayerWeights, type ModelWeights, runcNumerics } from "./model-weights.ts";

/** An f32 table: a row is a copy of `dim` floats. */
export function f32Embedding(table: Float32Array, dim: number, counted: boolean): EmbeddingTable {
  return {
    row: (id, out) => out.set(table.subarray(id * dim, (id + 1) * dim)),
    bytes: counted ? table.byteLength : 0,
  };
}

export function checkpointWeights(
  ckpt: Checkpoint,
  o: { format: WeightFormat; kernels: MatvecKernels; progress?: (done: number, total: number) => void },
): ModelWeights {
  const c = ckpt.config;
  const t = ckpt.tensors;
  const { dim, hiddenDim: hd } = c;
  const kvd = kvDim(c);
  const total = c.nLayers * 7 + 1;
  let done = 0;
  const mat = (src: Float32Array, l: number, rows: number, cols: number) => {
    const w = o.kernels.prepare(o.format, src.subarray(l * rows * cols, (l + 1) * rows * cols), rows, cols);
    o.progress?.(++done, total);
    return { w };
  };
  // With quantized matrices, own copies of what stays f32 let the checkpoint buffer go.
  const own = o.format === "f32" ? (a: Float32Array) => a : (a: Float32Array) => a.slice();
  const rmsAtt = own(t.rmsAtt);
  const rmsFfn = own(t.rmsFfn);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    layers.push({
      rmsAtt: rmsAtt.subarray(l * dim, (l + 1) * dim),
      rmsFfn: rmsFfn.subarray(l * dim, (l + 1) * dim),
      wq: mat(t.wq, l, dim, dim),
      wk: mat(t.wk, l, kvd, dim),
      wv: mat(t.wv, l, kvd, dim),
      wo: mat(t.wo, l, dim, dim),
      w1: mat(t.w1, l, hd, dim),
      w2: mat(t.w2, l, dim, hd),
      w3: mat(t.w3, l, hd, dim),
    });
  }
  const classifier = mat(t.wcls, 0, c.vocabSize, dim);
  // A shared f32 classifier is the embedding table itself: its bytes count once.
  const shared = c.sharedClassifier && o.format === "f32";
  return {
    config: c,
    numerics: runcNumerics(headSize(c)),
    embedding: f32Embedding(own(t.tokenEmbedding), dim, !shared),
    layers,
    rmsFinal: own(t.rmsFinal),
    classifier,
    formatLabel: o.format,
  };
}
