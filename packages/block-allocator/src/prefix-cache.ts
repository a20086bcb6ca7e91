/**
 * The prefix cache over a BlockAllocator's hash index, as vLLM's BlockPool: `findCachedPrefix`
 * measures the longest verified run of cached blocks for a prompt (and how many of them are
 * soft-free, so taking them costs free blocks), `acquireCachedPrefix` takes that run, and
 * `commitFullBlocks` registers a sequence's newly full blocks. A hit must hold the prompt's
 * tokens and extra keys and follow the block matched before it, unchanged since (same
 * generation), so a hash collision can never splice foreign KV into a sequence.
 *
 * Hashing is the caller's (e.g. @llmem/prefix-hash's PrefixHasher): this module only needs one
 * hash per full block, the token ids and each block's extra-key words.
 */
import { checkInt, LlmemError } from "@llmem/core";
import type { BlockAllocator, BlockHash } from "./allocator.ts";

/** What identifies a sequence's full blocks. */
export interface PrefixKeys {
  /** Tokens per block. */
  readonly blockSize: number;
  /** The chained hash of each full block, in order. */
  readonly hashes: ArrayLike<BlockHash>;
  /** Token ids: at least blockSize per hash. */
  readonly tokens: ArrayLike<number>;
  /** Canonical extra-key words of block `i` (salt, LoRA, multimodal), or null; default none. */
  extra?(block: number): Uint32Array | null;
}

/** The longest verified cached run for a prompt, before taking it. */
export interface CachedPrefix {
  /** Leading full blocks found in the cache. */
  readonly blocks: number;
  /** How many of them are soft-free: taking them removes that many blocks from the free count. */
  readonly evictable: number;
}

const NONE = -1;

/** `limit` (named `name`) full blocks of `keys` are used: each needs a hash and its tokens. */
function checkKeys(keys: PrefixKeys, limit: number, name = "limit"): void {
  if (typeof keys !== "object" || keys === null) {
    throw new LlmemError("INVALID_ARGUMENT", "keys must be an object with blockSize, hashes and tokens", {
      argument: "keys",
    });
  }
  const bs = checkInt("keys.blockSize", keys.blockSize, 1, 1 << 20);
  const hashes = keys.hashes?.length;
  checkInt(name, limit, 0, typeof hashes === "number" ? hashes : 0);
  const tokens = keys.tokens?.length;
  if (typeof tokens !== "number" || tokens < limit * bs) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `keys.tokens must hold at least ${limit * bs} token ids (${limit} blocks of ${bs}), got ${tokens}`,
      { argument: "keys.tokens", expected: limit * bs },
    );
  }
}

function sameWords(a: Uint32Array | null, b: Uint32Array | null): boolean {
  const n = a === null ? 0 : a.length;
  if (n !== (b === null ? 0 : b.length)) return false;
  for (let i = 0; i < n; i++) if (a![i] !== b![i]) return false;
  return true;
}

/** Whether `block` holds full block `i` of `keys`, registered after `parent` as it is now. */
function holds(
  allocator: BlockAllocator,
  keys: PrefixKeys,
  i: number,
  parent: number,
  block: number,
): boolean {
  const c = allocator.contentOfBlock(block);
  const bs = keys.blockSize;
  if (c === undefined || c.tokens.length !== bs || c.parent !== parent) return false;
  if (parent !== NONE && c.parentGeneration !== allocator.generation(parent)) return false;
  const at = i * bs;
  for (let j = 0; j < bs; j++) if (c.tokens[j] !== keys.tokens[at + j]) return false;
  return sameWords(c.extra, keys.extra?.(i) ?? null);
}

/**
 * The longest verified run of cached blocks among the first `limit` full blocks of `keys`,
 * without taking anything or counting hits: what admission checks before committing.
 */
export function findCachedPrefix(
  allocator: BlockAllocator,
  keys: PrefixKeys,
  limit: number = keys?.hashes?.length ?? 0,
): CachedPrefix {
  checkKeys(keys, limit);
  let parent = NONE;
  let evictable = 0;
  let i = 0;
  for (; i < limit; i++) {
    const b = allocator.peekHash(keys.hashes[i]!);
    if (b === null || !holds(allocator, keys, i, parent, b)) break;
    if (allocator.refCount(b) === 0) evictable++;
    parent = b;
  }
  return { blocks: i, evictable };
}

/**
 * Takes the longest verified run of cached blocks among the first `limit` full blocks (one
 * reference each: live blocks are shared, soft-free ones resurrected) and returns their ids.
 * A failure midway (REFCOUNT_OVERFLOW) gives back what was taken.
 */
export function acquireCachedPrefix(
  allocator: BlockAllocator,
  keys: PrefixKeys,
  limit: number = keys?.hashes?.length ?? 0,
): number[] {
  checkKeys(keys, limit);
  const blocks: number[] = [];
  for (let i = 0; i < limit; i++) {
    const parent = i === 0 ? NONE : blocks[i - 1]!;
    let b: number | null;
    try {
      b = allocator.tryAcquireByHash(keys.hashes[i]!, (found) => holds(allocator, keys, i, parent, found));
    } catch (e) {
      allocator.free(blocks.reverse());
      throw e;
    }
    if (b === null) break;
    blocks.push(b);
  }
  return blocks;
}

/**
 * Registers full blocks `first … first + blocks.length − 1` of `keys`, held in the live blocks
 * `blocks`, after `parent` (the live block holding block first − 1, or −1 when first is 0).
 * A hash some block already holds keeps its holder (it may be shared already), and the blocks
 * after it are not registered either: their parent link would not verify from that holder.
 * Returns how many leading blocks of `blocks` are registered now (adopted ones included).
 */
export function commitFullBlocks(
  allocator: BlockAllocator,
  keys: PrefixKeys,
  blocks: ArrayLike<number>,
  first: number,
  parent: number,
): number {
  const n = blocks?.length;
  if (typeof n !== "number") {
    throw new LlmemError("INVALID_ARGUMENT", "blocks must be an array of block ids", { argument: "blocks" });
  }
  checkInt("first", first, 0, 2 ** 31);
  checkKeys(keys, first + n, "first + blocks.length");
  if ((first === 0) !== (parent === NONE)) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `parent must be -1 exactly when first is 0 (first=${first}, parent=${parent})`,
      {
        argument: "parent",
      },
    );
  }
  if (parent !== NONE && allocator.refCount(parent) === 0) {
    throw new LlmemError("BLOCK_NOT_LIVE", `parent: block ${parent} is free, not held`, {
      argument: "parent",
      block: parent,
    });
  }
  for (let j = 0; j < n; j++) {
    if (allocator.refCount(blocks[j]!) === 0) {
      throw new LlmemError("BLOCK_NOT_LIVE", `blocks[${j}] = ${blocks[j]} is free, not held`, {
        argument: "blocks",
        block: blocks[j],
      });
    }
  }
  const bs = keys.blockSize;
  let prev = parent;
  let j = 0;
  for (; j < n; j++) {
    const i = first + j;
    const b = blocks[j]!;
    const hash = keys.hashes[i]!;
    const holder = allocator.peekHash(hash);
    if (holder === b) {
      prev = b;
      continue; // adopted from the cache: registered already
    }
    if (holder !== null) break;
    const tokens = new Uint32Array(bs);
    for (let t = 0; t < bs; t++) tokens[t] = keys.tokens[i * bs + t]!;
    allocator.registerBlockHash(b, hash, { tokens, extra: keys.extra?.(i) ?? null, parent: prev });
    prev = b;
  }
  return j;
}
