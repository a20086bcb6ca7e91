import { afterAll, expect, test } from "bun:test";
import { expectLlmemError } from "@llmem/core/testing";
import { BucketPool } from "../../bucket-pool/src/index.ts";
import {
  configureScratch,
  DEFAULT_MAX_SCRATCHES,
  DEFAULT_SCRATCH_BYTES,
  MemoryManager,
  releaseScratch,
  scratch,
  scratchStats,
} from "../src/index.ts";

afterAll(() => {
  releaseScratch();
  configureScratch({ maxScratches: DEFAULT_MAX_SCRATCHES, bytes: DEFAULT_SCRATCH_BYTES });
});

function ask(worker: Worker, message: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.postMessage(message);
  });
}

test("each worker gets its own scratch; the process-wide limit holds across workers", async () => {
  releaseScratch();
  configureScratch({ maxScratches: 2 });
  const mine = scratch(2048);
  expect(scratch()).toBe(mine); // one per worker
  expect(scratchStats().active).toBe(1);
  const url = new URL("./fixtures/scratch-worker.ts", import.meta.url).href;
  const w1 = new Worker(url);
  const w2 = new Worker(url);
  try {
    expect(await ask(w1, "acquire")).toMatchObject({ ok: true, capacity: 1024, active: 2 });
    const refused = await ask(w2, "acquire");
    expect(refused).toMatchObject({ ok: false, code: "CAPACITY_EXCEEDED" });
    expect(String(refused.message)).toContain("at most 2 scratch arenas");
    expect(await ask(w1, "release")).toMatchObject({ ok: true });
    expect(await ask(w2, "acquire")).toMatchObject({ ok: true, active: 2 });
    expect(scratchStats().active).toBe(2);
  } finally {
    w1.terminate();
    w2.terminate();
  }
  expectLlmemError(() => scratch(4096), "CAPACITY_EXCEEDED", "2048 bytes");
  expect(releaseScratch()).toBe(true);
  expect(releaseScratch()).toBe(false);
  expect(mine.isDisposed).toBe(true);
  expectLlmemError(() => configureScratch({ maxScratches: 0 }), "OUT_OF_RANGE", "maxScratches");
  expectLlmemError(() => configureScratch(null as never), "INVALID_ARGUMENT", "config");
  expectLlmemError(() => scratch(-1), "OUT_OF_RANGE", "bytes");
});

test("MemoryManager resets arena, scratch and pool per step, with combined stats", () => {
  releaseScratch();
  configureScratch({ maxScratches: DEFAULT_MAX_SCRATCHES });
  using mm = new MemoryManager({ arenaBytes: 1 << 16, scratchBytes: 4096, pool: new BucketPool() });
  for (let step = 0; step < 3; step++) {
    mm.resetStep();
    mm.arena.alloc(Float32Array, 288);
    mm.scratch.alloc(Float32Array, 100);
    mm.pool!.alloc(1000 + step);
  }
  const s = mm.stats();
  expect(s.steps).toBe(3);
  expect(s.arena).toMatchObject({ allocationCount: 1, used: 1152, capacity: 1 << 16 });
  expect(s.scratch.local).toMatchObject({ capacity: 4096, used: 400 });
  expect(s.pool).toMatchObject({ inUseCount: 1, hits: 2, misses: 1 });
  mm.resetStep();
  expect(mm.stats().arena.used).toBe(0);
  expect(mm.stats().scratch.local!.used).toBe(0);
  expect(mm.stats().pool!.inUseCount).toBe(0);
});

test("MemoryManager.prewarmPool prewarms every fixed class; config reports the sizes", () => {
  releaseScratch();
  using mm = new MemoryManager({ arenaBytes: 4096, pool: new BucketPool({ bucketing: "fixed" }) });
  expect(mm.config).toEqual({ arenaBytes: 4096, scratchBytes: 64 * 1024 });
  expect(mm.prewarmPool(2)).toBe(10);
  expect(mm.stats().pool!.freeCount).toBe(10);
  using bare = new MemoryManager({ arenaBytes: 64 });
  expectLlmemError(() => bare.prewarmPool(1), "UNSUPPORTED", "prewarmAll");
});

test("MemoryManager.forModel sizes as ruvllm's MemoryManagerConfig::for_model", () => {
  releaseScratch();
  const mm = MemoryManager.forModel({ hiddenDim: 288, vocabSize: 512, batchSize: 1 });
  expect(mm.arena.capacity).toBe((288 * 4 + 512 * 4) * 4);
  expect(mm.scratchBytes).toBe(288 * 16);
  expect(mm.pool).toBeNull();
  expect(mm.stats().pool).toBeNull();
  mm.dispose();
  expect(mm.arena.isDisposed).toBe(true);
  expectLlmemError(() => new MemoryManager({ pool: {} as never }), "INVALID_ARGUMENT", "pool");
  expectLlmemError(() => new MemoryManager({ scratchBytes: -1 }), "OUT_OF_RANGE", "scratchBytes");
  expectLlmemError(
    () => MemoryManager.forModel({ hiddenDim: 1, vocabSize: 0, batchSize: 1 }),
    "OUT_OF_RANGE",
    "vocabSize",
  );
});
