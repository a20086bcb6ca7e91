/**
 * One sequence's logical → physical block mapping, padded to maxBlocksPerSeq so `blocks` can be
 * handed to a paged-attention kernel as is (unused slots are 0; read only the first blockCount).
 */
import { checkInt, LlmemError } from "@llmem/core";
import type { BlockAllocator } from "./allocator.ts";

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
    this.allocator = allocator;
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
   * Holds enough blocks for `targetTokens` tokens; idempotent. Beyond maxBlocksPerSeq is
   * CAPACITY_EXCEEDED, an exhausted pool POOL_EXHAUSTED; either way nothing is allocated.
   */
  ensureCapacity(targetTokens: number): void {
    const needed = this.blocksFor("targetTokens", targetTokens);
    if (needed > this.count) this.place(this.allocator.allocateN(needed - this.count));
  }

  /**
   * Makes room for `count` more tokens and counts them as written. Every block the tokens land
   * in becomes private first: a shared block already holding tokens of this sequence is replaced
   * by a copy, and the returned pair tells the KV cache to copy src → dst before writing (at most
   * one block can be partial); a shared block still empty (from a fork after ensureCapacity) is
   * just replaced. All or nothing.
   */
  append(count = 1): BlockCopy | null {
    checkInt("count", count, 0, 2 ** 31);
    const target = this.tokens + count;
    const needed = this.blocksFor("length + count", target);
    if (count === 0) return null;
    const first = Math.floor(this.tokens / this.blockSize);
    const held = Math.min(needed, this.count);
    let replace = 0;
    for (let i = first; i < held; i++) if (this.allocator.refCount(this.blocks[i]!) > 1) replace++;
    const fresh = this.allocator.allocateN(replace + Math.max(0, needed - this.count));
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
    this.tokens = target;
    return copy;
  }

  /**
   * Starts an empty table from blocks the caller already holds a reference to (e.g. the
   * `blocks` of matchPrefix), covering `tokenCount` tokens. The references move to the table.
   */
  adopt(blocks: ArrayLike<number>, tokenCount: number): void {
    if (this.count !== 0) {
      throw new LlmemError("INVALID_ARGUMENT", "adopt needs an empty table (release it first)", {
        argument: "table",
      });
    }
    const n = blocks.length;
    if (n > this.maxBlocksPerSeq) {
      throw new LlmemError(
        "CAPACITY_EXCEEDED",
        `adopt: ${n} blocks exceed maxBlocksPerSeq=${this.maxBlocksPerSeq}`,
        { requested: n, limit: this.maxBlocksPerSeq },
      );
    }
    checkInt("tokenCount", tokenCount, n === 0 ? 0 : (n - 1) * this.blockSize + 1, n * this.blockSize);
    for (let i = 0; i < n; i++) {
      if (this.allocator.refCount(blocks[i]!) === 0) {
        throw new LlmemError("BLOCK_NOT_LIVE", `blocks[${i}] = ${blocks[i]} is free, not held`, {
          argument: "blocks",
          block: blocks[i],
        });
      }
    }
    for (let i = 0; i < n; i++) this.blocks[i] = blocks[i]!;
    this.count = n;
    this.tokens = tokenCount;
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
