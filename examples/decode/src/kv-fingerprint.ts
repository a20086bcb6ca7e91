/**
 * The model fingerprint stored KV is checked against (KV files, Redis keys): every matrix the
 * forward pass multiplies by — its format as prepared (so --weights q8_0 differs from f32), its
 * shape and sampled bytes — plus the shape, the numerics and the kernels, whose sums round
 * differently. KV is only ever reused by a run that would have computed the same values.
 */
import { type ModelFingerprint, modelFingerprint } from "@llmem/kv-cache";
import { native } from "@llmem/native";
import type { Transformer } from "./model.ts";

export function fingerprintOf(model: Transformer): ModelFingerprint {
  const c = model.config;
  const n = model.numerics;
  const tensors = model.matrices().map((m, i) => ({
    name: `matrix.${i}`,
    type: m.format,
    shape: [m.rows, m.cols],
    data: new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength),
  }));
  return modelFingerprint(tensors, {
    dim: c.dim,
    hiddenDim: c.hiddenDim,
    nLayers: c.nLayers,
    nHeads: c.nHeads,
    nKvHeads: c.nKvHeads,
    vocabSize: c.vocabSize,
    seqLen: c.seqLen,
    numerics: n.style,
    rmsEps: n.rmsEps,
    ropeTheta: n.ropeTheta,
    ropeDims: n.ropeDims,
    ropeNeox: String(n.ropeNeox),
    kernels: model.kernels.name,
    native: native.available ? native.backend : "off",
  });
}
