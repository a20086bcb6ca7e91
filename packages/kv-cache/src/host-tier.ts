/**
 * A byte-capped LRU tier in host RAM behind a PagedKvCache's pool: blocks the pool's prefix
 * cache recycles spill here (their KV bytes, token ids, extra keys and parent hash), and a
 * prompt whose next blocks are here gets them copied back into the pool instead of prefilled.
 *
 * The cap is a hard bound on the bytes held (payload + token ids + extra-key words): a block
 * that does not fit after evicting everything older is dropped, never kept over the cap
 * (llama.cpp's prompt cache grows without bound, ollama #18264; this one cannot).
 * A hit is verified like a pool hit: same chain hash, same token ids, same extra keys, and the
 * same parent hash, so a collision cannot splice in KV computed for other tokens.
 */
import type { BlockHash, PrefixKeys } from "@llmem/block-allocator";
import { checkInt, checkOneOf, LlmemError } from "@llmem/core";
import type { KvOrigin } from "./origins.ts";
import { ROW_FORMATS, type RowFormat } from "./row-formats.ts";

export interface HostTierStats {
  capBytes: number;
  /** Bytes held (payload + token ids + extra-key words); never above capBytes. */
  bytes: number;
  blocks: number;
  /** Blocks served to admissions (copied back into the pool). */
  hits: number;
  /** Lookups that stopped on a block this tier did not hold (or held for other tokens). */
  misses: number;
  /** Blocks removed to make room for newer ones. */
  evictions: number;
  /** Blocks taken in (spilled from the pool, or fetched from a store). */
  puts: number;
  /** Blocks refused: larger than the cap on their own, or already held. */
  dropped: number;
}

/** One block as this tier holds it. */
export interface HostBlock {
  readonly hash: BlockHash;
  /** The chain hash of the block before it, or null for a sequence's first block. */
  readonly parentHash: BlockHash | null;
  readonly tokens: Uint32Array;
  readonly extra: Uint32Array | null;
  /** The block's KV bytes in the pool's layout (`PagedKvCache.readBlockPayload`), in the tier's format. */
  readonly payload: Uint8Array;
  /** Where its KV was computed or read from (reported as `reusedFrom` when it is reused). */
  readonly origin: KvOrigin;
}

interface Entry extends HostBlock {
  readonly bytes: number;
}

function sameWords(a: ArrayLike<number> | null, b: ArrayLike<number> | null): boolean {
  const n = a === null ? 0 : a.length;
  if (n !== (b === null ? 0 : b.length)) return false;
  for (let i = 0; i < n; i++) if (a![i] !== b![i]) return false;
  return true;
}

export interface HostTierOptions {
  /**
   * Row format the tier keeps blocks in (default: the pool's). A more compact one (q8_0 behind
   * an f32 or f16 pool) holds more blocks in the same bytes; blocks are re-quantized on the way
   * down and back, so their KV is no longer exactly what was computed.
   */
  format?: RowFormat;
}

export class HostTier {
  readonly capBytes: number;
  /** Row format of the blocks held, or null: the pool's. */
  readonly format: RowFormat | null;
  /** Insertion order is recency: the first entry is the least recently used. */
  private readonly entries = new Map<BlockHash, Entry>();
  private held = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private puts = 0;
  private dropped = 0;

  constructor(capBytes: number, options: HostTierOptions = {}) {
    this.capBytes = checkInt("capBytes", capBytes, 0, Number.MAX_SAFE_INTEGER);
    this.format = options.format === undefined ? null : checkOneOf("format", options.format, ROW_FORMATS);
  }

  /**
   * Takes a copy of `block` in, evicting least recently used blocks until it fits; returns false
   * (and counts it dropped) when it is larger than the cap or its hash is held already (the
   * held one is refreshed instead: a hash names one block's content).
   */
  put(block: HostBlock): boolean {
    const bytes = block.payload.byteLength + block.tokens.byteLength + (block.extra?.byteLength ?? 0);
    const have = this.entries.get(block.hash);
    if (have !== undefined) {
      this.entries.delete(block.hash);
      this.entries.set(block.hash, have);
      this.dropped++;
      return false;
    }
    if (bytes > this.capBytes) {
      this.dropped++;
      return false;
    }
    while (this.held + bytes > this.capBytes) this.evictOldest();
    this.entries.set(block.hash, {
      hash: block.hash,
      parentHash: block.parentHash,
      tokens: block.tokens.slice(),
      extra: block.extra === null ? null : block.extra.slice(),
      payload: block.payload.slice(),
      origin: block.origin,
      bytes,
    });
    this.held += bytes;
    this.puts++;
    return true;
  }

  has(hash: BlockHash): boolean {
    return this.entries.has(hash);
  }

  /** How many of full blocks `from … limit − 1` of `keys` this tier holds, verified, in a row. Changes nothing. */
  count(keys: PrefixKeys, from: number, limit: number): number {
    let i = from;
    while (i < limit && this.verified(keys, i) !== null) i++;
    return i - from;
  }

  /**
   * Removes and returns the verified run of blocks `from … limit − 1` of `keys` (they move up
   * into the pool, and spill back here when the pool recycles them).
   */
  take(keys: PrefixKeys, from: number, limit: number): HostBlock[] {
    checkInt("from", from, 0, limit);
    const out: Entry[] = [];
    for (let i = from; i < limit; i++) {
      const e = this.verified(keys, i);
      if (e === null) {
        if (this.entries.size > 0) this.misses++;
        break;
      }
      out.push(e);
    }
    for (const e of out) {
      this.entries.delete(e.hash);
      this.held -= e.bytes;
    }
    this.hits += out.length;
    return out;
  }

  /** The held block for full block `i` of `keys`, if its tokens, extra keys and parent match. */
  private verified(keys: PrefixKeys, i: number): Entry | null {
    const e = this.entries.get(keys.hashes[i]!);
    if (e === undefined) return null;
    const bs = keys.blockSize;
    if (e.tokens.length !== bs) return null;
    for (let j = 0; j < bs; j++) if (e.tokens[j] !== keys.tokens[i * bs + j]) return null;
    if (!sameWords(e.extra, keys.extra?.(i) ?? null)) return null;
    const parent = i === 0 ? null : keys.hashes[i - 1]!;
    return e.parentHash === parent ? e : null;
  }

  private evictOldest(): void {
    const first = this.entries.keys().next();
    if (first.done)
      throw new LlmemError("OUT_OF_RANGE", "host tier accounting broke: bytes held with no block");
    const e = this.entries.get(first.value)!;
    this.entries.delete(first.value);
    this.held -= e.bytes;
    this.evictions++;
  }

  /** The blocks held, least recently used first; their recency is not changed (for saving them). */
  blocks(): HostBlock[] {
    return [...this.entries.values()];
  }

  /** Hashes held, least recently used first (for tests and tools). */
  hashes(): BlockHash[] {
    return [...this.entries.keys()];
  }

  clear(): void {
    this.entries.clear();
    this.held = 0;
  }

  stats(): HostTierStats {
    return {
      capBytes: this.capBytes,
      bytes: this.held,
      blocks: this.entries.size,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      puts: this.puts,
      dropped: this.dropped,
    };
  }
}
