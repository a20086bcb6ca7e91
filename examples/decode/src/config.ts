/**
 * The llama2.c checkpoint header (7 little-endian int32) and the shape facts derived from it.
 */
import { LlmemError } from "@llmem/core";

export interface ModelConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** true when the classifier is the token embedding table (positive vocab_size in the header). */
  sharedClassifier: boolean;
}

export const HEADER_BYTES = 28;
/** Bounds that keep every size product far below 2^53 and reject garbage headers early. */
const LIMITS = {
  dim: 1 << 16,
  hiddenDim: 1 << 18,
  nLayers: 1024,
  nHeads: 1024,
  vocabSize: 1 << 22,
  seqLen: 1 << 20,
} as const;

export function headSize(c: ModelConfig): number {
  return c.dim / c.nHeads;
}

export function kvDim(c: ModelConfig): number {
  return (c.dim * c.nKvHeads) / c.nHeads;
}

function bad(message: string, details: Record<string, unknown> = {}): LlmemError {
  return new LlmemError("FORMAT_ERROR", message, details);
}

/** Parses and checks the header; every field must describe a model run.c could run. */
export function parseHeader(bytes: Uint8Array, what: string): ModelConfig {
  if (bytes.length < HEADER_BYTES) {
    throw bad(`${what}: ${bytes.length} bytes is too short for the 28-byte llama2.c header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const f = (i: number) => dv.getInt32(i * 4, true);
  if (f(0) === 0x616b3432) {
    throw bad(
      `${what}: this is llama2.c's versioned export ("ak42" magic); only the legacy run.c layout is read`,
    );
  }
  const rawVocab = f(5);
  const c: ModelConfig = {
    dim: f(0),
    hiddenDim: f(1),
    nLayers: f(2),
    nHeads: f(3),
    nKvHeads: f(4),
    vocabSize: Math.abs(rawVocab),
    seqLen: f(6),
    sharedClassifier: rawVocab > 0,
  };
  const field = (name: keyof typeof LIMITS, label: string) => {
    const v = c[name];
    if (v < 1 || v > LIMITS[name]) {
      throw bad(`${what}: header ${label} is ${v}, expected 1..${LIMITS[name]}`, { field: label, value: v });
    }
  };
  field("dim", "dim");
  field("hiddenDim", "hidden_dim");
  field("nLayers", "n_layers");
  field("nHeads", "n_heads");
  field("vocabSize", "vocab_size");
  field("seqLen", "seq_len");
  if (c.nKvHeads < 1 || c.nKvHeads > c.nHeads || c.nHeads % c.nKvHeads !== 0) {
    throw bad(`${what}: header n_kv_heads is ${c.nKvHeads}, it must divide n_heads ${c.nHeads}`);
  }
  if (c.dim % c.nHeads !== 0 || (c.dim / c.nHeads) % 2 !== 0) {
    throw bad(`${what}: dim ${c.dim} must be n_heads ${c.nHeads} times an even head size`);
  }
  return c;
}

/** Float counts of every tensor in run.c's order (freq_cis is legacy padding, skipped). */
export function tensorLayout(c: ModelConfig) {
  const { dim, hiddenDim: h, nLayers: l, vocabSize: v, seqLen } = c;
  const kv = kvDim(c);
  return [
    ["tokenEmbedding", v * dim],
    ["rmsAtt", l * dim],
    ["wq", l * dim * dim],
    ["wk", l * dim * kv],
    ["wv", l * dim * kv],
    ["wo", l * dim * dim],
    ["rmsFfn", l * dim],
    ["w1", l * h * dim],
    ["w2", l * dim * h],
    ["w3", l * h * dim],
    ["rmsFinal", dim],
    ["freqCis", seqLen * headSize(c)],
    ["wcls", c.sharedClassifier ? 0 : v * dim],
  ] as const;
}

export type TensorName = ReturnType<typeof tensorLayout>[number][0];

/** Exact byte size of a checkpoint with this header. */
export function checkpointBytes(c: ModelConfig): number {
  let floats = 0;
  for (const [, n] of tensorLayout(c)) floats += n;
  return HEADER_BYTES + floats * 4;
}

/** The header bytes for a config (the synthetic generator and tests write checkpoints). */
export function encodeHeader(c: ModelConfig): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES);
  const dv = new DataView(out.buffer);
  const vals = [
    c.dim,
    c.hiddenDim,
    c.nLayers,
    c.nHeads,
    c.nKvHeads,
    c.sharedClassifier ? c.vocabSize : -c.vocabSize,
    c.seqLen,
  ];
  for (let i = 0; i < vals.length; i++) dv.setInt32(i * 4, vals[i]!, true);
  return out;
}
