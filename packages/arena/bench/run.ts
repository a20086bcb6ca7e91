/**
 * Arena goals (issue 3), medians (p50) from mitata's measure(), baselines in the same run:
 * - alloc(Float32Array, 256) ≥ 3× faster than new Float32Array(256) (a step of 64 allocations
 *   plus its reset, per allocation);
 * - reset() cost flat from 10 to 100,000 live allocations.
 */
import { do_not_optimize, measure } from "mitata";
import { Arena } from "../src/index.ts";

const PER_STEP = 64;
const arena = new Arena(PER_STEP * 1024 + 64, { checked: false });
const views: Float32Array[] = new Array(PER_STEP);

function arenaStep(): void {
  for (let i = 0; i < PER_STEP; i++) views[i] = arena.alloc(Float32Array, 256);
  arena.reset();
}
function freshStep(): void {
  for (let i = 0; i < PER_STEP; i++) views[i] = new Float32Array(256);
  do_not_optimize(views);
}

async function median(name: string, fn: () => void, per = 1): Promise<number> {
  const stats = await measure(fn, { min_cpu_time: 500e6 });
  const ns = stats.p50 / per;
  console.log(`${name.padEnd(52)} median ${ns.toFixed(1).padStart(9)} ns`);
  return ns;
}

/**
 * reset() takes tens of nanoseconds, below what a per-call harness resolves reliably, so
 * the sizes are timed round-robin (same JIT, cache and GC conditions for each) and the
 * median of 300 resets per size is reported, each from a cold cache.
 */
const sweep = new Uint8Array(32 * 1024 * 1024);
function flushCaches(): void {
  let sum = 0;
  for (let i = 0; i < sweep.length; i += 64) sum += sweep[i]!++;
  do_not_optimize(sum);
}

function resetCosts(sizes: readonly number[], checked: boolean, rounds = 300): number[] {
  const arenas = sizes.map((live) => new Arena(live * 64, { checked }));
  const times = sizes.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    sizes.forEach((live, k) => {
      const a = arenas[k]!;
      for (let i = 0; i < live; i++) a.allocUninit(Uint8Array, 1);
      flushCaches(); // filling 100,000 views evicts the arena from cache; start every size cold
      const t0 = Bun.nanoseconds();
      a.reset();
      times[k]!.push(Bun.nanoseconds() - t0);
    });
  }
  for (const a of arenas) a.dispose();
  return times.map((t) => t.sort((x, y) => x - y)[t.length >> 1]!);
}

console.log(`backend: ${arena.isNative ? "native" : "js"} memory`);
const tArena = await median("arena.alloc(Float32Array, 256)", arenaStep, PER_STEP);
const tFresh = await median("new Float32Array(256)", freshStep, PER_STEP);
const sizes = [10, 1000, 100_000];
resetCosts(sizes, false, 50); // warm-up
const flat = resetCosts(sizes, false);
sizes.forEach((live, k) => {
  console.log(
    `reset with ${String(live).padStart(6)} live allocations`.padEnd(52) +
      ` median ${flat[k]!.toFixed(1).padStart(9)} ns`,
  );
});
const [checked10, checked100k] = resetCosts([10, 100_000], true, 20) as [number, number];

const speedup = tFresh / tArena;
const spread = Math.max(...flat) / Math.min(...flat);
console.log("\ngoal                                              measured      verdict");
console.log(
  `alloc ≥ 3× faster than new Float32Array(256)     ${speedup.toFixed(1).padStart(7)}×      ${speedup >= 3 ? "met" : "NOT met"}`,
);
console.log(
  `reset flat from 10 to 100,000 live (max/min)     ${spread.toFixed(2).padStart(7)}×      ${spread < 2 ? "met" : "NOT met"}`,
);
console.log(
  `  (checked mode detaches each view: ${checked10.toFixed(0)} ns at 10 live, ${(checked100k / 1e3).toFixed(0)} µs at 100,000 — O(n) by design)`,
);
arena.dispose();
