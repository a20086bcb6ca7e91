/**
 * The model fingerprint stored KV is checked against (KV files, Redis keys): every tensor's
 * name, shape and sampled bytes, plus what changes the KV this loop computes from them (the
 * matvec weight format and the kernel set, whose sums round differently), so KV is only ever
 * reused by a run that would have computed the same values.
 */
import { type ModelFingerprint, modelFingerprint } from "@llmem/kv-cache";
import type { Checkpoint } from "./checkpoint.ts";
import { tensorLayout } from "./config.ts";

export function checkpointFingerprint(
  ckpt: Checkpoint,
  settings: { weights: string; kernels: string; native: string },
): ModelFingerprint {
  const c = ckpt.config;
  const tensors = tensorLayout(c).map(([name, count]) => {
    const t = ckpt.tensors[name];
    return {
      name,
      type: "f32",
      shape: [count],
      data: new Uint8Array(t.buffer, t.byteOffset, t.byteLength),
    };
  });
  return modelFingerprint(tensors, {
    ...settings,
    dim: c.dim,
    hiddenDim: c.hiddenDim,
    nLayers: c.nLayers,
    nHeads: c.nHeads,
    nKvHeads: c.nKvHeads,
    vocabSize: c.vocabSize,
    seqLen: c.seqLen,
    sharedClassifier: String(c.sharedClassifier),
  });
}
