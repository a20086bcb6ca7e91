// Model-based property test: random alloc/release/reset/clear/prewarm sequences against a
// simple reference model of the free lists (return order, per-class maximum, byte cap).
import { expect, test } from "bun:test";
import { isLlmemError } from "@llmem/core";
import { addressOf, isNativeAvailable } from "@llmem/native";
import fc from "fast-check";
import { BucketPool, type BucketPoolOptions, type PooledBuffer } from "../src/index.ts";

type Op =
  | { t: "alloc"; size: number }
  | { t: "release"; i: number }
  | { t: "releaseDead"; i: number }
  | { t: "reset" }
  | { t: "clear" }
  | { t: "prewarm"; size: number; n: number };

const size = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 70_000 }));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: size.map((s) => ({ t: "alloc" as const, size: s })) },
  { weight: 3, arbitrary: fc.nat().map((i) => ({ t: "release" as const, i })) },
  { weight: 1, arbitrary: fc.nat().map((i) => ({ t: "releaseDead" as const, i })) },
  { weight: 1, arbitrary: fc.constant({ t: "reset" as const }) },
  { weight: 1, arbitrary: fc.constant({ t: "clear" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("prewarm" as const), size, n: fc.integer({ min: 0, max: 3 }) }),
  },
);
const options: fc.Arbitrary<BucketPoolOptions> = fc.record({
  bucketing: fc.constantFrom("pow2" as const, "fine" as const, "fixed" as const),
  maxFreePerClass: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 4 })),
  maxCachedBytes: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 300_000 })),
  detachViews: fc.boolean(),
});

interface Live {
  h: PooledBuffer;
  cap: number;
  marker: number;
}

test("BucketPool matches its reference model", () => {
  fc.assert(
    fc.property(options, fc.array(op, { maxLength: 60 }), (opts, ops) => {
      const pool = new BucketPool(opts);
      const maxFree = opts.maxFreePerClass!;
      const maxCached = opts.maxCachedBytes!;
      const live: Live[] = [];
      const dead: PooledBuffer[] = [];
      const staleViews: Uint8Array[] = [];
      let free: number[] = []; // capacities in return order, oldest first
      let hits = 0;
      let misses = 0;
      let allocations = 0;
      let drops = 0;
      let evictions = 0;
      let nextMarker = 1;
      const freeBytes = () => free.reduce((a, b) => a + b, 0);
      const giveBack = (cap: number) => {
        if (free.filter((c) => c === cap).length >= maxFree) drops++;
        else free.push(cap);
      };
      const enforceCap = () => {
        while (freeBytes() > maxCached) {
          free.shift();
          evictions++;
        }
      };
      const kill = (l: Live) => {
        dead.push(l.h);
        if (!opts.detachViews) return;
        if (staleViews.length < 8) staleViews.push(l.h.bytes());
      };
      for (const o of ops) {
        if (o.t === "alloc") {
          const cap = pool.bucketFor(o.size);
          const h = pool.alloc(o.size);
          const at = free.lastIndexOf(cap);
          if (at >= 0) {
            free.splice(at, 1);
            hits++;
          } else {
            misses++;
            allocations++;
          }
          expect(h.capacity).toBe(cap);
          expect(h.buffer.byteLength).toBe(cap);
          const marker = nextMarker++ & 0xff;
          new Uint8Array(h.buffer)[0] = marker;
          live.push({ h, cap, marker });
        } else if (o.t === "release" && live.length > 0) {
          const i = o.i % live.length;
          const l = live[i]!;
          kill(l);
          pool.release(l.h);
          const last = live.pop()!;
          if (i < live.length) live[i] = last;
          giveBack(l.cap);
          enforceCap();
        } else if (o.t === "releaseDead" && dead.length > 0) {
          const before = pool.stats();
          let code = "";
          try {
            pool.release(dead[o.i % dead.length]!);
          } catch (e) {
            if (isLlmemError(e)) code = e.code;
          }
          expect(code).toBe("DOUBLE_FREE");
          expect(pool.stats()).toEqual(before);
        } else if (o.t === "reset") {
          for (const l of live) {
            kill(l);
            giveBack(l.cap);
          }
          live.length = 0;
          enforceCap();
          pool.reset();
        } else if (o.t === "clear") {
          pool.clear();
          free = [];
        } else if (o.t === "prewarm") {
          const cap = pool.bucketFor(o.size);
          const room = Math.max(
            0,
            Math.min(
              o.n,
              maxFree - free.filter((c) => c === cap).length,
              Math.floor((maxCached - freeBytes()) / cap),
            ),
          );
          expect(pool.prewarm(o.size, o.n)).toBe(room);
          for (let k = 0; k < room; k++) free.push(cap);
          allocations += room;
        }
        // Stats match the model.
        const s = pool.stats();
        expect(s.inUseCount).toBe(live.length);
        expect(s.inUseBytes).toBe(live.reduce((a, l) => a + l.cap, 0));
        expect(s.freeCount).toBe(free.length);
        expect(s.freeBytes).toBe(freeBytes());
        expect(s.freeBytes).toBeLessThanOrEqual(maxCached);
        expect({
          hits: s.hits,
          misses: s.misses,
          allocations: s.allocations,
          drops: s.drops,
          evictions: s.evictions,
        }).toEqual({ hits, misses, allocations, drops, evictions });
        // No buffer is handed out twice and no two live buffers share bytes.
        const buffers = new Set(live.map((l) => l.h.buffer));
        expect(buffers.size).toBe(live.length);
        for (const l of live) {
          expect(l.h.alive).toBe(true);
          expect(new Uint8Array(l.h.buffer)[0]).toBe(l.marker);
        }
        if (isNativeAvailable() && pool.backend === "native") {
          const ranges = live
            .map((l) => [addressOf(new Uint8Array(l.h.buffer)), l.cap] as const)
            .sort((a, b) => a[0] - b[0]);
          for (let k = 1; k < ranges.length; k++) {
            expect(ranges[k]![0]).toBeGreaterThanOrEqual(ranges[k - 1]![0] + ranges[k - 1]![1]);
          }
        }
        // Dead handles stay dead; their views stay detached.
        for (const d of dead) expect(d.alive).toBe(false);
        for (const v of staleViews) expect(v.length).toBe(0);
      }
      pool.dispose();
    }),
    { numRuns: 150 },
  );
});
