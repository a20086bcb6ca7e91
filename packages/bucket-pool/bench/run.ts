/**
 * Steady-state decode step: 1,750 buffers of mixed sizes (64 B – 1 MiB, log-uniform, the
 * MLX seed's per-token count) allocated, then returned by one reset(). Baselines allocate
 * the same buffers fresh in the same run. Medians (p50) from mitata's measure().
 * Goals (issue 3): pool step ≥ 10× faster than both fresh baselines, and ≤ 50 µs per step.
 */
import { allocNative, freeNative, isNativeAvailable, type NativeBlock } from "@llmem/native";
import { do_not_optimize, measure } from "mitata";
import { BucketPool, type PooledBuffer } from "../src/index.ts";

const STEP_BUFFERS = 1750;
let seed = 0x2545f491;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};
const sizes = Array.from({ length: STEP_BUFFERS }, () => Math.round(64 * 2 ** (rand() * 14))); // 64 B .. 1 MiB
const stepBytes = sizes.reduce((a, b) => a + b, 0);

const pool = new BucketPool();
const handles: PooledBuffer[] = new Array(STEP_BUFFERS);
function poolStep(): void {
  for (let i = 0; i < STEP_BUFFERS; i++) handles[i] = pool.alloc(sizes[i]!);
  pool.reset();
}
// Every buffer's bytes are touched through a view, so every reset detaches each buffer.
function poolStepTouched(): void {
  for (let i = 0; i < STEP_BUFFERS; i++) {
    const h = pool.alloc(sizes[i]!);
    h.bytes()[0] = i;
  }
  pool.reset();
}
const undetached = new BucketPool({ detachViews: false });
function poolStepTouchedUndetached(): void {
  for (let i = 0; i < STEP_BUFFERS; i++) {
    const h = undetached.alloc(sizes[i]!);
    h.bytes()[0] = i;
  }
  undetached.reset();
}
const blocks: NativeBlock[] = new Array(STEP_BUFFERS);
function nativeFreshStep(): void {
  for (let i = 0; i < STEP_BUFFERS; i++) blocks[i] = allocNative(sizes[i]!, 64);
  for (let i = 0; i < STEP_BUFFERS; i++) freeNative(blocks[i]!);
}
const buffers: ArrayBuffer[] = new Array(STEP_BUFFERS);
function arrayBufferFreshStep(): void {
  for (let i = 0; i < STEP_BUFFERS; i++) buffers[i] = new ArrayBuffer(sizes[i]!);
  do_not_optimize(buffers);
}

async function median(name: string, fn: () => void): Promise<number> {
  const stats = await measure(fn, { min_cpu_time: 500e6, max_samples: 2000 });
  console.log(`${name.padEnd(44)} median ${(stats.p50 / 1e3).toFixed(1).padStart(10)} µs/step`);
  return stats.p50;
}

console.log(
  `decode step: ${STEP_BUFFERS} buffers, ${(stepBytes / 2 ** 20).toFixed(1)} MiB requested, backend ${pool.backend}`,
);
poolStep(); // the first step fills the cache; every later step is all hits
const tPool = await median("pool alloc + reset (steady state)", poolStep);
const tTouched = await median("pool alloc + write via view + reset", poolStepTouched);
const tUndetached = await median("  the same with detachViews: false", poolStepTouchedUndetached);
const tArrayBuffer = await median("fresh new ArrayBuffer", arrayBufferFreshStep);
const tNative = isNativeAvailable()
  ? await median("fresh native 64-byte aligned alloc + free", nativeFreshStep)
  : 0;

const s = pool.stats();
console.log(
  `pool: hit rate ${(s.hitRate * 100).toFixed(2)}%, ${s.allocations} fresh allocations, peak ${s.peakBytes} B`,
);
const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
const ratio = (base: number, t: number) => base / t;
console.log("\ngoal                                            measured          verdict");
console.log(
  `≥ 10× faster than new ArrayBuffer              ${ratio(tArrayBuffer, tPool).toFixed(0).padStart(8)}×         ${verdict(ratio(tArrayBuffer, tPool) >= 10)}`,
);
if (tNative) {
  console.log(
    `≥ 10× faster than native aligned alloc         ${ratio(tNative, tPool).toFixed(0).padStart(8)}×         ${verdict(ratio(tNative, tPool) >= 10)}`,
  );
}
console.log(
  `≤ 50 µs per step                               ${(tPool / 1e3).toFixed(1).padStart(8)} µs      ${verdict(tPool <= 50e3)}`,
);
console.log(
  `  (touched step, every buffer detached: ${(tTouched / 1e3).toFixed(1)} µs; ${ratio(tArrayBuffer, tTouched).toFixed(0)}× / ${tNative ? ratio(tNative, tTouched).toFixed(0) : "-"}× vs fresh)`,
);
console.log(`  (touched step with detachViews: false: ${(tUndetached / 1e3).toFixed(1)} µs)`);
console.log(
  `  (so detaching a returned buffer's views costs ≈ ${((tTouched - tUndetached) / STEP_BUFFERS).toFixed(0)} ns per buffer)`,
);
pool.dispose();
undetached.dispose();
