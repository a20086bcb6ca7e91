/**
 * A shared block store (e.g. `@llmem/kv-store-redis`'s RedisKvStore) behind a PagedKvCache:
 * every block the cache's sequences compute and register is also written to the store, off
 * the decode path (`putAsync` copies and queues), and before a prompt is admitted its chain
 * hashes are looked up there (one round trip for the longest stored prefix, one to read it),
 * and the verified blocks the pool does not hold are copied into it, registered and left
 * soft-free, so admission adopts them (`reusedFrom.redis`).
 *
 * The store is any object with the three calls below: this package does not depend on Redis.
 * A store that is down, slow or returns damage gives misses (its own contract); here, a block
 * of the wrong size or a hash the pool holds for other content ends the run of copied blocks.
 */
import { acquireCachedPrefix, findCachedPrefix, type PrefixKeys } from "@llmem/block-allocator";
import { tokenFingerprint } from "@llmem/core";
import { type ChainOptions, PrefixHasher } from "@llmem/prefix-hash";
import type { KvOrigin } from "./origins.ts";
import type { PagedKvCache } from "./paged.ts";

export interface SharedBlockStore {
  /** How many leading hashes the store holds (an upper bound: getBlocks verifies). */
  longestPrefix(hashes: ArrayLike<bigint>): Promise<number>;
  /** The verified leading run of payloads for these hashes and token fingerprints. */
  getBlocks(hashes: ArrayLike<bigint>, tokenFingerprints: ArrayLike<bigint>): Promise<Uint8Array[]>;
  /** Queues a write and returns at once (false: dropped). */
  putAsync(hash: bigint, tokenFingerprint: bigint, payload: Uint8Array): boolean;
}

export interface RemoteTierStats {
  /** Blocks handed to the store's write queue (and refused by it). */
  written: number;
  writesDropped: number;
  /** Prompts looked up, blocks copied into the pool from the store. */
  lookups: number;
  fetchedBlocks: number;
  /** Blocks the store returned that were not copied (wrong size, no room, hash held for other content). */
  refusedBlocks: number;
  /** Prefix blocks the host-RAM tier held, so the store was not asked for them. */
  localBlocks: number;
}

export class RemoteTier {
  private readonly scratch: Uint8Array;
  private readonly st: RemoteTierStats = {
    written: 0,
    writesDropped: 0,
    lookups: 0,
    fetchedBlocks: 0,
    refusedBlocks: 0,
    localBlocks: 0,
  };

  /**
   * Attaches `store` to `cache`: from now on each block the cache registers is written to it.
   * `prefixKeys` are the keys prompts are hashed with (the cache's own by default).
   */
  constructor(
    private readonly cache: PagedKvCache,
    private readonly store: SharedBlockStore,
    private readonly prefixKeys?: ChainOptions,
  ) {
    this.scratch = new Uint8Array(cache.blockPayloadBytes);
    cache.onBlockCommitted = (block, hash, content) => {
      if (typeof hash !== "bigint") return;
      const ok = store.putAsync(
        hash,
        tokenFingerprint(content.tokens),
        cache.readBlockPayload(block, this.scratch),
      );
      if (ok) this.st.written++;
      else this.st.writesDropped++;
    };
  }

  /** Stops writing to the store. */
  detach(): void {
    this.cache.onBlockCommitted = null;
  }

  /**
   * Copies the prompt's stored blocks that the pool does not hold yet into it (as many as fit in
   * the blocks neither live nor promised), ahead of `cache.admit(prompt)`. Returns how many came
   * from the store. The host-RAM tier is looked in first: when the pool and the host tier hold
   * the whole prefix there is no round trip at all; otherwise only the blocks after the host
   * tier's run are read from the store, and the host run is moved up into the pool ahead of them
   * (so the store's blocks have their parents there). Never throws for the store: its faults are
   * misses.
   */
  async prefetch(prompt: readonly number[]): Promise<number> {
    this.st.lookups++;
    const cache = this.cache;
    const bs = cache.blockSize;
    const hasher = new PrefixHasher(bs, this.prefixKeys);
    hasher.push(prompt);
    const limit = Math.floor(Math.max(0, prompt.length - 1) / bs); // admission leaves the last token
    const keys: PrefixKeys = {
      blockSize: bs,
      hashes: hasher.hashes,
      tokens: prompt,
      extra: (i) => hasher.extraWords(i),
    };
    const found = findCachedPrefix(cache.allocator, keys, limit).blocks;
    const inHost = cache.hostTier?.count(keys, found, limit) ?? 0;
    if (found + inHost >= limit) {
      this.st.localBlocks += inHost;
      return 0;
    }
    const hashes = Array.from(hasher.hashes.slice(0, limit));
    const stored = Math.min(limit, await this.store.longestPrefix(hashes));
    const local = found + inHost;
    if (stored <= local) return 0;
    const want = hashes.slice(local, stored);
    const fps = want.map((_, j) => tokenFingerprint(prompt.slice((local + j) * bs, (local + j + 1) * bs)));
    const payloads = await this.store.getBlocks(want, fps);
    if (payloads.length === 0) return 0;
    // The awaits let other work change the pool and the host tier: take the host run as it is
    // now; the store's blocks follow it only if it is still whole.
    const host = cache.hostTier;
    const lifted = inHost > 0 && host !== null ? host.take(keys, found, local) : [];
    const moved: Array<{ payload: Uint8Array; origin: KvOrigin }> = [];
    for (const h of lifted) {
      const payload = cache.hostPayloadToPool(h.payload);
      if (payload === null) break;
      moved.push({ payload, origin: "host" });
    }
    const fromStore =
      moved.length === inHost ? payloads.map((payload) => ({ payload, origin: "redis" as const })) : [];
    const copied = this.copyIn(keys, found, [...moved, ...fromStore]);
    // Host blocks not copied (no room, or a hash held for other content) go back down.
    for (let j = Math.min(copied, lifted.length); j < lifted.length; j++) host!.put(lifted[j]!);
    const fetched = Math.max(0, copied - moved.length);
    this.st.localBlocks += Math.min(copied, moved.length);
    this.st.fetchedBlocks += fetched;
    this.st.refusedBlocks += payloads.length - fetched;
    return fetched;
  }

  /** Pins the pool's prefix, then copies `blocks` (blocks from, from + 1, …) into new blocks. */
  private copyIn(
    keys: PrefixKeys,
    from: number,
    blocks: ReadonlyArray<{ payload: Uint8Array; origin: KvOrigin }>,
  ): number {
    const cache = this.cache;
    const a = cache.allocator;
    // The awaits let other work change the pool: take what it holds now, pinned so that the
    // allocations below cannot recycle it.
    const held = acquireCachedPrefix(a, keys, from);
    let copied = 0;
    try {
      if (held.length !== from) return 0;
      const room = a.freeCount - cache.stats().reservedBlocks;
      for (const { payload, origin } of blocks) {
        if (copied >= room || payload.length !== cache.blockPayloadBytes) break;
        const i = from + copied;
        if (a.peekHash(keys.hashes[i]!) !== null) break; // held for other content: leave it
        const b = a.allocate();
        held.push(b);
        cache.writeBlockPayload(b, payload, origin);
        const parent = from + copied === 0 ? -1 : held[held.length - 2]!;
        const tokens = Uint32Array.from(
          { length: keys.blockSize },
          (_, t) => keys.tokens[i * keys.blockSize + t]!,
        );
        a.registerBlockHash(b, keys.hashes[i]!, { tokens, extra: keys.extra?.(i) ?? null, parent });
        copied++;
      }
    } finally {
      a.free(held.reverse()); // tail first, as a released sequence
    }
    return copied;
  }

  stats(): RemoteTierStats {
    return { ...this.st };
  }
}
