import { expect, test } from "bun:test";
import { expectLlmemError } from "@llmem/core/testing";
import { addressOf } from "@llmem/native";
import { Arena, MAX_ARENA_BYTES } from "../src/index.ts";

test("allocations are aligned, zeroed and bump-allocated", () => {
  const arena = new Arena(4096);
  const a = arena.alloc(Float32Array, 3);
  a.fill(1);
  const b = arena.alloc(Uint8Array, 1);
  expect(b.byteOffset % 64).toBe(0);
  if (arena.isNative) expect(addressOf(b) % 64).toBe(0);
  expect(arena.used).toBe(65);
  expect(arena.allocationCount).toBe(2);
  arena.reset();
  expect(arena.used).toBe(0);
  const c = arena.alloc(Float32Array, 3);
  expect(Array.from(c)).toEqual([0, 0, 0]); // zeroed although a wrote there
  expect(arena.highWaterMark).toBe(65);
  arena.dispose();
});

test("every typed-array constructor works", () => {
  const arena = new Arena(4096);
  const ctors = [
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float16Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
  ] as const;
  for (const C of ctors) {
    const v = arena.alloc(C, 5);
    expect(v).toBeInstanceOf(C);
    expect(v.length).toBe(5);
    expect(v[4]).toBe((C === BigInt64Array || C === BigUint64Array ? 0n : 0) as never);
  }
  arena.dispose();
});

test("align takes any power of two, as real addresses", () => {
  const arena = new Arena(1 << 16, { align: 16, checked: false });
  arena.alloc(Uint8Array, 1);
  const b = arena.alloc(Uint8Array, 1);
  expect(arena.used).toBe(17);
  const c = arena.alloc(Uint8Array, 1, 4096);
  const d = arena.alloc(Uint8Array, 1, 1);
  if (arena.isNative) {
    expect(addressOf(b) % 16).toBe(0);
    expect(addressOf(c) % 4096).toBe(0);
  } else expect(c.byteOffset % 4096).toBe(0);
  expect(d.byteOffset).toBe(c.byteOffset + 1);
  arena.dispose();
});

test("allocUninit skips zeroing, alloc zeroes reused bytes", () => {
  const arena = new Arena(1 << 16);
  arena.alloc(Uint8Array, 100).fill(7);
  arena.reset();
  expect(arena.allocUninit(Uint8Array, 100)[50]).toBe(7);
  arena.reset();
  expect(arena.alloc(Uint8Array, 100)[50]).toBe(0);
  // after an uninit allocation the zeroing must not clobber it
  arena.reset();
  const u = arena.allocUninit(Uint8Array, 64);
  u.fill(9);
  arena.alloc(Uint8Array, 64);
  expect(u[63]).toBe(9);
  arena.dispose();
});

test("full arena: alloc throws ARENA_EXHAUSTED, tryAlloc returns null, state unchanged", () => {
  const arena = new Arena(128);
  arena.alloc(Uint8Array, 100);
  const before = arena.stats();
  expect(arena.tryAlloc(Uint8Array, 100)).toBeNull();
  expectLlmemError(() => arena.alloc(Uint8Array, 100), "ARENA_EXHAUSTED", "128 bytes", "100 more bytes");
  expectLlmemError(() => arena.allocUninit(Uint8Array, 100), "ARENA_EXHAUSTED");
  expect(arena.stats()).toEqual(before);
  arena.dispose();
});

test("mark/rollback nest; later marks die, reset kills all", () => {
  const arena = new Arena(4096);
  arena.alloc(Uint8Array, 10);
  const outer = arena.mark();
  arena.alloc(Uint8Array, 10);
  const inner = arena.mark();
  arena.alloc(Float32Array, 10);
  expect(arena.allocationCount).toBe(3);
  arena.rollback(inner);
  expect(arena.used).toBe(74);
  expect(arena.allocationCount).toBe(2);
  arena.rollback(inner); // a mark stays valid for repeated rollbacks
  arena.rollback(outer);
  expect(arena.used).toBe(10);
  expectLlmemError(() => arena.rollback(inner), "STALE_HANDLE", "invalidated");
  const again = arena.alloc(Uint8Array, 10);
  expect(again.every((b) => b === 0)).toBe(true);
  arena.reset();
  expectLlmemError(() => arena.rollback(outer), "STALE_HANDLE");
  const other = new Arena(64);
  expectLlmemError(() => arena.rollback(other.mark()), "FOREIGN_HANDLE");
  expectLlmemError(() => arena.rollback({ id: 1 } as never), "INVALID_ARGUMENT", "mark");
  other.dispose();
  arena.dispose();
});

test("checked mode detaches views handed out before reset / rollback", () => {
  const arena = new Arena(4096, { checked: true });
  const keep = arena.alloc(Float32Array, 4);
  const m = arena.mark();
  const scoped = arena.alloc(Float32Array, 4);
  scoped.fill(3);
  arena.rollback(m);
  expect(scoped.length).toBe(0);
  expect(keep.length).toBe(4);
  const next = arena.alloc(Float32Array, 4);
  expect(Array.from(next)).toEqual([0, 0, 0, 0]);
  if (arena.isNative) expect(addressOf(next)).toBe(addressOf(keep) + 64);
  arena.reset();
  expect(keep.length).toBe(0);
  expect(next.length).toBe(0);
  expect(arena.stats().checked).toBe(true);
  arena.dispose();
});

test("LLMEM_CHECKED=1 turns checked mode on by default", () => {
  const old = process.env.LLMEM_CHECKED;
  process.env.LLMEM_CHECKED = "1";
  try {
    expect(new Arena(64).checked).toBe(true);
    expect(new Arena(64, { checked: false }).checked).toBe(false);
  } finally {
    if (old === undefined) delete process.env.LLMEM_CHECKED;
    else process.env.LLMEM_CHECKED = old;
  }
});

test("default mode: a stale view aliases (documented), dispose detaches everything", () => {
  const arena = new Arena(256, { checked: false });
  const v = arena.alloc(Uint8Array, 8);
  arena.reset();
  const w = arena.alloc(Uint8Array, 8);
  w[0] = 5;
  expect(v[0]).toBe(5);
  arena.dispose();
  expect(w.length).toBe(0);
  expect(arena.isDisposed).toBe(true);
  expectLlmemError(() => arena.alloc(Uint8Array, 1), "DISPOSED");
  expectLlmemError(() => arena.reset(), "DISPOSED");
  arena.dispose();
});

test("stats and forModel sizing as the seed", () => {
  const arena = new Arena(1000);
  arena.alloc(Uint8Array, 250);
  expect(arena.stats()).toMatchObject({
    capacity: 1000,
    used: 250,
    remaining: 750,
    highWaterMark: 250,
    allocationCount: 1,
    utilization: 0.25,
    peakUtilization: 0.25,
  });
  arena.dispose();
  // (4096·1·4 + 32000·1·4 + 4096·16) · 2
  expect(Arena.bytesForModel({ hiddenDim: 4096, vocabSize: 32000, batchSize: 1 })).toBe(419840);
  // contextLength adds the scores (× 2, as the rest) and 16 × 64 bytes of alignment room.
  expect(Arena.bytesForModel({ hiddenDim: 4096, vocabSize: 32000, batchSize: 1, contextLength: 2048 })).toBe(
    419840 + 2048 * 4 * 2 + 16 * 64,
  );
  expectLlmemError(
    () => Arena.bytesForModel({ hiddenDim: 8, vocabSize: 8, batchSize: 1, contextLength: 0 }),
    "OUT_OF_RANGE",
    "contextLength",
  );
  const m = Arena.forModel({ hiddenDim: 288, vocabSize: 32000, batchSize: 2 });
  expect(m.capacity).toBe((288 * 2 * 4 + 32000 * 2 * 4 + 288 * 16) * 2);
  m.dispose();
  expectLlmemError(
    () => Arena.forModel({ hiddenDim: 0, vocabSize: 1, batchSize: 1 }),
    "OUT_OF_RANGE",
    "hiddenDim",
  );
  expectLlmemError(() => Arena.forModel(null as never), "INVALID_ARGUMENT", "dims");
});

test("bad input: clear errors naming the argument and the limit, state unchanged", () => {
  const arena = new Arena(4096);
  arena.alloc(Uint8Array, 3);
  const before = arena.stats();
  expectLlmemError(() => arena.alloc(Float32Array, -1), "OUT_OF_RANGE", "count", String(MAX_ARENA_BYTES));
  expectLlmemError(() => arena.alloc(Float32Array, 1.5), "INVALID_ARGUMENT", "count", "integer");
  expectLlmemError(() => arena.alloc(Float32Array, Number.NaN), "INVALID_ARGUMENT", "NaN");
  expectLlmemError(() => arena.alloc(Float32Array, Number.POSITIVE_INFINITY), "INVALID_ARGUMENT", "count");
  expectLlmemError(() => arena.alloc(Float32Array, 2 ** 33), "OUT_OF_RANGE", "count");
  expectLlmemError(() => arena.alloc(Array as never, 4), "INVALID_ARGUMENT", "ctor", "Array");
  expectLlmemError(() => arena.alloc(DataView as never, 4), "INVALID_ARGUMENT", "ctor");
  expectLlmemError(() => arena.alloc(undefined as never, 4), "INVALID_ARGUMENT", "ctor");
  expectLlmemError(() => arena.alloc(Uint8Array, 4, 3), "INVALID_ARGUMENT", "align", "power of two");
  expectLlmemError(() => arena.alloc(Uint8Array, 4, 2 ** 21), "OUT_OF_RANGE", "align");
  expectLlmemError(() => arena.tryAlloc(Uint8Array, -1), "OUT_OF_RANGE", "count");
  expect(arena.stats()).toEqual(before);
  expectLlmemError(() => new Arena(-1), "OUT_OF_RANGE", "capacityBytes");
  expectLlmemError(() => new Arena(MAX_ARENA_BYTES + 1), "OUT_OF_RANGE", "capacityBytes");
  expectLlmemError(() => new Arena(64, { align: 6 }), "INVALID_ARGUMENT", "align");
  expectLlmemError(() => new Arena(64, { checked: "yes" as never }), "INVALID_ARGUMENT", "checked");
  arena.dispose();
});

test("an empty arena works", () => {
  const arena = new Arena(0);
  expect(arena.alloc(Float32Array, 0).length).toBe(0);
  expect(arena.tryAlloc(Float32Array, 1)).toBeNull();
  expect(arena.stats().utilization).toBe(0);
  arena.dispose();
});

test("default mode reuses last step's view object for the same allocation", () => {
  const arena = new Arena(4096, { checked: false });
  const a = arena.alloc(Float32Array, 8);
  const b = arena.alloc(Uint8Array, 3);
  a.fill(5);
  arena.reset();
  const a2 = arena.alloc(Float32Array, 8);
  expect(a2).toBe(a); // same allocation pattern, same object: no garbage per step
  expect(Array.from(a2)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]); // still zeroed
  const b2 = arena.alloc(Int8Array, 3); // another type at the same place: a new view
  expect(b2).not.toBe(b as never);
  expect(b2).toBeInstanceOf(Int8Array);
  arena.dispose();
});
