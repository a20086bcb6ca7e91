/**
 * PagedKvCache: many sequences, many layers. Each layer has one pool of physical blocks
 * [block][blockSize tokens][kvHead][headDim] for K and one for V, in bucket-pool memory;
 * one BlockAllocator hands out block ids shared by all layers (a sequence's block table
 * is the same for every layer, as in vLLM). Full blocks are registered by the chained
 * hash of their token ids, so a later prompt with the same prefix adopts them instead of
 * prefilling them again; released sequences leave their blocks soft-free and findable.
 */
import { BlockAllocator, BlockTable } from "@llmem/block-allocator";
import { BucketPool, type PooledBuffer } from "@llmem/bucket-pool";
import { checkInt, LlmemError, PoolExhaustedError } from "@llmem/core";
import { blockHash } from "@llmem/prefix-hash";
import { decodeRow, encodeRow } from "./ops.ts";
import { pagedAttention } from "./paged-kernel.ts";
import { encodeStoreRow } from "./refine.ts";
import {
  checkFormat,
  checkHeadDimFor,
  isBlockFormat,
  ROW_FORMATS,
  type RowFormat,
  rowBytes,
} from "./row-formats.ts";
import { type AttendOptions, checkAttend, checkKeysValues } from "./validate.ts";

export interface PagedKvCacheOptions {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** Tokens per block (default 16). */
  blockSize?: number;
  /** Physical blocks per layer pool. */
  numBlocks: number;
  /** Longest sequence in blocks (default numBlocks). */
  maxBlocksPerSeq?: number;
  /** Row format of the pools (default "f32"); block formats quantize each token's rows on append. */
  precision?: RowFormat;
  /** Where pool memory comes from (default: a new host BucketPool). */
  pool?: BucketPool;
}

/** One sequence of a PagedKvCache; pass it back to the cache's methods. */
export class PagedSequence {
  /** Prompt tokens whose KV came from the prefix cache (prefill starts after them). */
  readonly cachedTokens: number;
  /** @internal */ table: BlockTable;
  /** @internal tokens written per layer */ layerLengths: Int32Array;
  /** @internal token ids known so far (prompt, then addTokens) */ tokenIds: number[];
  /** @internal chained hash of each registered full block */ hashes: bigint[];
  /** @internal */ released = false;

  /** @internal */
  constructor(
    readonly id: number,
    table: BlockTable,
    numLayers: number,
    tokenIds: number[],
    cachedTokens: number,
    hashes: bigint[],
  ) {
    this.table = table;
    this.layerLengths = new Int32Array(numLayers).fill(cachedTokens);
    this.tokenIds = tokenIds;
    this.cachedTokens = cachedTokens;
    this.hashes = hashes;
  }

  /** Tokens written in every layer. */
  get length(): number {
    let min = Number.MAX_SAFE_INTEGER;
    for (const n of this.layerLengths) min = Math.min(min, n);
    return min;
  }

  /** Physical block ids of the sequence (a copy). */
  blockIds(): number[] {
    return this.table.blockIds();
  }
}

export interface PagedStats {
  sequences: number;
  numBlocks: number;
  blocksInUse: number;
  freeBlocks: number;
  peakBlocksInUse: number;
  /** Soft-free blocks still holding a registered prefix (reusable until recycled). */
  cachedBlocks: number;
  /** Bytes of one block across all layers, K and V. */
  bytesPerBlock: number;
  /** Bytes of the live blocks (blocksInUse × bytesPerBlock). */
  bytesInUse: number;
  /** Bytes reserved for the pools. */
  poolBytes: number;
  /** Prompt tokens served from the prefix cache instead of being prefilled. */
  prefillTokensSaved: number;
  prefixHits: number;
  prefixMisses: number;
}

const MAX_TOKEN_ID = 0xffffffff;

export class PagedKvCache {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly maxBlocksPerSeq: number;
  readonly precision: RowFormat;
  readonly allocator: BlockAllocator;

  private readonly pool: BucketPool;
  private readonly ownsPool: boolean;
  private readonly buffers: PooledBuffer[] = [];
  private readonly kPools: Uint8Array[] = [];
  private readonly vPools: Uint8Array[] = [];
  private readonly tokenFloats: number;
  private readonly tokenBytes: number;
  private readonly blockBytes: number;
  private readonly live = new Map<number, PagedSequence>();
  private nextId = 1;
  private saved = 0;
  private lse = new Float32Array(64);
  private disposed = false;

  constructor(o: PagedKvCacheOptions) {
    if (typeof o !== "object" || o === null) {
      throw new LlmemError("INVALID_ARGUMENT", "options must be an object", { argument: "options" });
    }
    this.numLayers = checkInt("numLayers", o.numLayers, 1, 4096);
    this.numKvHeads = checkInt("numKvHeads", o.numKvHeads, 1, 4096);
    this.headDim = checkInt("headDim", o.headDim, 1, 65536);
    this.blockSize = checkInt("blockSize", o.blockSize ?? 16, 1, 1 << 16);
    this.numBlocks = checkInt("numBlocks", o.numBlocks, 1, 2 ** 24);
    this.maxBlocksPerSeq = checkInt("maxBlocksPerSeq", o.maxBlocksPerSeq ?? this.numBlocks, 1, 2 ** 24);
    this.precision = checkFormat("precision", o.precision ?? "f32", ROW_FORMATS);
    checkHeadDimFor(this.precision, this.headDim);
    this.tokenFloats = this.numKvHeads * this.headDim;
    this.tokenBytes = rowBytes(this.precision, this.tokenFloats);
    this.blockBytes = this.blockSize * this.tokenBytes;
    const layerBytes = this.numBlocks * this.blockBytes;
    if (layerBytes > 2 ** 32) {
      throw new LlmemError(
        "OUT_OF_RANGE",
        `one layer pool of numBlocks*blockSize*numKvHeads*row = ${layerBytes} bytes exceeds 4 GiB`,
        { argument: "numBlocks", bytes: layerBytes },
      );
    }
    this.allocator = new BlockAllocator(this.numBlocks);
    this.ownsPool = o.pool === undefined;
    this.pool = o.pool ?? new BucketPool();
    try {
      for (let l = 0; l < this.numLayers; l++) {
        for (const list of [this.kPools, this.vPools]) {
          const buf = this.pool.alloc(layerBytes);
          this.buffers.push(buf);
          list.push(buf.bytes());
        }
      }
    } catch (e) {
      this.releaseBuffers();
      throw e;
    }
  }

  /** Bytes of one token's K (or V) rows in one layer. */
  get bytesPerTokenRow(): number {
    return this.tokenBytes;
  }

  /**
   * Starts a sequence for `promptTokens`: the longest prefix of whole blocks already cached
   * (live in another sequence, or soft-free) is adopted, and `seq.cachedTokens` says how many
   * prompt tokens need no prefill. At least the last prompt token is always left to compute.
   */
  addSequence(promptTokens: ArrayLike<number>): PagedSequence {
    this.checkUsable();
    const ids = checkTokenIds("promptTokens", promptTokens);
    const bs = this.blockSize;
    const maxMatch = Math.min(Math.floor(Math.max(ids.length - 1, 0) / bs), this.maxBlocksPerSeq);
    const blocks: number[] = [];
    const hashes: bigint[] = [];
    let parentHash = 0n;
    for (let b = 0; b < maxMatch; b++) {
      const tokens = ids.slice(b * bs, (b + 1) * bs);
      const hash = blockHash(parentHash, tokens);
      const parent = b === 0 ? -1 : blocks[b - 1]!;
      const block = this.allocator.tryAcquireByHash(hash, (found) => {
        const c = this.allocator.contentOfBlock(found);
        return c !== undefined && c.parent === parent && sameTokens(c.tokens, tokens);
      });
      if (block === null) break;
      blocks.push(block);
      hashes.push(hash);
      parentHash = hash;
    }
    const table = new BlockTable(this.allocator, { blockSize: bs, maxBlocksPerSeq: this.maxBlocksPerSeq });
    const cached = blocks.length * bs;
    if (blocks.length > 0) table.adopt(blocks, cached);
    this.saved += cached;
    const seq = new PagedSequence(this.nextId++, table, this.numLayers, ids, cached, hashes);
    this.live.set(seq.id, seq);
    return seq;
  }

  /** Records generated token ids (positions after the prompt), so their full blocks can be shared too. */
  addTokens(seq: PagedSequence, tokenIds: ArrayLike<number>): void {
    this.checkSeq(seq);
    seq.tokenIds.push(...checkTokenIds("tokenIds", tokenIds));
    this.registerFullBlocks(seq);
  }

  /**
   * Writes `k` and `v` ([token][kvHead][headDim], one or more tokens) for `layer` after the
   * tokens it already holds. Checked in full first; an exhausted pool throws POOL_EXHAUSTED
   * (or a sequence at maxBlocksPerSeq CAPACITY_EXCEEDED) with the sequence unchanged.
   */
  append(seq: PagedSequence, layer: number, k: Float32Array, v: Float32Array): void {
    this.checkSeq(seq);
    checkInt("layer", layer, 0, this.numLayers - 1);
    const n = checkKeysValues(k, v, this.tokenFloats, isBlockFormat(this.precision));
    const start = seq.layerLengths[layer]!;
    const end = start + n;
    const table = seq.table;
    if (end > table.length) {
      this.checkBlocksAvailable(table, end);
      const copy = table.append(end - table.length);
      if (copy) this.copyBlock(copy.src, copy.dst);
    }
    const tf = this.tokenFloats;
    const bs = this.blockSize;
    const kPool = this.kPools[layer]!;
    const vPool = this.vPools[layer]!;
    const encode = this.precision === "q4_0" || this.precision === "q4_1" ? encodeStoreRow : encodeRow;
    for (let i = 0; i < n; i++) {
      const pos = start + i;
      const at = (table.blocks[Math.floor(pos / bs)]! * bs + (pos % bs)) * this.tokenBytes;
      encode(this.precision, k.subarray(i * tf, (i + 1) * tf), tf, kPool, at);
      encode(this.precision, v.subarray(i * tf, (i + 1) * tf), tf, vPool, at);
    }
    seq.layerLengths[layer] = end;
    this.registerFullBlocks(seq);
  }

  /** Softmax attention of `query` ([head][headDim]) over the tokens `layer` holds for `seq`. */
  attend(seq: PagedSequence, layer: number, query: Float32Array, options: AttendOptions): Float32Array {
    this.checkSeq(seq);
    checkInt("layer", layer, 0, this.numLayers - 1);
    const { numHeads, scale, out } = checkAttend(query, options, this.numKvHeads, this.headDim);
    if (this.lse.length < numHeads) this.lse = new Float32Array(numHeads);
    pagedAttention({
      format: this.precision,
      query,
      numHeads,
      numKvHeads: this.numKvHeads,
      headDim: this.headDim,
      kPool: this.kPools[layer]!,
      vPool: this.vPools[layer]!,
      blockTable: seq.table.blocks,
      blockSize: this.blockSize,
      numTokens: seq.layerLengths[layer]!,
      scale,
      out,
      lse: this.lse.subarray(0, numHeads),
    });
    return out;
  }

  /**
   * A new sequence sharing every block of `seq` (no copy now); the first write into a shared
   * partial block copies it. Both must be at the same length in every layer.
   */
  fork(seq: PagedSequence): PagedSequence {
    this.checkSeq(seq);
    const len = seq.layerLengths[0]!;
    if (seq.layerLengths.some((n) => n !== len)) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        "seq must hold the same number of tokens in every layer to be forked (not in the middle of a step)",
        { argument: "seq", layerLengths: Array.from(seq.layerLengths) },
      );
    }
    const table = seq.table.fork();
    const child = new PagedSequence(
      this.nextId++,
      table,
      this.numLayers,
      seq.tokenIds.slice(),
      0,
      seq.hashes.slice(),
    );
    child.layerLengths.set(seq.layerLengths);
    this.live.set(child.id, child);
    return child;
  }

  /** Ends a sequence: its blocks are freed, those with a registered prefix stay reusable until recycled. */
  release(seq: PagedSequence): void {
    this.checkSeq(seq);
    seq.table.release();
    seq.released = true;
    this.live.delete(seq.id);
  }

  /** K and V of `layer` for `seq`, decoded to f32 in token order. */
  read(seq: PagedSequence, layer: number): { keys: Float32Array; values: Float32Array } {
    this.checkSeq(seq);
    checkInt("layer", layer, 0, this.numLayers - 1);
    const n = seq.layerLengths[layer]!;
    const tf = this.tokenFloats;
    const keys = new Float32Array(n * tf);
    const values = new Float32Array(n * tf);
    const bs = this.blockSize;
    for (let pos = 0; pos < n; pos++) {
      const at = (seq.table.blocks[Math.floor(pos / bs)]! * bs + (pos % bs)) * this.tokenBytes;
      decodeRow(this.precision, this.kPools[layer]!, at, tf, keys.subarray(pos * tf, (pos + 1) * tf));
      decodeRow(this.precision, this.vPools[layer]!, at, tf, values.subarray(pos * tf, (pos + 1) * tf));
    }
    return { keys, values };
  }

  stats(): PagedStats {
    const m = this.allocator.metrics();
    const bytesPerBlock = this.blockBytes * 2 * this.numLayers;
    return {
      sequences: this.live.size,
      numBlocks: this.numBlocks,
      blocksInUse: m.inUse,
      freeBlocks: m.free,
      peakBlocksInUse: m.peakInUse,
      cachedBlocks: m.cachedBlocks,
      bytesPerBlock,
      bytesInUse: m.inUse * bytesPerBlock,
      poolBytes: this.numBlocks * bytesPerBlock,
      prefillTokensSaved: this.saved,
      prefixHits: m.hits,
      prefixMisses: m.misses,
    };
  }

  /** Releases every sequence and returns the pool memory (to the BucketPool given, or frees it). */
  dispose(): void {
    if (this.disposed) return;
    for (const seq of [...this.live.values()]) this.release(seq);
    this.releaseBuffers();
    this.disposed = true;
  }

  private releaseBuffers(): void {
    for (const b of this.buffers) if (b.alive) this.pool.release(b);
    this.buffers.length = 0;
    this.kPools.length = 0;
    this.vPools.length = 0;
    if (this.ownsPool) this.pool.dispose();
  }

  /** POOL_EXHAUSTED up front when growing `table` to `tokens` needs more blocks than are free. */
  private checkBlocksAvailable(table: BlockTable, tokens: number): void {
    const bs = this.blockSize;
    const last = table.blockCount - 1;
    const cow = table.length % bs !== 0 && this.allocator.refCount(table.blocks[last]!) > 1 ? 1 : 0;
    const needed = Math.max(0, Math.ceil(tokens / bs) - table.blockCount) + cow;
    if (needed > this.allocator.freeCount && Math.ceil(tokens / bs) <= this.maxBlocksPerSeq) {
      throw new PoolExhaustedError(
        `KV block pool exhausted: ${tokens} tokens need ${needed} more blocks, ${this.allocator.freeCount} free`,
        needed,
        this.allocator.freeCount,
      );
    }
  }

  private copyBlock(src: number, dst: number): void {
    const bb = this.blockBytes;
    for (let l = 0; l < this.numLayers; l++) {
      this.kPools[l]!.copyWithin(dst * bb, src * bb, (src + 1) * bb);
      this.vPools[l]!.copyWithin(dst * bb, src * bb, (src + 1) * bb);
    }
  }

  /** Registers each newly completed block (all layers written, token ids known) under its chained hash. */
  private registerFullBlocks(seq: PagedSequence): void {
    const bs = this.blockSize;
    const full = Math.floor(Math.min(seq.length, seq.tokenIds.length) / bs);
    for (let b = seq.hashes.length; b < full; b++) {
      const tokens = seq.tokenIds.slice(b * bs, (b + 1) * bs);
      const hash = blockHash(b === 0 ? 0n : seq.hashes[b - 1]!, tokens);
      seq.hashes.push(hash);
      const block = seq.table.blocks[b]!;
      // Keep the first holder of a hash: another sequence's identical block may be shared already.
      const holder = this.allocator.peekHash(hash);
      if (holder === null) {
        this.allocator.registerBlockHash(block, hash, {
          tokens,
          parent: b === 0 ? -1 : seq.table.blocks[b - 1]!,
        });
      }
    }
  }

  private checkUsable(): void {
    if (this.disposed) throw new LlmemError("DISPOSED", "the PagedKvCache was disposed");
  }

  private checkSeq(seq: unknown): asserts seq is PagedSequence {
    this.checkUsable();
    if (!(seq instanceof PagedSequence) || this.live.get(seq.id) !== seq) {
      throw new LlmemError(
        "UNKNOWN_SEQUENCE",
        `seq is not a live sequence of this cache${seq instanceof PagedSequence && seq.released ? " (it was released)" : ""}`,
        { argument: "seq" },
      );
    }
  }
}

function checkTokenIds(name: string, tokens: ArrayLike<number>): number[] {
  if (tokens === null || typeof tokens !== "object" || typeof tokens.length !== "number") {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be an array of token ids`, { argument: name });
  }
  const out = new Array<number>(tokens.length);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t > MAX_TOKEN_ID) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `${name}[${i}] must be an integer in [0, 2^32), got ${String(t)}`,
        {
          argument: name,
          index: i,
        },
      );
    }
    out[i] = t;
  }
  return out;
}

function sameTokens(a: Uint32Array, b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
