/**
 * Small GGUF models for tests: a synthetic llama2.c checkpoint converted as llama.cpp's
 * converter does, rewritten with changed metadata or tensors, or with one tensor-info field
 * patched in place (the hostile files the CLI must refuse with one line).
 */
import {
  type GgufTensorInput,
  type GgufType,
  type GgufValue,
  llama2cToGguf,
  parseGguf,
  writeGguf,
  writeInputFrom,
} from "@llmem/gguf";
import { type QuantFormat, quantize, toBf16, toF16 } from "@llmem/quant-kernels";
import type { ModelConfig } from "../src/config.ts";
import { mulberry32, syntheticTokenizer } from "../src/synthetic.ts";
import { syntheticCheckpointFile } from "../src/write-synthetic.ts";

export const SMALL: ModelConfig = {
  dim: 64,
  hiddenDim: 128,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 300,
  seqLen: 64,
  sharedClassifier: false,
};

export function smallGguf(shape: ModelConfig = SMALL, seed = 1): Uint8Array {
  return llama2cToGguf(syntheticCheckpointFile(shape, seed), syntheticTokenizer(shape.vocabSize));
}

/** The file written again with metadata overrides (undefined deletes a key) and tensors mapped or dropped. */
export function rewrite(
  bytes: Uint8Array,
  o: {
    metadata?: Record<string, GgufValue | undefined>;
    /** Stored types of new keys (kept keys keep theirs; otherwise inferred). */
    types?: Record<string, GgufType>;
    tensors?: (t: GgufTensorInput) => GgufTensorInput | null;
  },
): Uint8Array {
  const input = writeInputFrom(parseGguf(bytes));
  const metadata = new Map(input.metadata);
  const types = new Map(input.types);
  for (const [k, v] of Object.entries(o.metadata ?? {})) {
    if (v === undefined) {
      metadata.delete(k);
      types.delete(k);
    } else {
      metadata.set(k, v);
      const type = o.types?.[k] ?? (typeof v === "string" ? "string" : undefined);
      if (type !== undefined) types.set(k, type);
    }
  }
  const tensors = (input.tensors ?? []).flatMap((t) => {
    const u = o.tensors ? o.tensors(t) : t;
    return u ? [u] : [];
  });
  return writeGguf({ ...input, metadata, types, tensors });
}

/** Byte position of a tensor info's `type` (u32) and `offset` (u64) fields. */
export function tensorInfoFields(bytes: Uint8Array, name: string): { type: number; offset: number } {
  const file = parseGguf(bytes);
  const info = file.tensorInfos.find((t) => t.name === name);
  if (!info) throw new Error(`no tensor ${name}`);
  const key = new TextEncoder().encode(name);
  // The info is the u64 name length, the name, u32 n_dims, u64 dims, u32 type, u64 offset.
  for (let at = 24; at + key.length <= file.dataOffset; at++) {
    if (key.every((b, i) => bytes[at + i] === b) && bytes[at - 8] === key.length) {
      const type = at + key.length + 4 + 8 * info.dims.length;
      return { type, offset: type + 4 };
    }
  }
  throw new Error(`tensor info ${name} not found`);
}

/** A copy with one little-endian field overwritten. */
export function patch(bytes: Uint8Array, at: number, value: bigint | number, size: 4 | 8): Uint8Array {
  const out = bytes.slice();
  const dv = new DataView(out.buffer);
  if (size === 4) dv.setUint32(at, Number(value), true);
  else dv.setBigUint64(at, BigInt(value), true);
  return out;
}

/** A little-endian f32 tensor's bytes. */
function f32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * SMALL as other files llama.cpp reads (the test vectors in fixtures/llamacpp-small.json were
 * made from exactly these bytes):
 * - `qwen2`: architecture qwen2 (NEOX rope), q/k/v biases (seeded, ±0.5);
 * - `f16`, `bf16`: every matrix and the embedding table in that format;
 * - `llama-meta`: llama with rope base 500000 and RMS epsilon 1e-6 (llama.cpp refuses a
 *   llama rope over part of a head, so that stays whole).
 */
export function variantGguf(kind: "qwen2" | "llama-meta" | "f16" | "bf16"): Uint8Array {
  const base = smallGguf();
  const file = parseGguf(base);
  if (kind === "f16" || kind === "bf16") {
    // Every matrix (the embedding table too) converted, round to nearest even as ggml does.
    return rewrite(base, {
      tensors: (t) => {
        if (t.dims.length !== 2) return t;
        const f32 = new Float32Array(t.data.slice().buffer);
        const half = kind === "f16" ? toF16(f32) : toBf16(f32);
        return { ...t, type: kind, data: new Uint8Array(half.buffer) };
      },
    });
  }
  if (kind === "llama-meta") {
    return rewrite(base, {
      metadata: {
        "llama.rope.freq_base": 500000,
        "llama.attention.layer_norm_rms_epsilon": 1e-6,
      },
      types: { "llama.rope.freq_base": "f32" },
    });
  }
  const metadata: Record<string, GgufValue | undefined> = { "general.architecture": "qwen2" };
  for (const [k, v] of file.metadata) {
    if (k.startsWith("llama.")) {
      metadata[k] = undefined;
      metadata[`qwen2.${k.slice("llama.".length)}`] = v;
    }
  }
  const rand = mulberry32(12);
  const kvDim = (SMALL.dim / SMALL.nHeads) * SMALL.nKvHeads;
  const bias = (name: string, n: number): GgufTensorInput => ({
    name,
    type: "f32",
    dims: [n],
    data: f32Bytes(Float32Array.from({ length: n }, () => rand() - 0.5)),
  });
  const out = rewrite(base, { metadata });
  const input = writeInputFrom(parseGguf(out));
  const tensors = [...(input.tensors ?? [])];
  for (let l = 0; l < SMALL.nLayers; l++) {
    tensors.push(
      bias(`blk.${l}.attn_q.bias`, SMALL.dim),
      bias(`blk.${l}.attn_k.bias`, kvDim),
      bias(`blk.${l}.attn_v.bias`, kvDim),
    );
  }
  return writeGguf({ ...input, tensors });
}

/**
 * llama-quantize's mixtures this file can reproduce byte for byte (c392e50, no importance
 * matrix): the GGUF file_type it writes, output.weight's type and every other matrix's.
 */
const MIXTURES = {
  iq4_xs: { fileType: 30, output: "q6_K", matrices: "iq4_xs" },
  // `--pure` (no K-quant mixture): every matrix, token_embd and output too, Q3_K; "Q3_K" is
  // llama-quantize's alias of Q3_K_M, file_type 12.
  q3_K_pure: { fileType: 12, output: "q3_K", matrices: "q3_K" },
} as const satisfies Record<string, { fileType: number; output: QuantFormat; matrices: QuantFormat }>;

/** Block index of a tensor name (`blk.N.`), -1 for the others (which llama-quantize writes first). */
const blockOf = (name: string): number => Number(/^blk\.(\d+)\./.exec(name)?.[1] ?? -1);

/**
 * An F32 GGUF as `llama-quantize IN OUT <mixture> 1` writes it: tensors sorted as llama.cpp
 * sorts them (by block, then name), matrices quantized by llmem (whose quantizers are
 * byte-identical to ggml's reference ones), norms kept F32, `general.quantization_version` 2 and
 * `general.file_type` appended.
 */
export function llamaQuantized(bytes: Uint8Array, mixture: keyof typeof MIXTURES): Uint8Array {
  const m = MIXTURES[mixture];
  const input = writeInputFrom(parseGguf(bytes));
  const metadata = new Map(input.metadata);
  const types = new Map(input.types);
  metadata.set("general.quantization_version", 2);
  types.set("general.quantization_version", "u32");
  metadata.set("general.file_type", m.fileType);
  types.set("general.file_type", "u32");
  const tensors = [...(input.tensors ?? [])]
    .sort((a, b) => blockOf(a.name) - blockOf(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => {
      if (t.dims.length !== 2) return t;
      const type = t.name === "output.weight" ? m.output : m.matrices;
      return { ...t, type, data: quantize(type, new Float32Array(t.data.slice().buffer)) };
    });
  return writeGguf({ ...input, metadata, types, tensors });
}
