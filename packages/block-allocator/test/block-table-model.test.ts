// Property test of block tables sharing one pool: every table holds exactly one reference per
// slot, copy-on-write happens exactly when a write lands in a shared partial block, and a
// failed call changes nothing.
import { expect, test } from "bun:test";
import { LlmemError } from "@llmem/core";
import fc from "fast-check";
import { BlockAllocator, BlockTable } from "../src/index.ts";

const CAP = 10;
const BS = 3;
const MAX = 4;

type Op =
  | { kind: "new" }
  | { kind: "append"; t: number; count: number }
  | { kind: "ensure"; t: number; tokens: number }
  | { kind: "fork"; t: number }
  | { kind: "release"; t: number }
  | { kind: "truncate"; t: number; keep: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ kind: "new" as const }),
  fc.record({ kind: fc.constant("append" as const), t: fc.nat(5), count: fc.nat(7) }),
  fc.record({ kind: fc.constant("ensure" as const), t: fc.nat(5), tokens: fc.nat(14) }),
  fc.record({ kind: fc.constant("fork" as const), t: fc.nat(5) }),
  fc.record({ kind: fc.constant("release" as const), t: fc.nat(5) }),
  fc.record({ kind: fc.constant("truncate" as const), t: fc.nat(5), keep: fc.nat(14) }),
);

function state(pool: BlockAllocator, tables: BlockTable[]) {
  return {
    refs: Array.from({ length: CAP }, (_, b) => pool.refCount(b)),
    tables: tables.map((t) => [t.length, ...t.blocks]),
  };
}

test("block tables keep refcounts exact, copy on write, and fail atomically", () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
      const pool = new BlockAllocator(CAP);
      const tables: BlockTable[] = [new BlockTable(pool, { blockSize: BS, maxBlocksPerSeq: MAX })];
      for (const op of ops) {
        if (op.kind === "new") {
          tables.push(new BlockTable(pool, { blockSize: BS, maxBlocksPerSeq: MAX }));
          continue;
        }
        const t = tables[op.t % tables.length]!;
        const before = state(pool, tables);
        const oldLength = t.length;
        const partialShared = t.length % BS !== 0 && pool.refCount(t.blocks[Math.floor(t.length / BS)]!) > 1;
        try {
          if (op.kind === "append") {
            const copy = t.append(op.count);
            expect(copy !== null).toBe(partialShared && op.count > 0);
            if (copy) {
              expect(copy.dst).toBe(t.blocks[Math.floor(oldLength / BS)]!);
              expect(pool.refCount(copy.src)).toBeGreaterThan(0);
            }
            // every block written into is private to this table
            for (let i = Math.floor(oldLength / BS); op.count > 0 && i < Math.ceil(t.length / BS); i++) {
              expect(pool.refCount(t.blocks[i]!)).toBe(1);
            }
          } else if (op.kind === "ensure") {
            const need = op.tokens <= MAX * BS ? t.blocksNeeded(op.tokens) : -1;
            const free = pool.freeCount;
            if (need > free) expect(() => t.ensureCapacity(op.tokens)).toThrow(LlmemError);
            const copy = t.ensureCapacity(op.tokens);
            expect(free - pool.freeCount).toBe(need);
            expect(copy !== null).toBe(partialShared && op.tokens > oldLength);
            for (
              let i = Math.floor(oldLength / BS);
              op.tokens > oldLength && i < Math.ceil(op.tokens / BS);
              i++
            ) {
              expect(pool.refCount(t.blocks[i]!)).toBe(1);
            }
          } else if (op.kind === "fork") {
            tables.push(t.fork());
          } else if (op.kind === "truncate") {
            t.truncate(Math.min(op.keep, t.length));
            expect(t.blockCount).toBe(Math.ceil(t.length / BS));
          } else {
            t.release();
          }
        } catch (e) {
          expect(e).toBeInstanceOf(LlmemError);
          expect(["POOL_EXHAUSTED", "CAPACITY_EXCEEDED"]).toContain((e as LlmemError).code);
          expect(state(pool, tables)).toEqual(before);
        }
        const held = new Array(CAP).fill(0);
        for (const table of tables) {
          expect(table.blockCount).toBeGreaterThanOrEqual(Math.ceil(table.length / BS));
          for (let i = 0; i < MAX; i++) {
            if (i < table.blockCount) held[table.blocks[i]!]++;
            else expect(table.blocks[i]).toBe(0);
          }
        }
        for (let b = 0; b < CAP; b++) expect(pool.refCount(b)).toBe(held[b]);
        expect(pool.freeCount).toBe(held.filter((h) => h === 0).length);
      }
    }),
    { numRuns: 300 },
  );
});
