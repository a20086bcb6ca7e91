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
import { checkInt, isDetachedView, LlmemError, typedArrayKind } from "@llmem/core";
import { BlockAllocator, type BlockHash } from "./allocator.ts";

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

/** `keys` read once and checked: every caller below uses only this copy. */
interface Keys {
  readonly blockSize: number;
  /** The first `limit` hashes, each a bigint or a string. */
  readonly hashes: BlockHash[];
  readonly tokens: ArrayLike<number>;
  /** Extra words of blocks [from, limit), each checked (index i - from). */
  readonly extras: (Uint32Array | null)[];
  readonly from: number;
}

/**
 * `limit` (named `name`) full blocks of `keys` are used: each needs a hash and its tokens. Every
 * field is read once here and each used hash checked, so nothing is taken or registered before
 * a bad key further on is found (a bad second hash made acquireCachedPrefix count a hit and
 * move a block in the LRU list before throwing).
 */
function readKeys(keys: PrefixKeys, limit: unknown, name = "limit", from = 0): Keys {
  if (typeof keys !== "object" || keys === null) {
    throw new LlmemError("INVALID_ARGUMENT", "keys must be an object with blockSize, hashes and tokens", {
      argument: "keys",
    });
  }
  const { blockSize, hashes, tokens, extra } = keys;
  const bs = checkInt("keys.blockSize", blockSize, 1, 1 << 20);
  const hashCount = typeof hashes === "object" && hashes !== null ? hashes.length : undefined;
  const n = checkInt(name, limit, 0, typeof hashCount === "number" ? Math.min(hashCount, 2 ** 31) : 0);
  const tokenCount = typeof tokens === "object" && tokens !== null ? tokens.length : undefined;
  if (typeof tokenCount !== "number" || !(tokenCount >= n * bs)) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `keys.tokens must hold at least ${n * bs} token ids (${n} blocks of ${bs}), got ${typeof tokenCount === "number" ? tokenCount : typeof tokens}`,
      { argument: "keys.tokens", expected: n * bs },
    );
  }
  if (extra !== undefined && typeof extra !== "function") {
    throw new LlmemError("INVALID_ARGUMENT", "keys.extra must be a function or undefined", {
      argument: "keys.extra",
    });
  }
  const copy = new Array<BlockHash>(n);
  for (let i = 0; i < n; i++) {
    const h = hashes[i];
    if (typeof h !== "bigint" && typeof h !== "string") {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `keys.hashes[${i}] must be a bigint or a string, got ${typeof h}`,
        {
          argument: "keys.hashes",
          index: i,
        },
      );
    }
    copy[i] = h;
  }
  // Asked for up front (not while taking blocks), so a bad answer for a later block is refused
  // before anything changed.
  const extras = new Array<Uint32Array | null>(Math.max(0, n - from));
  for (let i = from; i < n; i++) {
    const words = extra === undefined ? null : (extra.call(keys, i) ?? null);
    if (words !== null && (typedArrayKind(words) !== "Uint32Array" || isDetachedView(words))) {
      throw new LlmemError("INVALID_ARGUMENT", `keys.extra(${i}) must return a live Uint32Array or null`, {
        argument: "keys.extra",
        index: i,
      });
    }
    extras[i - from] = words;
  }
  return { blockSize: bs, hashes: copy, tokens, extras, from };
}

function sameWords(a: Uint32Array | null, b: Uint32Array | null): boolean {
  const n = a === null ? 0 : a.length;
  if (n !== (b === null ? 0 : b.length)) return false;
  for (let i = 0; i < n; i++) if (a![i] !== b![i]) return false;
  return true;
}

/** Whether `block` holds full block `i` of `keys`, registered after `parent` as it is now. */
function holds(allocator: BlockAllocator, keys: Keys, i: number, parent: number, block: number): boolean {
  const c = allocator.contentOfBlock(block);
  const bs = keys.blockSize;
  if (c === undefined || c.tokens.length !== bs || c.parent !== parent) return false;
  if (parent !== NONE && c.parentGeneration !== allocator.generation(parent)) return false;
  const at = i * bs;
  for (let j = 0; j < bs; j++) if (c.tokens[j] !== keys.tokens[at + j]) return false;
  return sameWords(c.extra, keys.extras[i - keys.from]!);
}

/**
 * The longest verified run of cached blocks among the first `limit` full blocks of `keys`,
 * without taking anything or counting hits: what admission checks before committing.
 */
export function findCachedPrefix(
  allocator: BlockAllocator,
  prefixKeys: PrefixKeys,
  limit: number = prefixKeys?.hashes?.length ?? 0,
): CachedPrefix {
  BlockAllocator.check("allocator", allocator);
  const keys = readKeys(prefixKeys, limit);
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
  prefixKeys: PrefixKeys,
  limit: number = prefixKeys?.hashes?.length ?? 0,
): number[] {
  BlockAllocator.check("allocator", allocator);
  const keys = readKeys(prefixKeys, limit);
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
  prefixKeys: PrefixKeys,
  blockList: ArrayLike<number>,
  first: number,
  parent: number,
): number {
  BlockAllocator.check("allocator", allocator);
  // Validate, then act: the ids, keys, tokens and extra words of every block are read once and
  // checked before the first registration (a bad hash, token or extra of a later block threw
  // after the earlier ones were registered).
  const blocks = allocator.idList(blockList, true);
  const n = blocks.length;
  checkInt("first", first, 0, 2 ** 31);
  const keys = readKeys(prefixKeys, first + n, "first + blocks.length", first);
  checkInt("parent", parent, NONE, allocator.capacity - 1);
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
  const bs = keys.blockSize;
  const rows = new Array<{ tokens: Uint32Array; extra: Uint32Array | null }>(n);
  for (let j = 0; j < n; j++) {
    const i = first + j;
    const tokens = new Uint32Array(bs);
    for (let t = 0; t < bs; t++) {
      const id = keys.tokens[i * bs + t];
      if (typeof id !== "number" || id >>> 0 !== id) {
        throw new LlmemError(
          "INVALID_ARGUMENT",
          `keys.tokens[${i * bs + t}] must be an integer in [0, 2^32), got ${typeof id === "number" ? id : typeof id}`,
          { argument: "keys.tokens", index: i * bs + t },
        );
      }
      tokens[t] = id;
    }
    rows[j] = { tokens, extra: keys.extras[j]! };
  }
  let prev = parent;
  let j = 0;
  for (; j < n; j++) {
    const b = blocks[j]!;
    const hash = keys.hashes[first + j]!;
    const holder = allocator.peekHash(hash);
    if (holder === b) {
      prev = b;
      continue; // adopted from the cache: registered already
    }
    if (holder !== null) break;
    allocator.registerBlockHash(b, hash, { ...rows[j]!, parent: prev });
    prev = b;
  }
  return j;
}
