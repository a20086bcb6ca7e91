/**
 * One sequence of a PagedKvCache and its per-step contract: `beginStep(token)` (validates the
 * step and places its blocks), then per layer `write(layer, k, v)` and `attend(layer, q, out)`,
 * then `end()`. The sequence is the one place that holds its position and token ids; the cache
 * does the storage work.
 */
import type { BlockTable } from "@llmem/block-allocator";
import { checkSize, describeValue, LlmemError } from "@llmem/core";
import type { PrefixHasher } from "@llmem/prefix-hash";
import { noReuse, type ReusedFrom } from "./origins.ts";

/** What a sequence asks of its cache (implemented by PagedKvCache). */
export interface SequenceHost {
  beginStep(seq: PagedSequence, tokens: readonly number[]): void;
  write(seq: PagedSequence, layer: number, k: Float32Array, v: Float32Array): void;
  attend(
    seq: PagedSequence,
    layer: number,
    query: Float32Array,
    out: Float32Array,
    positions?: number,
  ): Float32Array;
  endStep(seq: PagedSequence): void;
  release(seq: PagedSequence): void;
}

const MAX_TOKEN_ID = 0xffffffff;
/** Most token ids one call takes (far beyond any context; keeps `new Array(n)` an LlmemError, not a RangeError). */
const MAX_TOKENS = 2 ** 28;

export class PagedSequence {
  /** Prompt tokens whose KV came from the prefix cache (prefill starts after them). */
  readonly cachedTokens: number;
  /** Of those, how many each tier served: the pool (device), the host tier, a file, Redis. */
  reusedFrom: ReusedFrom = noReuse();
  /** @internal the recent (or only) tier's blocks */ table: BlockTable;
  /** @internal older blocks in the store tier (two-tier caches only) */ store: BlockTable | null;
  /** @internal token ids known so far: the prompt, then each step's tokens */ readonly tokenIds: number[];
  /** @internal chained hashes of the full blocks of tokenIds */ readonly hasher: PrefixHasher;
  /** @internal blocks admission promised this sequence and it has not taken yet */ reserved = 0;
  /** @internal leading full blocks handed to the prefix cache (registered or skipped) */ committed: number;
  /** @internal the block holding full block committed − 1 while the chain can still grow, else -1 */
  chainTail: number;
  /** @internal false once a block could not be registered: the blocks after it never will be */
  chainOpen = true;
  /** @internal full prompt blocks [committed, promptBlocks) other prompts may wait for */ promptBlocks: number;
  /** @internal tokens of the step in progress (0 between steps) */ stepTokens = 0;
  /** @internal per layer: written in the step in progress */ readonly layerDone: Uint8Array;
  /** @internal */ layersDone = 0;
  /** @internal */ released = false;
  private readonly host: SequenceHost;

  /** @internal */
  constructor(
    host: SequenceHost,
    readonly id: number,
    o: {
      table: BlockTable;
      store: BlockTable | null;
      tokenIds: number[];
      hasher: PrefixHasher;
      cachedTokens: number;
      numLayers: number;
      chainTail: number;
      promptBlocks: number;
    },
  ) {
    this.host = host;
    this.table = o.table;
    this.store = o.store;
    this.tokenIds = o.tokenIds;
    this.hasher = o.hasher;
    this.cachedTokens = o.cachedTokens;
    this.committed = o.cachedTokens === 0 ? 0 : o.cachedTokens / o.table.blockSize;
    this.chainTail = o.chainTail;
    this.promptBlocks = o.promptBlocks;
    this.layerDone = new Uint8Array(o.numLayers);
  }

  /** Positions whose K/V is in every layer (the next step writes at this position). */
  get length(): number {
    return this.storedTokens + this.table.length - this.stepTokens;
  }

  /** Tokens held in the quantized store tier (0 without tiers); always whole blocks. */
  get storedTokens(): number {
    return this.store?.length ?? 0;
  }

  /** Token ids known so far (the prompt, then each step's), a copy. */
  tokens(): number[] {
    return this.tokenIds.slice();
  }

  /** Physical block ids of the recent (or only) tier (a copy). */
  blockIds(): number[] {
    return this.table.blockIds();
  }

  /** Physical block ids of the store tier (a copy; empty without tiers). */
  storeBlockIds(): number[] {
    return this.store?.blockIds() ?? [];
  }

  /**
   * Starts a step feeding `tokens` (one id, or several for a prefill chunk) at positions
   * length, length + 1, …: a position inside the prompt must get the prompt's token. Makes
   * room for them (POOL_EXHAUSTED or CAPACITY_EXCEEDED with nothing changed).
   */
  beginStep(tokens: number | ArrayLike<number>): this {
    const ids = checkTokenIds("tokens", typeof tokens === "number" ? [tokens] : tokens);
    if (ids.length === 0) {
      throw new LlmemError("INVALID_ARGUMENT", "tokens must hold at least one token id", {
        argument: "tokens",
      });
    }
    this.host.beginStep(this, ids);
    return this;
  }

  /** Writes the step's keys and values for `layer`: [token][kvHead][headDim] floats each. */
  write(layer: number, k: Float32Array, v: Float32Array): void {
    this.host.write(this, layer, k, v);
  }

  /**
   * Softmax attention of `query` ([head][headDim]) over every position `layer` holds (inside a
   * step: the step's tokens included, once that layer is written), or over the first `positions`
   * of them: in a multi-token step, token i of the step attends with positions = length + i + 1
   * (causal attention of a prefill chunk). Several queries at once (`query` and `out` holding m
   * [head][headDim] rows): query i attends over the first `positions + i` positions (default
   * positions: all held, the last query seeing every one) — a whole chunk's causal attention in
   * one kernel call, each query's result bit for bit its one-query call's. Returns `out`.
   */
  attend(layer: number, query: Float32Array, out: Float32Array, positions?: number): Float32Array {
    return this.host.attend(this, layer, query, out, positions);
  }

  /** Ends the step (every layer written): the position advances and full blocks become shareable. */
  end(): void {
    this.host.endStep(this);
  }

  /** Ends the sequence (as `cache.release(seq)`). */
  release(): void {
    this.host.release(this);
  }
}

/** Token ids as numbers in [0, 2^32), validated before anything changes. */
export function checkTokenIds(name: string, tokens: ArrayLike<number>): number[] {
  if (tokens === null || typeof tokens !== "object" || typeof tokens.length !== "number") {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be an array of token ids`, { argument: name });
  }
  // Length read once and checked: {length: -1 | 2^40 | 1.5} must be an LlmemError, not a RangeError
  // from `new Array`, and a getter must not change it mid-loop.
  const n = checkSize(`${name}.length`, tokens.length, MAX_TOKENS);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t = tokens[i];
    if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t > MAX_TOKEN_ID) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `${name}[${i}] must be an integer in [0, 2^32), got ${describeValue(t)}`,
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
