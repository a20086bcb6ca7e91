/**
 * Building a Tokenizer from GGUF metadata (`tokenizer.ggml.*`), with llama.cpp's defaults
 * for absent keys (llama_vocab::impl::load) and every present key checked: a missing
 * required key, a value of the wrong type, arrays whose lengths disagree and ids outside
 * the vocabulary each give an LlmemError naming the key.
 */

import { LlmemError } from "@llmem/core";
import { Tokenizer, type TokenizerSpec } from "./tokenizer.ts";
import { TokenType } from "./vocab.ts";

const K = "tokenizer.ggml.";

/** 0xFFFFFFFF (u32 -1) is how converters write "no such token" (llama2c writes it for pad). */
const NO_TOKEN = 0xffffffff;

/** Texts llama.cpp treats as control tokens whatever their GGUF type (end-of-generation markers: decoding stops at them). */
export const END_OF_GENERATION: readonly string[] = [
  "<|eot_id|>",
  "<|im_end|>",
  "<|end|>",
  "<end_of_turn>",
  "<|endoftext|>",
  "<|eom_id|>",
  "<EOT>",
];
/** Texts it promotes to control when the matching id key is absent (auto-detected EOT/FIM tokens). */
const AUTO_DETECTED: readonly (readonly [keys: readonly string[], texts: readonly string[]])[] = [
  [["eot_token_id"], ["<｜end▁of▁sentence｜>"]],
  [
    ["fim_pre_token_id", "prefix_token_id"],
    ["<|fim_prefix|>", "<fim-prefix>", "<｜fim▁begin｜>", "<PRE>"],
  ],
  [
    ["fim_suf_token_id", "suffix_token_id"],
    ["<|fim_suffix|>", "<fim-suffix>", "<｜fim▁hole｜>", "<SUF>"],
  ],
  [
    ["fim_mid_token_id", "middle_token_id"],
    ["<|fim_middle|>", "<fim-middle>", "<｜fim▁end｜>", "<MID>"],
  ],
  [["fim_pad_token_id"], ["<|fim_pad|>", "<fim-pad>", "<PAD>"]],
  [["fim_rep_token_id"], ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"]],
  [["fim_sep_token_id"], ["<|file_sep|>"]],
];

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (value === null) return "null";
  return `a ${typeof value}`;
}

function wrongType(key: string, want: string, value: unknown): LlmemError {
  return new LlmemError("FORMAT_ERROR", `metadata ${key} must be ${want}, got ${describe(value)}`, { key });
}

function optionalString(meta: ReadonlyMap<string, unknown>, key: string): string | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw wrongType(key, "a string", v);
  return v;
}

function optionalBool(meta: ReadonlyMap<string, unknown>, key: string): boolean | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw wrongType(key, "a bool", v);
  return v;
}

function stringArray(
  meta: ReadonlyMap<string, unknown>,
  key: string,
  required: boolean,
): string[] | undefined {
  const v = meta.get(key);
  if (v === undefined) {
    if (required) throw new LlmemError("FORMAT_ERROR", `metadata ${key} is missing`, { key });
    return undefined;
  }
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string"))
    throw wrongType(key, "an array of strings", v);
  return v as string[];
}

function numberArray(
  meta: ReadonlyMap<string, unknown>,
  key: string,
  kinds: readonly (abstract new (...args: never[]) => ArrayLike<number>)[],
  want: string,
  length: number,
): ArrayLike<number> | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (!kinds.some((k) => v instanceof k)) throw wrongType(key, want, v);
  const arr = v as ArrayLike<number>;
  if (arr.length !== length) {
    throw new LlmemError(
      "FORMAT_ERROR",
      `metadata ${key} has ${arr.length} entries but ${K}tokens has ${length}`,
      { key, length: arr.length, tokens: length },
    );
  }
  return arr;
}

/** A token id key: undefined when absent or "none" (0xFFFFFFFF), else an id < n. */
function tokenId(meta: ReadonlyMap<string, unknown>, key: string, n: number): number | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) throw wrongType(key, "an integer token id", v);
  if (v === NO_TOKEN || v === -1) return undefined;
  if (v < 0 || v >= n) {
    throw new LlmemError(
      "OUT_OF_RANGE",
      `metadata ${key} = ${v} is not a token id (the vocabulary has ${n})`,
      {
        key,
        id: v,
        tokens: n,
      },
    );
  }
  return v;
}

/** The spec `tokenizerFromGguf` builds (exposed for inspection and tests). */
export function tokenizerSpecFromGguf(meta: ReadonlyMap<string, unknown>): TokenizerSpec {
  if (!(meta instanceof Map)) {
    throw new LlmemError("INVALID_ARGUMENT", "meta must be a GGUF file's metadata Map (GgufFile.metadata)", {
      argument: "meta",
    });
  }
  const model = optionalString(meta, `${K}model`);
  if (model === undefined)
    throw new LlmemError("FORMAT_ERROR", `metadata ${K}model is missing`, { key: `${K}model` });
  if (model !== "llama" && model !== "gpt2") {
    throw new LlmemError(
      "UNSUPPORTED",
      `metadata ${K}model = ${JSON.stringify(model)} is not supported (llama, gpt2)`,
      {
        key: `${K}model`,
        model,
      },
    );
  }
  const pre = optionalString(meta, `${K}pre`);
  const tokens = stringArray(meta, `${K}tokens`, true)!;
  const n = tokens.length;
  if (n === 0) throw new LlmemError("FORMAT_ERROR", `metadata ${K}tokens is empty`, { key: `${K}tokens` });
  const scores = numberArray(meta, `${K}scores`, [Float32Array, Float64Array], "an array of f32", n);
  const types = numberArray(
    meta,
    `${K}token_type`,
    [Int32Array, Uint32Array, Int8Array, Uint8Array, Int16Array, Uint16Array],
    "an array of i32",
    n,
  );
  const merges = stringArray(meta, `${K}merges`, model === "gpt2");

  // llama.cpp makes these control tokens whatever the file says; so must we, or they would
  // be cut out of plain text as user-defined tokens.
  const tokenTypes = Int32Array.from(types ?? new Int32Array(n).fill(TokenType.NORMAL));
  const control = new Set(END_OF_GENERATION);
  for (const [keys, texts] of AUTO_DETECTED) {
    if (!keys.some((k) => meta.has(K + k))) for (const t of texts) control.add(t);
  }
  tokens.forEach((t, i) => {
    if (control.has(t)) tokenTypes[i] = TokenType.CONTROL;
  });

  // Per-model whitespace stripping around special tokens (llama.cpp sets it by name).
  const lstrip: number[] = [];
  const rstrip: number[] = [];
  const name = (optionalString(meta, "general.name") ?? "").toLowerCase();
  if (pre !== undefined && ["jina-v2-de", "jina-v2-es", "jina-v2-code"].some((p) => pre.includes(p))) {
    const mask = tokens.indexOf("<mask>");
    if (mask >= 0) lstrip.push(mask);
  } else if (name.includes("phi-3") || name.includes("phi3")) {
    const keep = new Set(["<unk>", "<s>", "<|endoftext|>"]);
    tokens.forEach((t, i) => {
      const type = tokenTypes[i];
      const special =
        type === TokenType.CONTROL || type === TokenType.USER_DEFINED || type === TokenType.UNKNOWN;
      if ((special || t === "</s>") && !keep.has(t)) rstrip.push(i);
    });
  }

  // Absent ids take llama.cpp's per-model defaults (when those exist in this vocabulary).
  const defaults = model === "llama" ? { bos: 1, eos: 2, unk: 0 } : { bos: 11, eos: 11, unk: undefined };
  // (0xFFFFFFFF, "none", also keeps the default, as llama.cpp keeps it for any bad id.)
  const orDefault = (id: number | undefined, d: number | undefined) =>
    id ?? (d !== undefined && d < n ? d : undefined);
  const bosKey = `${K}bos_token_id`;
  const eosKey = `${K}eos_token_id`;
  const unkKey = `${K}unknown_token_id`;
  return {
    model,
    pre: model === "gpt2" ? pre : undefined,
    tokens,
    scores,
    tokenTypes,
    merges,
    bos: orDefault(tokenId(meta, bosKey, n), defaults.bos),
    eos: orDefault(tokenId(meta, eosKey, n), defaults.eos),
    unk: orDefault(tokenId(meta, unkKey, n), defaults.unk),
    pad: tokenId(meta, `${K}padding_token_id`, n),
    addBos: optionalBool(meta, `${K}add_bos_token`),
    addEos: optionalBool(meta, `${K}add_eos_token`),
    addSpacePrefix: optionalBool(meta, `${K}add_space_prefix`),
    lstrip,
    rstrip,
  };
}

/** The tokenizer GGUF metadata describes (e.g. `tokenizerFromGguf(openGguf(path).metadata)`). */
export function tokenizerFromGguf(meta: ReadonlyMap<string, unknown>): Tokenizer {
  return new Tokenizer(tokenizerSpecFromGguf(meta));
}
