/**
 * The decode loop's KV tiers below the pool: `--prompt-cache FILE` (restored before the run if
 * present, saved after it, as llama.cpp's), a host-RAM tier (cached blocks the pool recycles),
 * and `--kv-store redis://HOST:PORT` (blocks written as they are computed, prompts' stored
 * prefixes fetched before admission). A bad file or an unreachable store costs one warning line
 * and a recompute, never the run: the tiers only ever hand over verified KV.
 */
import { existsSync } from "node:fs";
import { isLlmemError } from "@llmem/core";
import {
  HostTier,
  type ModelFingerprint,
  RemoteTier,
  type RemoteTierStats,
  restoreKvFile,
  saveKvFile,
} from "@llmem/kv-cache";
import { RedisKvStore } from "@llmem/kv-store-redis";
import type { KvFormat } from "./args.ts";
import { headSize, type ModelConfig } from "./config.ts";
import type { KvStore } from "./kv-store.ts";

export interface KvTierOptions {
  promptCache?: string;
  kvStore?: string;
  kv: KvFormat;
  /** Byte cap of the host-RAM tier. */
  hostBytes: number;
}

export interface KvTierReport {
  /** Blocks restored from --prompt-cache (0 when absent or refused). */
  fileBlocks: number;
  /** Blocks saved to it after the run. */
  savedBlocks: number;
  host: { bytes: number; blocks: number; hits: number; evictions: number };
  /** Blocks stored in Redis by this run (after its queued writes finished), and whether it was reachable. */
  redis: (RemoteTierStats & { stored: number; connected: boolean }) | null;
}

const CONNECT_MS = 500;
const READ_MS = 1000;

export class KvTiers {
  private fileBlocks = 0;
  private savedBlocks = 0;
  private redisStats: { stored: number; connected: boolean } | null = null;

  private constructor(
    private readonly kv: KvStore,
    private readonly o: KvTierOptions,
    private readonly model: ModelFingerprint,
    private readonly host: HostTier,
    private readonly store: RedisKvStore | null,
    private readonly remote: RemoteTier | null,
    private readonly warn: (line: string) => void,
  ) {}

  /** Attaches the tiers to `kv`'s cache, restores the file, connects to the store. */
  static async open(
    kv: KvStore,
    config: ModelConfig,
    model: ModelFingerprint,
    o: KvTierOptions,
    warn: (line: string) => void,
  ): Promise<KvTiers> {
    const host = new HostTier(o.hostBytes);
    kv.cache.attachHostTier(host);
    let store: RedisKvStore | null = null;
    let remote: RemoteTier | null = null;
    if (o.kvStore !== undefined) {
      store = new RedisKvStore({
        url: o.kvStore,
        modelFingerprint: model.hex,
        kvFormat: o.kv,
        blockSize: kv.cache.blockSize,
        numLayers: config.nLayers,
        numKvHeads: config.nKvHeads,
        headDim: headSize(config),
        onWarn: warn,
        // lookups run before the requests start, not inside a decode step: a loaded machine
        // gets a second to answer (a dead server opens the store's breaker after one timeout)
        readTimeoutMs: READ_MS,
      });
      remote = new RemoteTier(kv.cache, store);
      await store.ready(CONNECT_MS); // unreachable: the store itself says so in one line
    }
    const tiers = new KvTiers(kv, o, model, host, store, remote, warn);
    tiers.restore();
    return tiers;
  }

  private restore(): void {
    const path = this.o.promptCache;
    if (path === undefined || !existsSync(path)) return;
    try {
      this.fileBlocks = restoreKvFile(this.kv.cache, path, { model: this.model, fit: true }).blocks;
    } catch (e) {
      if (!isLlmemError(e)) throw e;
      this.warn(`--prompt-cache ${path} not used (${e.message}); recomputing`);
    }
  }

  /** Fetches each prompt's stored prefix the pool and host tier do not hold (one lookup and one read each). */
  async prefetch(prompts: readonly (readonly number[])[]): Promise<void> {
    if (this.remote === null) return;
    for (const p of prompts) await this.remote.prefetch(p);
  }

  /** After the run: saves the file, lets queued store writes finish, disconnects. */
  async close(): Promise<void> {
    const path = this.o.promptCache;
    if (path !== undefined) {
      try {
        this.savedBlocks = saveKvFile(this.kv.cache, path, { model: this.model }).blocks;
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        this.warn(`--prompt-cache ${path} not saved (${msg})`);
      }
    }
    if (this.store !== null) {
      // a connection lost or slow to come up during the (synchronous) run gets one more chance
      await this.store.ready(CONNECT_MS);
      await this.store.flush();
      const s = this.store.stats();
      this.redisStats = { stored: s.writes, connected: s.connected };
      this.store.close();
    }
  }

  report(): KvTierReport {
    const h = this.host.stats();
    return {
      fileBlocks: this.fileBlocks,
      savedBlocks: this.savedBlocks,
      host: { bytes: h.bytes, blocks: h.blocks, hits: h.hits, evictions: h.evictions },
      redis:
        this.remote === null || this.store === null
          ? null
          : {
              ...this.remote.stats(),
              ...(this.redisStats ?? {
                stored: this.store.stats().writes,
                connected: this.store.stats().connected,
              }),
            },
    };
  }
}
