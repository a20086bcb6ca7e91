/**
 * Per-worker scratch: each Bun Worker (and the main thread) gets its own scratch Arena from
 * `scratch()`. How many exist at once is limited process-wide through a SharedArrayBuffer
 * that workers inherit via worker_threads environment data, so import @llmem/arena (or call
 * configureScratch) in the main thread before starting workers.
 */
import { getEnvironmentData, setEnvironmentData } from "node:worker_threads";
import { checkInt, LlmemError } from "@llmem/core";
import { Arena, type ArenaStats, MAX_ARENA_BYTES } from "./arena.ts";

const KEY = "@llmem/arena:scratch-registry";
const ACTIVE = 0;
const LIMIT = 1;
const BYTES = 2;
/** ruvllm's defaults: 64 KiB per thread, at most 16 threads. */
export const DEFAULT_SCRATCH_BYTES = 64 * 1024;
export const DEFAULT_MAX_SCRATCHES = 16;
const MAX_SCRATCHES = 1024;

function registry(): Int32Array {
  const inherited = getEnvironmentData(KEY);
  if (inherited instanceof SharedArrayBuffer) return new Int32Array(inherited);
  const shared = new SharedArrayBuffer(3 * 4);
  const r = new Int32Array(shared);
  r[LIMIT] = DEFAULT_MAX_SCRATCHES;
  r[BYTES] = DEFAULT_SCRATCH_BYTES;
  setEnvironmentData(KEY, shared);
  return r;
}

const shared = registry();
let mine: Arena | null = null;
let exitHookInstalled = false;

export interface ScratchConfig {
  /** Most scratch arenas alive at once across the process (default 16). */
  maxScratches?: number;
  /** Default size of each scratch arena in bytes (default 64 KiB). */
  bytes?: number;
}

export interface ScratchStats {
  /** Scratch arenas alive in the process. */
  active: number;
  maxScratches: number;
  /** Default size of a new scratch arena. */
  bytes: number;
  /** This worker's scratch, or null if it has none. */
  local: ArenaStats | null;
}

/** Sets the process-wide limit and default size (affects scratches created afterwards). */
export function configureScratch(config: ScratchConfig): void {
  if (typeof config !== "object" || config === null) {
    throw new LlmemError("INVALID_ARGUMENT", "config must be { maxScratches?, bytes? }", {
      argument: "config",
    });
  }
  const max =
    config.maxScratches === undefined
      ? undefined
      : checkInt("maxScratches", config.maxScratches, 1, MAX_SCRATCHES);
  const bytes = config.bytes === undefined ? undefined : checkInt("bytes", config.bytes, 0, 2 ** 31 - 1);
  if (max !== undefined) Atomics.store(shared, LIMIT, max);
  if (bytes !== undefined) Atomics.store(shared, BYTES, bytes);
}

/**
 * This worker's scratch arena, created on first use with `bytes` (default: the configured
 * size; later calls return it). Throws CAPACITY_EXCEEDED when the process already has maxScratches of them, or
 * when an existing scratch is smaller than `bytes`.
 */
export function scratch(bytes?: number): Arena {
  reclaimDisposed();
  const size =
    bytes === undefined ? Atomics.load(shared, BYTES) : checkInt("bytes", bytes, 0, MAX_ARENA_BYTES);
  if (mine && !mine.isDisposed) {
    if (bytes !== undefined && size > mine.capacity) {
      throw new LlmemError(
        "CAPACITY_EXCEEDED",
        `this worker's scratch holds ${mine.capacity} bytes; asked for ${size} (call releaseScratch() first to resize)`,
        { argument: "bytes", value: size, capacity: mine.capacity },
      );
    }
    return mine;
  }
  const limit = Atomics.load(shared, LIMIT);
  if (Atomics.add(shared, ACTIVE, 1) >= limit) {
    Atomics.sub(shared, ACTIVE, 1);
    throw new LlmemError(
      "CAPACITY_EXCEEDED",
      `at most ${limit} scratch arenas (one per worker) may exist; raise it with configureScratch({ maxScratches })`,
      { argument: "maxScratches", max: limit },
    );
  }
  try {
    mine = new Arena(size);
  } catch (e) {
    Atomics.sub(shared, ACTIVE, 1);
    throw e;
  }
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", releaseScratch); // a finished worker gives its slot back
  }
  return mine;
}

/** Frees this worker's scratch and its slot; returns false if it had none. */
export function releaseScratch(): boolean {
  reclaimDisposed();
  if (!mine) return false;
  mine.dispose();
  mine = null;
  Atomics.sub(shared, ACTIVE, 1);
  return true;
}

/** Resets this worker's scratch if it has one. */
export function resetScratch(): void {
  if (mine && !mine.isDisposed) mine.reset();
}

/**
 * The scratch arena is an Arena, so `scratch().dispose()` is callable directly: its slot is given
 * back here, the next time this worker asks, instead of leaking one of the process-wide slots.
 */
function reclaimDisposed(): void {
  if (mine?.isDisposed) {
    mine = null;
    Atomics.sub(shared, ACTIVE, 1);
  }
}

export function scratchStats(): ScratchStats {
  reclaimDisposed();
  return {
    active: Atomics.load(shared, ACTIVE),
    maxScratches: Atomics.load(shared, LIMIT),
    bytes: Atomics.load(shared, BYTES),
    local: mine && !mine.isDisposed ? mine.stats() : null,
  };
}
