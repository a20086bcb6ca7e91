/**
 * llama2.c checkpoint + tokenizer → GGUF, with the tensor names, shapes, metadata (keys,
 * order, types, values) and layout of llama.cpp's `convert-llama2c-to-ggml` (c392e50), so
 * converting stories260K.bin + tok512.bin gives the fixture stories260K-f32.gguf byte for byte.
 */
import { LlmemError } from "@llmem/core";
import type { GgufType, GgufValue } from "./values.ts";
import { type GgufTensorInput, writeGguf } from "./writer.ts";

/** The seven int32 fields at the start of a llama2.c checkpoint. */
export interface Llama2cConfig {
  readonly dim: number;
  readonly hiddenDim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly vocabSize: number;
  /** A negative vocab_size in the file means a separate classifier follows. */
  readonly sharedClassifier: boolean;
  readonly seqLen: number;
}

export interface Llama2cToGgufOptions {
  /** `llama.context_length`: llama.cpp's converter writes its `n_ctx` default, 128, whatever seq_len says. */
  readonly contextLength?: number;
  /** Cap on `llama.rope.dimension_count` (llama.cpp's `n_rotmax`, 64): min(cap, dim / n_heads). */
  readonly ropeDimensionMax?: number;
}

// llama_token_type values llama.cpp's converter assigns.
const TOKEN_NORMAL = 1;
const TOKEN_UNKNOWN = 2;
const TOKEN_CONTROL = 3;
const TOKEN_BYTE = 6;
const UNK_ID = 0;
const BOS_ID = 1;
const EOS_ID = 2;
/** LLAMA_TOKEN_NULL (-1) as llama.cpp stores it in a u32. */
const TOKEN_NULL_U32 = 0xffffffff;
const HEADER_BYTES = 28;

function bad(field: string, problem: string, details: Record<string, unknown> = {}): LlmemError {
  return new LlmemError("FORMAT_ERROR", `llama2.c ${field}: ${problem}`, { field, ...details });
}

/** The config header, each field checked (positive, heads dividing evenly). */
export function readLlama2cConfig(checkpoint: Uint8Array): Llama2cConfig {
  if (checkpoint.byteLength < HEADER_BYTES) {
    throw bad("checkpoint header", `needs ${HEADER_BYTES} bytes, the file has ${checkpoint.byteLength}`);
  }
  const v = new DataView(checkpoint.buffer, checkpoint.byteOffset, HEADER_BYTES);
  const names = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"] as const;
  const raw = names.map((_, i) => v.getInt32(i * 4, true));
  names.forEach((name, i) => {
    const value = name === "vocab_size" ? Math.abs(raw[i]!) : raw[i]!;
    if (value < 1) throw bad(`checkpoint ${name}`, `is ${raw[i]}, must be at least 1`, { value: raw[i] });
  });
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = raw as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (dim % nHeads !== 0) throw bad("checkpoint dim", `${dim} is not a multiple of n_heads ${nHeads}`);
  if (nKvHeads > nHeads || nHeads % nKvHeads !== 0) {
    throw bad("checkpoint n_kv_heads", `${nKvHeads} must divide n_heads ${nHeads}`);
  }
  return {
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    vocabSize: Math.abs(vocab),
    sharedClassifier: vocab > 0,
    seqLen,
  };
}

interface Vocab {
  tokens: string[];
  scores: Float32Array;
  types: Int32Array;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * llama2.c's tokenizer.bin (u32 max_token_length, then per token f32 score, u32 length,
 * bytes), with llama.cpp's fix-ups: ids 0/1/2 renamed `<unk>`/`<s>`/`</s>`, token types,
 * and spaces escaped as `▁`.
 */
export function readLlama2cVocab(tokenizer: Uint8Array, vocabSize: number): Vocab {
  const v = new DataView(tokenizer.buffer, tokenizer.byteOffset, tokenizer.byteLength);
  let pos = 0;
  const need = (n: number, field: string) => {
    if (pos + n > tokenizer.byteLength) {
      throw bad(
        `tokenizer ${field}`,
        `needs ${n} bytes at offset ${pos}, the file has ${tokenizer.byteLength} (truncated)`,
      );
    }
  };
  need(4, "max_token_length");
  pos = 4; // max_token_length: unused, as in llama.cpp
  const tokens: string[] = new Array(vocabSize);
  const scores = new Float32Array(vocabSize);
  const types = new Int32Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) {
    need(8, `token ${id}`);
    scores[id] = v.getFloat32(pos, true);
    const len = v.getUint32(pos + 4, true);
    pos += 8;
    need(len, `token ${id} text`);
    let text: string;
    try {
      text = utf8.decode(tokenizer.subarray(pos, pos + len));
    } catch {
      throw bad(`tokenizer token ${id} text`, "is not valid UTF-8 (GGUF strings must be)");
    }
    pos += len;
    let type = TOKEN_NORMAL;
    if (id === UNK_ID) [text, type] = ["<unk>", TOKEN_UNKNOWN];
    else if (id === BOS_ID) [text, type] = ["<s>", TOKEN_CONTROL];
    else if (id === EOS_ID) [text, type] = ["</s>", TOKEN_CONTROL];
    else if (text === "") type = TOKEN_CONTROL;
    // llama.cpp tests sscanf("<0x%02hhX>") == 1: "<0x" and at least one hex digit.
    else if (/^<0x[0-9A-Fa-f]/.test(text)) type = TOKEN_BYTE;
    tokens[id] = text.replaceAll(" ", "\u2581");
    types[id] = type;
  }
  // The format has no token count: bytes left over mean a tokenizer for another vocab size
  // (llama.cpp would convert silently with the first vocab_size tokens).
  if (pos !== tokenizer.byteLength) {
    throw bad(
      "tokenizer size",
      `${tokenizer.byteLength - pos} bytes are left after the checkpoint's ${vocabSize} tokens: the tokenizer is for a larger vocabulary`,
      { value: tokenizer.byteLength, used: pos },
    );
  }
  return { tokens, scores, types };
}

/**
 * The GGUF file llama.cpp's converter writes for this checkpoint and tokenizer. Tensor
 * bytes are the checkpoint's floats unchanged (ggml's row-major [in, out] shapes hold the
 * same order as llama2.c's [out][in]); a shared classifier is written out as
 * `output.weight`, a copy of the embeddings.
 */
export function llama2cToGguf(
  checkpoint: Uint8Array,
  tokenizer: Uint8Array,
  options: Llama2cToGgufOptions = {},
): Uint8Array {
  const c = readLlama2cConfig(checkpoint);
  const { dim, hiddenDim: ff, nLayers: L, vocabSize: vocab } = c;
  const kvDim = (dim * c.nKvHeads) / c.nHeads;
  const headSize = dim / c.nHeads;

  // Float counts in checkpoint order; the total must be the file exactly (as llama.cpp checks).
  const sections = {
    embd: vocab * dim,
    attnNorm: L * dim,
    wq: L * dim * dim,
    wk: L * dim * kvDim,
    wv: L * dim * kvDim,
    wo: L * dim * dim,
    ffnNorm: L * dim,
    w1: L * dim * ff,
    w2: L * ff * dim,
    w3: L * dim * ff,
    outNorm: dim,
    freqCis: c.seqLen * headSize,
    wcls: c.sharedClassifier ? 0 : vocab * dim,
  };
  const starts: Record<string, number> = {};
  let floats = 0;
  for (const [k, n] of Object.entries(sections)) {
    starts[k] = floats;
    floats += n;
  }
  const expected = HEADER_BYTES + floats * 4;
  if (checkpoint.byteLength !== expected) {
    throw bad(
      "checkpoint size",
      `is ${checkpoint.byteLength} bytes; its config (dim ${dim}, hidden ${ff}, ${L} layers, vocab ${vocab}, seq_len ${c.seqLen}, ${c.sharedClassifier ? "shared" : "separate"} classifier) needs ${expected}`,
      { value: checkpoint.byteLength, expected },
    );
  }
  /** `count` floats of `section` starting `index` floats in, as bytes (a view). */
  const slice = (section: keyof typeof sections, index: number, count: number) => {
    const at = HEADER_BYTES + (starts[section]! + index) * 4;
    return checkpoint.subarray(at, at + count * 4);
  };

  const f32 = (name: string, dims: number[], data: Uint8Array): GgufTensorInput => ({
    name,
    type: "f32",
    dims,
    data,
  });
  const tensors: GgufTensorInput[] = [
    f32("token_embd.weight", [dim, vocab], slice("embd", 0, vocab * dim)),
    f32("output_norm.weight", [dim], slice("outNorm", 0, dim)),
    f32(
      "output.weight",
      [dim, vocab],
      c.sharedClassifier ? slice("embd", 0, vocab * dim) : slice("wcls", 0, vocab * dim),
    ),
  ];
  for (let i = 0; i < L; i++) {
    const b = `blk.${i}`;
    tensors.push(
      f32(`${b}.attn_q.weight`, [dim, dim], slice("wq", i * dim * dim, dim * dim)),
      f32(`${b}.attn_k.weight`, [dim, kvDim], slice("wk", i * dim * kvDim, dim * kvDim)),
      f32(`${b}.attn_v.weight`, [dim, kvDim], slice("wv", i * dim * kvDim, dim * kvDim)),
      f32(`${b}.attn_output.weight`, [dim, dim], slice("wo", i * dim * dim, dim * dim)),
      f32(`${b}.attn_norm.weight`, [dim], slice("attnNorm", i * dim, dim)),
      f32(`${b}.ffn_gate.weight`, [dim, ff], slice("w1", i * dim * ff, dim * ff)),
      f32(`${b}.ffn_down.weight`, [ff, dim], slice("w2", i * ff * dim, ff * dim)),
      f32(`${b}.ffn_up.weight`, [dim, ff], slice("w3", i * dim * ff, dim * ff)),
      f32(`${b}.ffn_norm.weight`, [dim], slice("ffnNorm", i * dim, dim)),
    );
  }

  const v = readLlama2cVocab(tokenizer, vocab);
  const entries: [string, GgufValue, GgufType][] = [
    ["tokenizer.ggml.tokens", v.tokens, { array: "string" }],
    ["tokenizer.ggml.scores", v.scores, { array: "f32" }],
    ["tokenizer.ggml.token_type", v.types, { array: "i32" }],
    ["tokenizer.ggml.model", "llama", "string"],
    ["general.architecture", "llama", "string"],
    ["general.name", "llama", "string"],
    ["tokenizer.ggml.unknown_token_id", UNK_ID, "u32"],
    ["tokenizer.ggml.bos_token_id", BOS_ID, "u32"],
    ["tokenizer.ggml.eos_token_id", EOS_ID, "u32"],
    ["tokenizer.ggml.seperator_token_id", TOKEN_NULL_U32, "u32"],
    ["tokenizer.ggml.padding_token_id", TOKEN_NULL_U32, "u32"],
    ["llama.context_length", options.contextLength ?? 128, "u32"],
    ["llama.embedding_length", dim, "u32"],
    ["llama.feed_forward_length", ff, "u32"],
    ["llama.attention.head_count", c.nHeads, "u32"],
    ["llama.attention.head_count_kv", c.nKvHeads, "u32"],
    ["llama.block_count", L, "u32"],
    ["llama.rope.dimension_count", Math.min(options.ropeDimensionMax ?? 64, headSize), "u32"],
    ["llama.attention.layer_norm_rms_epsilon", Math.fround(1e-5), "f32"],
  ];
  return writeGguf({
    metadata: entries.map(([k, val]) => [k, val] as const),
    types: new Map(entries.map(([k, , t]) => [k, t])),
    tensors,
  });
}
