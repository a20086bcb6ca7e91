import { describe, expect, test } from "bun:test";
import { Arena } from "@llmem/arena";
import { expectLlmemError } from "@llmem/core/testing";
import fc from "fast-check";
import { type StorePrecision, type TailPrecision, TwoTierKvCache } from "../src/index.ts";
import { maxAbsDiff, referenceAttend, TwoTierModel } from "./reference.ts";

function rand(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 2 * scale;
  }
  return a;
}

describe("TwoTierKvCache", () => {
  test("tail, migration in batches and exact eviction accounting", () => {
    const c = new TwoTierKvCache({
      numKvHeads: 2,
      headDim: 32,
      tailLength: 8,
      maxTokens: 20,
      migrationBatch: 4,
      storePrecision: "q8_0",
    });
    const row = 64;
    c.append(rand(8 * row, 1), rand(8 * row, 2));
    expect(c.stats()).toMatchObject({ tokens: 8, tailTokens: 8, storeTokens: 0, migratedTokens: 0 });
    c.append(rand(row, 3), rand(row, 4)); // tail 9 > 8 → 4 migrate
    expect(c.stats()).toMatchObject({ tokens: 9, tailTokens: 5, storeTokens: 4, migratedTokens: 4 });
    c.append(rand(15 * row, 5), rand(15 * row, 6)); // 24 appended, max 20 → 4 evicted
    const s = c.stats();
    expect(s.tokens).toBe(20);
    expect(s.evictedTokens).toBe(4);
    expect(s.appendedTokens).toBe(24);
    expect(s.tailTokens + s.storeTokens).toBe(20);
    expect(s.tailTokens).toBeLessThanOrEqual(8);
  });

  test("eviction beyond maxTokens from the tail when the store is empty counts exactly", () => {
    const c = new TwoTierKvCache({ numKvHeads: 1, headDim: 32, tailLength: 10, maxTokens: 4 });
    c.append(rand(7 * 32, 1), rand(7 * 32, 2));
    expect(c.stats()).toMatchObject({ tokens: 4, evictedTokens: 3, tailTokens: 4, storeTokens: 0 });
    const all = c.getAll();
    expect(Array.from(all.keys)).toEqual(Array.from(rand(7 * 32, 1).subarray(3 * 32)));
  });

  test("attend matches f32 reference over getAll (both tiers, GQA, ring wrap)", () => {
    for (const keyGrouping of ["token", "channel"] as const) {
      const c = new TwoTierKvCache({
        numKvHeads: 2,
        headDim: 64,
        tailLength: 40,
        maxTokens: 150,
        migrationBatch: 32,
        keyGrouping,
      });
      c.append(rand(203 * 128, 7), rand(203 * 128, 8));
      const q = rand(8 * 64, 9);
      const out = c.attend(q, { numHeads: 8 });
      const { keys, values } = c.getAll();
      const ref = referenceAttend(keys, values, c.length, q, 8, 2, 64);
      expect(maxAbsDiff(out, ref)).toBeLessThan(1e-5);
    }
  });

  test("f16 store and bf16 tail", () => {
    const c = new TwoTierKvCache({
      numKvHeads: 1,
      headDim: 8,
      tailLength: 2,
      maxTokens: 10,
      tailPrecision: "bf16",
      storePrecision: "f16",
      migrationBatch: 1,
    });
    const k = rand(5 * 8, 3);
    c.append(k, rand(5 * 8, 4));
    const all = c.getAll();
    expect(maxAbsDiff(all.keys, k)).toBeLessThan(0.01);
    const q = rand(8, 5);
    expect(
      maxAbsDiff(c.attend(q, { numHeads: 1 }), referenceAttend(all.keys, all.values, 5, q, 1, 1, 8)),
    ).toBeLessThan(1e-5);
  });

  test("getAll into caller buffers and an arena", () => {
    const c = new TwoTierKvCache({ numKvHeads: 1, headDim: 32, tailLength: 4, maxTokens: 16 });
    c.append(rand(10 * 32, 1), rand(10 * 32, 2));
    const k = new Float32Array(400);
    const v = new Float32Array(400);
    const r = c.getAll(k, v);
    expect(r.keys).toBe(k);
    const arena = new Arena(1 << 16);
    const viaArena = c.getAll(arena);
    expect(Array.from(viaArena.values)).toEqual(Array.from(v.subarray(0, 320)));
    expectLlmemError(() => c.getAll(new Float32Array(10), v), "OUT_OF_BOUNDS", "outKeys");
    arena.dispose();
  });

  test("store bytes ratio and compression", () => {
    const c = new TwoTierKvCache({ numKvHeads: 8, headDim: 128, tailLength: 32, maxTokens: 1024 });
    c.append(rand(1024 * 1024, 1), rand(1024 * 1024, 2));
    const s = c.stats();
    expect(s.storeBytesRatio).toBeCloseTo(34 / 128, 6);
    expect(s.compressionRatio).toBeGreaterThan(3);
  });

  test("clear and setPolicy", () => {
    const c = new TwoTierKvCache({ numKvHeads: 1, headDim: 32, tailLength: 16, maxTokens: 64 });
    c.append(rand(40 * 32, 1), rand(40 * 32, 2));
    const before = c.getAll();
    c.setPolicy({ tailLength: 4, migrationBatch: 2 });
    expect(c.stats().tailTokens).toBeLessThanOrEqual(4);
    expect(c.length).toBe(40);
    expect(maxAbsDiff(c.getAll().keys, before.keys)).toBeLessThan(0.02);
    c.setPolicy({ maxTokens: 10 });
    expect(c.stats()).toMatchObject({ tokens: 10, evictedTokens: 30 });
    c.clear();
    expect(c.length).toBe(0);
    expect(Array.from(c.attend(new Float32Array(32), { numHeads: 1 }))).toEqual(new Array(32).fill(0));
  });

  test("bad input is rejected naming the argument and changes nothing", () => {
    expectLlmemError(
      () => new TwoTierKvCache({ numKvHeads: 2, headDim: 40, tailLength: 4, maxTokens: 8 }),
      "INVALID_ARGUMENT",
      "headDim",
    );
    expectLlmemError(
      () =>
        new TwoTierKvCache({
          numKvHeads: 2,
          headDim: 32,
          tailLength: 40,
          maxTokens: 80,
          keyGrouping: "channel",
          migrationBatch: 16,
        }),
      "INVALID_ARGUMENT",
      "migrationBatch",
    );
    expectLlmemError(
      () =>
        new TwoTierKvCache({ numKvHeads: 1, headDim: 32, tailLength: 4, maxTokens: 8, migrationBatch: 6 }),
      "OUT_OF_RANGE",
      "migrationBatch",
    );
    expectLlmemError(
      () =>
        new TwoTierKvCache({
          numKvHeads: 1,
          headDim: 32,
          tailLength: 4,
          maxTokens: 8,
          storePrecision: "q2" as StorePrecision,
        }),
      "INVALID_ARGUMENT",
      "storePrecision",
    );
    const c = new TwoTierKvCache({ numKvHeads: 2, headDim: 32, tailLength: 4, maxTokens: 8 });
    c.append(rand(64, 1), rand(64, 2));
    const snapshot = JSON.stringify(c.stats());
    const bad = rand(128, 3);
    bad[100] = Number.NaN;
    expectLlmemError(() => c.append(bad, rand(128, 4)), "INVALID_ARGUMENT", "keys[100]");
    expectLlmemError(() => c.append(rand(128, 4), rand(64, 4)), "INVALID_ARGUMENT", "values");
    expectLlmemError(() => c.append(rand(65, 4), rand(65, 4)), "INVALID_ARGUMENT", "keys");
    expectLlmemError(
      () => c.append([1, 2] as unknown as Float32Array, rand(64, 1)),
      "INVALID_ARGUMENT",
      "keys",
    );
    expectLlmemError(() => c.attend(rand(64, 1), { numHeads: 3 }), "INVALID_ARGUMENT", "numHeads");
    expectLlmemError(() => c.attend(rand(60, 1), { numHeads: 2 }), "INVALID_ARGUMENT", "query");
    expectLlmemError(
      () => c.attend(rand(64, 1), { numHeads: 2, scale: Number.NaN }),
      "INVALID_ARGUMENT",
      "scale",
    );
    expectLlmemError(() => c.setPolicy({ tailLength: -1 }), "OUT_OF_RANGE", "tailLength");
    expect(JSON.stringify(c.stats())).toBe(snapshot);
  });
});

describe("TwoTierKvCache against the reference model (fast-check)", () => {
  const configArb = fc.record({
    numKvHeads: fc.integer({ min: 1, max: 3 }),
    headDim: fc.constantFrom(32, 64),
    tailPrecision: fc.constantFrom<TailPrecision>("f32", "f16", "bf16"),
    storePrecision: fc.constantFrom<StorePrecision>("q8_0", "q4_0", "q4_1", "f16"),
    channel: fc.boolean(),
    tailLength: fc.integer({ min: 0, max: 70 }),
    maxTokens: fc.integer({ min: 1, max: 200 }),
    batchSeed: fc.nat(),
  });
  const cmdArb = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant("append" as const),
        n: fc.integer({ min: 0, max: 40 }),
        seed: fc.nat(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("policy" as const),
        tailLength: fc.integer({ min: 0, max: 70 }),
        maxTokens: fc.integer({ min: 1, max: 200 }),
        batchSeed: fc.nat(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("clear" as const) }) },
  );

  test("append / migrate / evict / setPolicy / clear", () => {
    fc.assert(
      fc.property(configArb, fc.array(cmdArb, { maxLength: 12 }), (cfg, cmds) => {
        const channel = cfg.channel && cfg.storePrecision !== "f16";
        const pickBatch = (tailLength: number, seed: number) =>
          channel ? 32 * (1 + (seed % Math.floor((tailLength + 1) / 32))) : 1 + (seed % (tailLength + 1));
        let tailLength = channel ? Math.max(cfg.tailLength, 31) : cfg.tailLength;
        let batch = pickBatch(tailLength, cfg.batchSeed);
        const c = new TwoTierKvCache({
          numKvHeads: cfg.numKvHeads,
          headDim: cfg.headDim,
          tailLength,
          tailPrecision: cfg.tailPrecision,
          storePrecision: cfg.storePrecision,
          maxTokens: cfg.maxTokens,
          migrationBatch: batch,
          keyGrouping: channel ? "channel" : "token",
        });
        const row = cfg.numKvHeads * cfg.headDim;
        const mk = () =>
          new TwoTierModel(
            cfg.tailPrecision,
            cfg.storePrecision,
            channel,
            cfg.headDim,
            cfg.numKvHeads,
            tailLength,
            cfg.maxTokens,
            batch,
          );
        let m = mk();
        for (const cmd of cmds) {
          if (cmd.kind === "append") {
            const k = rand(cmd.n * row, cmd.seed + 1, 3);
            const v = rand(cmd.n * row, cmd.seed + 2, 3);
            c.append(k, v);
            for (let i = 0; i < cmd.n; i++)
              m.append(k.subarray(i * row, (i + 1) * row), v.subarray(i * row, (i + 1) * row));
          } else if (cmd.kind === "policy") {
            tailLength = channel ? Math.max(cmd.tailLength, 31) : cmd.tailLength;
            batch = pickBatch(tailLength, cmd.batchSeed);
            c.setPolicy({ tailLength, maxTokens: cmd.maxTokens, migrationBatch: batch });
            m.setPolicy(tailLength, cmd.maxTokens, batch);
          } else {
            c.clear();
            m = mk();
            m.tailLength = tailLength;
            m.maxTokens = c.maxTokens;
            m.batch = batch;
          }
          const s = c.stats();
          expect(s.tokens).toBe(m.tokens.length);
          expect(s.storeTokens).toBe(m.storeCount);
          expect(s.evictedTokens).toBe(m.evicted);
          expect(s.migratedTokens).toBe(m.migrated);
          expect(s.appendedTokens).toBe(m.appended);
          const all = c.getAll();
          const want = m.flat();
          expect(maxAbsDiff(all.keys, want.keys)).toBe(0);
          expect(maxAbsDiff(all.values, want.values)).toBe(0);
        }
        const q = rand(2 * row, 99);
        const got = c.attend(q, { numHeads: 2 * cfg.numKvHeads });
        const { keys, values } = m.flat();
        const ref = referenceAttend(
          keys,
          values,
          m.tokens.length,
          q,
          2 * cfg.numKvHeads,
          cfg.numKvHeads,
          cfg.headDim,
        );
        expect(maxAbsDiff(got, ref)).toBeLessThan(1e-4);
      }),
      { numRuns: 150 },
    );
  });
});
