/**
 * Issue 16, fuzzed on the paged KV cache: every argument of admit / beginStep / write / attend /
 * the block payload calls / the cache's own per-sequence methods, given one hostile value
 * (token lists with bad ids or lying lengths, layers that are not layers, rows of another kind,
 * lying, detached or short, forged or released sequences, bad options), throws an LlmemError
 * naming the argument, and the cache reads the same afterwards: its stats, every sequence's
 * length, tokens and block ids, and the keys and values of every layer.
 */
import { test } from "bun:test";
import {
  anyView,
  assertCallsRefused,
  hostileScalar,
  hostileValue,
  lyingViews,
  refusesNaming,
  wrongType,
} from "@llmem/core/testing";
import fc from "fast-check";
import { PagedKvCache, type PagedSequence } from "../src/index.ts";

// A failing property prints the error it threw (which check, which state changed), not only the input.
fc.configureGlobal({ includeErrorInReport: true });
const RUNS = 120;
const HD = 8;
const LAYERS = 2;

/** A cache with a finished sequence and one inside a step (layer 0 written), rows of a pattern. */
function world() {
  const cache = new PagedKvCache({
    numLayers: LAYERS,
    numKvHeads: 1,
    headDim: HD,
    blockSize: 4,
    numBlocks: 8,
  });
  const done = cache.admit([1, 2, 3, 4, 5], { maxTokens: 12 })!;
  done.beginStep([1, 2, 3, 4, 5]);
  const rows = (n: number, s: number) => Float32Array.from({ length: n * HD }, (_, i) => Math.sin(i + s));
  for (let l = 0; l < LAYERS; l++) done.write(l, rows(5, l), rows(5, l + 7));
  done.end();
  const mid = cache.admit([9, 8, 7], { maxTokens: 8 })!;
  mid.beginStep([9, 8, 7]);
  mid.write(0, rows(3, 3), rows(3, 4));
  const seqs = [done, mid];
  const snapshot = () => ({
    stats: cache.stats(),
    seqs: seqs.map((s) => [s.length, s.tokens(), s.blockIds()]),
    kv: [done].map((s) =>
      Array.from({ length: LAYERS }, (_, l) => {
        const { keys, values } = cache.read(s, l);
        return [Array.from(keys), Array.from(values)];
      }),
    ),
  });
  return { cache, done, mid, snapshot };
}

const badId = fc
  .oneof(hostileScalar, wrongType, fc.constantFrom(2 ** 32, -1, 1.5))
  .filter((v) => !(typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 32));
const badTokens = fc.oneof(
  fc
    .record({ ids: fc.array(fc.nat(1000), { maxLength: 4 }), at: fc.nat(4), bad: badId })
    .map(({ ids, at, bad }) => {
      const list: unknown[] = [...ids];
      list.splice(at % (ids.length + 1), 0, bad);
      return list;
    }),
  fc.constantFrom(-1, 1.5, 2 ** 40, Number.NaN).map((length) => ({ length })),
  fc.constantFrom(null, undefined, "abc", Symbol("t"), 3n, {}),
);
const badLayer = fc
  .oneof(hostileValue, fc.constantFrom(-1, LAYERS, 2 ** 31))
  .filter((v) => !(typeof v === "number" && Number.isInteger(v) && v >= 0 && v < LAYERS));
/** Rows that are not `n` floats: another kind, lying, detached, short, or not a view. */
const badRows = (n: number) =>
  fc.oneof(
    anyView.filter((v) => !(v instanceof Float32Array && v.length === n)),
    fc
      .record({ real: fc.nat(n - 1), extra: fc.integer({ min: 1, max: 4096 }), which: fc.nat(5) })
      .map(({ real, extra, which }) => lyingViews(Float32Array, real, real + extra)[which]![1]),
    fc.constantFrom(null, undefined, 5, "rows", [1, 2, 3]),
    fc.constant(null).map(() => {
      const d = new Float32Array(n);
      d.buffer.transfer();
      return d;
    }),
  );

test("sequence calls refuse hostile tokens, layers, rows and positions, changing nothing", () => {
  const calls = (w: ReturnType<typeof world>): fc.Arbitrary<[RegExp, () => unknown]> =>
    fc.oneof(
      badTokens.map((t): [RegExp, () => unknown] => [/prompt/, () => w.cache.admit(t as never)]),
      fc
        .oneof(hostileScalar, wrongType, fc.constantFrom(2, 2 ** 40))
        .filter((m) => m !== undefined && m !== null)
        .map((maxTokens): [RegExp, () => unknown] => [
          /maxTokens/,
          () => w.cache.admit([1, 2, 3], { maxTokens: maxTokens as number }),
        ]),
      badTokens
        .filter((t) => t !== undefined)
        .map((t): [RegExp, () => unknown] => [/tokens/, () => w.done.beginStep(t as never)]),
      fc.constant<[RegExp, () => unknown]>([/tokens/, () => w.done.beginStep([])]),
      fc.constant<[RegExp, () => unknown]>([/seq|step/, () => w.mid.beginStep([1])]),
      badLayer.map((l): [RegExp, () => unknown] => [
        /layer/,
        () => w.mid.write(l as number, new Float32Array(3 * HD), new Float32Array(3 * HD)),
      ]),
      fc.constant<[RegExp, () => unknown]>([
        /layer/,
        () => w.mid.write(0, new Float32Array(3 * HD), new Float32Array(3 * HD)),
      ]),
      badRows(3 * HD).map((k): [RegExp, () => unknown] => [
        /\bk\b/,
        () => w.mid.write(1, k as Float32Array, new Float32Array(3 * HD)),
      ]),
      badRows(3 * HD).map((v): [RegExp, () => unknown] => [
        /\bv\b/,
        () => w.mid.write(1, new Float32Array(3 * HD), v as Float32Array),
      ]),
      fc.constant<[RegExp, () => unknown]>([
        /step|write/,
        () => w.done.write(0, new Float32Array(HD), new Float32Array(HD)),
      ]),
      badLayer.map((l): [RegExp, () => unknown] => [
        /layer/,
        () => w.done.attend(l as number, new Float32Array(HD), new Float32Array(HD)),
      ]),
      badRows(HD)
        .filter(
          (q) =>
            !(
              ArrayBuffer.isView(q) &&
              (q as Float32Array).length > HD &&
              (q as Float32Array).length % HD === 0
            ),
        )
        .map((q): [RegExp, () => unknown] => [
          /query/,
          () => w.done.attend(0, q as Float32Array, new Float32Array(HD)),
        ]),
      badRows(HD).map((o): [RegExp, () => unknown] => [
        /\bout\b/,
        () => w.done.attend(0, new Float32Array(HD), o as Float32Array),
      ]),
      fc
        .oneof(hostileScalar, wrongType, fc.constantFrom(0, 6, 2 ** 31))
        .filter((p) => p !== undefined)
        .map((p): [RegExp, () => unknown] => [
          /positions/,
          () => w.done.attend(0, new Float32Array(HD), new Float32Array(HD), p as number),
        ]),
      fc.constant<[RegExp, () => unknown]>([/step|end|layer/, () => w.mid.end()]),
    );
  assertCallsRefused(world, calls, RUNS * 2);
});

test("the cache's own methods refuse forged, foreign and released sequences, and bad blocks and payloads", () => {
  const calls = (w: ReturnType<typeof world>): fc.Arbitrary<[RegExp, () => unknown]> => {
    const other = new PagedKvCache({
      numLayers: LAYERS,
      numKvHeads: 1,
      headDim: HD,
      blockSize: 4,
      numBlocks: 4,
    });
    const foreign = other.admit([1])!;
    const forged = fc.oneof(
      fc.constantFrom<unknown>(foreign, Object.create(w.done), { ...w.done }, new Proxy(w.done, {})),
      hostileValue,
    );
    return fc.oneof(
      forged.chain((s) =>
        fc.constantFrom<[RegExp, () => unknown][]>(
          [/seq/, () => w.cache.beginStep(s as PagedSequence, [6])],
          [/seq/, () => w.cache.write(s as PagedSequence, 0, new Float32Array(HD), new Float32Array(HD))],
          [/seq/, () => w.cache.endStep(s as PagedSequence)],
          [/seq/, () => w.cache.fork(s as PagedSequence)],
          [/seq/, () => w.cache.release(s as PagedSequence)],
          [/seq/, () => w.cache.read(s as PagedSequence, 0)],
        ),
      ),
      badTokens.map((t): [RegExp, () => unknown] => [/tokens/, () => w.cache.beginStep(w.done, t as never)]),
      fc
        .oneof(hostileValue, fc.constantFrom(-1, 8, 2 ** 31))
        .filter((b) => !(typeof b === "number" && Number.isInteger(b) && b >= 0 && b < 8))
        .map((b): [RegExp, () => unknown] => [/block/, () => w.cache.readBlockPayload(b as number)]),
      fc
        .oneof(
          anyView.filter((v) => !(v instanceof Uint8Array)),
          fc.constantFrom(null, 5, "p"),
          fc.constant(new Uint8Array(3)),
        )
        .map((p): [RegExp, () => unknown] => [
          /payload|out/,
          () => w.cache.readBlockPayload(w.done.blockIds()[0]!, p as Uint8Array),
        ]),
      fc
        .oneof(
          anyView.filter((v) => !(v instanceof Uint8Array)),
          fc.constantFrom(null, 5, "p"),
          fc.constant(new Uint8Array(3)),
        )
        .map((p): [RegExp, () => unknown] => [
          /payload/,
          () => w.cache.writeBlockPayload(w.done.blockIds()[0]!, p as Uint8Array, "redis"),
        ]),
      fc
        .oneof(wrongType, fc.constantFrom("disk", "", "REDIS"))
        .filter((o) => o !== undefined)
        .map((o): [RegExp, () => unknown] => [
          /origin/,
          () =>
            w.cache.writeBlockPayload(
              w.done.blockIds()[0]!,
              new Uint8Array(w.cache.blockPayloadBytes),
              o as never,
            ),
        ]),
    );
  };
  assertCallsRefused(world, calls, RUNS * 2);
});

test("new PagedKvCache refuses hostile options", () => {
  const base = { numLayers: 1, numKvHeads: 1, headDim: HD, blockSize: 4, numBlocks: 4 };
  fc.assert(
    fc.property(
      fc.constantFrom(
        "numLayers",
        "numKvHeads",
        "headDim",
        "blockSize",
        "numBlocks",
        "maxBlocksPerSeq",
        "numHeads",
      ),
      fc.oneof(hostileScalar, wrongType, fc.constantFrom(0, -1, 2 ** 40)).filter((v) => v !== undefined),
      (field, value) => {
        // (an optional field given null takes its default)
        if (value === null && ["blockSize", "maxBlocksPerSeq", "numHeads"].includes(field)) return;
        refusesNaming(() => new PagedKvCache({ ...base, [field]: value } as never), field);
      },
    ),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.constantFrom(null, 5, "opts", Symbol("o")), (o) => {
      refusesNaming(() => new PagedKvCache(o as never), /options|numLayers/);
    }),
    { numRuns: 8 },
  );
});
