/**
 * PagedKvCache: many sequences, many layers, one block table per sequence shared by every
 * layer (as in vLLM). This module admits sequences (reserving their blocks, adopting cached
 * prefixes through block-allocator's prefix cache), runs their steps, commits their full
 * blocks under the chained hash of their tokens, and moves old blocks to the store tier.
 * The bytes live in TierPools (tier-pools.ts); a sequence's step contract in
 * paged-sequence.ts; attention over the tiers in segments.ts.
 */
import {
  acquireCachedPrefix,
  BlockAllocator,
  type BlockContent,
  type BlockHash,
  BlockTable,
  commitFullBlocks,
  findCachedPrefix,
  type PrefixKeys,
} from "@llmem/block-allocator";
import type { BucketPool } from "@llmem/bucket-pool";
import { checkFiniteNumber, checkInt, checkOneOf, LlmemError, PoolExhaustedError } from "@llmem/core";
import { checkedLength } from "@llmem/native";
import { type ChainOptions, PrefixHasher } from "@llmem/prefix-hash";
import type { HostTier, HostTierStats } from "./host-tier.ts";
import { KV_ORIGINS, type KvOrigin, noReuse, ORIGIN_CODE } from "./origins.ts";
import { checkTokenIds, PagedSequence, type SequenceHost } from "./paged-sequence.ts";
import { PendingPrefixes } from "./pending-prefixes.ts";
import { convertRows } from "./requantize.ts";
import { checkHeadDimFor, isBlockFormat, QK, ROW_FORMATS, type RowFormat, rowBytes } from "./row-formats.ts";
import { type Segment, SegmentAttention } from "./segments.ts";
import { TierPools } from "./tier-pools.ts";
import { checkAllFinite, checkFloat32Array } from "./validate.ts";

export { PagedSequence } from "./paged-sequence.ts";

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
  /** Query heads of `attend` (default numKvHeads); a multiple of numKvHeads (grouped-query attention). */
  numHeads?: number;
  /** Attention score scale (default 1/sqrt(headDim)). */
  scale?: number;
  /**
   * What besides token ids tells cached blocks apart (tenant salt, LoRA, multimodal keys, hash
   * mode): every block of this cache is hashed and verified with them, so caches with different
   * keys never share a block.
   */
  prefixKeys?: ChainOptions;
  /** Row format of the pools (default "f32"); block formats quantize each token's rows on write. */
  format?: RowFormat;
  /** Where pool memory comes from (default: a new host BucketPool). */
  pool?: BucketPool;
  /**
   * Two-tier policy per sequence: each sequence keeps its newest `recentBlocks` full blocks
   * (plus the partial one) at `format`; older full blocks move to a second pool of
   * `numStoreBlocks` blocks in `storeFormat`. When that pool is full, blocks stay recent.
   */
  tiers?: PagedTiers;
}

/** How the store tier lays out keys: per token like values, or per channel (KIVI). */
export type KeyGrouping = "token" | "channel";

export interface PagedTiers {
  recentBlocks: number;
  storeFormat: RowFormat;
  numStoreBlocks: number;
  /**
   * "token" (default): store keys per token and head in 32-value blocks, like values.
   * "channel": store keys per channel over 32-token groups, as KIVI does: keys have outlier
   * channels that spoil per-token blocks. Needs a block storeFormat and blockSize % 32 = 0.
   */
  keyGrouping?: KeyGrouping;
}

export interface AdmitOptions {
  /**
   * Tokens the sequence may grow to (default: the prompt's length). Admission reserves the
   * blocks for them, so a live sequence never runs out of blocks before this length.
   */
  maxTokens?: number;
  /**
   * This request's prefix keys (e.g. its tenant's salt, its multimodal items), in place of the
   * cache's `prefixKeys`: only requests with equal keys share blocks.
   */
  prefixKeys?: ChainOptions;
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
  /** Free blocks promised to live sequences by admission and not taken yet. */
  reservedBlocks: number;
  /** Prompt tokens served from the prefix cache instead of being prefilled. */
  prefillTokensSaved: number;
  prefixHits: number;
  prefixMisses: number;
  /** Cached blocks the pool recycled (spilled to the host tier when there is one). */
  prefixEvictions: number;
  /** The host-RAM tier behind the pool (null without one). */
  hostTier: HostTierStats | null;
}

export class PagedKvCache implements SequenceHost {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly scale: number;
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly maxBlocksPerSeq: number;
  readonly format: RowFormat;
  readonly tiers: Readonly<PagedTiers> | null;
  readonly allocator: BlockAllocator;
  /** The store tier's blocks (two-tier caches only). */
  readonly storeAllocator: BlockAllocator | null;

  private readonly pools: TierPools;
  private readonly tokenFloats: number;
  private readonly live = new Map<number, PagedSequence>();
  private readonly segments: SegmentAttention;
  /** attend's store and recent segments, rewritten in place per call. */
  private readonly segs: [Segment, Segment];
  private readonly prefixKeys: ChainOptions | undefined;
  private readonly pending = new PendingPrefixes();
  /** Per block: ORIGIN_CODE of where its registered KV came from (reported as reusedFrom). */
  private readonly origin: Uint8Array;
  private host: HostTier | null = null;
  /**
   * Called for each block this cache's sequences computed and registered (not adopted ones):
   * a shared store (Redis) takes its bytes from here with `readBlockPayload`.
   */
  onBlockCommitted: ((block: number, hash: BlockHash, content: BlockContent) => void) | null = null;
  private reserved = 0;
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
    this.numHeads = checkInt("numHeads", o.numHeads ?? this.numKvHeads, 1, 65536);
    if (this.numHeads % this.numKvHeads !== 0) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `numHeads ${this.numHeads} must be a multiple of numKvHeads ${this.numKvHeads}`,
        { argument: "numHeads", value: this.numHeads, numKvHeads: this.numKvHeads },
      );
    }
    this.scale = o.scale === undefined ? 1 / Math.sqrt(this.headDim) : checkFiniteNumber("scale", o.scale);
    this.blockSize = checkInt("blockSize", o.blockSize ?? 16, 1, 1 << 16);
    this.numBlocks = checkInt("numBlocks", o.numBlocks, 1, 2 ** 24);
    this.maxBlocksPerSeq = checkInt("maxBlocksPerSeq", o.maxBlocksPerSeq ?? this.numBlocks, 1, 2 ** 24);
    this.format = checkOneOf("format", o.format ?? "f32", ROW_FORMATS);
    checkHeadDimFor(this.format, this.headDim);
    this.tokenFloats = this.numKvHeads * this.headDim;
    let tiers: PagedTiers | null = null;
    if (o.tiers !== undefined) {
      if (typeof o.tiers !== "object" || o.tiers === null) {
        throw new LlmemError("INVALID_ARGUMENT", "tiers must be an object", { argument: "tiers" });
      }
      tiers = {
        recentBlocks: checkInt("tiers.recentBlocks", o.tiers.recentBlocks, 0, 2 ** 24),
        storeFormat: checkOneOf("tiers.storeFormat", o.tiers.storeFormat, ROW_FORMATS),
        numStoreBlocks: checkInt("tiers.numStoreBlocks", o.tiers.numStoreBlocks, 1, 2 ** 24),
        keyGrouping: checkOneOf("tiers.keyGrouping", o.tiers.keyGrouping ?? "token", [
          "token",
          "channel",
        ] as const),
      };
      checkHeadDimFor(tiers.storeFormat, this.headDim, "headDim");
      if (
        tiers.keyGrouping === "channel" &&
        (!isBlockFormat(tiers.storeFormat) || this.blockSize % QK !== 0)
      ) {
        throw new LlmemError(
          "INVALID_ARGUMENT",
          `tiers.keyGrouping "channel" quantizes each key channel over ${QK} tokens: it needs a block tiers.storeFormat (q8_0, q4_0, q4_1), got ${tiers.storeFormat}, and blockSize a multiple of ${QK}, got ${this.blockSize}`,
          { argument: "tiers.keyGrouping" },
        );
      }
    }
    this.tiers = tiers;
    this.prefixKeys = o.prefixKeys;
    new PrefixHasher(this.blockSize, o.prefixKeys); // validates the keys before anything is allocated
    const shape = { numLayers: this.numLayers, blockSize: this.blockSize, tokenFloats: this.tokenFloats };
    this.pools = new TierPools(
      shape,
      { format: this.format, numBlocks: this.numBlocks, name: "numBlocks" },
      tiers && {
        format: tiers.storeFormat,
        numBlocks: tiers.numStoreBlocks,
        name: "tiers.numStoreBlocks",
        channelKeys: tiers.keyGrouping === "channel",
      },
      o.pool,
    );
    this.allocator = new BlockAllocator(this.numBlocks);
    this.origin = new Uint8Array(this.numBlocks);
    this.storeAllocator = tiers ? new BlockAllocator(tiers.numStoreBlocks) : null;
    this.segments = new SegmentAttention(this.numKvHeads, this.headDim);
    const { recent } = this.pools;
    const empty = { keys: recent.k[0]!, values: recent.v[0]!, blockSize: this.blockSize, count: 0 };
    this.segs = [
      { ...empty, format: tiers?.storeFormat ?? this.format },
      { ...empty, format: recent.format },
    ];
  }

  /** Bytes of one block's K and V in every layer of the recent tier: what the lower tiers move. */
  get blockPayloadBytes(): number {
    return this.pools.recent.blockBytes * 2 * this.numLayers;
  }

  /**
   * Copies block `block`'s KV out of the recent tier into `out` (blockPayloadBytes): per layer,
   * its K rows then its V rows, [token][kvHead][headDim] in the pool's row format.
   */
  readBlockPayload(block: number, out: Uint8Array = new Uint8Array(this.blockPayloadBytes)): Uint8Array {
    this.checkPayload(block, out, "out");
    const bb = this.pools.recent.blockBytes;
    for (let l = 0; l < this.numLayers; l++) {
      out.set(this.pools.recent.k[l]!.subarray(block * bb, (block + 1) * bb), 2 * l * bb);
      out.set(this.pools.recent.v[l]!.subarray(block * bb, (block + 1) * bb), (2 * l + 1) * bb);
    }
    return out;
  }

  /**
   * Writes a verified payload (readBlockPayload's layout) into block `block`, which the caller
   * holds, and notes where it came from for `reusedFrom`.
   */
  writeBlockPayload(block: number, payload: Uint8Array, origin: KvOrigin): void {
    // Validate, then act: a bad origin used to be found after the block was overwritten.
    const code = ORIGIN_CODE[checkOneOf("origin", origin, KV_ORIGINS)];
    this.checkPayload(block, payload, "payload");
    const bb = this.pools.recent.blockBytes;
    for (let l = 0; l < this.numLayers; l++) {
      this.pools.recent.k[l]!.set(payload.subarray(2 * l * bb, (2 * l + 1) * bb), block * bb);
      this.pools.recent.v[l]!.set(payload.subarray((2 * l + 1) * bb, (2 * l + 2) * bb), block * bb);
    }
    this.origin[block] = code;
  }

  private checkPayload(block: number, bytes: Uint8Array, name: string): void {
    this.checkUsable();
    checkInt("block", block, 0, this.numBlocks - 1);
    // Measured by the engine: an own `length` of blockPayloadBytes on a shorter array made the
    // copy move fewer bytes than the check saw, and a detached one is STALE_HANDLE.
    const n = checkedLength(name, bytes, "Uint8Array");
    if (n !== this.blockPayloadBytes) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `${name}: a block payload must be a Uint8Array of ${this.blockPayloadBytes} bytes, got ${n}`,
        { argument: name, expected: this.blockPayloadBytes },
      );
    }
  }

  /**
   * Puts a host-RAM tier behind the pool (null removes it): cached blocks the pool recycles
   * spill into it, and admission copies the prompt's next blocks back from it.
   */
  attachHostTier(tier: HostTier | null): void {
    this.checkUsable();
    if (tier?.format) checkHeadDimFor(tier.format, this.headDim, "headDim");
    this.host = tier;
    this.allocator.onEvict =
      tier === null ? null : (block, hash, content) => this.spill(block, hash, content);
  }

  /** The host-RAM tier behind the pool, or null. */
  get hostTier(): HostTier | null {
    return this.host;
  }

  /**
   * A host-tier block's payload in the pool's layout and format (a copy when the tier keeps
   * another format), or null when it is not the size this cache's host blocks have (a tier
   * shared with a cache of another layout).
   */
  hostPayloadToPool(payload: Uint8Array): Uint8Array | null {
    if (!(payload instanceof Uint8Array) || payload.length !== this.hostPayloadBytes) return null;
    return this.fromHost(payload);
  }

  /** A cached block about to be recycled: its KV, tokens and parent hash go to the host tier. */
  private spill(block: number, hash: BlockHash, content: BlockContent | undefined): void {
    if (this.host === null || content === undefined) return;
    let parentHash: BlockHash | null = null;
    if (content.parent !== -1) {
      // A recycled parent means this block's chain no longer verifies anywhere: let it go.
      if (this.allocator.generation(content.parent) !== content.parentGeneration) return;
      const h = this.allocator.hashOfBlock(content.parent);
      if (h === undefined) return;
      parentHash = h;
    }
    const payload = this.toHost(this.readBlockPayload(block));
    if (payload === null) return; // not finite: a block format cannot hold it
    this.host.put({
      hash,
      parentHash,
      tokens: content.tokens,
      extra: content.extra,
      payload,
      origin: KV_ORIGINS[this.origin[block]!]!,
    });
  }

  /** Rows in a block payload: per layer, blockSize K rows and blockSize V rows. */
  private get payloadRows(): number {
    return this.numLayers * 2 * this.blockSize;
  }

  /** Bytes of one block as the host tier keeps it (its format, or the pool's). */
  private get hostPayloadBytes(): number {
    const f = this.host?.format;
    return f && f !== this.format ? this.payloadRows * rowBytes(f, this.tokenFloats) : this.blockPayloadBytes;
  }

  /** A pool block in the host tier's format; null when it holds a value that format cannot. */
  private toHost(payload: Uint8Array): Uint8Array | null {
    const f = this.host?.format;
    return f && f !== this.format
      ? convertRows(payload, this.format, f, this.payloadRows, this.tokenFloats)
      : payload;
  }

  /** A host block back in the pool's format (it was finite when it went down, so it converts). */
  private fromHost(payload: Uint8Array): Uint8Array {
    const f = this.host?.format;
    if (!f || f === this.format) return payload;
    return convertRows(payload, f, this.format, this.payloadRows, this.tokenFloats)!;
  }

  /** Bytes of one token's K (or V) rows in one layer of the recent tier. */
  get bytesPerTokenRow(): number {
    return this.pools.recent.tokenBytes;
  }

  /**
   * Admits a sequence for `prompt` if the pool can hold it up to `maxTokens`, all or nothing
   * (as vLLM's allocate_slots): the longest verified run of cached whole blocks (live in another
   * sequence, or soft-free) is adopted, and the blocks still missing are reserved. A soft-free
   * hit counts against the free blocks too, since taking it removes it from them. Returns null,
   * with nothing changed, when the blocks are not free now; CAPACITY_EXCEEDED when they never
   * could be. At least the last prompt token is always left to compute (`seq.cachedTokens`
   * says how many need no prefill).
   */
  admit(prompt: ArrayLike<number>, options: AdmitOptions = {}): PagedSequence | null {
    this.checkUsable();
    const ids = checkTokenIds("prompt", prompt);
    const bs = this.blockSize;
    const maxTokens = options?.maxTokens ?? ids.length;
    checkInt("maxTokens", maxTokens, ids.length, Number.MAX_SAFE_INTEGER);
    const total = Math.ceil(maxTokens / bs);
    if (total > Math.min(this.maxBlocksPerSeq, this.numBlocks)) {
      throw new LlmemError(
        "CAPACITY_EXCEEDED",
        `maxTokens=${maxTokens} needs ${total} blocks of ${bs}, beyond ${this.maxBlocksPerSeq < this.numBlocks ? `maxBlocksPerSeq=${this.maxBlocksPerSeq}` : `numBlocks=${this.numBlocks}`}`,
        { argument: "maxTokens", requested: total, limit: Math.min(this.maxBlocksPerSeq, this.numBlocks) },
      );
    }
    const hasher = new PrefixHasher(bs, options?.prefixKeys ?? this.prefixKeys);
    hasher.push(ids);
    const keys = this.keysOf(ids, hasher);
    const limit = Math.floor(Math.max(0, ids.length - 1) / bs);
    const found = findCachedPrefix(this.allocator, keys, limit);
    const fresh = total - found.blocks;
    if (fresh + found.evictable > this.allocator.freeCount - this.reserved) return null;
    const blocks = acquireCachedPrefix(this.allocator, keys, found.blocks);
    const reusedFrom = noReuse();
    for (const b of blocks) reusedFrom[KV_ORIGINS[this.origin[b]!]!] += bs;
    // Blocks the host tier holds next are copied into blocks the sequence takes anyway.
    let lower = this.host && found.blocks < limit ? this.host.take(keys, found.blocks, limit) : [];
    // a tier shared with a cache of another layout could hold blocks of another size: stop there
    const odd = lower.findIndex((b) => b.payload.length !== this.hostPayloadBytes);
    if (odd >= 0) lower = lower.slice(0, odd);
    const table = this.newTable(this.allocator);
    if (blocks.length > 0) table.adopt(blocks, blocks.length * bs);
    let chainOpen = true;
    if (lower.length > 0) {
      table.append(lower.length * bs);
      const placed = table.blocks.subarray(blocks.length, blocks.length + lower.length);
      for (let j = 0; j < lower.length; j++) {
        this.writeBlockPayload(placed[j]!, this.fromHost(lower[j]!.payload), lower[j]!.origin);
        reusedFrom.host += bs;
      }
      const parent = blocks.length > 0 ? blocks[blocks.length - 1]! : -1;
      const done = commitFullBlocks(this.allocator, keys, placed, blocks.length, parent);
      if (done < lower.length) chainOpen = false; // another block holds a later hash: stop the chain here
      for (let j = 0; j < done; j++) blocks.push(placed[j]!); // no spread: no argument-count limit
    }
    const cached = table.length;
    const seq = new PagedSequence(this, this.nextId++, {
      table,
      store: this.storeAllocator ? this.newTable(this.storeAllocator) : null,
      tokenIds: ids,
      hasher,
      cachedTokens: cached,
      numLayers: this.numLayers,
      chainTail: blocks.length > 0 ? blocks[blocks.length - 1]! : -1,
      promptBlocks: Math.floor(ids.length / bs),
    });
    seq.reusedFrom = reusedFrom;
    seq.chainOpen = chainOpen;
    seq.reserved = total - table.blockCount;
    this.reserved += seq.reserved;
    this.pending.add(hasher.hashes, seq.committed, seq.promptBlocks);
    this.saved += cached;
    this.live.set(seq.id, seq);
    return seq;
  }

  /**
   * True when the next block `prompt` would need after its cached prefix is a prompt block a
   * live sequence is still computing: admitting it after that block is written saves its prefill.
   */
  waitsForPrefix(prompt: ArrayLike<number>, prefixKeys: ChainOptions | undefined = this.prefixKeys): boolean {
    this.checkUsable();
    const ids = checkTokenIds("prompt", prompt);
    if (this.pending.size === 0) return false;
    const hasher = new PrefixHasher(this.blockSize, prefixKeys);
    hasher.push(ids);
    const limit = Math.floor(Math.max(0, ids.length - 1) / this.blockSize);
    const found = findCachedPrefix(this.allocator, this.keysOf(ids, hasher), limit).blocks;
    return found < limit && this.pending.has(hasher.hashes[found]!);
  }

  private keysOf(tokens: readonly number[], hasher: PrefixHasher): PrefixKeys {
    return { blockSize: this.blockSize, hashes: hasher.hashes, tokens, extra: (i) => hasher.extraWords(i) };
  }

  private newTable(allocator: BlockAllocator): BlockTable {
    return new BlockTable(allocator, { blockSize: this.blockSize, maxBlocksPerSeq: this.maxBlocksPerSeq });
  }

  /**
   * @internal PagedSequence.beginStep. Public all the same, so it checks the ids again (a list
   * of a hostile shape reached the block table, which refused it naming its own `count`).
   */
  beginStep(seq: PagedSequence, tokenList: readonly number[]): void {
    this.checkSeq(seq);
    const tokens = checkTokenIds("tokens", tokenList);
    if (tokens.length === 0) {
      throw new LlmemError("INVALID_ARGUMENT", "tokens must hold at least one token id", {
        argument: "tokens",
      });
    }
    if (seq.stepTokens !== 0) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        "beginStep: seq is inside a step that has not ended (call end() first)",
        {
          argument: "seq",
        },
      );
    }
    const n = tokens.length;
    const bs = this.blockSize;
    const start = seq.length;
    const end = start + n;
    const known = seq.tokenIds;
    for (let i = 0; i < n && start + i < known.length; i++) {
      if (tokens[i] !== known[start + i]) {
        throw new LlmemError(
          "INVALID_ARGUMENT",
          `tokens[${i}] = ${tokens[i]} at position ${start + i}, where the sequence holds ${known[start + i]}`,
          { argument: "tokens", index: i },
        );
      }
    }
    if (Math.ceil(end / bs) > this.maxBlocksPerSeq) {
      throw new LlmemError(
        "CAPACITY_EXCEEDED",
        `${n} more tokens after ${start} need ${Math.ceil(end / bs)} blocks of ${bs}, beyond maxBlocksPerSeq=${this.maxBlocksPerSeq}`,
        { argument: "tokens", requested: Math.ceil(end / bs), limit: this.maxBlocksPerSeq },
      );
    }
    // The recent table covers positions [stored, stored + table.length).
    const table = seq.table;
    const needed = table.blocksNeeded(end - seq.storedTokens);
    const available = this.allocator.freeCount - (this.reserved - seq.reserved);
    if (needed > available) {
      throw new PoolExhaustedError(
        `KV block pool exhausted: ${n} more tokens after ${start} need ${needed} blocks, ${available} free and not promised to other sequences`,
        needed,
        available,
      );
    }
    const copy = table.append(n);
    if (copy) this.pools.copyRecent(copy.src, copy.dst);
    const promised = Math.min(needed, seq.reserved);
    seq.reserved -= promised;
    this.reserved -= promised;
    if (end > known.length) {
      const added = tokens.slice(known.length - start);
      for (const t of added) known.push(t);
      seq.hasher.push(added);
    }
    seq.stepTokens = n;
    seq.layerDone.fill(0);
    seq.layersDone = 0;
  }

  /** @internal PagedSequence.write */
  write(seq: PagedSequence, layer: number, k: Float32Array, v: Float32Array): void {
    this.checkStep(seq, "write");
    checkInt("layer", layer, 0, this.numLayers - 1);
    if (seq.layerDone[layer] === 1) {
      throw new LlmemError("INVALID_ARGUMENT", `layer ${layer} is written already in this step`, {
        argument: "layer",
      });
    }
    const n = seq.stepTokens;
    const tf = this.tokenFloats;
    for (const [name, rows] of [
      ["k", k],
      ["v", v],
    ] as const) {
      checkFloat32Array(name, rows);
      if (rows.length !== n * tf) {
        throw new LlmemError(
          "INVALID_ARGUMENT",
          `${name} must hold ${n} token(s) of numKvHeads*headDim = ${tf} floats, got ${rows.length}`,
          { argument: name, length: rows.length, expected: n * tf },
        );
      }
      // Refused at the door whenever any tier it may reach is a block format (which cannot hold
      // NaN/±Inf): a tiered cache's f32 recent rows are quantized into the store tier later.
      if (isBlockFormat(this.format) || (this.tiers !== null && isBlockFormat(this.tiers.storeFormat))) {
        checkAllFinite(name, rows);
      }
    }
    this.pools.writeRecent(layer, seq.table.blocks, seq.length - seq.storedTokens, n, k, v);
    seq.layerDone[layer] = 1;
    seq.layersDone++;
  }

  /** @internal PagedSequence.attend */
  attend(
    seq: PagedSequence,
    layer: number,
    query: Float32Array,
    out: Float32Array,
    positions?: number,
  ): Float32Array {
    this.checkSeq(seq);
    checkInt("layer", layer, 0, this.numLayers - 1);
    const held = seq.storedTokens + seq.table.length;
    const m = this.queryCount(query, held);
    this.checkHeads("out", out, m);
    // query i of m attends over the first `first + i` positions: the last one's limit is
    // `positions + m - 1`, at most what the layer holds
    const first = positions === undefined ? held - m + 1 : checkInt("positions", positions, 1, held - m + 1);
    if (seq.stepTokens > 0 && seq.layerDone[layer] === 0) {
      throw new LlmemError("INVALID_ARGUMENT", `attend: layer ${layer} is not written yet in this step`, {
        argument: "layer",
      });
    }
    if (m === 1) {
      this.attendOne(seq, layer, query, out, first);
      return out;
    }
    // A chunk: one kernel call when its queries all fall in the recent tier alone (no store
    // tokens, so one segment), else query by query (the tiers merged per query).
    if (seq.storedTokens === 0) {
      const recentSeg = this.segs[1];
      recentSeg.keys = this.pools.recent.k[layer]!;
      recentSeg.values = this.pools.recent.v[layer]!;
      recentSeg.count = first - seq.storedTokens;
      recentSeg.blockTable = seq.table.blocks;
      if (this.segments.attendChunk(recentSeg, query, m, this.numHeads, this.scale, out)) return out;
    }
    const floats = this.numHeads * this.headDim;
    for (let i = 0; i < m; i++) {
      this.attendOne(
        seq,
        layer,
        query.subarray(i * floats, (i + 1) * floats),
        out.subarray(i * floats, (i + 1) * floats),
        first + i,
      );
    }
    return out;
  }

  /** One query over the first `limit` positions of `layer` (checked by attend). */
  private attendOne(
    seq: PagedSequence,
    layer: number,
    query: Float32Array,
    out: Float32Array,
    limit: number,
  ): void {
    // The two segments are rewritten in place: the per-step path allocates nothing.
    const { recent, store } = this.pools;
    const [storeSeg, recentSeg] = this.segs;
    storeSeg.count = 0;
    if (store && seq.store && seq.storedTokens > 0) {
      storeSeg.format = store.format;
      storeSeg.keys = store.k[layer]!;
      storeSeg.values = store.v[layer]!;
      storeSeg.count = Math.min(seq.storedTokens, limit);
      storeSeg.blockTable = seq.store.blocks;
      storeSeg.channelKeys = this.pools.channelKeys;
    }
    recentSeg.keys = recent.k[layer]!;
    recentSeg.values = recent.v[layer]!;
    // inside a step the table already counts the step's tokens, and this layer holds them;
    // `positions` (a prefill chunk's causal mask) stops at the first `limit` positions
    recentSeg.count = Math.max(0, limit - seq.storedTokens);
    recentSeg.blockTable = seq.table.blocks;
    this.segments.attend(this.segs, query, this.numHeads, this.scale, out);
  }

  /** @internal PagedSequence.end */
  endStep(seq: PagedSequence): void {
    this.checkStep(seq, "end");
    if (seq.layersDone !== this.numLayers) {
      const missing = seq.layerDone.indexOf(0);
      throw new LlmemError("INVALID_ARGUMENT", `end: layer ${missing} is not written in this step`, {
        argument: "layer",
        layer: missing,
      });
    }
    seq.stepTokens = 0;
    this.commitFullBlocks(seq);
    this.migrateOldBlocks(seq);
  }

  /**
   * A new sequence sharing every block of `seq` (no copy now); the first write into a shared
   * partial block copies it. Only between steps.
   */
  fork(seq: PagedSequence): PagedSequence {
    this.checkSeq(seq);
    if (seq.stepTokens !== 0) {
      throw new LlmemError("INVALID_ARGUMENT", "seq is inside a step: fork it between steps", {
        argument: "seq",
      });
    }
    const hasher = new PrefixHasher(this.blockSize, seq.hasher.options);
    hasher.push(seq.tokenIds);
    const child = new PagedSequence(this, this.nextId++, {
      table: seq.table.fork(),
      store: seq.store ? seq.store.fork() : null,
      tokenIds: seq.tokenIds.slice(),
      hasher,
      cachedTokens: 0,
      numLayers: this.numLayers,
      chainTail: seq.chainTail,
      promptBlocks: 0,
    });
    child.committed = seq.committed;
    child.chainOpen = seq.chainOpen;
    child.promptBlocks = seq.committed; // the parent is the one computing the prompt
    this.live.set(child.id, child);
    return child;
  }

  /**
   * Ends a sequence: its blocks are freed (those in the prefix cache stay findable until
   * recycled) and what admission reserved for it and it did not take goes back.
   */
  release(seq: PagedSequence): void {
    this.checkSeq(seq);
    this.dropPending(seq, seq.promptBlocks);
    this.reserved -= seq.reserved;
    seq.reserved = 0;
    seq.table.release();
    seq.store?.release();
    seq.released = true;
    this.live.delete(seq.id);
  }

  /** K and V `layer` holds for `seq` (inside a step: its tokens once written), decoded to f32 in order (both tiers). */
  read(seq: PagedSequence, layer: number): { keys: Float32Array; values: Float32Array } {
    this.checkSeq(seq);
    checkInt("layer", layer, 0, this.numLayers - 1);
    const n = seq.length + (seq.layerDone[layer] === 1 ? seq.stepTokens : 0);
    return this.pools.read(layer, n, seq.storedTokens, seq.store?.blocks ?? null, seq.table.blocks);
  }

  stats(): PagedStats {
    const m = this.allocator.metrics();
    const bytesPerBlock = this.pools.recent.blockBytes * 2 * this.numLayers;
    const storeBytesPerBlock = this.pools.store ? this.pools.store.blockBytes * 2 * this.numLayers : 0;
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
      reservedBlocks: this.reserved,
      prefillTokensSaved: this.saved,
      prefixHits: m.hits,
      prefixMisses: m.misses,
      prefixEvictions: m.evictions,
      hostTier: this.host?.stats() ?? null,
    };
  }

  /** Releases every sequence and returns the pool memory (to the BucketPool given, or frees it). */
  dispose(): void {
    if (this.disposed) return;
    for (const seq of [...this.live.values()]) this.release(seq);
    this.pools.dispose();
    this.disposed = true;
  }

  /**
   * Hands the sequence's newly full blocks to the prefix cache. Runs before migration, so every
   * block not yet committed is still in the recent table.
   */
  private commitFullBlocks(seq: PagedSequence): void {
    const bs = this.blockSize;
    const full = Math.floor(seq.length / bs);
    if (full <= seq.committed) return;
    const first = seq.committed;
    const base = seq.storedTokens / bs;
    const parent = first === 0 ? -1 : seq.chainTail;
    if (seq.chainOpen && first >= base && (parent === -1 || this.allocator.refCount(parent) > 0)) {
      const blocks = seq.table.blocks.subarray(first - base, full - base);
      const keys = this.keysOf(seq.tokenIds, seq.hasher);
      const fresh = blocks.map((b) => (this.allocator.hashOfBlock(b) === undefined ? 1 : 0));
      const done = commitFullBlocks(this.allocator, keys, blocks, first, parent);
      for (let j = 0; j < done; j++) {
        if (fresh[j] === 0) continue; // adopted: registered (and stored) by whoever computed it
        const b = blocks[j]!;
        this.origin[b] = ORIGIN_CODE.device;
        this.onBlockCommitted?.(b, this.allocator.hashOfBlock(b)!, this.allocator.contentOfBlock(b)!);
      }
      if (done > 0) seq.chainTail = blocks[done - 1]!;
      if (done < blocks.length) seq.chainOpen = false;
    } else {
      seq.chainOpen = false;
    }
    this.dropPending(seq, full);
    seq.committed = full;
    if (!seq.chainOpen) this.dropPending(seq, seq.promptBlocks);
  }

  /**
   * Forgets the sequence's pending prompt blocks [committed, upTo); with upTo = promptBlocks
   * it holds none afterwards.
   */
  private dropPending(seq: PagedSequence, upTo: number): void {
    const to = Math.min(upTo, seq.promptBlocks);
    this.pending.remove(seq.hasher.hashes, seq.committed, to);
    if (to === seq.promptBlocks) seq.promptBlocks = seq.committed;
  }

  /**
   * Two-tier policy: moves full blocks older than the newest `recentBlocks` into the store
   * tier (all layers at once, so only blocks every layer has filled). The recent block stays
   * allocated to other holders and, if hashed, findable for prefix reuse once released.
   */
  private migrateOldBlocks(seq: PagedSequence): void {
    const tiers = this.tiers;
    const store = seq.store;
    if (!tiers || !store) return;
    const bs = this.blockSize;
    while (Math.floor(seq.length / bs) - store.blockCount > tiers.recentBlocks) {
      if (this.storeAllocator!.freeCount === 0) return; // the store is full: keep blocks recent
      store.append(bs);
      this.pools.moveToStore(seq.table.blocks[0]!, store.blocks[store.blockCount - 1]!);
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

  /** `a` is a Float32Array of numHeads*headDim floats (attend's query and out). */
  private checkHeads(name: string, a: Float32Array, queries = 1): void {
    checkFloat32Array(name, a);
    const floats = queries * this.numHeads * this.headDim;
    if (a.length !== floats) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `${name} must hold ${queries} × numHeads*headDim = ${floats} floats, got ${a.length}`,
        {
          argument: name,
          length: a.length,
          expected: floats,
        },
      );
    }
  }

  /** Queries in `query` (whole numHeads*headDim rows, 1..held). */
  private queryCount(query: Float32Array, held: number): number {
    checkFloat32Array("query", query);
    const floats = this.numHeads * this.headDim;
    const m = query.length / floats;
    if (!Number.isInteger(m) || m < 1 || m > Math.max(1, held)) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `query must hold 1 to ${Math.max(1, held)} queries of numHeads*headDim = ${floats} floats, got ${query.length}`,
        { argument: "query", length: query.length, expected: floats },
      );
    }
    return m;
  }

  private checkStep(seq: PagedSequence, what: string): void {
    this.checkSeq(seq);
    if (seq.stepTokens === 0) {
      throw new LlmemError("INVALID_ARGUMENT", `${what}: seq is not inside a step (call beginStep first)`, {
        argument: "seq",
      });
    }
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
