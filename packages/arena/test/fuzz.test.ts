/**
 * Issue 16, fuzzed: every argument of every arena entry point, given hostile values (NaN,
 * ±Infinity, -0 where it matters, 2^53, fractions, wrong types, views, lying objects, forged
 * or edited marks), throws an LlmemError naming the argument, and the arena reads the same
 * afterwards: stats, the bytes of every live view, and the guard bytes after them.
 */
import { test } from "bun:test";
import { changingField, hostileScalar, hostileValue, refusesNaming, wrongType } from "@llmem/core/testing";
import fc from "fast-check";
import {
  Arena,
  ArenaMark,
  configureScratch,
  MAX_ALIGN,
  MemoryManager,
  scratch,
  scratchStats,
} from "../src/index.ts";

// A failing property prints the error it threw (which check, which state changed), not only the input.
fc.configureGlobal({ includeErrorInReport: true });
const RUNS = 150;
const CTORS = [Uint8Array, Int16Array, Float32Array, Float64Array, BigInt64Array] as const;

/** An arena with a few live allocations (written with a pattern) and a mark taken between them. */
function arenaWithState(checked: boolean) {
  const arena = new Arena(4096, { checked });
  const a = arena.alloc(Uint8Array, 40);
  a.fill(0x5a);
  const mark = arena.mark();
  const b = arena.alloc(Float32Array, 10);
  b.fill(1.5);
  // Read-only: the snapshot must not itself change what it observes.
  const snapshot = () => ({ stats: arena.stats(), a, b });
  return { arena, mark, snapshot };
}

/** Anything that is not a count: hostile scalars and every other hostile value, minus valid sizes. */
const badCount = hostileValue.filter((v) => !(typeof v === "number" && Number.isInteger(v) && v >= 0));
/** Anything that is not a power of two in [1, MAX_ALIGN] (undefined means "the default"). */
const badAlign = fc
  .oneof(hostileValue, fc.constantFrom(0, 3, 6, 2 * MAX_ALIGN, 2 ** 40))
  .filter(
    (v) =>
      v !== undefined &&
      !(typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= MAX_ALIGN && (v & (v - 1)) === 0),
  );
/** Anything that is not one of the typed-array constructors the arena accepts. */
const badCtor = fc.oneof(
  hostileValue,
  fc.constantFrom(
    Array,
    DataView,
    ArrayBuffer,
    Object,
    class extends Float32Array {},
    function FakeFloat32Array() {},
    Object.create(Float32Array),
  ),
);

const allocKinds = ["alloc", "allocUninit", "tryAlloc"] as const;

test("alloc/allocUninit/tryAlloc refuse a bad ctor, count or align and change nothing", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.constantFrom(...allocKinds),
      fc.oneof(
        fc.record({
          arg: fc.constant("ctor" as const),
          ctor: badCtor,
          count: fc.nat(8),
          align: fc.constant(8),
        }),
        fc.record({
          arg: fc.constant("count" as const),
          ctor: fc.constantFrom(...CTORS),
          count: badCount,
          align: fc.constant(8),
        }),
        fc.record({
          arg: fc.constant("align" as const),
          ctor: fc.constantFrom(...CTORS),
          count: fc.nat(8),
          align: badAlign,
        }),
      ),
      (checked, kind, { arg, ctor, count, align }) => {
        const { arena, snapshot } = arenaWithState(checked);
        const call = () =>
          (arena[kind] as (c: unknown, n: unknown, a: unknown) => unknown)(ctor, count, align);
        refusesNaming(call, arg, snapshot);
        arena.dispose();
      },
    ),
    { numRuns: RUNS },
  );
});

test("rollback refuses forged, edited, foreign, stale and non-mark values and changes nothing", () => {
  const forgers: [string, (arena: Arena, mark: ArenaMark, other: Arena) => unknown][] = [
    ["constructed with a live id", (a, m) => new ArenaMark(a, m.id, -16, 0)],
    [
      "constructed with a live id, real offset",
      (a, m) => new ArenaMark(a, m.id, m.offset, m.allocationCount),
    ],
    [
      "plain object copying the mark",
      (a, m) => ({ arena: a, id: m.id, offset: m.offset, allocationCount: 0 }),
    ],
    ["object inheriting from the mark", (_a, m) => Object.create(m)],
    ["another arena's mark", (_a, _m, other) => other.mark()],
    ["a proxy of the mark", (_a, m) => new Proxy(m, {})],
  ];
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.oneof(
        fc.nat(forgers.length - 1).map((i) => ({ forger: i, value: undefined as unknown })),
        fc.oneof(hostileValue, wrongType).map((value) => ({ forger: -1, value })),
      ),
      (checked, { forger, value }) => {
        const { arena, mark, snapshot } = arenaWithState(checked);
        const other = new Arena(64);
        const handle = forger >= 0 ? forgers[forger]![1](arena, mark, other) : value;
        refusesNaming(() => arena.rollback(handle as ArenaMark), "mark", snapshot);
        other.dispose();
        arena.dispose();
      },
    ),
    { numRuns: RUNS },
  );
});

test("a stale mark (after a reset or an earlier rollback) is refused and changes nothing", () => {
  fc.assert(
    fc.property(fc.boolean(), fc.boolean(), (checked, byReset) => {
      const { arena, mark, snapshot } = arenaWithState(checked);
      const later = arena.mark();
      arena.alloc(Uint8Array, 8);
      if (byReset) arena.reset();
      else arena.rollback(mark);
      refusesNaming(() => arena.rollback(later), "mark", snapshot);
      arena.dispose();
    }),
    { numRuns: 20 },
  );
});

test("new Arena / Arena.bytesForModel refuse hostile sizes, options and dims", () => {
  const badDims = fc.oneof(
    hostileValue.filter((v) => typeof v !== "object" || v === null || ArrayBuffer.isView(v)),
    fc
      .record({
        field: fc.constantFrom("hiddenDim", "vocabSize", "batchSize", "contextLength"),
        value: fc.oneof(hostileScalar, wrongType, fc.constant(2 ** 30)),
      })
      .filter(({ field, value }) => !(field === "contextLength" && value === undefined))
      .map(({ field, value }) => ({ hiddenDim: 64, vocabSize: 256, batchSize: 1, [field]: value })),
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.record({ arg: fc.constant("capacityBytes"), capacity: badCount, options: fc.constant({}) }),
        fc.record({
          arg: fc.constant("capacityBytes"),
          capacity: fc.constant(2 ** 33),
          options: fc.constant({}),
        }),
        fc.record({
          arg: fc.constant("options"),
          capacity: fc.constant(64),
          options: fc.constantFrom(null, 5, "checked", Symbol("o"), 1n),
        }),
        fc.record({
          arg: fc.constant("align"),
          capacity: fc.constant(64),
          options: badAlign.map((align) => ({ align })),
        }),
        fc.record({
          arg: fc.constant("checked"),
          capacity: fc.constant(64),
          options: fc.constantFrom(1, "yes", 0n, {}, Symbol("c")).map((checked) => ({ checked })),
        }),
      ),
      ({ arg, capacity, options }) => {
        refusesNaming(() => new Arena(capacity as number, options as never), arg, scratchStats);
      },
    ),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(badDims, (dims) => {
      refusesNaming(
        () => Arena.bytesForModel(dims as never),
        /dims|hiddenDim|vocabSize|batchSize|contextLength/,
      );
      refusesNaming(() => Arena.forModel(dims as never), /dims|hiddenDim|vocabSize|batchSize|contextLength/);
    }),
    { numRuns: RUNS },
  );
});

test("MemoryManager.forModel reads each dim once: a getter that changes after the check is not used", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("hiddenDim", "vocabSize", "batchSize"),
      fc.constantFrom(2 ** 40, -1, Number.NaN, "64", 1.5),
      (field, later) => {
        const honest = { hiddenDim: 64, vocabSize: 256, batchSize: 1 };
        const dims = changingField(honest, field, honest[field], later);
        // Either refused, or sized by the values that were validated, never by the later read.
        let manager: MemoryManager | undefined;
        try {
          manager = MemoryManager.forModel(dims);
        } catch (e) {
          refusesNaming(() => {
            throw e;
          }, field);
          return;
        }
        const expected = MemoryManager.forModel(honest);
        const same =
          manager.config.arenaBytes === expected.config.arenaBytes &&
          manager.config.scratchBytes === expected.config.scratchBytes;
        manager.dispose();
        expected.dispose();
        if (!same) throw new Error(`forModel used ${field} read after validation`);
      },
    ),
    { numRuns: 30 },
  );
});

test("MemoryManager / configureScratch / scratch refuse hostile options and change nothing", () => {
  const badPool = fc.constantFrom(
    5,
    "pool",
    {},
    { reset() {} },
    { reset() {}, stats: 5 },
    { stats() {} },
    Symbol("p"),
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.record({ arg: fc.constant("options"), options: fc.constantFrom(null, 5, "x", Symbol("o")) }),
        fc.record({ arg: fc.constant("pool"), options: badPool.map((pool) => ({ pool })) }),
        fc.record({
          arg: fc.constant("scratchBytes"),
          options: fc
            .oneof(badCount, fc.constant(2 ** 31))
            .filter((v) => v !== undefined)
            .map((scratchBytes) => ({ scratchBytes })),
        }),
        fc.record({
          arg: fc.constant("capacityBytes"),
          options: fc
            .oneof(badCount, fc.constant(2 ** 33))
            .filter((v) => v !== undefined && v !== null)
            .map((arenaBytes) => ({ arenaBytes })),
        }),
      ),
      ({ arg, options }) => {
        refusesNaming(() => new MemoryManager(options as never), arg, scratchStats);
      },
    ),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.record({ arg: fc.constant("config"), config: fc.constantFrom(null, 5, "x", Symbol("c"), 1n) }),
        fc.record({
          arg: fc.constant("maxScratches"),
          config: fc
            .oneof(badCount, fc.constant(0), fc.constant(2 ** 20))
            .filter((v) => v !== undefined)
            .map((maxScratches) => ({ maxScratches, bytes: 1024 })),
        }),
        fc.record({
          arg: fc.constant("bytes"),
          config: fc
            .oneof(badCount, fc.constant(2 ** 31))
            .filter((v) => v !== undefined)
            .map((bytes) => ({ maxScratches: 3, bytes })),
        }),
      ),
      ({ arg, config }) => {
        refusesNaming(() => configureScratch(config as never), arg, scratchStats);
      },
    ),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(
      fc.oneof(badCount, fc.constant(2 ** 33)).filter((v) => v !== undefined),
      (bytes) => {
        refusesNaming(() => scratch(bytes as number), "bytes", scratchStats);
      },
    ),
    { numRuns: RUNS },
  );
});
