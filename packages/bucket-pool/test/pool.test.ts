import { expect, test } from "bun:test";
import { expectLlmemError } from "@llmem/core/testing";
import { addressOf, isNativeAvailable } from "@llmem/native";
import { BucketPool, MetalBuffer, type PooledBuffer } from "../src/index.ts";

test("backend is libllmem memory when native is on, ArrayBuffers when off", () => {
  const pool = new BucketPool();
  expect(pool.backend).toBe(isNativeAvailable() ? "native" : "js");
  const h = pool.alloc(100);
  if (isNativeAvailable()) expect(addressOf(h.bytes()) % 64).toBe(0);
  expect(h.buffer.byteLength).toBe(128);
  expect(h.bytes().every((b) => b === 0)).toBe(true); // fresh memory is zeroed
  pool.dispose();
});

test("reset recycles every buffer handed out (the seed's arena pattern)", () => {
  const pool = new BucketPool();
  const a = pool.alloc(1024, { format: "f32", shape: [256] });
  const b = pool.alloc(2048);
  const c = pool.alloc(1000);
  a.bytes()[0] = 1;
  b.bytes()[0] = 2;
  c.bytes()[0] = 3;
  expect(pool.stats()).toMatchObject({ inUseCount: 3, freeCount: 0, misses: 3, hits: 0 });
  pool.reset();
  expect(pool.stats()).toMatchObject({ inUseCount: 0, freeCount: 3, freeBytes: 4096 });
  const d = pool.alloc(1024);
  const e = pool.alloc(2048);
  // Reused memory keeps the last owner's bytes: d got a or c, e got b.
  expect([1, 3]).toContain(d.bytes()[0]!);
  expect(e.bytes()[0]).toBe(2);
  expect(pool.stats()).toMatchObject({ inUseCount: 2, freeCount: 1, hits: 2, misses: 3, hitRate: 0.4 });
  pool.dispose();
});

test("empty reset is a no-op, repeatedly", () => {
  const pool = new BucketPool();
  pool.reset();
  pool.reset();
  expect(pool.stats()).toMatchObject({ inUseCount: 0, freeCount: 0 });
  pool.dispose();
});

test("release and reset mix safely: nothing lands in the free list twice", () => {
  const pool = new BucketPool();
  const a = pool.alloc(1024);
  pool.alloc(1024);
  pool.release(a);
  expect(pool.stats()).toMatchObject({ inUseCount: 1, freeCount: 1 });
  pool.reset();
  expect(pool.stats()).toMatchObject({ inUseCount: 0, freeCount: 2 });
  const x = pool.alloc(1024);
  const y = pool.alloc(1024);
  const z = pool.alloc(1024);
  x.bytes().fill(1);
  y.bytes().fill(2);
  z.bytes().fill(3);
  expect([x.bytes()[5], y.bytes()[5], z.bytes()[5]]).toEqual([1, 2, 3]); // three distinct buffers
  expect(pool.stats()).toMatchObject({ hits: 2, misses: 3 });
  pool.dispose();
});

test("a released handle is dead: detached views, STALE_HANDLE, DOUBLE_FREE", () => {
  const pool = new BucketPool();
  const h = pool.alloc(64);
  const view = h.view(Float32Array);
  expect(view.length).toBe(16);
  pool.release(h);
  expect(h.alive).toBe(false);
  expect(view.length).toBe(0);
  expect(view[0]).toBeUndefined();
  expectLlmemError(() => h.buffer, "STALE_HANDLE", "released");
  expectLlmemError(() => h.view(Uint8Array), "STALE_HANDLE");
  expectLlmemError(() => pool.release(h), "DOUBLE_FREE", "already released");
  pool.dispose();
});

test("a stale view never observes a later owner's writes", () => {
  for (const detachCheck of ["release", "reset"] as const) {
    const pool = new BucketPool();
    const first = pool.alloc(4096);
    const stale = first.view(Uint32Array);
    const staleBuffer = first.buffer;
    stale.fill(7);
    if (detachCheck === "release") pool.release(first);
    else pool.reset();
    const second = pool.alloc(4096); // the same memory, reused
    expect(pool.stats().hits).toBe(1);
    const fresh = second.view(Uint32Array);
    expect(fresh[0]).toBe(7); // the bytes moved to the new owner...
    fresh.fill(0xdeadbeef);
    expect(stale.length).toBe(0); // ...and the old views cannot see them
    expect(staleBuffer.byteLength).toBe(0);
    expect(() => new Uint32Array(staleBuffer)).toThrow();
    expect(stale[0]).toBeUndefined();
    expect(() => Array.from(stale)).toThrow(); // iterating a detached view fails loudly
    pool.dispose();
  }
});

test("detachViews: false keeps the seed's aliasing for views, but dead handles still throw", () => {
  const pool = new BucketPool({ detachViews: false });
  const h = pool.alloc(64);
  const view = h.bytes();
  pool.reset();
  expect(view.length).toBe(64);
  expectLlmemError(() => h.buffer, "STALE_HANDLE");
  pool.dispose();
  expect(view.length).toBe(0); // freeing always detaches
});

test("view() checks its arguments", () => {
  const pool = new BucketPool();
  const h = pool.alloc(100);
  expect(h.view(Float64Array).length).toBe(12);
  expect(h.view(Float64Array, 8, 15).length).toBe(15); // up to the capacity (128)
  expectLlmemError(() => h.view(Float64Array, 8, 16), "OUT_OF_BOUNDS", "capacity 128");
  expectLlmemError(() => h.view(Float64Array, 3), "INVALID_ARGUMENT", "byteOffset");
  expectLlmemError(() => h.view(Object as never), "INVALID_ARGUMENT", "ctor");
  pool.dispose();
});

test("allocBatch validates every request before allocating any", () => {
  const pool = new BucketPool();
  const batch = pool.allocBatch([10, { byteLength: 1000, format: "f16", shape: [500] }, 0]);
  expect(batch.map((h) => h.capacity)).toEqual([16, 1024, 1]);
  expect(batch[1]!.format).toBe("f16");
  expect(batch[1]!.shape).toEqual([500]);
  const before = pool.stats();
  expectLlmemError(() => pool.allocBatch([10, -1]), "OUT_OF_RANGE", "requests[1].byteLength");
  expectLlmemError(
    () => pool.allocBatch([10, { byteLength: 4, format: "f32", shape: [2] }]),
    "INVALID_ARGUMENT",
  );
  expectLlmemError(() => pool.allocBatch("x" as never), "INVALID_ARGUMENT", "requests");
  expect(pool.stats()).toEqual(before);
  pool.dispose();
});

test("meta.dtype, the deprecated name of meta.format, still works and cannot contradict it", () => {
  const pool = new BucketPool();
  const h = pool.alloc(64, { dtype: "f16", shape: [32] });
  expect(h.format).toBe("f16");
  expect(h.dtype).toBe("f16");
  expect(pool.alloc(64, { format: "f32", dtype: "f32" }).format).toBe("f32");
  const before = pool.stats();
  expectLlmemError(() => pool.alloc(64, { format: "f32", dtype: "f16" }), "INVALID_ARGUMENT", "meta.dtype");
  expectLlmemError(() => pool.alloc(64, { dtype: "f8" as never }), "INVALID_ARGUMENT", "meta.dtype");
  expect(pool.stats()).toEqual(before);
});

test("metadata is checked against the byte length", () => {
  const pool = new BucketPool();
  const h = pool.alloc(34 * 2, { format: "q8_0", shape: [2, 32] });
  expect(h.shape).toEqual([2, 32]);
  expect(Object.isFrozen(h.shape)).toBe(true);
  const before = pool.stats();
  expectLlmemError(() => pool.alloc(10, { format: "f32", shape: [3] }), "INVALID_ARGUMENT", "12 bytes");
  expectLlmemError(() => pool.alloc(100, { format: "q4_0", shape: [3] }), "INVALID_ARGUMENT", "whole blocks");
  expectLlmemError(() => pool.alloc(10, { format: "f8" as never }), "INVALID_ARGUMENT", "meta.format");
  expectLlmemError(() => pool.alloc(10, { shape: [-1] }), "OUT_OF_RANGE", "meta.shape[0]");
  expectLlmemError(() => pool.alloc(10, null as never), "INVALID_ARGUMENT", "meta");
  expect(pool.stats()).toEqual(before);
  pool.dispose();
});

test("registerExisting: residency only, never recycled or freed, idempotent", () => {
  const pool = new BucketPool();
  const weights = new ArrayBuffer(4096);
  new Uint8Array(weights)[0] = 9;
  expect(pool.registerExisting(weights)).toBe(true);
  expect(pool.registerExisting(weights)).toBe(false);
  pool.reset();
  expect(pool.stats()).toMatchObject({ inUseCount: 0, freeCount: 0, registeredCount: 1 });
  const own: PooledBuffer = pool.alloc(8);
  const before = pool.stats();
  expectLlmemError(() => pool.registerExisting(own as never), "INVALID_ARGUMENT", "pool already owns");
  expectLlmemError(
    () => pool.registerExisting(new MetalBuffer(1, 8, new ArrayBuffer(8))),
    "FOREIGN_HANDLE",
    "Metal",
  );
  expectLlmemError(() => pool.registerExisting(new ArrayBuffer(8).transfer(0) && detached()), "STALE_HANDLE");
  expectLlmemError(() => pool.registerExisting(new Uint8Array(4) as never), "INVALID_ARGUMENT");
  expect(pool.stats()).toEqual(before);
  expect(pool.unregisterExisting(weights)).toBe(true);
  expect(pool.unregisterExisting(weights)).toBe(false);
  pool.registerExisting(weights);
  pool.dispose();
  expect(new Uint8Array(weights)[0]).toBe(9); // the pool never freed it
});

function detached(): ArrayBuffer {
  const b = new ArrayBuffer(8);
  b.transfer();
  return b;
}

test("prewarm fills free lists up to the per-class maximum", () => {
  const pool = new BucketPool({ bucketing: "fixed" });
  expect(pool.prewarm(4096, 5)).toBe(5);
  expect(pool.stats().freeBuffers).toEqual([{ capacity: 4096, count: 5 }]);
  expect(pool.prewarm(3000, 100)).toBe(27); // 32 per class in fixed mode
  expect(pool.stats()).toMatchObject({ freeCount: 32, allocations: 32, misses: 0 });
  const h = pool.alloc(2000);
  expect(pool.stats()).toMatchObject({ hits: 1, misses: 0 });
  pool.release(h);
  const before = pool.stats();
  expectLlmemError(() => pool.prewarm(4096, -1), "OUT_OF_RANGE", "count");
  expectLlmemError(() => pool.prewarm(1 << 20, 1), "OUT_OF_RANGE", "byteLength", "262144");
  expect(pool.stats()).toEqual(before);
  pool.dispose();
});

test("prewarmAll fills every fixed class (ruvllm's prewarm_all); zero() clears a reused buffer", () => {
  const pool = new BucketPool({ bucketing: "fixed", maxFreePerClass: 3 });
  expect(pool.prewarmAll(2)).toBe(10);
  expect(pool.prewarmAll(2)).toBe(5); // the third of each class fits, the fourth does not
  expect(pool.stats().freeBuffers.map((b) => b.count)).toEqual([3, 3, 3, 3, 3]);
  const h = pool.alloc(10);
  h.bytes().fill(9);
  pool.reset();
  const again = pool.alloc(10);
  again.zero();
  expect(new Uint8Array(again.buffer).every((b) => b === 0)).toBe(true);
  expect(pool.stats().returns).toBe(1);
  expectLlmemError(() => pool.prewarmAll(-1), "OUT_OF_RANGE", "countPerClass");
  pool.dispose();
  expectLlmemError(() => new BucketPool().prewarmAll(1), "UNSUPPORTED", "fixed");
});

test("fixed classes: returns beyond maxFreePerClass are dropped and counted", () => {
  const pool = new BucketPool({ bucketing: "fixed", maxFreePerClass: 2 });
  const hs = [pool.alloc(100), pool.alloc(200), pool.alloc(1024)];
  const view = hs[2]!.bytes();
  pool.reset();
  expect(pool.stats()).toMatchObject({ freeCount: 2, drops: 1, freeBytes: 2048 });
  expect(view.length).toBe(0);
  pool.dispose();
});

test("clear frees only free-list memory", () => {
  const pool = new BucketPool();
  const keep = pool.alloc(100);
  pool.release(pool.alloc(5000));
  pool.clear();
  expect(pool.stats()).toMatchObject({ freeCount: 0, freeBytes: 0, inUseCount: 1 });
  keep.bytes()[0] = 1;
  expect(keep.alive).toBe(true);
  pool.dispose();
});

test("maxCachedBytes evicts the least recently returned free buffers", () => {
  const pool = new BucketPool({ maxCachedBytes: 8192 });
  // A workload whose sizes keep growing: without the cap the cache would hold all of them.
  for (let size = 1024; size <= 1 << 20; size *= 2) pool.release(pool.alloc(size));
  let s = pool.stats();
  // 1+2+4 KiB fit; 8 KiB pushes them out; 16 KiB and larger alone exceed the cap.
  expect(s.freeBytes).toBe(0);
  expect(s.evictions).toBe(11);
  const a = pool.alloc(1024);
  const b = pool.alloc(2048);
  const c = pool.alloc(4096);
  pool.release(a);
  pool.release(c);
  pool.release(b); // free: a(1K) c(4K) b(2K) in return order = 7 KiB
  s = pool.stats();
  expect(s.freeBytes).toBe(7168);
  const b1 = pool.alloc(1500); // b again (a hit)
  const b2 = pool.alloc(1500); // a fresh 2 KiB
  pool.release(b1);
  pool.release(b2); // a c b b2 = 9 KiB > 8 KiB: a, the least recently returned, goes
  s = pool.stats();
  expect(s.freeBuffers).toEqual([
    { capacity: 2048, count: 2 },
    { capacity: 4096, count: 1 },
  ]);
  expect(s.evictions).toBe(12);
  expect(s.freeBytes).toBeLessThanOrEqual(8192);
  pool.dispose();
});

test("stats report bytes, rates and the peak", () => {
  const pool = new BucketPool();
  pool.alloc(1000);
  pool.alloc(3);
  const s = pool.stats();
  expect(s).toMatchObject({
    inUseCount: 2,
    inUseBytes: 1028,
    requestedBytes: 1003,
    misses: 2,
    hits: 0,
    hitRate: 0,
    allocations: 2,
    drops: 0,
    evictions: 0,
    peakBytes: 1028,
    registeredCount: 0,
    residency: false,
  });
  pool.reset();
  pool.clear();
  expect(pool.stats().peakBytes).toBe(1028);
  pool.dispose();
});

test("dispose frees everything, kills handles; `using` disposes", () => {
  let escaped: PooledBuffer;
  let poolRef: BucketPool;
  {
    using pool = new BucketPool();
    poolRef = pool;
    escaped = pool.alloc(100);
  }
  expect(poolRef.isDisposed).toBe(true);
  expect(escaped.alive).toBe(false);
  expectLlmemError(() => escaped.buffer, "STALE_HANDLE");
  expectLlmemError(() => poolRef.alloc(1), "DISPOSED");
  expectLlmemError(() => poolRef.reset(), "DISPOSED");
  expectLlmemError(() => poolRef.release(escaped), "DISPOSED");
  poolRef.dispose(); // idempotent
});

test("bad input: clear errors naming the argument and the limit, state unchanged", () => {
  const pool = new BucketPool({ maxBufferBytes: 1 << 20 });
  const live = pool.alloc(100);
  pool.release(pool.alloc(300));
  const other = new BucketPool();
  const foreign = other.alloc(100);
  const before = pool.stats();
  expectLlmemError(() => pool.alloc(-1), "OUT_OF_RANGE", "byteLength", "1048576");
  expectLlmemError(() => pool.alloc(1.5), "INVALID_ARGUMENT", "byteLength", "integer");
  expectLlmemError(() => pool.alloc(Number.NaN), "INVALID_ARGUMENT", "byteLength", "NaN");
  expectLlmemError(() => pool.alloc(Number.POSITIVE_INFINITY), "INVALID_ARGUMENT", "byteLength");
  expectLlmemError(() => pool.alloc((1 << 20) + 1), "OUT_OF_RANGE", "byteLength", "1048576");
  expectLlmemError(() => pool.alloc("5" as never), "INVALID_ARGUMENT", "byteLength");
  expectLlmemError(() => pool.release(foreign), "FOREIGN_HANDLE", "another pool");
  expectLlmemError(() => pool.release({ slot: {} } as never), "INVALID_ARGUMENT", "PooledBuffer");
  pool.release(live);
  const afterRelease = pool.stats();
  expectLlmemError(() => pool.release(live), "DOUBLE_FREE");
  expect(pool.stats()).toEqual(afterRelease);
  expect(afterRelease.freeCount).toBe(before.freeCount + 1);
  expect(foreign.alive).toBe(true);
  const big = new BucketPool();
  expectLlmemError(() => big.alloc(2 ** 32 + 1), "OUT_OF_RANGE", "4294967296");
  big.dispose();
  other.dispose();
  pool.dispose();
});

test("the Metal backend is refused off macOS (UNSUPPORTED, native on or off: @llmem/native's one Metal policy)", () => {
  if (process.platform === "darwin") return;
  expectLlmemError(() => new BucketPool({ backend: "metal" }), "UNSUPPORTED");
});
