/**
 * Chained block hashes: block i's hash covers its tokens, its extra keys and block i−1's hash,
 * so equal prefixes give equal leading hashes. A trailing partial block gets none.
 */
import { checkInt, LlmemError } from "@llmem/core";
import { nativeChain, nativeHash64, typedArrayKind } from "@llmem/native";
import {
  blockExtraWords,
  type ChainOptions,
  continuing,
  packExtras,
  readChainOptions,
} from "./block-keys.ts";
import { LITTLE_ENDIAN } from "./endian.ts";
import { type BlockExtraKeys, encodeExtraKeys } from "./extra-keys.ts";
import { lh64Block, lh64Chain } from "./lh64.ts";
import { checkParent, type HashMode, modeOf, ROOT_HASH } from "./mode.ts";

/** Calls below this many token words stay in TS: the FFI call costs more than it saves. */
export const NATIVE_MIN_WORDS = 64;

import { secureChain } from "./secure.ts";
import { toTokenWords } from "./tokens.ts";

const MAX_BLOCK_SIZE = 1 << 20;

/** A list of chained hashes: fast mode's `BigUint64Array`, or bigints (secure mode, PrefixHasher). */
export type HashList = BigUint64Array | readonly bigint[];

/** hashChain's options: the chain keys, and `parent` to continue a chain from that hash. */
export type HashChainOptions = ChainOptions & { parent?: bigint };

/**
 * Hash words (lo, hi u32 per hash) as 64-bit hashes. On a little-endian host each pair already
 * is a u64 in memory, so the result is a view over the same buffer: no bigint is created until
 * an element is read. A big-endian host (or an unaligned view) builds each element instead.
 */
export function wordsToHashes(words: Uint32Array, littleEndian = LITTLE_ENDIAN): BigUint64Array {
  const n = words.length >>> 1;
  if (littleEndian && words.byteOffset % 8 === 0)
    return new BigUint64Array(words.buffer, words.byteOffset, n);
  const out = new BigUint64Array(n);
  for (let i = 0; i < n; i++) out[i] = (BigInt(words[2 * i + 1]!) << 32n) | BigInt(words[2 * i]!);
  return out;
}

/**
 * The fast chain as raw 64-bit words: out[2i], out[2i+1] = low, high half of block i's hash.
 * No bigint is created, for engines that keep hashes in typed arrays.
 */
export function hashChainWords(
  tokens: ArrayLike<number>,
  blockSize: number,
  chainOptions?: HashChainOptions,
): Uint32Array {
  checkInt("blockSize", blockSize, 1, MAX_BLOCK_SIZE);
  const options = readChainOptions(chainOptions);
  if (modeOf(options) !== "fast") {
    throw new LlmemError("INVALID_ARGUMENT", "hashChainWords is for fast mode; use hashChain", {
      argument: "mode",
    });
  }
  const parent = checkParent(options?.parent ?? ROOT_HASH, "fast");
  const words = toTokenWords("tokens", tokens);
  const blocks = Math.floor(words.length / blockSize);
  const out = new Uint32Array(2 * blocks);
  fastChainInto(words, blockSize, blocks, 0, continuing(options), parent, out);
  return out;
}

/**
 * Internal, inputs already validated: fastChainInto with the hashes stored at hashes[at...]:
 * on a little-endian host the chain writes straight into their memory, else each is built.
 */
export function fastChainIntoHashes(
  words: Uint32Array,
  blockSize: number,
  blocks: number,
  first: number,
  keys: ChainOptions | undefined,
  parent: bigint,
  hashes: BigUint64Array,
  at: number,
  littleEndian = LITTLE_ENDIAN,
): void {
  if (littleEndian) {
    const out = new Uint32Array(hashes.buffer, hashes.byteOffset + 8 * at, 2 * blocks);
    fastChainInto(words, blockSize, blocks, first, keys, parent, out);
    return;
  }
  const out = new Uint32Array(2 * blocks);
  fastChainInto(words, blockSize, blocks, first, keys, parent, out);
  hashes.set(wordsToHashes(out, false), at);
}

/**
 * Internal, inputs already validated: the fast chain over `blocks` blocks of `words` into out
 * (2 words per block); the first is block `first` of its sequence (which extra keys it takes).
 */
export function fastChainInto(
  words: Uint32Array,
  blockSize: number,
  blocks: number,
  first: number,
  keys: ChainOptions | undefined,
  parent: bigint,
  out: Uint32Array,
): void {
  const { extra, offsets } = packExtras(keys, blocks, blockSize, first);
  if (
    blocks * blockSize < NATIVE_MIN_WORDS ||
    !nativeChain(words, blockSize, blocks, extra, offsets, parent, out)
  ) {
    lh64Chain(
      words,
      blockSize,
      blocks,
      extra,
      offsets,
      Number(parent & 0xffffffffn),
      Number(parent >> 32n),
      out,
    );
  }
}

/**
 * One hash per full block of `blockSize` tokens, chained from `options.parent` (default the root).
 * `fast` mode gives a `BigUint64Array` (a view over the chain's output, no bigint per block),
 * `secure` mode a `bigint[]` of 256-bit hashes.
 */
export function hashChain(
  tokens: ArrayLike<number>,
  blockSize: number,
  options?: HashChainOptions & { mode?: "fast" },
): BigUint64Array;
export function hashChain(
  tokens: ArrayLike<number>,
  blockSize: number,
  options: HashChainOptions & { mode: "secure" },
): bigint[];
export function hashChain(
  tokens: ArrayLike<number>,
  blockSize: number,
  options?: HashChainOptions,
): BigUint64Array | bigint[];
export function hashChain(
  tokens: ArrayLike<number>,
  blockSize: number,
  chainOptions?: HashChainOptions,
): BigUint64Array | bigint[] {
  const options = readChainOptions(chainOptions);
  if (modeOf(options) === "fast") return wordsToHashes(hashChainWords(tokens, blockSize, options));
  checkInt("blockSize", blockSize, 1, MAX_BLOCK_SIZE);
  const parent = checkParent(options?.parent ?? ROOT_HASH, "secure");
  const words = toTokenWords("tokens", tokens);
  const keys = continuing(options);
  const blocks = Math.floor(words.length / blockSize);
  return secureChain(parent, words, 0, blockSize, blocks, (i) => blockExtraWords(keys, i, blockSize));
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
  if (mode === "secure") return secureChain(parent, tokens, at, count, 1, () => extra)[0]!;
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

/**
 * One block's hash from its token ids and its canonical extra-key words (what a prefix cache
 * stores with a block: `PrefixHasher.extraWords`), chained to `parent`: how a stored block's
 * hash is recomputed to check it.
 */
export function blockHashFromWords(
  parent: bigint,
  tokens: Uint32Array,
  extraWords: Uint32Array | null,
  mode: HashMode = "fast",
): bigint {
  const m = modeOf({ mode });
  checkParent(parent, m);
  if (
    typedArrayKind(tokens) !== "Uint32Array" ||
    (extraWords !== null && typedArrayKind(extraWords) !== "Uint32Array")
  ) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      "tokens and extraWords must be Uint32Arrays (extraWords may be null)",
      {
        argument: "tokens",
      },
    );
  }
  const words = toTokenWords("tokens", tokens);
  const extra = extraWords === null ? null : toTokenWords("extraWords", extraWords);
  return hashBlockWords(m, parent, words, 0, words.length, extra);
}

/** LH64 of a whole token/word array in one call (the bulk baseline the chain is measured against). */
export function hashWords(words: ArrayLike<number>): bigint {
  const w = toTokenWords("words", words); // its length, not the argument's (read once, checked)
  return hashBlockWords("fast", 0n, w, 0, w.length, null);
}

/** A hash as fixed-width lowercase hex: 16 digits in fast mode, 64 in secure mode (for logs and keys). */
export function formatHash(hash: bigint, mode: HashMode = "fast"): string {
  const m = modeOf({ mode });
  return checkParent(hash, m)
    .toString(16)
    .padStart(m === "fast" ? 16 : 64, "0");
}
