import { expect, test } from "bun:test";
import { allocMetalBuffer } from "@llmem/bucket-pool";
import { isLlmemError } from "@llmem/core";
import { type PagedAttentionArgs, pagedAttention } from "../src/paged-kernel.ts";
import { metalAvailable, pagedAttentionMetal } from "../src/paged-metal.ts";
import { ROW_FORMATS, type RowFormat, rowBytes } from "../src/row-formats.ts";
import { pagedArgs } from "./paged-pools.ts";
import { maxAbsDiff } from "./reference.ts";

const KV = 2;
const HD = 64;
const HEADS = 6;
const BS = 5;
const metal = metalAvailable();
if (!metal)
  console.log("paged-metal: no Metal device here; GPU-vs-CPU comparisons are skipped (macOS CI runs them)");

function args(format: RowFormat, tokens: number): PagedAttentionArgs {
  const poolBlocks = Math.ceil(tokens / BS) + 2;
  const kPool = new Uint8Array(poolBlocks * BS * KV * rowBytes(format, HD));
  const vPool = new Uint8Array(kPool.length);
  const blockTable = Uint32Array.from({ length: poolBlocks }, (_, i) => poolBlocks - 1 - i);
  const layout = { tokens, numKvHeads: KV, headDim: HD, blockSize: BS, numHeads: HEADS, scale: 0.125 };
  return pagedArgs(format, kPool, vPool, blockTable, layout).args;
}

function cpuResult(a: PagedAttentionArgs) {
  const out = new Float32Array(a.out.length);
  const lse = new Float32Array(a.lse.length);
  pagedAttention({ ...a, out, lse });
  return { out, lse };
}

test("without Metal (or unasked) the CPU kernel runs and gives its exact result", () => {
  for (const format of ROW_FORMATS) {
    const a = args(format, 23);
    // Forcing where there is no GPU must fall back; where there is one, unasked stays on the CPU.
    expect(pagedAttentionMetal(a, metal ? {} : { force: true })).toBe("cpu");
    const cpu = cpuResult(a);
    expect(Array.from(a.out)).toEqual(Array.from(cpu.out));
    expect(Array.from(a.lse)).toEqual(Array.from(cpu.lse));
  }
});

test("hostile arguments are rejected before the GPU or CPU sees a pointer", () => {
  const base = args("q8_0", 10);
  const bad: [Record<string, unknown>, string][] = [
    [{ blockTable: Uint32Array.of(0, 99) }, "blockTable"],
    [{ blockTable: Uint32Array.of(0) }, "blockTable"],
    [{ numTokens: 10_000 }, "blockTable"],
    [{ kPool: base.kPool.subarray(0, 100) }, "blockTable"],
    [{ query: new Float32Array(5) }, "query"],
    [{ out: new Float32Array(5) }, "out"],
    [{ lse: new Float32Array(1) }, "lse"],
    [{ numHeads: 5 }, "numHeads"],
    [{ headDim: 48 }, "headDim"],
    [{ format: "q3" }, "format"],
    [{ scale: Number.POSITIVE_INFINITY }, "scale"],
    [{ blockSize: 0 }, "blockSize"],
  ];
  for (const [patch, name] of bad) {
    const a = { ...base, out: base.out, ...patch } as PagedAttentionArgs;
    base.out.fill(3);
    let caught: unknown;
    try {
      pagedAttentionMetal(a, { force: true });
    } catch (e) {
      caught = e;
    }
    expect(isLlmemError(caught)).toBe(true);
    expect((caught as Error).message).toContain(name);
    expect(base.out.every((x) => x === 3)).toBe(true);
  }
});

test.skipIf(!metal)("Metal matches the CPU kernel for every format, pools copied in (force)", () => {
  for (const format of ROW_FORMATS) {
    for (const tokens of [0, 1, 5, 23, 301]) {
      const a = args(format, tokens);
      const cpu = cpuResult(a);
      expect(pagedAttentionMetal(a, { force: true })).toBe(tokens === 0 ? "cpu" : "metal");
      expect(maxAbsDiff(a.out, cpu.out)).toBeLessThan(1e-4);
      if (tokens === 0) expect(a.lse.every((x) => x === Number.NEGATIVE_INFINITY)).toBe(true);
      else expect(maxAbsDiff(a.lse, cpu.lse)).toBeLessThan(1e-4);
    }
  }
});

test.skipIf(!metal)("pools inside MetalBuffers go to the GPU unasked and are read in place", () => {
  for (const format of ROW_FORMATS) {
    const a = args(format, 47);
    const cpu = cpuResult(a);
    const offset = 256;
    const kBuffer = allocMetalBuffer(offset + a.kPool.byteLength);
    const vBuffer = allocMetalBuffer(offset + a.vPool.byteLength);
    try {
      const kPool = new Uint8Array(kBuffer.buffer, offset, a.kPool.byteLength);
      const vPool = new Uint8Array(vBuffer.buffer, offset, a.vPool.byteLength);
      kPool.set(a.kPool as Uint8Array);
      vPool.set(a.vPool as Uint8Array);
      expect(pagedAttentionMetal({ ...a, kPool, vPool })).toBe("metal");
      expect(maxAbsDiff(a.out, cpu.out)).toBeLessThan(1e-4);
      expect(maxAbsDiff(a.lse, cpu.lse)).toBeLessThan(1e-4);
    } finally {
      kBuffer.free();
      vBuffer.free();
    }
  }
});
