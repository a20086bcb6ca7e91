/**
 * A Llama-architecture GGUF file (`general.architecture` llama or qwen2) as ModelWeights:
 * hyperparameters from `{arch}.*` metadata, tensors by llama.cpp's names, each kept in the
 * file's format, ggml's numerics. Every missing key or tensor, wrong shape or unusable
 * type is an LlmemError naming it.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { LlmemError } from "@llmem/core";
import { GGUF_MAGIC, type GgufFile, openGguf } from "@llmem/gguf";
import type { ModelConfig } from "./config.ts";
import { embeddingOf, linearOf, requireTensor, vectorF32 } from "./gguf-tensors.ts";
import { ggufTextCodec } from "./gguf-text.ts";
import { describeFormats, type LayerWeights, type Linear, type ModelWeights } from "./model-weights.ts";
import type { TextCodec } from "./text-codec.ts";

/** What differs between the architectures read here. */
const ARCHITECTURES = {
  llama: { biases: false, ropeNeox: false },
  qwen2: { biases: true, ropeNeox: true },
} as const;
type Architecture = keyof typeof ARCHITECTURES;

/** Bounds that keep size products far below 2^53 and turn garbage metadata into a clear error. */
const LIMITS = { dim: 1 << 16, hidden: 1 << 18, layers: 1024, heads: 1024, context: 1 << 24 } as const;

function bad(message: string, details: Record<string, unknown> = {}): LlmemError {
  return new LlmemError("FORMAT_ERROR", message, details);
}

function architectureOf(file: GgufFile): Architecture {
  const arch = file.getString("general.architecture");
  if (!Object.hasOwn(ARCHITECTURES, arch)) {
    throw new LlmemError(
      "UNSUPPORTED",
      `GGUF general.architecture ${JSON.stringify(arch)} is not supported (${Object.keys(ARCHITECTURES).join(", ")})`,
      { architecture: arch },
    );
  }
  return arch as Architecture;
}

/** An integer metadata value in [1, max]. */
function count(file: GgufFile, key: string, max: number, fallback?: number): number {
  const v = fallback === undefined ? file.getNumber(key) : (file.optNumber(key) ?? fallback);
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw bad(`GGUF metadata ${JSON.stringify(key)} is ${v}, expected an integer in [1, ${max}]`, {
      key,
      value: v,
    });
  }
  return v;
}

function positive(file: GgufFile, key: string, fallback?: number): number {
  const v = fallback === undefined ? file.getNumber(key) : (file.optNumber(key) ?? fallback);
  if (!Number.isFinite(v) || v <= 0)
    throw bad(`GGUF metadata ${JSON.stringify(key)} is ${v}, expected > 0`, { key, value: v });
  return v;
}

/** Rope variants that change the angles; llmem implements plain rope only, so it refuses the rest. */
function refuseRopeScaling(file: GgufFile, arch: string): void {
  const scaling = file.optString(`${arch}.rope.scaling.type`);
  if (scaling !== undefined && scaling !== "none") {
    throw new LlmemError(
      "UNSUPPORTED",
      `GGUF ${arch}.rope.scaling.type ${JSON.stringify(scaling)} is not supported (none)`,
      {
        key: `${arch}.rope.scaling.type`,
      },
    );
  }
  if (file.hasTensor("rope_freqs.weight")) {
    throw new LlmemError(
      "UNSUPPORTED",
      `GGUF tensor "rope_freqs.weight" (per-dimension rope frequency factors) is not supported`,
      {
        tensor: "rope_freqs.weight",
      },
    );
  }
}

export interface GgufModel {
  weights: ModelWeights;
  architecture: string;
  /** `{arch}.context_length`, before `maxPositions` capped it. */
  contextLength: number;
}

/**
 * Reads the model. `maxPositions` caps the context the run sizes its buffers and K/V store
 * for (a run of N steps never needs more than N positions).
 */
export function ggufModel(file: GgufFile, o: { maxPositions?: number } = {}): GgufModel {
  const arch = architectureOf(file);
  const kind = ARCHITECTURES[arch];
  const key = (k: string) => `${arch}.${k}`;
  refuseRopeScaling(file, arch);
  const dim = count(file, key("embedding_length"), LIMITS.dim);
  const nLayers = count(file, key("block_count"), LIMITS.layers);
  const hiddenDim = count(file, key("feed_forward_length"), LIMITS.hidden);
  const nHeads = count(file, key("attention.head_count"), LIMITS.heads);
  const nKvHeads = count(file, key("attention.head_count_kv"), LIMITS.heads, nHeads);
  const contextLength = count(file, key("context_length"), LIMITS.context);
  if (dim % nHeads !== 0 || (dim / nHeads) % 2 !== 0) {
    throw bad(
      `GGUF ${key("embedding_length")} ${dim} must be ${key("attention.head_count")} ${nHeads} times an even head size`,
    );
  }
  if (nHeads % nKvHeads !== 0) {
    throw bad(
      `GGUF ${key("attention.head_count_kv")} ${nKvHeads} must divide ${key("attention.head_count")} ${nHeads}`,
    );
  }
  const headSize = dim / nHeads;
  const ropeDims = count(file, key("rope.dimension_count"), headSize, headSize);
  if (ropeDims % 2 !== 0) throw bad(`GGUF ${key("rope.dimension_count")} ${ropeDims} must be even`);
  const rmsEps = positive(file, key("attention.layer_norm_rms_epsilon"));
  const ropeTheta = positive(file, key("rope.freq_base"), 10000);

  const tensor = (name: string) => requireTensor(file, name, arch);
  const embd = tensor("token_embd.weight");
  const vocabSize = embd.dims[1] ?? 0;
  const tied = !file.hasTensor("output.weight");
  const kvd = nKvHeads * headSize;
  const formats: string[] = [];
  const linear = (name: string, cols: number, rows: number, bias?: string): Linear => {
    const t = tensor(name);
    const m = linearOf(file, t, cols, rows);
    formats.push(m.round === "bf16" ? "bf16" : m.w.format);
    if (bias !== undefined) m.bias = vectorF32(file, tensor(bias), rows);
    return m;
  };
  const layers: LayerWeights[] = [];
  for (let l = 0; l < nLayers; l++) {
    const b = `blk.${l}.`;
    const bias = (n: string) => (kind.biases ? `${b}${n}.bias` : undefined);
    layers.push({
      rmsAtt: vectorF32(file, tensor(`${b}attn_norm.weight`), dim),
      rmsFfn: vectorF32(file, tensor(`${b}ffn_norm.weight`), dim),
      wq: linear(`${b}attn_q.weight`, dim, dim, bias("attn_q")),
      wk: linear(`${b}attn_k.weight`, dim, kvd, bias("attn_k")),
      wv: linear(`${b}attn_v.weight`, dim, kvd, bias("attn_v")),
      wo: linear(`${b}attn_output.weight`, dim, dim),
      w1: linear(`${b}ffn_gate.weight`, dim, hiddenDim),
      w2: linear(`${b}ffn_down.weight`, hiddenDim, dim),
      w3: linear(`${b}ffn_up.weight`, dim, hiddenDim),
    });
  }
  const classifier = linear(tied ? "token_embd.weight" : "output.weight", dim, vocabSize);
  const config: ModelConfig = {
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    vocabSize,
    seqLen: Math.min(contextLength, o.maxPositions ?? contextLength),
    sharedClassifier: tied,
  };
  return {
    architecture: arch,
    contextLength,
    weights: {
      config,
      numerics: { style: "ggml", rmsEps, ropeTheta, ropeDims, ropeNeox: kind.ropeNeox },
      embedding: embeddingOf(embd, dim, vocabSize, !tied),
      layers,
      rmsFinal: vectorF32(file, tensor("output_norm.weight"), dim),
      classifier,
      formatLabel: describeFormats(formats),
    },
  };
}

/** Whether `path` holds GGUF (its magic), so `--model` takes either kind of file. */
export function isGgufPath(path: string): boolean {
  try {
    const fd = openSync(path, "r");
    try {
      const head = new Uint8Array(4);
      return readSync(fd, head, 0, 4, 0) === 4 && new TextDecoder().decode(head) === GGUF_MAGIC;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false; // unreadable: the checkpoint reader reports it
  }
}

/** Maps and reads the file: the model and the tokenizer it carries. */
export function loadGguf(path: string, o: { maxPositions?: number } = {}): GgufModel & { codec: TextCodec } {
  const file = openGguf(path);
  const model = ggufModel(file, o);
  return { ...model, codec: ggufTextCodec(file, model.weights.config.vocabSize) };
}
