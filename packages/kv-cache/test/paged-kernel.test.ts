import { expect, test } from "bun:test";
import { isLlmemError } from "@llmem/core";
import { backend } from "@llmem/native";
import { pagedAttention } from "../src/paged-kernel.ts";
import { ROW_FORMATS, rowBytes } from "../src/row-formats.ts";
import { decodeRow } from "../src/row-kernels.ts";
import { pagedArgs } from "./paged-pools.ts";
import { maxAbsDiff, referenceAttend } from "./reference.ts";

const KV = 2;
const HD = 64;
const HEADS = 6;
const BS = 5;

/** Pools through a scattered table (logical block i in physical block poolBlocks-1-i) and their decoded rows. */
function setup(format: (typeof ROW_FORMATS)[number], tokens: number, scale = 0.125) {
  const poolBlocks = Math.ceil(tokens / BS) + 2;
  const kPool = new Uint8Array(poolBlocks * BS * KV * rowBytes(format, HD));
  const vPool = new Uint8Array(kPool.length);
  const table = Uint32Array.from({ length: poolBlocks }, (_, i) => poolBlocks - 1 - i);
  const layout = { tokens, numKvHeads: KV, headDim: HD, blockSize: BS, numHeads: HEADS, scale };
  const { args, rowAt } = pagedArgs(format, kPool, vPool, table, layout);
  const kq = new Float32Array(tokens * KV * HD);
  const vq = new Float32Array(kq.length);
  for (let t = 0; t < tokens; t++) {
    for (let g = 0; g < KV; g++) {
      const o = (t * KV + g) * HD;
      decodeRow(format, kPool, rowAt(t, g), HD, kq.subarray(o, o + HD));
      decodeRow(format, vPool, rowAt(t, g), HD, vq.subarray(o, o + HD));
    }
  }
  return { args, kq, vq };
}

test(`paged attention (${backend()}) matches the f32 reference of the decoded pools, every format`, () => {
  for (const format of ROW_FORMATS) {
    for (const tokens of [0, 1, 5, 23]) {
      const { args, kq, vq } = setup(format, tokens);
      const { query, out, lse } = args;
      pagedAttention(args);
      const ref = referenceAttend(kq, vq, tokens, query, HEADS, KV, HD, 0.125);
      expect(maxAbsDiff(out, ref)).toBeLessThan(1e-4);
      if (tokens === 0) expect(lse[0]).toBe(Number.NEGATIVE_INFINITY);
    }
  }
});

test("hostile lengths and block ids are rejected before any memory is touched", () => {
  const { args } = setup("q8_0", 10, 1);
  const { kPool } = args;
  const base = { ...args, format: "q8_0" as const, query: new Float32Array(HEADS * HD) };
  const bad: [Partial<typeof base> | Record<string, unknown>, string][] = [
    [{ blockTable: Uint32Array.of(0, 99) }, "blockTable"],
    [{ blockTable: Uint32Array.of(0) }, "blockTable"],
    [{ numTokens: 10_000 }, "blockTable"],
    [{ kPool: kPool.subarray(0, 100) }, "blockTable"],
    [{ query: new Float32Array(5) }, "query"],
    [{ out: new Float32Array(5) }, "out"],
    [{ lse: new Float32Array(1) }, "lse"],
    [{ numHeads: 5 }, "numHeads"],
    [{ headDim: 48 }, "headDim"],
    [{ format: "q3" }, "format"],
    [{ scale: Number.NaN }, "scale"],
    [{ numTokens: -1 }, "numTokens"],
  ];
  for (const [patch, name] of bad) {
    let caught: unknown;
    try {
      pagedAttention({ ...base, ...patch } as typeof base);
    } catch (e) {
      caught = e;
    }
    expect(isLlmemError(caught)).toBe(true);
    expect((caught as Error).message).toContain(name);
  }
});
