/**
 * The loop's K/V store on @llmem/kv-cache's PagedKvCache: per-layer block pools addressed
 * through @llmem/block-allocator block tables, prompts matched against cached blocks by their
 * @llmem/prefix-hash chain, full blocks registered as they fill (prompt and generated
 * tokens), soft-free on release so later prompts can still adopt them. Admission control
 * here keeps a live sequence from ever running out of blocks mid-decode.
 */
import { LlmemError } from "@llmem/core";
import { PagedKvCache, type PagedSequence } from "@llmem/kv-cache";
import { hashChain } from "@llmem/prefix-hash";
import type { KvFormat } from "./args.ts";
import { headSize, type ModelConfig } from "./config.ts";
import type { KvSequence } from "./kv.ts";
import type { KvProvider } from "./scheduler.ts";
import type { Sequence } from "./sequence.ts";

export interface KvStoreOptions {
  format: KvFormat;
  blockSize: number;
  numBlocks: number;
}

/** Chain hashes of the prompt's full blocks (the same chain the cache registers under). */
function promptChain(prompt: readonly number[], bs: number): BigUint64Array {
  return hashChain(prompt, bs);
}

export class KvStore implements KvProvider {
  readonly cache: PagedKvCache;
  readonly config: ModelConfig;
  readonly format: KvFormat;
  private readonly perSeqBlocks: number;
  /** Blocks promised to live sequences and not yet taken. */
  private promised = 0;
  private readonly live = new Set<CachedSequence>();

  constructor(config: ModelConfig, o: KvStoreOptions) {
    const hs = headSize(config);
    if ((o.format === "q8_0" || o.format === "q4_0") && hs % 32 !== 0) {
      throw new LlmemError(
        "UNSUPPORTED",
        `--kv ${o.format} stores each head in 32-value blocks; this model's head size is ${hs} (use --kv f32 or f16)`,
      );
    }
    this.config = config;
    this.format = o.format;
    this.perSeqBlocks = Math.ceil(config.seqLen / o.blockSize);
    this.cache = new PagedKvCache({
      numLayers: config.nLayers,
      numKvHeads: config.nKvHeads,
      headDim: hs,
      blockSize: o.blockSize,
      numBlocks: o.numBlocks,
      maxBlocksPerSeq: this.perSeqBlocks,
      precision: o.format,
    });
  }

  get blockSize(): number {
    return this.cache.blockSize;
  }

  open(prompt: readonly number[]): { kv: KvSequence; cached: number } | null {
    const free = this.cache.allocator.freeCount;
    if (free - this.promised < this.perSeqBlocks) {
      if (this.perSeqBlocks > this.cache.numBlocks) {
        throw new LlmemError(
          "CAPACITY_EXCEEDED",
          `one sequence needs ${this.perSeqBlocks} KV blocks, the pool has ${this.cache.numBlocks}`,
        );
      }
      return null;
    }
    const seq = new CachedSequence(this, this.cache.addSequence(prompt), prompt);
    seq.promised = this.perSeqBlocks - seq.seq.blockIds().length;
    this.promised += seq.promised;
    this.live.add(seq);
    return { kv: seq, cached: seq.seq.cachedTokens };
  }

  close(s: Sequence): void {
    this.closeKv(s.kv);
  }

  /** Ends a store opened with `open` (for callers driving the model without a Sequence). */
  closeKv(kv: KvSequence): void {
    const seq = kv as CachedSequence;
    this.promised -= seq.promised;
    seq.promised = 0;
    this.live.delete(seq);
    seq.release();
  }

  /** Wait while a live sequence is still computing full prompt blocks this prompt shares. */
  shouldWait(prompt: readonly number[]): boolean {
    const bs = this.blockSize;
    const mine = promptChain(prompt.slice(0, prompt.length - 1), bs);
    for (const seq of this.live) {
      let shared = 0;
      while (
        shared < mine.length &&
        shared < seq.promptHashes.length &&
        mine[shared] === seq.promptHashes[shared]
      )
        shared++;
      if (shared > Math.floor(seq.written / bs)) return true;
    }
    return false;
  }

  /** A sequence took `n` new blocks from its promise. */
  took(seq: CachedSequence, n: number): void {
    const used = Math.min(n, seq.promised);
    seq.promised -= used;
    this.promised -= used;
  }
}

class CachedSequence implements KvSequence {
  readonly seq: PagedSequence;
  readonly promptHashes: BigUint64Array;
  promised = 0;
  /** Positions whose K/V is in every layer. */
  written: number;
  /** Token ids the cache knows (the prompt, then each fed-back token). */
  private known: number;
  private readonly store: KvStore;
  private readonly scale: number;
  private readonly lastLayer: number;

  constructor(store: KvStore, seq: PagedSequence, prompt: readonly number[]) {
    this.store = store;
    this.seq = seq;
    this.written = seq.cachedTokens;
    this.known = prompt.length;
    this.promptHashes = promptChain(prompt, store.blockSize);
    this.scale = 1 / Math.sqrt(headSize(store.config));
    this.lastLayer = store.config.nLayers - 1;
  }

  reserve(pos: number): void {
    if (pos !== this.written) {
      throw new LlmemError("OUT_OF_RANGE", `position ${pos} is not the next one (${this.written})`);
    }
  }

  write(layer: number, _pos: number, k: Float32Array, v: Float32Array): void {
    const before = layer === 0 ? this.seq.blockIds().length : 0;
    this.store.cache.append(this.seq, layer, k, v);
    if (layer === 0) this.store.took(this, this.seq.blockIds().length - before);
    if (layer === this.lastLayer) this.written++;
  }

  attend(layer: number, _pos: number, q: Float32Array, out: Float32Array, _att: Float32Array): void {
    this.store.cache.attend(this.seq, layer, q, {
      numHeads: this.store.config.nHeads,
      scale: this.scale,
      out,
    });
  }

  /** Generated tokens become known one by one; the cache hashes full blocks of them too. */
  noteInput(pos: number, token: number): void {
    if (pos !== this.known) return;
    this.known++;
    this.store.cache.addTokens(this.seq, [token]);
  }

  release(): void {
    this.store.cache.release(this.seq);
  }
}
