// Property test against a real server: a model map with write-once semantics and the store
// must agree on every getBlocks and longestPrefix, under random sequences of puts (some
// rewriting a key with other bytes), reads with right and wrong token fingerprints, and lookups.
import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { RedisKvStore, tokenFingerprint } from "../src/index.ts";
import { freshFingerprint, testTarget } from "./redis-server.ts";

const target = await testTarget();
afterAll(async () => {
  await target?.stop();
});

const SLOTS = 8; // hashes base+0 … base+7 per run: small, so runs hit, overwrite and miss often

type Op =
  | { kind: "put"; slots: number[]; version: number }
  | { kind: "get"; start: number; length: number; wrongAt: number }
  | { kind: "lookup"; start: number; length: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("put" as const),
    slots: fc.array(fc.nat(SLOTS - 1), { minLength: 1, maxLength: 4 }),
    version: fc.nat(3),
  }),
  fc.record({
    kind: fc.constant("get" as const),
    start: fc.nat(SLOTS - 1),
    length: fc.nat(SLOTS),
    wrongAt: fc.integer({ min: -1, max: SLOTS - 1 }),
  }),
  fc.record({ kind: fc.constant("lookup" as const), start: fc.nat(SLOTS - 1), length: fc.nat(SLOTS) }),
);

const fpOf = (slot: number) => tokenFingerprint([slot, slot * 3 + 1]);
const bytesOf = (slot: number, version: number) =>
  Uint8Array.from({ length: 24 + slot }, (_, j) => (slot * 29 + version * 101 + j) & 255);

describe.skipIf(target === undefined)("model", () => {
  test("the store matches a write-once map under random puts, reads and lookups", async () => {
    const store = new RedisKvStore({
      url: target!.url,
      modelFingerprint: freshFingerprint(),
      numLayers: 1,
      numKvHeads: 1,
      headDim: 8,
      kvFormat: "f32",
      blockSize: 2,
      readTimeoutMs: 2000,
      ttlMs: 600_000,
      onWarn: () => {},
    });
    expect(await store.ready(5000)).toBe(true);
    let base = 1n;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), async (ops) => {
        base += 1n << 20n; // every run in fresh keys of the same store
        const model = new Map<number, Uint8Array>();
        const hashes = (start: number, length: number) =>
          Array.from({ length: Math.min(length, SLOTS - start) }, (_, i) => base + BigInt(start + i));
        for (const op of ops) {
          if (op.kind === "put") {
            for (const slot of op.slots) {
              expect(store.putAsync(base + BigInt(slot), fpOf(slot), bytesOf(slot, op.version))).toBe(true);
              if (!model.has(slot)) model.set(slot, bytesOf(slot, op.version));
            }
            await store.flush();
          } else if (op.kind === "get") {
            const hs = hashes(op.start, op.length);
            const fps = hs.map((_, i) =>
              op.start + i === op.wrongAt ? fpOf(SLOTS + 1) : fpOf(op.start + i),
            );
            const expected: Uint8Array[] = [];
            for (let i = 0; i < hs.length; i++) {
              const v = model.get(op.start + i);
              if (v === undefined || op.start + i === op.wrongAt) break;
              expected.push(v);
            }
            const got = await store.getBlocks(hs, fps);
            expect(got.map((g) => Buffer.from(g).toString("hex"))).toEqual(
              expected.map((e) => Buffer.from(e).toString("hex")),
            );
          } else {
            const hs = hashes(op.start, op.length);
            let expected = 0;
            while (expected < hs.length && model.has(op.start + expected)) expected++;
            expect(await store.longestPrefix(hs)).toBe(expected);
          }
        }
      }),
      { numRuns: 100 },
    );
    const s = store.stats();
    expect(s.timeouts + s.unavailable + s.errors + s.dropped + s.writeFailures).toBe(0);
    store.close();
  });
});
