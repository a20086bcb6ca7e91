/**
 * The prefix cache's two halves: `registerPrefix` tags a sequence's full blocks with their hashes
 * and content after their KV is written; `matchPrefix` finds and takes the longest cached run for
 * a new prompt. With verification a hit must also hold the same tokens and extra keys and follow
 * the block already matched before it, unchanged since (same generation), so a hash collision can
 * never splice foreign KV into a sequence.
 */
import type { BlockAllocator } from "@llmem/block-allocator";
import { checkInt, LlmemError } from "@llmem/core";
import { blockExtraWords, type ChainOptions } from "./block-keys.ts";
import { type HashList, hashChain } from "./chain.ts";
import { modeOf } from "./mode.ts";
import { toTokenWords } from "./tokens.ts";

export interface MatchOptions extends ChainOptions {
  /** Confirm every hit against the block's stored content (default true, in both modes). */
  verify?: boolean;
  /**
   * The prompt's hashes if already computed (hashChain with the same options, or a
   * PrefixHasher's `hashes`): a `BigUint64Array` or bigints in fast mode, bigints in secure mode.
   */
  hashes?: HashList;
  /**
   * Leave at least one prompt token uncovered (default true) so the engine still runs a forward
   * pass and gets logits; a fully cached prompt then matches all but its last block.
   */
  keepLast?: boolean;
}

export interface PrefixMatch {
  /** The matched blocks, in order, each with one reference taken for the caller. */
  blocks: number[];
  /** Tokens they cover (blocks.length · blockSize): prefill starts here. */
  tokenCount: number;
  /**
   * Hashes of every full block of the prompt (reuse them for registerPrefix): hashChain's
   * result (`BigUint64Array` in fast mode, `bigint[]` in secure mode), or a copy of `options.hashes`.
   */
  hashes: HashList;
}

function sameWords(a: Uint32Array | null, b: Uint32Array | null): boolean {
  const n = a === null ? 0 : a.length;
  if (n !== (b === null ? 0 : b.length)) return false;
  for (let i = 0; i < n; i++) if (a![i] !== b![i]) return false;
  return true;
}

function checkHashes(
  hashes: HashList | undefined,
  expected: number,
  options: ChainOptions | undefined,
): void {
  if (hashes === undefined) return;
  const typed = hashes instanceof BigUint64Array;
  const list = typed || Array.isArray(hashes);
  if (!list || hashes.length !== expected) {
    const got = list
      ? `length ${hashes.length}`
      : String((hashes as object | null)?.constructor?.name ?? hashes);
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `hashes must be a BigUint64Array or an array holding one hash per full block (${expected}), got ${got}`,
      { argument: "hashes", expected },
    );
  }
  if (typed && modeOf(options) === "secure") {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      'hashes: a BigUint64Array holds 64-bit fast-mode hashes; secure mode takes the bigint[] of hashChain(..., { mode: "secure" })',
      { argument: "hashes" },
    );
  }
}

/** A snapshot of the caller's list (a PrefixHasher's keeps growing), of the same kind. */
function copyHashes(hashes: HashList): HashList {
  return hashes instanceof BigUint64Array ? hashes.slice() : [...hashes];
}

/** The longest run of cached blocks for `tokens`, acquired. */
export function matchPrefix(
  allocator: BlockAllocator,
  tokens: ArrayLike<number>,
  blockSize: number,
  options?: MatchOptions,
): PrefixMatch {
  checkInt("blockSize", blockSize, 1, 1 << 20);
  const words = toTokenWords("tokens", tokens);
  const full = Math.floor(words.length / blockSize);
  checkHashes(options?.hashes, full, options);
  const hashes = options?.hashes ? copyHashes(options.hashes) : hashChain(words, blockSize, options);
  const verify = options?.verify ?? true;
  const limit = (options?.keepLast ?? true) ? Math.floor(Math.max(0, words.length - 1) / blockSize) : full;
  const blocks: number[] = [];
  for (let i = 0; i < limit; i++) {
    const at = i * blockSize;
    const parent = i === 0 ? -1 : blocks[i - 1]!;
    const accept = verify
      ? (b: number) => {
          const c = allocator.contentOfBlock(b);
          if (c === undefined || c.tokens.length !== blockSize || c.parent !== parent) return false;
          if (parent !== -1 && c.parentGeneration !== allocator.generation(parent)) return false;
          for (let j = 0; j < blockSize; j++) if (c.tokens[j] !== words[at + j]) return false;
          return sameWords(c.extra, blockExtraWords(options, i, blockSize));
        }
      : undefined;
    let b: number | null;
    try {
      b = allocator.tryAcquireByHash(hashes[i]!, accept);
    } catch (e) {
      // e.g. REFCOUNT_OVERFLOW: give back what was taken, so a failed match takes nothing
      allocator.free(blocks.reverse());
      throw e;
    }
    if (b === null) break;
    blocks.push(b);
  }
  return { blocks, tokenCount: blocks.length * blockSize, hashes };
}

export interface RegisterOptions extends ChainOptions {
  /** The sequence's hashes if already computed (e.g. PrefixMatch.hashes), as in MatchOptions. */
  hashes?: HashList;
  /** First block to register (earlier ones, e.g. matched ones, are already registered). */
  fromBlock?: number;
}

/**
 * Registers every full block of a sequence (`blocks[i]` holds tokens [i·blockSize, (i+1)·blockSize))
 * under its chained hash, with its tokens, extra keys and parent block for verified matching.
 * Returns how many blocks were registered.
 */
export function registerPrefix(
  allocator: BlockAllocator,
  blocks: ArrayLike<number>,
  tokens: ArrayLike<number>,
  blockSize: number,
  options?: RegisterOptions,
): number {
  checkInt("blockSize", blockSize, 1, 1 << 20);
  const words = toTokenWords("tokens", tokens);
  const full = Math.min(Math.floor(words.length / blockSize), blocks.length);
  const all = Math.floor(words.length / blockSize);
  checkHashes(options?.hashes, all, options);
  const from = checkInt("fromBlock", options?.fromBlock ?? 0, 0, Math.max(full, 0));
  for (let i = from; i < full; i++) {
    if (allocator.refCount(blocks[i]!) === 0) {
      throw new LlmemError("BLOCK_NOT_LIVE", `blocks[${i}] = ${blocks[i]} is free, not held`, {
        argument: "blocks",
        block: blocks[i],
      });
    }
  }
  const hashes = options?.hashes ?? hashChain(words, blockSize, options);
  for (let i = from; i < full; i++) {
    const at = i * blockSize;
    allocator.registerBlockHash(blocks[i]!, hashes[i]!, {
      tokens: words.subarray(at, at + blockSize),
      extra: blockExtraWords(options, i, blockSize),
      parent: i === 0 ? -1 : blocks[i - 1]!,
    });
  }
  return full - from;
}
