/**
 * Deterministic synthetic checkpoints (random weights) and a small byte-level tokenizer, in
 * llama2.c's file layouts, so the loop runs with no download and tests can pin exact token
 * ids for shapes the shared models do not cover (GQA, separate classifier, odd sizes).
 */
import { allocCheckpointBuffer } from "./checkpoint.ts";
import { checkpointBytes, encodeHeader, HEADER_BYTES, type ModelConfig, tensorLayout } from "./config.ts";

/** A seeded 32-bit generator (mulberry32): stable across runs and machines. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The embedded default: small, grouped-query, fast in pure TypeScript. */
export const EMBEDDED_CONFIG: ModelConfig = {
  dim: 128,
  hiddenDim: 384,
  nLayers: 4,
  nHeads: 8,
  nKvHeads: 4,
  vocabSize: 512,
  seqLen: 256,
  // A separate classifier: with a shared one, random embeddings make every token predict itself.
  sharedClassifier: false,
};

/**
 * The checkpoint file bytes, behind the 36 bytes of padding `viewCheckpoint` expects.
 * Matrices are uniform in ±1/√cols (so activations stay O(1)), norms near 1, embeddings ±1;
 * `progress` is called per tensor for large shapes.
 */
export function syntheticCheckpoint(c: ModelConfig, seed = 1): Uint8Array {
  const padded = allocCheckpointBuffer(checkpointBytes(c));
  const pad = padded.length - checkpointBytes(c);
  padded.set(encodeHeader(c), pad);
  const rand = mulberry32(seed);
  let offset = pad + HEADER_BYTES;
  for (const [name, count] of tensorLayout(c)) {
    const t = new Float32Array(padded.buffer, offset, count);
    offset += count * 4;
    let scale: number;
    let base = 0;
    switch (name) {
      case "tokenEmbedding":
        scale = 1;
        break;
      case "rmsAtt":
      case "rmsFfn":
      case "rmsFinal":
        scale = 0.1;
        base = 1;
        break;
      case "w2":
        scale = 1 / Math.sqrt(c.hiddenDim);
        break;
      case "freqCis":
        scale = 0;
        break;
      default:
        scale = 1 / Math.sqrt(c.dim);
    }
    for (let i = 0; i < count; i++) t[i] = base + (rand() * 2 - 1) * scale;
  }
  return padded;
}

const WORDS = [
  " the",
  " a",
  " and",
  " was",
  " to",
  " she",
  " he",
  " it",
  " in",
  " of",
  " her",
  " his",
  " they",
  " with",
  " once",
  " upon",
  " time",
  " there",
  " little",
  " girl",
  " boy",
  " named",
  " lily",
  " tim",
  " ben",
  " mom",
  " dad",
  " play",
  " park",
  " ball",
  " big",
  " red",
  " happy",
  " sad",
  " friend",
  " day",
  " saw",
  " said",
  " wanted",
  " loved",
  " very",
  " one",
  " tree",
  " dog",
  " cat",
  " sun",
  " fun",
  " went",
  " home",
  " help",
];

/** Pieces of the synthetic tokenizer: specials, 256 byte tokens, printable ASCII, then word prefixes. */
export function syntheticVocab(vocabSize: number): string[] {
  const vocab = ["<unk>", "\n<s>\n", "\n</s>\n"];
  for (let b = 0; b < 256; b++) vocab.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  for (let ch = 0x20; ch < 0x7f; ch++) vocab.push(String.fromCharCode(ch));
  vocab.push("\n");
  const seen = new Set(vocab);
  outer: for (let len = 2; ; len++) {
    let grew = false;
    for (const w of WORDS) {
      if (w.length < len) continue;
      grew = true;
      const p = w.slice(0, len);
      if (seen.has(p)) continue;
      if (vocab.length >= vocabSize) break outer;
      seen.add(p);
      vocab.push(p);
    }
    if (!grew) break;
  }
  for (let i = 0; vocab.length < vocabSize; i++) vocab.push(`<extra_${i}>`);
  return vocab.slice(0, vocabSize);
}

/** The tokenizer file for `syntheticVocab`: earlier (shorter) merges score higher. */
export function syntheticTokenizer(vocabSize: number): Uint8Array {
  const vocab = syntheticVocab(vocabSize);
  const enc = new TextEncoder();
  const pieces = vocab.map((p) => enc.encode(p));
  const size = 4 + pieces.reduce((n, p) => n + 8 + p.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, Math.max(...pieces.map((p) => p.length)), true);
  let at = 4;
  pieces.forEach((p, i) => {
    dv.setFloat32(at, i < 259 ? 0 : -i, true);
    dv.setInt32(at + 4, p.length, true);
    out.set(p, at + 8);
    at += 8 + p.length;
  });
  return out;
}
