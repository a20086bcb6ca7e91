/**
 * Which extra keys each block of a sequence takes (LoRA and custom keys every block, the salt the
 * first, multimodal hashes the blocks their placeholders overlap), as canonical words.
 */
import { checkInt, LlmemError } from "@llmem/core";
import {
  type BlockExtraKeys,
  encodeExtraKeys,
  type KeyBytes,
  keyBytes,
  keyList,
  loraBytes,
  type MultimodalItem,
} from "./extra-keys.ts";

import { type HashMode, modeOf } from "./mode.ts";

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

/**
 * `options` read once, every key checked and copied (a frozen snapshot): nothing a caller edits
 * afterwards, no getter and no bad key can make a later block hash with keys other than those
 * checked here, or throw after a hasher has taken tokens (a PrefixHasher built with salt 5 was
 * accepted, then threw at its first completed block and stayed broken). Undefined when there
 * are no options.
 */
export function readChainOptions<T extends ChainOptions & { parent?: bigint }>(
  options: T | undefined,
): (ChainOptions & { parent?: bigint }) | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== "object" || options === null) {
    throw new LlmemError("INVALID_ARGUMENT", "options must be an object or undefined", {
      argument: "options",
    });
  }
  const { mode, lora, salt, multimodal, custom, parent } = options;
  const out: ChainOptions & { parent?: bigint } = { mode: modeOf({ mode }) };
  if (parent !== undefined) out.parent = parent;
  if (lora !== undefined) {
    loraBytes(lora); // checked now, encoded per block
    out.lora = lora;
  }
  if (salt !== undefined) out.salt = keyBytes("salt", salt);
  if (custom !== undefined)
    out.custom = Object.freeze(keyList("custom", custom).map((c, i) => keyBytes(`custom[${i}]`, c)));
  if (multimodal !== undefined) {
    out.multimodal = Object.freeze(
      keyList("multimodal", multimodal).map((item, i) => {
        if (typeof item !== "object" || item === null) {
          throw new LlmemError("INVALID_ARGUMENT", `multimodal[${i}] must be { hash, offset, length }`, {
            argument: "multimodal",
          });
        }
        const { hash, offset, length } = item;
        return Object.freeze({
          hash: keyBytes(`multimodal[${i}].hash`, hash),
          offset: checkInt(`multimodal[${i}].offset`, offset, 0, Number.MAX_SAFE_INTEGER),
          length: checkInt(`multimodal[${i}].length`, length, 1, Number.MAX_SAFE_INTEGER),
        });
      }),
    );
  }
  return Object.freeze(out);
}

/**
 * Per-block extras packed for the native chain: words plus offsets, or nulls when there are none.
 * The first block packed is block `first` of its sequence. Most blocks take the same words
 * (LoRA and custom keys, or none): only a sequence's first block (the salt) and the blocks a
 * multimodal item overlaps are encoded one by one; the runs between them are filled by copying.
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
  const plain = blockExtraWords({ ...options, salt: undefined, multimodal: undefined }, 1, blockSize);
  const specials = specialBlocks(options, blocks, blockSize, first);
  const m = plain === null ? 0 : plain.length;
  const offsets = new Uint32Array(blocks + 1);
  let total = 0;
  for (let i = 0, k = 0; i < blocks; i++) {
    offsets[i] = total;
    if (k < specials.length && specials[k]!.block === i) total += specials[k++]!.words?.length ?? 0;
    else total += m;
  }
  offsets[blocks] = total;
  if (total === 0) return { extra: null, offsets: null }; // e.g. a salt, past the first block
  const extra = new Uint32Array(total);
  let from = 0; // the next block not yet written
  for (const { block, words } of [...specials, { block: blocks, words: null }]) {
    if (plain !== null) fillRepeated(extra, plain, offsets[from]!, offsets[block]!);
    if (words !== null && block < blocks) extra.set(words, offsets[block]!);
    from = block + 1;
  }
  return { extra, offsets };
}

/** The blocks (relative to `first`, ascending) whose keys are not the plain ones, with their words. */
function specialBlocks(
  options: ChainOptions,
  blocks: number,
  blockSize: number,
  first: number,
): { block: number; words: Uint32Array | null }[] {
  const indices = new Set<number>();
  if (first === 0 && options.salt !== undefined && blocks > 0) indices.add(0);
  for (const item of options.multimodal ?? []) {
    const lo = Math.max(first, Math.floor(item.offset / blockSize));
    const hi = Math.min(first + blocks, Math.ceil((item.offset + item.length) / blockSize));
    for (let b = lo; b < hi; b++) indices.add(b - first);
  }
  return [...indices]
    .sort((a, b) => a - b)
    .map((block) => ({ block, words: blockExtraWords(options, first + block, blockSize) }));
}

/** Fills out[from, to) with copies of `words` (to - from is a multiple of its length). */
function fillRepeated(out: Uint32Array, words: Uint32Array, from: number, to: number): void {
  if (to <= from) return;
  out.set(words, from);
  // double the filled span until it covers the range: O(log n) copies
  for (let done = words.length; from + done < to; done *= 2) {
    out.copyWithin(from + done, from, Math.min(from + 2 * done, to) - done);
  }
}

/** A chain continued from `parent` is not a sequence's start: its first block takes no salt. */
export function continuing(
  options: (ChainOptions & { parent?: bigint }) | undefined,
): ChainOptions | undefined {
  return options?.parent !== undefined && options.salt !== undefined
    ? { ...options, salt: undefined }
    : options;
}
