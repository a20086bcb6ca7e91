/**
 * Chained block hashes: block i's hash covers its tokens, its extra keys and block i−1's hash,
 * so equal prefixes give equal leading hashes. A trailing partial block gets none.
 */
import { checkInt, LlmemError } from "@llmem/core";
import { type BlockExtraKeys, encodeExtraKeys, type KeyBytes, type MultimodalItem } from "./extra-keys.ts";
import { lh64Block, lh64Chain } from "./fast.ts";
import { NATIVE_MIN_WORDS, nativeChain, nativeHash64 } from "./native.ts";
import { digestToBigint, parentToBytes, SECURE_MAX, secureBlock } from "./secure.ts";
import { toTokenWords } from "./tokens.ts";

/** `fast`: 64-bit LH64 (native when available, bit-identical TS otherwise). `secure`: SHA-256. */
export type HashMode = "fast" | "secure";

/** The hash of a chain's (virtual) block −1. */
export const ROOT_HASH = 0n;

export interface ChainOptions {
  mode?: HashMode;
  /** LoRA adapter id: part of every block's key. */
  lora?: string | number;
  /** Per-tenant cache salt: part of the first block's key (and so of every later hash). */
  salt?: KeyBytes;
  /** Multimodal items; a block's key includes the hash of every item overlapping its tokens. */
  multimodal?: readonly MultimodalItem[];
  /** Further keys for every block. */
  custom?: readonly KeyBytes[];
}

const MAX_BLOCK_SIZE = 1 << 20;
const FAST_MAX = (1n << 64n) - 1n;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function modeOf(options: { mode?: HashMode } | undefined): HashMode {
  const mode = options?.mode ?? "fast";
  if (mode !== "fast" && mode !== "secure") {
    throw new LlmemError("INVALID_ARGUMENT", `mode must be "fast" or "secure", got ${String(mode)}`, {
      argument: "mode",
    });
  }
  return mode;
}

export function checkParent(parent: unknown, mode: HashMode): bigint {
  const max = mode === "fast" ? FAST_MAX : SECURE_MAX;
  if (typeof parent !== "bigint" || parent < 0n || parent > max) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `parent must be a bigint in [0, 2^${mode === "fast" ? 64 : 256}) for ${mode} mode, got ${String(parent)}`,
      { argument: "parent" },
    );
  }
  return parent;
}

/** Extra-key words of block `index` (blocks of `blockSize` tokens from the sequence start). */
export function blockExtraWords(
  options: ChainOptions | undefined,
  index: number,
  blockSize: number,
): Uint32Array | null {
  if (options === undefined) return null;
  const { lora, salt, multimodal, custom } = options;
  if (lora === undefined && salt === undefined && multimodal === undefined && custom === undefined)
    return null;
  const keys: BlockExtraKeys = {};
  if (lora !== undefined) keys.lora = lora;
  if (salt !== undefined && index === 0) keys.salt = salt;
  if (custom !== undefined) keys.custom = custom;
  if (multimodal !== undefined) {
    const lo = index * blockSize;
    const hi = lo + blockSize;
    const hits: KeyBytes[] = [];
    for (const item of multimodal) {
      if (item.offset < hi && item.offset + item.length > lo) hits.push(item.hash);
    }
    if (hits.length > 0) keys.multimodal = hits;
  }
  return encodeExtraKeys(keys);
}

function checkMultimodal(options: ChainOptions | undefined): void {
  for (const [i, item] of (options?.multimodal ?? []).entries()) {
    checkInt(`multimodal[${i}].offset`, item?.offset, 0, Number.MAX_SAFE_INTEGER);
    checkInt(`multimodal[${i}].length`, item?.length, 1, Number.MAX_SAFE_INTEGER);
  }
}

/** Per-block extras packed for the native chain: words plus offsets, or nulls when there are none. */
function packExtras(
  options: ChainOptions | undefined,
  blocks: number,
  blockSize: number,
): { extra: Uint32Array | null; offsets: Uint32Array | null } {
  if (
    options === undefined ||
    (options.lora === undefined &&
      options.salt === undefined &&
      options.multimodal === undefined &&
      options.custom === undefined)
  ) {
    return { extra: null, offsets: null };
  }
  const parts: (Uint32Array | null)[] = [];
  const offsets = new Uint32Array(blocks + 1);
  let total = 0;
  // Blocks without salt or multimodal items share one encoding.
  const plain = blockExtraWords({ ...options, salt: undefined, multimodal: undefined }, 1, blockSize);
  for (let i = 0; i < blocks; i++) {
    const special = (i === 0 && options.salt !== undefined) || options.multimodal !== undefined;
    const words = special ? blockExtraWords(options, i, blockSize) : plain;
    parts.push(words);
    offsets[i] = total;
    total += words === null ? 0 : words.length;
  }
  offsets[blocks] = total;
  const extra = new Uint32Array(total);
  for (let i = 0; i < blocks; i++) {
    const w = parts[i];
    if (w) extra.set(w, offsets[i]!);
  }
  return { extra, offsets };
}

/** A chain continued from `parent` is not a sequence's start: its first block takes no salt. */
function continuing(options: (ChainOptions & { parent?: bigint }) | undefined): ChainOptions | undefined {
  return options?.parent !== undefined && options.salt !== undefined
    ? { ...options, salt: undefined }
    : options;
}

/** Hash pairs (lo, hi u32) → bigints. */
function pairsToBigints(words: Uint32Array, n: number): bigint[] {
  const out = new Array<bigint>(n);
  if (LITTLE_ENDIAN && words.byteOffset % 8 === 0) {
    const u64 = new BigUint64Array(words.buffer, words.byteOffset, n);
    for (let i = 0; i < n; i++) out[i] = u64[i]!;
  } else {
    for (let i = 0; i < n; i++) out[i] = (BigInt(words[2 * i + 1]!) << 32n) | BigInt(words[2 * i]!);
  }
  return out;
}

/**
 * The fast chain as raw 64-bit words: out[2i], out[2i+1] = low, high half of block i's hash.
 * No bigint is created, for engines that keep hashes in typed arrays.
 */
export function hashChainWords(
  tokens: ArrayLike<number>,
  blockSize: number,
  options?: ChainOptions & { parent?: bigint },
): Uint32Array {
  checkInt("blockSize", blockSize, 1, MAX_BLOCK_SIZE);
  if (modeOf(options) !== "fast") {
    throw new LlmemError("INVALID_ARGUMENT", "hashChainWords is for fast mode; use hashChain", {
      argument: "mode",
    });
  }
  checkMultimodal(options);
  const parent = checkParent(options?.parent ?? ROOT_HASH, "fast");
  const words = toTokenWords("tokens", tokens);
  const blocks = Math.floor(words.length / blockSize);
  const out = new Uint32Array(2 * blocks);
  const { extra, offsets } = packExtras(continuing(options), blocks, blockSize);
  const lo = Number(parent & 0xffffffffn);
  const hi = Number(parent >> 32n);
  if (
    blocks * blockSize < NATIVE_MIN_WORDS ||
    !nativeChain(words, blockSize, blocks, extra, offsets, parent, out)
  ) {
    lh64Chain(words, blockSize, blocks, extra, offsets, lo, hi, out);
  }
  return out;
}

/** One hash per full block of `blockSize` tokens, chained from `options.parent` (default the root). */
export function hashChain(
  tokens: ArrayLike<number>,
  blockSize: number,
  options?: ChainOptions & { parent?: bigint },
): bigint[] {
  if (modeOf(options) === "fast") {
    const words = hashChainWords(tokens, blockSize, options);
    return pairsToBigints(words, words.length / 2);
  }
  checkInt("blockSize", blockSize, 1, MAX_BLOCK_SIZE);
  checkMultimodal(options);
  let parent: Uint8Array = new Uint8Array(32);
  parentToBytes(checkParent(options?.parent ?? ROOT_HASH, "secure"), parent, 0);
  const words = toTokenWords("tokens", tokens);
  const blocks = Math.floor(words.length / blockSize);
  const out = new Array<bigint>(blocks);
  const keys = continuing(options);
  for (let i = 0; i < blocks; i++) {
    parent = secureBlock(parent, words, i * blockSize, blockSize, blockExtraWords(keys, i, blockSize));
    out[i] = digestToBigint(parent);
  }
  return out;
}

/** Internal: one block's hash from already-validated words and extra words. */
export function hashBlockWords(
  mode: HashMode,
  parent: bigint,
  tokens: Uint32Array,
  at: number,
  count: number,
  extra: Uint32Array | null,
): bigint {
  if (mode === "secure") {
    const p = new Uint8Array(32);
    parentToBytes(parent, p, 0);
    return digestToBigint(secureBlock(p, tokens, at, count, extra));
  }
  if (count >= NATIVE_MIN_WORDS) {
    const h = nativeHash64(tokens.subarray(at, at + count), extra, parent);
    if (h !== null) return h;
  }
  const out = new Uint32Array(2);
  lh64Block(tokens, at, count, extra, Number(parent & 0xffffffffn), Number(parent >> 32n), out, 0);
  return (BigInt(out[1]!) << 32n) | BigInt(out[0]!);
}

/** The hash of one block chained to `parent` (ROOT_HASH for a first block). */
export function blockHash(
  parent: bigint,
  tokens: ArrayLike<number>,
  extraKeys?: BlockExtraKeys,
  mode: HashMode = "fast",
): bigint {
  const m = modeOf({ mode });
  checkParent(parent, m);
  const words = toTokenWords("tokens", tokens);
  return hashBlockWords(m, parent, words, 0, words.length, encodeExtraKeys(extraKeys));
}

/** LH64 of a whole token/word array in one call (the bulk baseline the chain is measured against). */
export function hashWords(words: ArrayLike<number>): bigint {
  return hashBlockWords("fast", 0n, toTokenWords("words", words), 0, words.length, null);
}
