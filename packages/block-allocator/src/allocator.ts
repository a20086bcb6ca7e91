/**
 * Physical KV block ids with 16-bit reference counts and an O(1) prefix cache.
 *
 * Every free block sits in exactly one of three places, so every operation is O(1):
 * - the never-used tail `[fresh, capacity)` (a bump counter: a fresh pool yields 0, 1, 2, …),
 * - the clean list: freed blocks without cached content, LIFO so warm blocks are reused first,
 * - the cached list: soft-free blocks (ref 0, content and hash intact), in free order, so the
 *   least recently freed is evicted first and a hit unlinks its block in O(1).
 * Both lists are intrusive and doubly linked through prev/next links (-1 = none). A block's links,
 * state (ref count | where << 16 | key flags) and generation share one 16-byte record in `meta`,
 * so touching a block costs one cache line, and the hash table is a typed open-addressing index
 * (hash-index.ts) that keeps u64 keys as numbers: at a million blocks the costs are cache misses,
 * and this keeps them to a few per operation and holds no JS object per cached block.
 */
import {
  checkInt,
  checkSize,
  isDetachedView,
  LlmemError,
  PoolExhaustedError,
  typedArrayKind,
} from "@llmem/core";
import { HashIndex, MAX_INDEXED_BLOCKS } from "./hash-index.ts";

/** A prefix-cache key: the hashes of @llmem/prefix-hash are bigints; any bigint or string works. */
export type BlockHash = bigint | string;

/** What a cached block holds, kept so a hit can be verified against the caller's tokens. */
export interface BlockContent {
  /** The block's token ids (copied). */
  readonly tokens: Uint32Array;
  /** Canonical encoding of the block's extra keys (LoRA id, multimodal hashes, salt), or null. */
  readonly extra: Uint32Array | null;
  /** The block before it in its sequence, or -1 for a first block. */
  readonly parent: number;
  /** `generation(parent)` when this block was registered: a recycled parent no longer matches. */
  readonly parentGeneration: number;
}

export interface BlockContentInput {
  tokens: ArrayLike<number>;
  extra?: Uint32Array | null;
  parent?: number;
}

export interface AllocatorMetrics {
  capacity: number;
  inUse: number;
  free: number;
  peakInUse: number;
  /** inUse / capacity. */
  usage: number;
  /** Blocks with a registered hash (live or soft-free) = hashTableSize. */
  hashedBlocks: number;
  /** Soft-free blocks still holding cached content (evictable, resurrectable). */
  cachedBlocks: number;
  /** tryAcquireByHash calls that returned a block. */
  hits: number;
  /** tryAcquireByHash calls that returned null (including rejected verifications). */
  misses: number;
  /** Cached blocks recycled by allocate, losing their content. */
  evictions: number;
  /** hits / (hits + misses), 0 before any lookup. */
  hitRate: number;
}

const MAX_REF = 0xffff;
const U64_LIMIT = 1n << 64n;
/** Largest pool (2^26 − 1): the hash index keeps block ids in 26 bits. */
export const MAX_BLOCKS = MAX_INDEXED_BLOCKS;
const NONE = -1;
// Where a free block is, in STATE bits 16-17 (0 for a live block and a never-used one).
const CLEAN = 1;
const CACHED = 2;
// STATE flags, so freeing or recycling a block touches the side arrays only when they hold something.
const HASHED = 1 << 18; // registered in the index
const KEY_OBJECT = 1 << 19; // its key is not an exact u64: kept in keyOf for confirmation
const HAS_CONTENT = 1 << 20; // contentOf holds its tokens
const KEY_FLAGS = HASHED | KEY_OBJECT | HAS_CONTENT;
const REF_AND_WHERE = 0x3ffff;
// A block's record in `meta`: 4 int32 at 4·block.
const PREV = 0;
const NEXT = 1;
const STATE = 2; // ref count | where << 16 | KEY_FLAGS
const GEN = 3;

function checkHash(hash: unknown): BlockHash {
  if (typeof hash !== "bigint" && typeof hash !== "string") {
    throw new LlmemError("INVALID_ARGUMENT", `hash must be a bigint or a string, got ${typeof hash}`, {
      argument: "hash",
    });
  }
  return hash;
}

export class BlockAllocator {
  /** Only objects this constructor built have it: Object.create(BlockAllocator.prototype) does not. */
  readonly #real = true;
  readonly capacity: number;
  private readonly meta: Int32Array;
  private fresh = 0;
  private cleanHead = NONE;
  private cleanCount = 0;
  private cachedHead = NONE; // least recently freed: evicted first
  private cachedTail = NONE;
  private cachedCount = 0;
  private peak = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  /** Keys that are not exact u64 bigints (strings, wide bigints); exact ones live in the index. */
  private readonly keyOf: (BlockHash | undefined)[];
  private readonly contentOf: (BlockContent | undefined)[];
  private readonly index: HashIndex;
  /**
   * Called when `allocate` recycles a cached block, before its hash and content are erased and
   * before the caller gets it: the block's bytes are still intact, so a lower tier can keep a
   * copy (a host-RAM tier). It must not call back into the allocator.
   */
  onEvict: ((block: number, hash: BlockHash, content: BlockContent | undefined) => void) | null = null;

  constructor(numBlocks: number) {
    this.capacity = checkInt("numBlocks", numBlocks, 1, MAX_BLOCKS);
    this.meta = new Int32Array(4 * numBlocks);
    this.keyOf = new Array(numBlocks);
    this.contentOf = new Array(numBlocks);
    this.index = new HashIndex(numBlocks, (b) => this.keyOf[b]);
  }

  /**
   * Refuses anything but an allocator this class constructed (`instanceof` accepts an object
   * inheriting the prototype, whose calls would then throw TypeErrors on missing fields).
   * @internal
   */
  static check(name: string, allocator: unknown): BlockAllocator {
    if (typeof allocator !== "object" || allocator === null || !(#real in allocator)) {
      throw new LlmemError("INVALID_ARGUMENT", `${name} must be a BlockAllocator`, { argument: name });
    }
    return allocator as BlockAllocator;
  }

  /** Blocks that `allocate` can hand out (clean, never used, and evictable cached ones). */
  get freeCount(): number {
    return this.capacity - this.fresh + this.cleanCount + this.cachedCount;
  }

  get inUse(): number {
    return this.capacity - this.freeCount;
  }

  get peakInUse(): number {
    return this.peak;
  }

  /** Number of hash → block entries (live and soft-free blocks). */
  get hashTableSize(): number {
    return this.index.size;
  }

  /** One block with ref 1. Prefers clean blocks; evicts the least recently freed cached block last. */
  allocate(): number {
    if (this.freeCount === 0) {
      throw new PoolExhaustedError("KV block pool exhausted: requested 1 block, 0 free", 1, 0);
    }
    const b = this.take();
    this.notePeak();
    return b;
  }

  /** n blocks with ref 1 each; all or none (POOL_EXHAUSTED with requested/available otherwise). */
  allocateN(n: number): number[] {
    checkInt("n", n, 0, this.capacity);
    const available = this.freeCount;
    if (n > available) {
      throw new PoolExhaustedError(
        `KV block pool exhausted: requested ${n} blocks, ${available} free`,
        n,
        available,
      );
    }
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.take();
    this.notePeak();
    return out;
  }

  /** One more reference to a live block. */
  acquire(block: number): void {
    const b = this.checkLive("block", block);
    if ((this.meta[4 * b + STATE]! & 0xffff) === MAX_REF) throw this.overflow("block", b);
    this.meta[4 * b + STATE]!++;
  }

  /** One more reference to each block (a block may repeat); all or none. */
  acquireMany(list: ArrayLike<number>): void {
    const blocks = this.idList(list, true);
    const n = blocks.length;
    const m = this.meta;
    let i = 0;
    for (; i < n; i++) {
      const s = 4 * blocks[i]! + STATE;
      if ((m[s]! & 0xffff) === MAX_REF) break;
      m[s]!++;
    }
    if (i < n) {
      for (let j = 0; j < i; j++) m[4 * blocks[j]! + STATE]!--;
      throw this.overflow(`blocks[${i}]`, blocks[i]!);
    }
  }

  /**
   * Drops one reference from each block, in order; a block reaching 0 becomes free (soft-free,
   * still findable by hash, if it has one). All or none: a double free changes nothing.
   */
  free(list: ArrayLike<number>): void {
    const blocks = this.idList(list, false);
    const n = blocks.length;
    const m = this.meta;
    let i = 0;
    for (; i < n; i++) {
      const s = 4 * blocks[i]! + STATE;
      if ((m[s]! & 0xffff) === 0) break;
      m[s]!--;
    }
    if (i < n) {
      const b = blocks[i]!;
      for (let j = 0; j < i; j++) m[4 * blocks[j]! + STATE]!++;
      throw new LlmemError("DOUBLE_FREE", `blocks[${i}] = ${b} is already free`, { block: b, index: i });
    }
    for (let j = 0; j < n; j++) {
      const b = blocks[j]!;
      const state = m[4 * b + STATE]!;
      if ((state & REF_AND_WHERE) === 0) {
        // ref 0 but not yet on a list: it reached zero in this call (a repeated id only once)
        if (state & HASHED) this.pushCached(b);
        else this.pushClean(b);
      }
    }
  }

  refCount(block: number): number {
    return this.meta[4 * this.checkId("block", block) + STATE]! & 0xffff;
  }

  /** Bumped each time the block is handed out with new content (for verifying cached chains). */
  generation(block: number): number {
    return this.meta[4 * this.checkId("block", block) + GEN]! >>> 0;
  }

  /**
   * Tags a live block's content with `hash` (replacing its previous hash). `content` (tokens,
   * extra keys, parent block) is kept for verified lookups. If another block held the same
   * hash it loses it (last writer wins).
   */
  registerBlockHash(block: number, hash: BlockHash, content?: BlockContentInput): void {
    this.checkLive("block", block);
    checkHash(hash);
    const record = content === undefined ? undefined : this.makeContent(content);
    this.forget(block);
    const holder = this.index.get(hash);
    if (holder >= 0) this.forget(holder);
    this.index.add(hash, block);
    let flags = HASHED;
    if (typeof hash !== "bigint" || hash < 0n || hash >= U64_LIMIT) {
      flags |= KEY_OBJECT;
      this.keyOf[block] = hash;
    }
    if (record !== undefined) {
      flags |= HAS_CONTENT;
      this.contentOf[block] = record;
    }
    this.meta[4 * block + STATE]! |= flags;
  }

  /**
   * Before rewriting a live block's content in place (e.g. rolling back speculative tokens):
   * drops its hash and content, and bumps its generation so blocks registered after it no longer
   * verify as its successors.
   */
  clearBlockHash(block: number): void {
    const b = this.checkLive("block", block);
    this.forget(b);
    this.meta[4 * b + GEN] = (this.meta[4 * b + GEN]! + 1) | 0;
  }

  /** The block registered under `hash`, without taking it or counting a hit; null on a miss. */
  peekHash(hash: BlockHash): number | null {
    const b = this.index.get(checkHash(hash));
    return b < 0 ? null : b;
  }

  /**
   * Live block → one more reference; soft-free block → resurrected with ref 1; miss → null with no
   * side effects. `accept(block)` (optional) can reject a found block, e.g. after comparing its
   * stored tokens: a rejection counts as a miss and changes nothing.
   */
  tryAcquireByHash(hash: BlockHash, accept?: (block: number) => boolean): number | null {
    if (accept !== undefined && typeof accept !== "function") {
      throw new LlmemError("INVALID_ARGUMENT", "accept must be a function or undefined", {
        argument: "accept",
      });
    }
    const b = this.index.get(checkHash(hash));
    if (b < 0 || (accept !== undefined && !accept(b))) {
      this.misses++;
      return null;
    }
    const s = 4 * b + STATE;
    const state = this.meta[s]!;
    if (((state >>> 16) & 3) === CACHED) {
      this.unlinkCached(b);
      this.meta[s] = (state & KEY_FLAGS) | 1;
      this.notePeak();
    } else {
      if ((state & 0xffff) === MAX_REF) throw this.overflow("hash", b);
      this.meta[s] = state + 1;
    }
    this.hits++;
    return b;
  }

  /** The hash a block is registered under, if any. */
  hashOfBlock(block: number): BlockHash | undefined {
    const b = this.checkId("block", block);
    const state = this.meta[4 * b + STATE]!;
    if ((state & HASHED) === 0) return undefined;
    return state & KEY_OBJECT ? this.keyOf[b] : this.index.exactKeyOf(b);
  }

  /** What was registered with the block's hash (for verification), if anything. */
  contentOfBlock(block: number): BlockContent | undefined {
    const b = this.checkId("block", block);
    return this.meta[4 * b + STATE]! & HAS_CONTENT ? this.contentOf[b] : undefined;
  }

  metrics(): AllocatorMetrics {
    const lookups = this.hits + this.misses;
    const inUse = this.inUse;
    return {
      capacity: this.capacity,
      inUse,
      free: this.freeCount,
      peakInUse: this.peak,
      usage: inUse / this.capacity,
      hashedBlocks: this.index.size,
      cachedBlocks: this.cachedCount,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      hitRate: lookups === 0 ? 0 : this.hits / lookups,
    };
  }

  // ---- internals -------------------------------------------------------------------------

  private take(): number {
    const m = this.meta;
    let b: number;
    if (this.cleanHead !== NONE) {
      b = this.cleanHead;
      this.cleanHead = m[4 * b + NEXT]!;
      this.cleanCount--;
    } else if (this.fresh < this.capacity) {
      b = this.fresh++;
    } else {
      b = this.cachedHead;
      if (this.onEvict !== null) this.onEvict(b, this.hashOfBlock(b)!, this.contentOfBlock(b));
      this.unlinkCached(b);
      m[4 * b + STATE] = (m[4 * b + STATE]! & KEY_FLAGS) | 1;
      this.forget(b); // its content is about to be overwritten
      this.evictions++;
    }
    m[4 * b + STATE] = 1; // ref 1, live, no hash
    m[4 * b + GEN] = (m[4 * b + GEN]! + 1) | 0;
    return b;
  }

  private pushClean(b: number): void {
    const m = this.meta;
    m[4 * b + STATE] = CLEAN << 16;
    m[4 * b + NEXT] = this.cleanHead;
    this.cleanHead = b;
    this.cleanCount++;
  }

  private pushCached(b: number): void {
    const m = this.meta;
    m[4 * b + STATE] = (m[4 * b + STATE]! & KEY_FLAGS) | (CACHED << 16);
    m[4 * b + PREV] = this.cachedTail;
    m[4 * b + NEXT] = NONE;
    if (this.cachedTail === NONE) this.cachedHead = b;
    else m[4 * this.cachedTail + NEXT] = b;
    this.cachedTail = b;
    this.cachedCount++;
  }

  private unlinkCached(b: number): void {
    const m = this.meta;
    const p = m[4 * b + PREV]!;
    const n = m[4 * b + NEXT]!;
    if (p === NONE) this.cachedHead = n;
    else m[4 * p + NEXT] = n;
    if (n === NONE) this.cachedTail = p;
    else m[4 * n + PREV] = p;
    this.cachedCount--;
  }

  /** Drops a block's hash and content; a soft-free block becomes a clean one. */
  private forget(b: number): void {
    const state = this.meta[4 * b + STATE]!;
    if ((state & HASHED) === 0) return;
    this.index.removeBlock(b);
    if (state & KEY_OBJECT) this.keyOf[b] = undefined;
    if (state & HAS_CONTENT) this.contentOf[b] = undefined;
    this.meta[4 * b + STATE] = state & REF_AND_WHERE;
    if (((state >>> 16) & 3) === CACHED) {
      this.unlinkCached(b);
      this.pushClean(b);
    }
  }

  private makeContent(c: BlockContentInput): BlockContent {
    if (typeof c !== "object" || c === null || c.tokens === undefined) {
      throw new LlmemError("INVALID_ARGUMENT", "content must be an object with tokens", {
        argument: "content",
      });
    }
    const src = c.tokens;
    const len = typeof src === "object" && src !== null ? src.length : undefined;
    if (typeof len !== "number") {
      throw new LlmemError("INVALID_ARGUMENT", "content.tokens must be an array of token ids", {
        argument: "content.tokens",
      });
    }
    const n = checkSize("content.tokens.length", len, 2 ** 30);
    const tokens = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const t = src[i]!;
      // typeof first: `>>>` on a symbol or a bigint throws a TypeError, on an object runs its valueOf.
      if (typeof t !== "number" || t >>> 0 !== t) {
        throw new LlmemError(
          "INVALID_ARGUMENT",
          `content.tokens[${i}] must be an integer in [0, 2^32), got ${typeof t === "number" ? t : typeof t}`,
          { argument: "content.tokens", index: i },
        );
      }
      tokens[i] = t;
    }
    const parent = c.parent ?? NONE;
    if (parent !== NONE) this.checkLive("content.parent", parent);
    const extra = c.extra ?? null;
    // The engine's kind, not instanceof: an object inheriting Uint32Array.prototype passed
    // instanceof and then threw a TypeError in slice(), as did a detached array.
    if (extra !== null && (typedArrayKind(extra) !== "Uint32Array" || isDetachedView(extra))) {
      throw new LlmemError("INVALID_ARGUMENT", "content.extra must be a live Uint32Array or null", {
        argument: "content.extra",
      });
    }
    return {
      tokens,
      // Copied through the intrinsic constructor: reads the engine's length, runs no user code.
      extra: extra === null ? null : new Uint32Array(extra),
      parent,
      parentGeneration: parent === NONE ? 0 : this.meta[4 * parent + GEN]! >>> 0,
    };
  }

  private notePeak(): void {
    const inUse = this.capacity - this.freeCount;
    if (inUse > this.peak) this.peak = inUse;
  }

  private overflow(name: string, block: number): LlmemError {
    return new LlmemError("REFCOUNT_OVERFLOW", `${name}: block ${block} already has ${MAX_REF} references`, {
      argument: name,
      block,
      limit: MAX_REF,
    });
  }

  /**
   * A list of block ids, each read once into a copy and checked (live ones if `live`): `free(5)`
   * or `acquireMany(null)` is an LlmemError, not a silent no-op or a TypeError, and an array-like
   * whose elements change between reads cannot pass the checks with one id and act on another.
   */
  /** @internal (BlockTable.adopt) */
  idList(list: unknown, live: boolean): number[] {
    const len = typeof list === "object" && list !== null ? (list as ArrayLike<number>).length : undefined;
    if (typeof len !== "number") {
      throw new LlmemError("INVALID_ARGUMENT", "blocks must be an array of block ids", {
        argument: "blocks",
      });
    }
    // Not more ids than references could exist: bounds the loop for a {length: 2^40}.
    const n = checkSize("blocks.length", len, this.capacity * MAX_REF);
    const ids = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const b = (list as ArrayLike<unknown>)[i];
      ids[i] = live ? this.checkLive(`blocks[${i}]`, b) : this.checkId(`blocks[${i}]`, b);
    }
    return ids;
  }

  private checkId(name: string, block: unknown): number {
    if (typeof block !== "number" || !Number.isInteger(block) || block < 0 || block >= this.capacity) {
      return checkInt(name, block, 0, this.capacity - 1); // throws with the right code and message
    }
    return block;
  }

  private checkLive(name: string, block: unknown): number {
    const b = this.checkId(name, block);
    if ((this.meta[4 * b + STATE]! & 0xffff) === 0) {
      throw new LlmemError("BLOCK_NOT_LIVE", `${name}: block ${b} is free (ref count 0), not allocated`, {
        argument: name,
        block: b,
      });
    }
    return b;
  }
}
