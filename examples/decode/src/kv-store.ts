/**
 * The loop's K/V store: @llmem/kv-cache's paged cache, whose sequences are the forward pass's
 * KvSequence. The cache does admission (blocks reserved up to seqLen, prefix hits counted) and
 * prefix reuse; this adapter only sizes it for the model.
 */
import { LlmemError } from "@llmem/core";
import { PagedKvCache } from "@llmem/kv-cache";
import type { KvFormat } from "./args.ts";
import { headSize, type ModelConfig } from "./config.ts";
import type { KvSequence } from "./kv.ts";
import type { KvProvider } from "./scheduler.ts";

export interface KvStoreOptions {
  format: KvFormat;
  blockSize: number;
  numBlocks: number;
}

export class KvStore implements KvProvider {
  readonly cache: PagedKvCache;
  private readonly seqLen: number;

  constructor(config: ModelConfig, o: KvStoreOptions) {
    const hs = headSize(config);
    if ((o.format === "q8_0" || o.format === "q4_0") && hs % 32 !== 0) {
      throw new LlmemError(
        "UNSUPPORTED",
        `--kv ${o.format} stores each head in 32-value blocks; this model's head size is ${hs} (use --kv f32 or f16)`,
      );
    }
    this.seqLen = config.seqLen;
    this.cache = new PagedKvCache({
      numLayers: config.nLayers,
      numKvHeads: config.nKvHeads,
      numHeads: config.nHeads,
      headDim: hs,
      blockSize: o.blockSize,
      numBlocks: o.numBlocks,
      maxBlocksPerSeq: Math.ceil(config.seqLen / o.blockSize),
      format: o.format,
    });
  }

  /** Positions past seqLen are never run, so neither are prompt tokens there. */
  open(prompt: readonly number[]): { kv: KvSequence; cached: number } | null {
    const seq = this.cache.admit(prompt.slice(0, this.seqLen), { maxTokens: this.seqLen });
    return seq && { kv: seq, cached: seq.cachedTokens };
  }

  shouldWait(prompt: readonly number[]): boolean {
    return this.cache.waitsForPrefix(prompt.slice(0, this.seqLen));
  }
}
