// The Metal backend (macOS): shared MTLBuffers behind the same pool semantics, exact-size
// external buffers for registerExisting, residency sets. Skipped, visibly, elsewhere.
import { expect, test } from "bun:test";
import { expectLlmemError } from "@llmem/core/testing";
import { allocMetalBuffer, BucketPool, metalAvailable } from "../src/index.ts";

const metal = metalAvailable();
if (!metal) console.log("metal.test.ts: no Metal device here (macOS only); Metal tests skipped");

test.skipIf(!metal)("Metal pool: shared buffers, reuse on reset, stale views detached", () => {
  using pool = new BucketPool({ backend: "metal" });
  expect(pool.backend).toBe("metal");
  const h = pool.alloc(1000, { format: "f32", shape: [250] });
  expect(h.capacity).toBe(1024);
  const view = h.view(Float32Array);
  expect(view.every((x) => x === 0)).toBe(true);
  view.fill(1.5);
  pool.reset();
  expect(view.length).toBe(0);
  const again = pool.alloc(1024);
  expect(again.view(Float32Array)[0]).toBe(1.5); // the same MTLBuffer came back
  expect(pool.stats()).toMatchObject({ hits: 1, misses: 1, backend: "metal" });
  if (process.env.LLMEM_NO_RESIDENCY === "1") expect(pool.stats().residency).toBe(false);
  const batch = pool.allocBatch([10, 20, 4000]);
  expect(batch.map((b) => b.capacity)).toEqual([16, 32, 4096]);
});

test.skipIf(!metal)(
  "Metal registerExisting: exact-size buffers, residency only, never freed by the pool",
  () => {
    const weights = allocMetalBuffer(3000);
    expect(weights.byteLength).toBe(3000);
    new Uint8Array(weights.buffer)[2999] = 7;
    const pool = new BucketPool({ backend: "metal" });
    expect(pool.registerExisting(weights)).toBe(true);
    expect(pool.registerExisting(weights)).toBe(false);
    pool.reset();
    expect(pool.stats()).toMatchObject({ freeCount: 0, inUseCount: 0, registeredCount: 1 });
    expectLlmemError(() => pool.registerExisting(new ArrayBuffer(8)), "FOREIGN_HANDLE", "MetalBuffer");
    const host = new BucketPool();
    expectLlmemError(() => host.registerExisting(weights), "FOREIGN_HANDLE", "host memory");
    host.dispose();
    pool.dispose();
    expect(new Uint8Array(weights.buffer)[2999]).toBe(7);
    weights.free();
    expectLlmemError(() => weights.buffer, "STALE_HANDLE");
    expectLlmemError(() => weights.free(), "DOUBLE_FREE");
  },
);
