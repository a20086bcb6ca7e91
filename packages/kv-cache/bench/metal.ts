/**
 * Metal paged attention vs the CPU kernel in the same run (macOS only: `bun bench/metal.ts`):
 * 4,096 tokens, 8 KV heads × 128, 32 query heads, 16-token blocks in a scattered table, the
 * pools inside MetalBuffers (read in place by the GPU, by pointer by the CPU). Prints medians
 * and GPU/CPU ratios per format. Elsewhere it says why it measured nothing.
 */
import { allocMetalBuffer } from "@llmem/bucket-pool";
import { backend } from "@llmem/native";
import { bench, do_not_optimize, run, summary } from "mitata";
import { type PagedAttentionArgs, pagedAttention } from "../src/paged-kernel.ts";
import { metalAvailable, pagedAttentionMetal } from "../src/paged-metal.ts";
import { type RowFormat, rowBytes } from "../src/row-formats.ts";
import { pagedArgs } from "../test/paged-pools.ts";

const KV = 8;
const HD = 128;
const HEADS = 32;
const T = 4096;
const BS = 16;
const FORMATS: RowFormat[] = ["f32", "f16", "q8_0", "q4_0"];

if (!metalAvailable()) {
  console.log(`no Metal device (backend ${backend()}): nothing to measure; run this on macOS`);
  process.exit(0);
}

function argsFor(format: RowFormat): PagedAttentionArgs {
  const blocks = T / BS;
  const rb = rowBytes(format, HD);
  const bytes = 2 * blocks * BS * KV * rb; // twice the blocks needed: the table skips every other one
  const kPool = new Uint8Array(allocMetalBuffer(bytes).buffer);
  const vPool = new Uint8Array(allocMetalBuffer(bytes).buffer);
  const blockTable = Uint32Array.from({ length: blocks }, (_, i) => 2 * i + 1);
  const layout = {
    tokens: T,
    numKvHeads: KV,
    headDim: HD,
    blockSize: BS,
    numHeads: HEADS,
    scale: 1 / Math.sqrt(HD),
  };
  return pagedArgs(format, kPool, vPool, blockTable, layout).args;
}

const cases = FORMATS.map((f) => [f, argsFor(f)] as const);
for (const [f, a] of cases) {
  if (pagedAttentionMetal(a) !== "metal") throw new Error(`Metal path did not run for ${f}`);
}
console.log(
  `paged attention over ${T} tokens, ${KV} KV heads × ${HD}, ${HEADS} query heads; CPU: ${backend()}`,
);
summary(() => {
  for (const [f, a] of cases) {
    bench(`cpu ${f}`, () => do_not_optimize(pagedAttention(a)));
    bench(`metal ${f}`, () => do_not_optimize(pagedAttentionMetal(a)));
  }
});
const result = await run();
const p50 = new Map<string, number>();
for (const b of result.benchmarks) {
  const r = b.runs[0];
  if (r?.stats) p50.set(b.alias, r.stats.p50);
}
for (const f of FORMATS) {
  const cpu = p50.get(`cpu ${f}`)!;
  const gpu = p50.get(`metal ${f}`)!;
  console.log(
    `${f}: median cpu ${(cpu / 1e6).toFixed(3)} ms, metal ${(gpu / 1e6).toFixed(3)} ms, metal/cpu ${(gpu / cpu).toFixed(3)}×`,
  );
}
