/**
 * MemoryManager: the memory of a generation step in one place — an arena for activations,
 * a step pool (a BucketPool from @llmem/bucket-pool, or anything with reset/stats/dispose)
 * and this worker's scratch — with one resetStep() and combined stats, as ruvllm's.
 */
import { checkInt, LlmemError } from "@llmem/core";
import { Arena, type ArenaOptions, type ArenaStats, type ModelDims, readModelDims } from "./arena.ts";
import { DEFAULT_SCRATCH_BYTES, resetScratch, type ScratchStats, scratch, scratchStats } from "./scratch.ts";

/** What the manager needs from a pool; @llmem/bucket-pool's BucketPool fits. */
export interface StepPool {
  reset(): void;
  stats(): object;
  dispose(): void;
  /** Optional: prewarm every size class (BucketPool in fixed mode). */
  prewarmAll?(countPerClass: number): number;
}

export interface MemoryManagerOptions<P extends StepPool> {
  /** Arena capacity in bytes (default 16 MiB, as ruvllm). */
  arenaBytes?: number;
  /** This worker's scratch size in bytes (default 64 KiB). */
  scratchBytes?: number;
  /** The pool reset with every step (e.g. `new BucketPool()`); owned by the manager from now on. */
  pool?: P;
  /** Arena options (checked mode, default alignment). */
  arena?: ArenaOptions;
}

export interface MemoryManagerStats<P extends StepPool> {
  arena: ArenaStats;
  pool: ReturnType<P["stats"]> | null;
  scratch: ScratchStats;
  /** Steps started with resetStep(). */
  steps: number;
}

const DEFAULT_ARENA_BYTES = 16 * 1024 * 1024;

export class MemoryManager<P extends StepPool = StepPool> {
  readonly arena: Arena;
  readonly pool: P | null;
  readonly scratchBytes: number;
  private steps = 0;

  constructor(options: MemoryManagerOptions<P> = {}) {
    if (typeof options !== "object" || options === null) {
      throw new LlmemError("INVALID_ARGUMENT", "options must be an object", { argument: "options" });
    }
    const pool = options.pool ?? null;
    if (pool !== null && (typeof pool.reset !== "function" || typeof pool.stats !== "function")) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        "pool must have reset(), stats() and dispose() (a BucketPool)",
        {
          argument: "pool",
        },
      );
    }
    this.scratchBytes =
      options.scratchBytes === undefined
        ? DEFAULT_SCRATCH_BYTES
        : checkInt("scratchBytes", options.scratchBytes, 0, 2 ** 31 - 1);
    this.arena = new Arena(options.arenaBytes ?? DEFAULT_ARENA_BYTES, options.arena);
    this.pool = pool;
  }

  /** Sized as ruvllm's MemoryManagerConfig::for_model: arena 4× (activations + logits), scratch 4× hidden, in f32. */
  static forModel<P extends StepPool>(
    dims: ModelDims,
    options: Omit<MemoryManagerOptions<P>, "arenaBytes" | "scratchBytes"> = {},
  ): MemoryManager<P> {
    // Read once; the total limit is checked on, and the sizes come from, this same copy.
    const d = readModelDims(dims);
    Arena.bytesForModel(d);
    const arenaBytes = (d.hiddenDim * d.batchSize * 4 + d.vocabSize * d.batchSize * 4) * 4;
    return new MemoryManager({ ...options, arenaBytes, scratchBytes: d.hiddenDim * 4 * 4 });
  }

  /** The sizes the manager was built with (ruvllm's MemoryManager::config). */
  get config(): { arenaBytes: number; scratchBytes: number } {
    return { arenaBytes: this.arena.capacity, scratchBytes: this.scratchBytes };
  }

  /** Prewarms every size class of the pool (ruvllm's prewarm_pool); needs a pool with prewarmAll. */
  prewarmPool(countPerClass: number): number {
    if (!this.pool?.prewarmAll) {
      throw new LlmemError(
        "UNSUPPORTED",
        'prewarmPool needs a pool with prewarmAll (a BucketPool with bucketing "fixed")',
        {
          argument: "pool",
        },
      );
    }
    return this.pool.prewarmAll(countPerClass);
  }

  /** This worker's scratch arena (created on first use; limited per process, see configureScratch). */
  get scratch(): Arena {
    return scratch(this.scratchBytes);
  }

  /** Call at the start of each generation step: resets the arena, this worker's scratch and the pool. */
  resetStep(): void {
    this.arena.reset();
    resetScratch();
    this.pool?.reset();
    this.steps++;
  }

  stats(): MemoryManagerStats<P> {
    return {
      arena: this.arena.stats(),
      pool: (this.pool?.stats() as ReturnType<P["stats"]>) ?? null,
      scratch: scratchStats(),
      steps: this.steps,
    };
  }

  /** Frees the arena and the pool (the scratch belongs to the worker: see releaseScratch). */
  dispose(): void {
    this.arena.dispose();
    this.pool?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
