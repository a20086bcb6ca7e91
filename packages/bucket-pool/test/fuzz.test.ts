/**
 * Issue 16, fuzzed on the pool: every argument of alloc / allocBatch / release / prewarm /
 * prewarmAll / bucketFor / registerExisting / a buffer's view(), and the pool's options, given
 * hostile values (sizes that are NaN, ±Infinity, -1, fractions, 2^53, strings, bigints, symbols,
 * objects whose valueOf runs code; sparse or malformed batches; forged, foreign or released
 * handles; constructors that are not typed-array constructors) throws an LlmemError naming the
 * argument, and the pool's stats and the bytes of every live buffer read the same afterwards.
 */
import { test } from "bun:test";
import {
  assertCallsRefused,
  hostileScalar,
  hostileValue,
  refusesNaming,
  wrongType,
} from "@llmem/core/testing";
import fc from "fast-check";
import { BucketPool, MAX_BUFFER_BYTES, type PooledBuffer } from "../src/index.ts";

// A failing property prints the error it threw (which check, which state changed), not only the input.
fc.configureGlobal({ includeErrorInReport: true });
const RUNS = 120;

function world() {
  const pool = new BucketPool();
  const live = [pool.alloc(100), pool.alloc(4096)];
  live[0]!.bytes().fill(7);
  live[1]!.bytes().fill(9);
  const gone = pool.alloc(64);
  pool.release(gone);
  const snapshot = () => ({ stats: pool.stats(), bytes: live.map((h) => Array.from(h.bytes()).join()) });
  return { pool, live, gone, snapshot };
}

/** Not a byte length: hostile scalars and values, and sizes past the pool's largest bucket. */
const badSize = fc
  .oneof(hostileValue, fc.constantFrom(MAX_BUFFER_BYTES + 1, 2 ** 53))
  .filter((v) => !(typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= MAX_BUFFER_BYTES));

test("pool calls refuse hostile sizes, batches, handles and views, changing nothing", () => {
  const calls = (w: ReturnType<typeof world>): fc.Arbitrary<[RegExp, () => unknown]> => {
    const other = new BucketPool();
    const foreign = other.alloc(64);
    return fc.oneof(
      badSize.map((n): [RegExp, () => unknown] => [/byteLength/, () => w.pool.alloc(n as number)]),
      badSize.map((n): [RegExp, () => unknown] => [/byteLength/, () => w.pool.bucketFor(n as number)]),
      badSize.map((n): [RegExp, () => unknown] => [/byteLength/, () => w.pool.prewarm(n as number, 1)]),
      fc
        .oneof(hostileScalar, wrongType, fc.constantFrom(-1, 2 ** 40))
        .filter((c) => !(typeof c === "number" && Number.isInteger(c) && c >= 0 && c <= 1024))
        .map((c): [RegExp, () => unknown] => [/count/, () => w.pool.prewarm(64, c as number)]),
      fc
        .oneof(
          fc.constantFrom(null, 5, "64", {}, Symbol("r")),
          // (an object with a byteLength is a request, not a bad size)
          fc
            .record({ at: fc.nat(3), bad: badSize.filter((b) => typeof b !== "object" || b === null) })
            .map(({ at, bad }) => {
              const list: unknown[] = [64, 128, 256];
              list.splice(at, 0, bad);
              return list;
            }),
          fc.nat(2).map((at) => {
            const list: unknown[] = [64, 128, 256];
            delete list[at];
            return list;
          }),
          fc.constantFrom([{ byteLength: -1 }], [null], [{}], [{ byteLength: 64, format: "nope" }]),
        )
        .map((r): [RegExp, () => unknown] => [
          /requests|byteLength|dtype|format|meta/,
          () => w.pool.allocBatch(r as never),
        ]),
      fc
        .oneof(
          fc.constantFrom<unknown>(w.gone, foreign, Object.create(w.live[0]!), { ...w.live[0]! }),
          hostileValue,
        )
        .map((h): [RegExp, () => unknown] => [/handle|buffer/, () => w.pool.release(h as PooledBuffer)]),
      fc
        .oneof(
          wrongType,
          hostileScalar,
          fc.constantFrom<unknown>(
            DataView,
            Array,
            Object.create(Float32Array),
            Object.assign(() => 0, { BYTES_PER_ELEMENT: 4 }),
            { BYTES_PER_ELEMENT: 4 },
            class extends Float32Array {},
          ),
        )
        .map((c): [RegExp, () => unknown] => [/ctor/, () => w.live[1]!.view(c as Float32ArrayConstructor)]),
      fc
        .oneof(hostileScalar, wrongType, fc.constantFrom(-4, 2, 4097, 8192))
        .filter((o) => o !== undefined && !(typeof o === "number" && o >= 0 && o <= 4096 && o % 4 === 0))
        .map((o): [RegExp, () => unknown] => [
          /byteOffset|length|capacity/,
          () => w.live[1]!.view(Float32Array, o as number),
        ]),
      fc
        .oneof(hostileScalar, wrongType, fc.constantFrom(-1, 1025, 2 ** 32))
        .filter((n) => n != null && !(typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 1024))
        .map((n): [RegExp, () => unknown] => [
          /length|capacity/,
          () => w.live[1]!.view(Float32Array, 0, n as number),
        ]),
    );
  };
  assertCallsRefused(world, calls, RUNS * 2);
});

test("a size whose valueOf runs code is refused without running it", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4096 }), (n) => {
      const w = world();
      let ran = false;
      const sneaky = {
        valueOf() {
          ran = true;
          return n;
        },
      };
      refusesNaming(() => w.pool.alloc(sneaky as never), "byteLength", w.snapshot);
      if (ran) throw new Error("alloc ran the size's valueOf");
    }),
    { numRuns: 20 },
  );
});

test("new BucketPool refuses hostile options", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.constantFrom(null, 5, "o", Symbol("o")).map((o): [RegExp, unknown] => [/options/, o]),
        fc
          .oneof(wrongType, fc.constantFrom("pow3", ""))
          .filter((b) => b != null) // (null or undefined: the default)
          .map((b): [RegExp, unknown] => [/bucketing/, { bucketing: b }]),
        fc
          .oneof(wrongType, fc.constantFrom("gpu", ""))
          .filter((b) => b != null)
          .map((b): [RegExp, unknown] => [/backend/, { backend: b }]),
        fc
          .oneof(hostileScalar, wrongType, fc.constantFrom(-1, 2 ** 53))
          .filter(
            (v) =>
              v !== undefined &&
              !(
                typeof v === "number" &&
                ((Number.isInteger(v) && v >= 0 && v < 2 ** 40) || v === Number.POSITIVE_INFINITY)
              ),
          )
          .chain((v) =>
            fc.constantFrom<[RegExp, unknown][]>(
              [/maxFreePerClass/, { maxFreePerClass: v }],
              [/maxCachedBytes/, { maxCachedBytes: v }],
            ),
          ),
      ),
      ([name, options]) => {
        refusesNaming(() => new BucketPool(options as never), name);
      },
    ),
    { numRuns: RUNS },
  );
});
