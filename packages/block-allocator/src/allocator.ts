/**
 * Physical KV block ids with 16-bit reference counts and an O(1) prefix cache.
 *
 * Every free block sits in exactly one of three places, so every operation is O(1):
 * - the never-used tail `[fresh, capacity)` (a bump counter: a fresh pool yields 0, 1, 2, …),
 * - the clean list: freed blocks without cached content, LIFO so warm blocks are reused first,
 * - the cached list: soft-free blocks (ref 0, content and hash intact), in free order, so the
 *   least recently freed is evicted first and a hit unlinks its block in O(1).
 * Both lists are intrusive and doubly linked through `prev`/`next` (Int32Array, -1 = none).
 */
import { checkInt, LlmemError, PoolExhaustedError } from "@llmem/core";

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
const NONE = -1;
// Where a block is: live (ref >= 1), or free in one of the three places.
const LIVE = 0;
const FRESH = 1;
const CLEAN = 2;
const CACHED = 3;

function checkHash(hash: unknown): BlockHash {
  if (typeof hash !== "bigint" && typeof hash !== "string") {
    throw new LlmemError("INVALID_ARGUMENT", `hash must be a bigint or a string, got ${typeof hash}`, {
      argument: "hash",
    });
  }
  return hash;
}

export class BlockAllocator {
  readonly capacity: number;
  private readonly refs: Uint16Array;
  private readonly where: Uint8Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly gen: Uint32Array;
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
  private readonly hashOf: (BlockHash | undefined)[];
  private readonly contentOf: (BlockContent | undefined)[];
  private readonly table = new Map<BlockHash, number>();

  constructor(numBlocks: number) {
    this.capacity = checkInt("numBlocks", numBlocks, 1, 2 ** 31 - 1);
    this.refs = new Uint16Array(numBlocks);
    this.where = new Uint8Array(numBlocks).fill(FRESH);
    this.prev = new Int32Array(numBlocks);
    this.next = new Int32Array(numBlocks);
    this.gen = new Uint32Array(numBlocks);
    this.hashOf = new Array(numBlocks);
    this.contentOf = new Array(numBlocks);
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
    return this.table.size;
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
    this.checkLive("acquire", block);
    if (this.refs[block] === MAX_REF) {
      throw new LlmemError("REFCOUNT_OVERFLOW", `block ${block} already has ${MAX_REF} references`, {
        block,
        limit: MAX_REF,
      });
    }
    this.refs[block]!++;
  }

  /** One more reference to each block (a block may repeat); all or none. */
  acquireMany(blocks: ArrayLike<number>): void {
    const n = blocks.length;
    for (let i = 0; i < n; i++) this.checkLive(`blocks[${i}]`, blocks[i]);
    let i = 0;
    for (; i < n; i++) {
      const b = blocks[i]!;
      if (this.refs[b] === MAX_REF) break;
      this.refs[b]!++;
    }
    if (i < n) {
      const b = blocks[i]!;
      for (let j = 0; j < i; j++) this.refs[blocks[j]!]!--;
      throw new LlmemError("REFCOUNT_OVERFLOW", `blocks[${i}] = ${b} already has ${MAX_REF} references`, {
        block: b,
        limit: MAX_REF,
      });
    }
  }

  /**
   * Drops one reference from each block, in order; a block reaching 0 becomes free (soft-free,
   * still findable by hash, if it has one). All or none: a double free changes nothing.
   */
  free(blocks: ArrayLike<number>): void {
    const n = blocks.length;
    for (let i = 0; i < n; i++) this.checkId(`blocks[${i}]`, blocks[i]);
    let i = 0;
    for (; i < n; i++) {
      const b = blocks[i]!;
      if (this.refs[b] === 0) break;
      this.refs[b]!--;
    }
    if (i < n) {
      const b = blocks[i]!;
      for (let j = 0; j < i; j++) this.refs[blocks[j]!]!++;
      throw new LlmemError("DOUBLE_FREE", `blocks[${i}] = ${b} is already free`, { block: b, index: i });
    }
    for (let j = 0; j < n; j++) {
      const b = blocks[j]!;
      if (this.refs[b] === 0 && this.where[b] === LIVE) {
        if (this.hashOf[b] !== undefined) this.pushCached(b);
        else this.pushClean(b);
      }
    }
  }

  refCount(block: number): number {
    return this.refs[this.checkId("block", block)]!;
  }

  /** Bumped each time the block is handed out with new content (for verifying cached chains). */
  generation(block: number): number {
    return this.gen[this.checkId("block", block)]!;
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
    const old = this.hashOf[block];
    if (old !== undefined && old !== hash && this.table.get(old) === block) this.table.delete(old);
    const holder = this.table.get(hash);
    if (holder !== undefined && holder !== block) this.forget(holder);
    this.table.set(hash, block);
    this.hashOf[block] = hash;
    this.contentOf[block] = record;
  }

  /** The block registered under `hash`, without taking it or counting a hit; null on a miss. */
  peekHash(hash: BlockHash): number | null {
    return this.table.get(checkHash(hash)) ?? null;
  }

  /**
   * Live block → one more reference; soft-free block → resurrected with ref 1; miss → null with no
   * side effects. `accept(block)` (optional) can reject a found block, e.g. after comparing its
   * stored tokens: a rejection counts as a miss and changes nothing.
   */
  tryAcquireByHash(hash: BlockHash, accept?: (block: number) => boolean): number | null {
    const b = this.table.get(checkHash(hash));
    if (b === undefined || (accept !== undefined && !accept(b))) {
      this.misses++;
      return null;
    }
    if (this.refs[b] === 0) {
      this.unlinkCached(b);
      this.where[b] = LIVE;
      this.refs[b] = 1;
      this.notePeak();
    } else {
      this.acquire(b);
    }
    this.hits++;
    return b;
  }

  /** The hash a block is registered under, if any. */
  hashOfBlock(block: number): BlockHash | undefined {
    return this.hashOf[this.checkId("block", block)];
  }

  /** What was registered with the block's hash (for verification), if anything. */
  contentOfBlock(block: number): BlockContent | undefined {
    return this.contentOf[this.checkId("block", block)];
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
      hashedBlocks: this.table.size,
      cachedBlocks: this.cachedCount,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      hitRate: lookups === 0 ? 0 : this.hits / lookups,
    };
  }

  // ---- internals -------------------------------------------------------------------------

  private take(): number {
    let b: number;
    if (this.cleanHead !== NONE) {
      b = this.cleanHead;
      this.cleanHead = this.next[b]!;
      this.cleanCount--;
    } else if (this.fresh < this.capacity) {
      b = this.fresh++;
    } else {
      b = this.cachedHead;
      this.unlinkCached(b);
      this.where[b] = LIVE;
      this.forget(b); // its content is about to be overwritten
      this.evictions++;
    }
    this.where[b] = LIVE;
    this.refs[b] = 1;
    this.gen[b] = (this.gen[b]! + 1) >>> 0;
    return b;
  }

  private pushClean(b: number): void {
    this.where[b] = CLEAN;
    this.next[b] = this.cleanHead;
    this.cleanHead = b;
    this.cleanCount++;
  }

  private pushCached(b: number): void {
    this.where[b] = CACHED;
    this.prev[b] = this.cachedTail;
    this.next[b] = NONE;
    if (this.cachedTail === NONE) this.cachedHead = b;
    else this.next[this.cachedTail] = b;
    this.cachedTail = b;
    this.cachedCount++;
  }

  private unlinkCached(b: number): void {
    const p = this.prev[b]!;
    const n = this.next[b]!;
    if (p === NONE) this.cachedHead = n;
    else this.next[p] = n;
    if (n === NONE) this.cachedTail = p;
    else this.prev[n] = p;
    this.cachedCount--;
  }

  /** Drops a block's hash and content; a soft-free block becomes a clean one. */
  private forget(b: number): void {
    const h = this.hashOf[b];
    if (h !== undefined && this.table.get(h) === b) this.table.delete(h);
    this.hashOf[b] = undefined;
    this.contentOf[b] = undefined;
    if (this.where[b] === CACHED) {
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
    const tokens = new Uint32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const t = src[i]!;
      if (t >>> 0 !== t) {
        throw new LlmemError(
          "INVALID_ARGUMENT",
          `content.tokens[${i}] must be an integer in [0, 2^32), got ${String(t)}`,
          { argument: "content.tokens", index: i },
        );
      }
      tokens[i] = t;
    }
    const parent = c.parent ?? NONE;
    if (parent !== NONE) this.checkLive("content.parent", parent);
    const extra = c.extra ?? null;
    if (extra !== null && !(extra instanceof Uint32Array)) {
      throw new LlmemError("INVALID_ARGUMENT", "content.extra must be a Uint32Array or null", {
        argument: "content.extra",
      });
    }
    return {
      tokens,
      extra: extra === null ? null : extra.slice(),
      parent,
      parentGeneration: parent === NONE ? 0 : this.gen[parent]!,
    };
  }

  private notePeak(): void {
    const inUse = this.inUse;
    if (inUse > this.peak) this.peak = inUse;
  }

  private checkId(name: string, block: unknown): number {
    if (typeof block !== "number" || !Number.isInteger(block) || block < 0 || block >= this.capacity) {
      return checkInt(name, block, 0, this.capacity - 1); // throws with the right code and message
    }
    return block;
  }

  private checkLive(name: string, block: unknown): number {
    const b = this.checkId(name, block);
    if (this.refs[b] === 0) {
      throw new LlmemError("BLOCK_NOT_LIVE", `${name}: block ${b} is free (ref count 0), not allocated`, {
        argument: name,
        block: b,
      });
    }
    return b;
  }
}
