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
import { checkInt, checkOneOf, LlmemError, PoolExhaustedError } from "@llmem/core";
import { matchPrefix, PrefixHasher } from "@llmem/prefix-hash";
import { decodeRow, encodeRow } from "./ops.ts";
import { encodeStoreRow } from "./refine.ts";
import { checkHeadDimFor, isBlockFormat, ROW_FORMATS, type RowFormat, rowBytes } from "./row-formats.ts";
import { type Segment, SegmentAttention } from "./segments.ts";
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
  /**
   * Two-tier policy per sequence: each sequence keeps its newest `recentBlocks` full blocks
   * (plus the partial one) at `precision`; older full blocks move to a second pool of
   * `numStoreBlocks` blocks in `storePrecision`. When that pool is full, blocks stay recent.
   */
  tiers?: PagedTiers;
}

export interface PagedTiers {
  recentBlocks: number;
  storePrecision: RowFormat;
  numStoreBlocks: number;
}

/** One sequence of a PagedKvCache; pass it back to the cache's methods. */
export class PagedSequence {
  /** Prompt tokens whose KV came from the prefix cache (prefill starts after them). */
  readonly cachedTokens: number;
  /** @internal */ table: BlockTable;
  /** @internal tokens written per layer */ layerLengths: Int32Array;
  /** @internal token ids known so far (prompt, then addTokens) */ tokenIds: number[];
  /** @internal chained hashes of the full blocks of tokenIds */ hasher: PrefixHasher;
  /** @internal recent-pool block each full block was registered as (-1: not registered) */ registered: number[];
  /** @internal older blocks in the store pool (two-tier caches only) */ store: BlockTable | null = null;
  /** @internal */ released = false;

  /** @internal */
  constructor(
    readonly id: number,
    table: BlockTable,
    numLayers: number,
    tokenIds: number[],
    cachedTokens: number,
    hasher: PrefixHasher,
  ) {
    this.table = table;
    this.layerLengths = new Int32Array(numLayers).fill(cachedTokens);
    this.tokenIds = tokenIds;
    this.cachedTokens = cachedTokens;
    this.hasher = hasher;
    // Adopted prefix blocks are registered already (that is how they were found).
    this.registered = Array.from(table.blocks.subarray(0, table.blockCount));
  }

  /** Tokens written in every layer. */
  get length(): number {
    let min = Number.MAX_SAFE_INTEGER;
    for (const n of this.layerLengths) min = Math.min(min, n);
    return min;
  }

  /** Tokens held in the quantized store tier (0 without tiers); always whole blocks. */
  get storedTokens(): number {
    return this.store?.length ?? 0;
  }

  /** Physical block ids of the recent (or only) tier (a copy). */
  blockIds(): number[] {
    return this.table.blockIds();
  }

  /** Physical block ids of the store tier (a copy; empty without tiers). */
  storeBlockIds(): number[] {
    return this.store?.blockIds() ?? [];
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
  /** Bytes of the live blocks of both tiers. */
  bytesInUse: number;
  /** Bytes reserved for the pools of both tiers. */
  poolBytes: number;
  /** Store tier (two-tier caches; zeros otherwise). */
  storeBlocksInUse: number;
  storeBytesPerBlock: number;
  /** Prompt tokens served from the prefix cache instead of being prefilled. */
  prefillTokensSaved: number;
  prefixHits: number;
  prefixMisses: number;
}

const MAX_TOKEN_ID = 0xffffffff;

/** One tier's storage: a row format and, per layer, K and V pools of whole blocks. */
interface Tier {
  format: RowFormat;
  tokenBytes: number;
  blockBytes: number;
  k: Uint8Array[];
  v: Uint8Array[];
}

export class PagedKvCache {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly maxBlocksPerSeq: number;
  readonly precision: RowFormat;
  readonly tiers: Readonly<PagedTiers> | null;
  readonly allocator: BlockAllocator;
  /** The store tier's blocks (two-tier caches only). */
  readonly storeAllocator: BlockAllocator | null;

  private readonly pool: BucketPool;
  private readonly ownsPool: boolean;
  private readonly buffers: PooledBuffer[] = [];
  private readonly recent: Tier;
  private readonly stored: Tier | null;
  private readonly tokenFloats: number;
  private readonly live = new Map<number, PagedSequence>();
  private readonly segments: SegmentAttention;
  private readonly rowK: Float32Array;
  private readonly rowV: Float32Array;
  private nextId = 1;
  private saved = 0;
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
    this.precision = checkOneOf("precision", o.precision ?? "f32", ROW_FORMATS);
    checkHeadDimFor(this.precision, this.headDim);
    this.tokenFloats = this.numKvHeads * this.headDim;
    let tiers: PagedTiers | null = null;
    if (o.tiers !== undefined) {
      if (typeof o.tiers !== "object" || o.tiers === null) {
        throw new LlmemError("INVALID_ARGUMENT", "tiers must be an object", { argument: "tiers" });
      }
      tiers = {
        recentBlocks: checkInt("tiers.recentBlocks", o.tiers.recentBlocks, 0, 2 ** 24),
        storePrecision: checkOneOf("tiers.storePrecision", o.tiers.storePrecision, ROW_FORMATS),
        numStoreBlocks: checkInt("tiers.numStoreBlocks", o.tiers.numStoreBlocks, 1, 2 ** 24),
      };
      checkHeadDimFor(tiers.storePrecision, this.headDim, "headDim");
    }
    this.tiers = tiers;
    const recentBytes = this.checkPoolBytes("numBlocks", this.precision, this.numBlocks);
    const storeBytes = tiers
      ? this.checkPoolBytes("tiers.numStoreBlocks", tiers.storePrecision, tiers.numStoreBlocks)
      : 0;
    this.allocator = new BlockAllocator(this.numBlocks);
    this.storeAllocator = tiers ? new BlockAllocator(tiers.numStoreBlocks) : null;
    this.ownsPool = o.pool === undefined;
    this.pool = o.pool ?? new BucketPool();
    this.recent = this.tier(this.precision);
    this.stored = tiers ? this.tier(tiers.storePrecision) : null;
    try {
      for (let l = 0; l < this.numLayers; l++) {
        for (const [t, bytes] of [
          [this.recent, recentBytes],
          [this.stored, storeBytes],
        ] as const) {
          if (!t) continue;
          for (const list of [t.k, t.v]) {
            const buf = this.pool.alloc(bytes);
            this.buffers.push(buf);
            list.push(buf.bytes());
          }
        }
      }
    } catch (e) {
      this.releaseBuffers();
      throw e;
    }
    this.segments = new SegmentAttention(this.numKvHeads, this.headDim);
    this.rowK = new Float32Array(this.tokenFloats);
    this.rowV = new Float32Array(this.tokenFloats);
  }

  private tier(format: RowFormat): Tier {
    const tokenBytes = rowBytes(format, this.tokenFloats);
    return { format, tokenBytes, blockBytes: this.blockSize * tokenBytes, k: [], v: [] };
  }

  private checkPoolBytes(name: string, format: RowFormat, blocks: number): number {
    const bytes = blocks * this.blockSize * rowBytes(format, this.tokenFloats);
    if (bytes > 2 ** 32) {
      throw new LlmemError(
        "OUT_OF_RANGE",
        `one layer pool of ${name}*blockSize*numKvHeads*row = ${bytes} bytes exceeds 4 GiB`,
        { argument: name, bytes },
      );
    }
    return bytes;
  }

  /** Bytes of one token's K (or V) rows in one layer of the recent tier. */
  get bytesPerTokenRow(): number {
    return this.recent.tokenBytes;
  }

  /**
   * Starts a sequence for `promptTokens`: the longest prefix of whole blocks already cached
   * (live in another sequence, or soft-free) is adopted, and `seq.cachedTokens` says how many
   * prompt tokens need no prefill. At least the last prompt token is always left to compute.
   */
  addSequence(promptTokens: ArrayLike<number>): PagedSequence {
    this.checkUsable();
    const ids = checkTokenIds("promptTokens", promptTokens);
    const hasher = new PrefixHasher(this.blockSize);
    hasher.push(ids);
    // Verified match: each hit must hold these tokens and follow the block matched before it.
    const match = matchPrefix(this.allocator, ids, this.blockSize, { hashes: hasher.hashes });
    const blocks = match.blocks;
    if (blocks.length > this.maxBlocksPerSeq) this.allocator.free(blocks.splice(this.maxBlocksPerSeq));
    const table = this.newTable(this.allocator);
    const cached = blocks.length * this.blockSize;
    if (blocks.length > 0) table.adopt(blocks, cached);
    this.saved += cached;
    const seq = new PagedSequence(this.nextId++, table, this.numLayers, ids, cached, hasher);
    if (this.storeAllocator) seq.store = this.newTable(this.storeAllocator);
    this.live.set(seq.id, seq);
    return seq;
  }

  private newTable(allocator: BlockAllocator): BlockTable {
    return new BlockTable(allocator, { blockSize: this.blockSize, maxBlocksPerSeq: this.maxBlocksPerSeq });
  }

  /** Records generated token ids (positions after the prompt), so their full blocks can be shared too. */
  addTokens(seq: PagedSequence, tokenIds: ArrayLike<number>): void {
    this.checkSeq(seq);
    const ids = checkTokenIds("tokenIds", tokenIds);
    seq.tokenIds.push(...ids);
    seq.hasher.push(ids);
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
    const bs = this.blockSize;
    if (Math.ceil(end / bs) > this.maxBlocksPerSeq) {
      throw new LlmemError(
        "CAPACITY_EXCEEDED",
        `appending ${n} tokens to ${start} needs ${Math.ceil(end / bs)} blocks of ${bs}, beyond maxBlocksPerSeq=${this.maxBlocksPerSeq}`,
        { argument: "k", requested: Math.ceil(end / bs), limit: this.maxBlocksPerSeq },
      );
    }
    // The recent table covers positions [base, base + table.length); every layer is past base.
    const base = seq.storedTokens;
    const table = seq.table;
    if (end - base > table.length) {
      this.checkBlocksAvailable(table, end - base);
      const copy = table.append(end - base - table.length);
      if (copy) this.copyBlock(copy.src, copy.dst);
    }
    const tf = this.tokenFloats;
    const { k: kPools, v: vPools, tokenBytes, format } = this.recent;
    const encode = format === "q4_0" || format === "q4_1" ? encodeStoreRow : encodeRow;
    for (let i = 0; i < n; i++) {
      const pos = start + i - base;
      const at = (table.blocks[Math.floor(pos / bs)]! * bs + (pos % bs)) * tokenBytes;
      encode(format, k.subarray(i * tf, (i + 1) * tf), tf, kPools[layer]!, at);
      encode(format, v.subarray(i * tf, (i + 1) * tf), tf, vPools[layer]!, at);
    }
    seq.layerLengths[layer] = end;
    this.registerFullBlocks(seq);
    this.migrateOldBlocks(seq);
  }

  /** Softmax attention of `query` ([head][headDim]) over the tokens `layer` holds for `seq`. */
  attend(seq: PagedSequence, layer: number, query: Float32Array, options: AttendOptions): Float32Array {
    this.checkSeq(seq);
    checkInt("layer", layer, 0, this.numLayers - 1);
    const { numHeads, scale, out } = checkAttend(query, options, this.numKvHeads, this.headDim);
    const base = seq.storedTokens;
    const segs: Segment[] = [];
    if (this.stored && seq.store && base > 0) {
      segs.push({
        format: this.stored.format,
        keys: this.stored.k[layer]!,
        values: this.stored.v[layer]!,
        count: base,
        blockTable: seq.store.blocks,
        blockSize: this.blockSize,
      });
    }
    segs.push({
      format: this.recent.format,
      keys: this.recent.k[layer]!,
      values: this.recent.v[layer]!,
      count: seq.layerLengths[layer]! - base,
      blockTable: seq.table.blocks,
      blockSize: this.blockSize,
    });
    this.segments.attend(segs, query, numHeads, scale, out);
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
    const hasher = new PrefixHasher(this.blockSize);
    hasher.push(seq.tokenIds);
    const child = new PagedSequence(this.nextId++, table, this.numLayers, seq.tokenIds.slice(), 0, hasher);
    child.registered = seq.registered.slice();
    child.store = seq.store ? seq.store.fork() : null;
    child.layerLengths.set(seq.layerLengths);
    this.live.set(child.id, child);
    return child;
  }

  /** Ends a sequence: its blocks are freed, those with a registered prefix stay reusable until recycled. */
  release(seq: PagedSequence): void {
    this.checkSeq(seq);
    seq.table.release();
    seq.store?.release();
    seq.released = true;
    this.live.delete(seq.id);
  }

  /** K and V of `layer` for `seq`, decoded to f32 in token order (both tiers). */
  read(seq: PagedSequence, layer: number): { keys: Float32Array; values: Float32Array } {
    this.checkSeq(seq);
    checkInt("layer", layer, 0, this.numLayers - 1);
    const n = seq.layerLengths[layer]!;
    const tf = this.tokenFloats;
    const keys = new Float32Array(n * tf);
    const values = new Float32Array(n * tf);
    const bs = this.blockSize;
    const base = seq.storedTokens;
    for (let pos = 0; pos < n; pos++) {
      const inStore = pos < base;
      const t = inStore ? this.stored! : this.recent;
      const blocks = inStore ? seq.store!.blocks : seq.table.blocks;
      const p = inStore ? pos : pos - base;
      const at = (blocks[Math.floor(p / bs)]! * bs + (p % bs)) * t.tokenBytes;
      decodeRow(t.format, t.k[layer]!, at, tf, keys.subarray(pos * tf, (pos + 1) * tf));
      decodeRow(t.format, t.v[layer]!, at, tf, values.subarray(pos * tf, (pos + 1) * tf));
    }
    return { keys, values };
  }

  stats(): PagedStats {
    const m = this.allocator.metrics();
    const bytesPerBlock = this.recent.blockBytes * 2 * this.numLayers;
    const storeBytesPerBlock = this.stored ? this.stored.blockBytes * 2 * this.numLayers : 0;
    const storeInUse = this.storeAllocator?.inUse ?? 0;
    return {
      sequences: this.live.size,
      numBlocks: this.numBlocks,
      blocksInUse: m.inUse,
      freeBlocks: m.free,
      peakBlocksInUse: m.peakInUse,
      cachedBlocks: m.cachedBlocks,
      bytesPerBlock,
      bytesInUse: m.inUse * bytesPerBlock + storeInUse * storeBytesPerBlock,
      poolBytes: this.numBlocks * bytesPerBlock + (this.tiers?.numStoreBlocks ?? 0) * storeBytesPerBlock,
      storeBlocksInUse: storeInUse,
      storeBytesPerBlock,
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
    for (const t of [this.recent, this.stored]) {
      if (!t) continue;
      t.k.length = 0;
      t.v.length = 0;
    }
    if (this.ownsPool) this.pool.dispose();
  }

  /** POOL_EXHAUSTED up front when growing `table` to `tokens` needs more blocks than are free. */
  private checkBlocksAvailable(table: BlockTable, tokens: number): void {
    // What BlockTable.append will take: a private copy of every shared block the new tokens
    // land in, and the missing blocks.
    const bs = this.blockSize;
    const target = Math.ceil(tokens / bs);
    let needed = Math.max(0, target - table.blockCount);
    for (let b = Math.floor(table.length / bs); b < Math.min(target, table.blockCount); b++) {
      if (this.allocator.refCount(table.blocks[b]!) > 1) needed++;
    }
    if (needed > this.allocator.freeCount) {
      throw new PoolExhaustedError(
        `KV block pool exhausted: ${tokens} tokens need ${needed} more blocks, ${this.allocator.freeCount} free`,
        needed,
        this.allocator.freeCount,
      );
    }
  }

  private copyBlock(src: number, dst: number): void {
    const bb = this.recent.blockBytes;
    for (let l = 0; l < this.numLayers; l++) {
      this.recent.k[l]!.copyWithin(dst * bb, src * bb, (src + 1) * bb);
      this.recent.v[l]!.copyWithin(dst * bb, src * bb, (src + 1) * bb);
    }
  }

  /** Registers each newly completed block (all layers written, token ids known) under its chained hash. */
  private registerFullBlocks(seq: PagedSequence): void {
    const bs = this.blockSize;
    const hashes = seq.hasher.hashes;
    const full = Math.min(Math.floor(seq.length / bs), hashes.length);
    const storeBlocks = seq.storedTokens / bs;
    for (let b = seq.registered.length; b < full; b++) {
      const hash = hashes[b]!;
      // A block already moved to the store tier (its ids came late) is not shareable.
      const block = b >= storeBlocks ? seq.table.blocks[b - storeBlocks]! : -1;
      seq.registered.push(block);
      // Keep the first holder of a hash: another sequence's identical block may be shared already.
      if (block < 0 || this.allocator.peekHash(hash) !== null) continue;
      // Verified matching needs the parent link, which exists while the parent block is live:
      // a block whose parent already moved to the store tier is not registered.
      const parent = b === 0 ? -1 : seq.registered[b - 1]!;
      if (b > 0 && (parent < 0 || this.allocator.refCount(parent) === 0)) continue;
      const tokens = seq.tokenIds.slice(b * bs, (b + 1) * bs);
      this.allocator.registerBlockHash(block, hash, { tokens, parent });
    }
  }

  /**
   * Two-tier policy: moves full blocks older than the newest `recentBlocks` into the store
   * tier (all layers at once, so only blocks every layer has filled). The recent block stays
   * allocated to other holders and, if hashed, findable for prefix reuse once released.
   */
  private migrateOldBlocks(seq: PagedSequence): void {
    const tiers = this.tiers;
    const store = seq.store;
    const stored = this.stored;
    if (!tiers || !store || !stored) return;
    const bs = this.blockSize;
    const tf = this.tokenFloats;
    const encode = stored.format === "q4_0" || stored.format === "q4_1" ? encodeStoreRow : encodeRow;
    while (Math.floor(seq.length / bs) - store.blockCount > tiers.recentBlocks) {
      if (this.storeAllocator!.freeCount === 0) return; // the store is full: keep blocks recent
      const src = seq.table.blocks[0]!;
      store.append(bs);
      const dst = store.blocks[store.blockCount - 1]!;
      for (let l = 0; l < this.numLayers; l++) {
        for (let t = 0; t < bs; t++) {
          const from = (src * bs + t) * this.recent.tokenBytes;
          const to = (dst * bs + t) * stored.tokenBytes;
          decodeRow(this.recent.format, this.recent.k[l]!, from, tf, this.rowK);
          decodeRow(this.recent.format, this.recent.v[l]!, from, tf, this.rowV);
          encode(stored.format, this.rowK, tf, stored.k[l]!, to);
          encode(stored.format, this.rowV, tf, stored.v[l]!, to);
        }
      }
      // Drop the first recent block: a new table adopts the others (one more reference each),
      // then the old one lets go of all of them.
      const old = seq.table;
      const rest = old.blocks.subarray(1, old.blockCount);
      const table = this.newTable(this.allocator);
      if (rest.length > 0) {
        this.allocator.acquireMany(rest);
        table.adopt(rest, old.length - bs);
      }
      old.release();
      seq.table = table;
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
