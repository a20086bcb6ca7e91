// Property test of the prefix cache under churn and forged collisions: whatever matchPrefix
// returns holds exactly the prompt's tokens, block by block, in a verified chain.
import { expect, test } from "bun:test";
import { BlockAllocator, BlockTable } from "@llmem/block-allocator";
import fc from "fast-check";
import { hashChain, matchPrefix, registerPrefix } from "../src/index.ts";

const BS = 2;
const promptArb = fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 9 });
type Op = { kind: "serve"; prompt: number[] } | { kind: "forge"; prompt: number[]; index: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("serve" as const), prompt: promptArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("forge" as const), prompt: promptArb, index: fc.nat(4) }),
  },
);

test("matched blocks always hold the prompt's tokens, even with forged hash collisions", () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 30 }), (ops) => {
      const pool = new BlockAllocator(12);
      for (const op of ops) {
        const hashes = hashChain(op.prompt, BS);
        if (op.kind === "forge") {
          // another block registered under one of this prompt's hashes, with other content
          const h = hashes[op.index % Math.max(1, hashes.length)];
          if (h === undefined || pool.freeCount === 0) continue;
          const b = pool.allocate();
          pool.registerBlockHash(b, h, { tokens: [7, 7] });
          pool.free([b]);
          continue;
        }
        const m = matchPrefix(pool, op.prompt, BS);
        expect(m.tokenCount).toBe(m.blocks.length * BS);
        expect(m.tokenCount).toBeLessThan(Math.max(1, op.prompt.length));
        m.blocks.forEach((b, i) => {
          const c = pool.contentOfBlock(b)!;
          expect(Array.from(c.tokens)).toEqual(op.prompt.slice(i * BS, (i + 1) * BS));
          expect(c.parent).toBe(i === 0 ? -1 : m.blocks[i - 1]!);
          expect(pool.refCount(b)).toBeGreaterThan(0);
        });
        const table = new BlockTable(pool, { blockSize: BS, maxBlocksPerSeq: 8 });
        table.adopt(m.blocks, m.tokenCount);
        const need = table.blocksNeeded(op.prompt.length);
        if (need > pool.freeCount) {
          table.release();
          continue;
        }
        table.append(op.prompt.length - m.tokenCount);
        registerPrefix(pool, table.blockIds(), op.prompt, BS, {
          hashes: m.hashes,
          fromBlock: m.blocks.length,
        });
        table.release();
        expect(pool.inUse).toBe(0);
      }
    }),
    { numRuns: 300 },
  );
});
