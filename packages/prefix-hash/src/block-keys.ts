/**
 * Which extra keys each block of a sequence takes (LoRA and custom keys every block, the salt the
 * first, multimodal hashes the blocks their placeholders overlap), as canonical words.
 */
import { checkInt } from "@llmem/core";
import { type BlockExtraKeys, encodeExtraKeys, type KeyBytes, type MultimodalItem } from "./extra-keys.ts";

import type { HashMode } from "./mode.ts";

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

export function checkMultimodal(options: ChainOptions | undefined): void {
  for (const [i, item] of (options?.multimodal ?? []).entries()) {
    checkInt(`multimodal[${i}].offset`, item?.offset, 0, Number.MAX_SAFE_INTEGER);
    checkInt(`multimodal[${i}].length`, item?.length, 1, Number.MAX_SAFE_INTEGER);
  }
}

/**
 * Per-block extras packed for the native chain: words plus offsets, or nulls when there are none.
 * The first block packed is block `first` of its sequence.
 */
export function packExtras(
  options: ChainOptions | undefined,
  blocks: number,
  blockSize: number,
  first = 0,
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
    const index = first + i;
    const special = (index === 0 && options.salt !== undefined) || options.multimodal !== undefined;
    const words = special ? blockExtraWords(options, index, blockSize) : plain;
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
export function continuing(
  options: (ChainOptions & { parent?: bigint }) | undefined,
): ChainOptions | undefined {
  return options?.parent !== undefined && options.salt !== undefined
    ? { ...options, salt: undefined }
    : options;
}
