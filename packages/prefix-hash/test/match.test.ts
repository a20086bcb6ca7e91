import { expect, test } from "bun:test";
import { BlockAllocator, BlockTable } from "@llmem/block-allocator";
import { LlmemError } from "@llmem/core";
import { hashChain, matchPrefix, registerPrefix } from "../src/index.ts";

const BS = 4;
const prompt = Array.from({ length: 13 }, (_, i) => 100 + i); // 3 full blocks + 1 token

/** A finished request: its blocks are written, registered and released (soft-free, findable). */
function serve(a: BlockAllocator, tokens: number[], options = {}): number[] {
  const t = new BlockTable(a, { blockSize: BS, maxBlocksPerSeq: 16 });
  t.append(tokens.length);
  const blocks = t.blockIds();
  registerPrefix(a, blocks, tokens, BS, options);
  t.release();
  return blocks;
}

for (const mode of ["fast", "secure"] as const) {
  test(`${mode}: a second request reuses the cached prefix and prefills only the rest`, () => {
    const a = new BlockAllocator(32);
    const first = serve(a, prompt, { mode });
    const longer = [...prompt.slice(0, 12), 999, 998, 997, 996, 995];
    const m = matchPrefix(a, longer, BS, { mode });
    expect(m.blocks).toEqual(first.slice(0, 3));
    expect(m.tokenCount).toBe(12);
    expect(m.hashes).toEqual(hashChain(longer, BS, { mode }));
    for (const b of m.blocks) expect(a.refCount(b)).toBe(1);
    const t = new BlockTable(a, { blockSize: BS, maxBlocksPerSeq: 16 });
    t.adopt(m.blocks, m.tokenCount);
    t.append(longer.length - m.tokenCount);
    registerPrefix(a, t.blockIds(), longer, BS, { mode, hashes: m.hashes, fromBlock: m.blocks.length });
    expect(a.metrics().hits).toBe(3);
  });
}

test("a diverging prompt matches only the shared leading blocks; extra keys must match", () => {
  const a = new BlockAllocator(32);
  serve(a, prompt, { lora: "a" });
  const other = [...prompt.slice(0, 4), 1, 2, 3, 4, 5];
  expect(matchPrefix(a, other, BS, { lora: "a" }).tokenCount).toBe(4);
  expect(matchPrefix(a, prompt, BS, { lora: "b" }).tokenCount).toBe(0);
  expect(matchPrefix(a, prompt, BS, { lora: "a", salt: "tenant-2" }).tokenCount).toBe(0);
});

test("keepLast leaves a fully cached prompt's last block to compute", () => {
  const a = new BlockAllocator(32);
  const exact = prompt.slice(0, 12);
  serve(a, exact);
  expect(matchPrefix(a, exact, BS).tokenCount).toBe(8);
  expect(matchPrefix(a, exact, BS, { keepLast: false }).tokenCount).toBe(12);
});

test("verification rejects a colliding hash that points at foreign content", () => {
  const a = new BlockAllocator(32);
  const hashes = hashChain(prompt, BS);
  // Simulate a collision: another sequence's block registered under our first block's hash.
  const foreign = a.allocate();
  a.registerBlockHash(foreign, hashes[0]!, { tokens: [9, 9, 9, 9] });
  a.free([foreign]);
  expect(matchPrefix(a, prompt, BS).blocks).toEqual([]);
  expect(a.refCount(foreign)).toBe(0);
  // Without verification the hash alone decides, and the foreign block would be spliced in.
  expect(matchPrefix(a, prompt, BS, { verify: false }).blocks).toEqual([foreign]);
});

test("verification rejects a block whose parent was recycled since it was registered", () => {
  const a = new BlockAllocator(4);
  const [head, tail] = serve(a, prompt.slice(0, 8)) as [number, number];
  const h = hashChain(prompt, BS);
  a.free([a.tryAcquireByHash(h[1]!)!]); // the tail is now the most recently freed
  a.allocateN(2); // the never-used blocks
  expect(a.allocate()).toBe(head); // evicts the head, least recently freed
  // The head is rewritten with the same tokens and registered again: same hash, new generation.
  registerPrefix(a, [head], prompt.slice(0, 4), BS);
  a.free([head]);
  // The tail's KV was computed after the old head: verification stops before it.
  expect(matchPrefix(a, prompt, BS).blocks).toEqual([head]);
  a.free([head]);
  expect(matchPrefix(a, prompt, BS, { verify: false }).blocks).toEqual([head, tail]);
});

test("bad input to matchPrefix / registerPrefix is an LlmemError and takes nothing", () => {
  const a = new BlockAllocator(8);
  serve(a, prompt);
  const before = a.metrics();
  expect(() => matchPrefix(a, [1, -1], BS)).toThrow(LlmemError);
  expect(() => matchPrefix(a, prompt, 0)).toThrow(LlmemError);
  expect(() => matchPrefix(a, prompt, BS, { hashes: [1n] })).toThrow(LlmemError);
  expect(() => registerPrefix(a, [0, 1, 2], prompt, BS)).toThrow(LlmemError); // free blocks
  expect(a.metrics()).toEqual(before);
});

test("a match that fails midway takes nothing", () => {
  const a = new BlockAllocator(8);
  const [b0, b1] = serve(a, prompt) as [number, number];
  a.tryAcquireByHash(hashChain(prompt, BS)[0]!); // b0 live, ref 1
  for (let i = 1; i < 0xffff; i++) a.acquire(b0);
  // b0 is at the limit and comes first: the match fails before taking anything
  expect(() => matchPrefix(a, prompt, BS)).toThrow(LlmemError);
  expect(a.refCount(b0)).toBe(0xffff);
  expect(a.refCount(b1)).toBe(0);
  // with b1 at the limit instead, b0 is taken first and must be given back
  a.free(Array.from({ length: 0xffff }, () => b0));
  a.tryAcquireByHash(hashChain(prompt, BS)[1]!);
  for (let i = 1; i < 0xffff; i++) a.acquire(b1);
  expect(() => matchPrefix(a, prompt, BS)).toThrow(LlmemError);
  expect(a.refCount(b0)).toBe(0);
  expect(a.refCount(b1)).toBe(0xffff);
});
