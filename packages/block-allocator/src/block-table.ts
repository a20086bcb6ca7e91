/**
 * One sequence's logical → physical block mapping, padded to maxBlocksPerSeq so `blocks` can be
 * handed to a paged-attention kernel as is (unused slots are 0; read only the first blockCount).
 */
import { checkInt, LlmemError } from "@llmem/core";
import { BlockAllocator } from "./allocator.ts";

export interface BlockTableOptions {
  /** Tokens per block. */
  blockSize: number;
  /** Longest sequence in blocks; `blocks` has exactly this many slots. */
  maxBlocksPerSeq: number;
}

/** A private copy was made of a shared block: copy block `src`'s KV into block `dst`. */
export interface BlockCopy {
  readonly src: number;
  readonly dst: number;
}

export class BlockTable {
  readonly allocator: BlockAllocator;
  readonly blockSize: number;
  readonly maxBlocksPerSeq: number;
  /** Physical block ids; slots at and after `blockCount` are 0. */
  readonly blocks: Uint32Array;
  private count = 0;
  private tokens = 0;

  constructor(allocator: BlockAllocator, options: BlockTableOptions) {
    this.allocator = BlockAllocator.check("allocator", allocator);
    this.blockSize = checkInt("blockSize", options?.blockSize, 1, 2 ** 24);
    this.maxBlocksPerSeq = checkInt("maxBlocksPerSeq", options?.maxBlocksPerSeq, 1, 2 ** 24);
    this.blocks = new Uint32Array(this.maxBlocksPerSeq);
  }

  /** Tokens written to the sequence. */
  get length(): number {
    return this.tokens;
  }

  /** Blocks held (ceil(capacity in tokens / blockSize)). */
  get blockCount(): number {
    return this.count;
  }

  /** Tokens the held blocks can store without allocating. */
  get tokenCapacity(): number {
    return this.count * this.blockSize;
  }

  /** The held block ids (a copy). */
  blockIds(): number[] {
    return Array.from(this.blocks.subarray(0, this.count));
  }

  /**
   * Holds enough blocks for `targetTokens` tokens, each block that tokens [length, targetTokens)
   * will land in private to this table (see `append`); idempotent. Beyond maxBlocksPerSeq is
   * CAPACITY_EXCEEDED, an exhausted pool POOL_EXHAUSTED; either way nothing changes. Returns the
   * copy the KV cache must make before writing, or null.
   */
  ensureCapacity(targetTokens: number): BlockCopy | null {
    return this.reserve("targetTokens", targetTokens);
  }

  /**
   * How many free blocks ensureCapacity(targetTokens) would take from the pool (new blocks plus
   * private copies of shared ones), so a scheduler can check several tables before touching any.
   */
  blocksNeeded(targetTokens: number): number {
    const needed = this.blocksFor("targetTokens", targetTokens);
    if (targetTokens <= this.tokens) return 0;
    const first = Math.floor(this.tokens / this.blockSize);
    return this.replacements(first, Math.min(needed, this.count)) + Math.max(0, needed - this.count);
  }

  /**
   * Makes room for `count` more tokens (as ensureCapacity(length + count)) and counts them as
   * written. Returns the copy the KV cache must make before writing, or null.
   */
  append(count = 1): BlockCopy | null {
    checkInt("count", count, 0, 2 ** 31);
    const copy = this.reserve("length + count", this.tokens + count);
    this.tokens += count;
    return copy;
  }

  /**
   * Every block that tokens [length, target) land in becomes private first: a shared block that
   * already holds tokens of this sequence (at most one: the partial last block) is replaced by a
   * copy, reported as { src, dst }; a shared block still empty (a fork after ensureCapacity) is
   * just replaced. Missing blocks are allocated. All or nothing.
   */
  private reserve(name: string, target: number): BlockCopy | null {
    const needed = this.blocksFor(name, target);
    if (target <= this.tokens) return null; // nothing will be written
    const first = Math.floor(this.tokens / this.blockSize);
    const held = Math.min(needed, this.count);
    const fresh = this.allocator.allocateN(this.replacements(first, held) + Math.max(0, needed - this.count));
    let copy: BlockCopy | null = null;
    let next = 0;
    for (let i = first; i < held; i++) {
      const src = this.blocks[i]!;
      if (this.allocator.refCount(src) === 1) continue;
      const dst = fresh[next++]!;
      this.allocator.free([src]);
      this.blocks[i] = dst;
      if (i * this.blockSize < this.tokens) copy = { src, dst };
    }
    this.place(fresh.slice(next));
    return copy;
  }

  /**
   * Starts an empty table from blocks the caller already holds a reference to (e.g. the
   * blocks of acquireCachedPrefix), covering `tokenCount` tokens. The references move to the table.
   */
  adopt(list: ArrayLike<number>, tokenCount: number): void {
    if (this.count !== 0) {
      throw new LlmemError("INVALID_ARGUMENT", "adopt needs an empty table (release it first)", {
        argument: "table",
      });
    }
    const blocks = this.allocator.idList(list, true); // read once, each a live block
    const n = blocks.length;
    if (n > this.maxBlocksPerSeq) {
      throw new LlmemError(
        "CAPACITY_EXCEEDED",
        `adopt: ${n} blocks exceed maxBlocksPerSeq=${this.maxBlocksPerSeq}`,
        { requested: n, limit: this.maxBlocksPerSeq },
      );
    }
    checkInt("tokenCount", tokenCount, n === 0 ? 0 : (n - 1) * this.blockSize + 1, n * this.blockSize);
    // A block listed k times must hold k references: release() drops one per slot, so [b, b]
    // with one reference would free b twice.
    const uses = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const b = blocks[i]!;
      const k = (uses.get(b) ?? 0) + 1;
      uses.set(b, k);
      if (this.allocator.refCount(b) < k) {
        throw new LlmemError(
          "INVALID_ARGUMENT",
          `blocks[${i}] = ${b} is listed ${k} times but holds fewer references`,
          {
            argument: "blocks",
            block: b,
          },
        );
      }
    }
    for (let i = 0; i < n; i++) this.blocks[i] = blocks[i]!;
    this.count = n;
    this.tokens = tokenCount;
  }

  /**
   * Forgets tokens from `length` on (e.g. rejected speculative tokens): blocks past the new end are
   * released tail first, and a private last block that will be rewritten loses its hash (a shared
   * one keeps it: the next append copies it first).
   */
  truncate(length: number): void {
    checkInt("length", length, 0, this.tokens);
    const keep = Math.ceil(length / this.blockSize);
    if (keep < this.count) {
      const tailFirst = new Array<number>(this.count - keep);
      for (let i = 0; i < tailFirst.length; i++) tailFirst[i] = this.blocks[this.count - 1 - i]!;
      this.allocator.free(tailFirst);
      this.blocks.fill(0, keep, this.count);
      this.count = keep;
    }
    const last = keep - 1;
    if (length % this.blockSize !== 0 && length < this.tokens && last >= 0) {
      const b = this.blocks[last]!;
      if (this.allocator.refCount(b) === 1 && this.allocator.hashOfBlock(b) !== undefined) {
        this.allocator.clearBlockHash(b);
      }
    }
    this.tokens = length;
  }

  /** A second table sharing every block (one more reference each); writes then copy on write. */
  fork(): BlockTable {
    const child = new BlockTable(this.allocator, {
      blockSize: this.blockSize,
      maxBlocksPerSeq: this.maxBlocksPerSeq,
    });
    const held = this.blocks.subarray(0, this.count);
    this.allocator.acquireMany(held);
    child.blocks.set(held);
    child.count = this.count;
    child.tokens = this.tokens;
    return child;
  }

  /**
   * Drops the table's references, tail first: with LRU eviction a chain's tail is then evicted
   * before its head, which keeps the longest reusable prefixes. Hashed blocks stay findable.
   */
  release(): void {
    const n = this.count;
    if (n === 0) return;
    const tailFirst = new Array<number>(n);
    for (let i = 0; i < n; i++) tailFirst[i] = this.blocks[n - 1 - i]!;
    this.allocator.free(tailFirst);
    this.blocks.fill(0, 0, n);
    this.count = 0;
    this.tokens = 0;
  }

  /** Shared blocks among held[first, held): each needs a private replacement before a write. */
  private replacements(first: number, held: number): number {
    let n = 0;
    for (let i = first; i < held; i++) if (this.allocator.refCount(this.blocks[i]!) > 1) n++;
    return n;
  }

  private blocksFor(name: string, tokens: number): number {
    checkInt(name, tokens, 0, Number.MAX_SAFE_INTEGER);
    const needed = Math.ceil(tokens / this.blockSize);
    if (needed > this.maxBlocksPerSeq) {
      throw new LlmemError(
        "CAPACITY_EXCEEDED",
        `${name}=${tokens} tokens need ${needed} blocks of ${this.blockSize}, beyond maxBlocksPerSeq=${this.maxBlocksPerSeq}`,
        { argument: name, requested: needed, limit: this.maxBlocksPerSeq },
      );
    }
    return needed;
  }

  private place(fresh: number[]): void {
    for (const b of fresh) this.blocks[this.count++] = b;
  }
}
