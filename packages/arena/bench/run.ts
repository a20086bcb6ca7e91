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

const sweep = new Uint8Array(32 * 1024 * 1024);
function flushCaches(): void {
  let sum = 0;
  for (let i = 0; i < sweep.length; i += 64) sum += sweep[i]!++;
  do_not_optimize(sum);
}

/**
 * reset() with `live` allocations, timed by mitata in manual mode: each sample fills the
 * arena, sweeps a 32 MiB buffer so every size starts from the same cold cache (filling
 * 100,000 views alone evicts the arena), and times the reset call alone.
 */
async function coldResetCost(live: number, checked: boolean): Promise<number> {
  const a = new Arena(live * 64, { checked });
  const stats = await measure(
    function* () {
      yield {
        manual() {
          for (let i = 0; i < live; i++) a.allocUninit(Uint8Array, 1);
          flushCaches();
          const t0 = Bun.nanoseconds();
          a.reset();
          return Bun.nanoseconds() - t0;
        },
      };
    },
    { min_samples: 100, max_samples: checked ? 20 : 300, min_cpu_time: 1 },
  );
  a.dispose();
  return stats.p50;
}

/** The same without the sweep, sizes interleaved so each sees the same JIT and GC state. */
function warmResetCosts(sizes: readonly number[], rounds = 300): number[] {
  const arenas = sizes.map((live) => new Arena(live * 64));
  const times = sizes.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    sizes.forEach((live, k) => {
      const a = arenas[k]!;
      for (let i = 0; i < live; i++) a.allocUninit(Uint8Array, 1);
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
warmResetCosts(sizes, 50); // JIT warm-up
const flat: number[] = [];
for (const live of sizes) flat.push(await coldResetCost(live, false));
const warm = warmResetCosts(sizes);
sizes.forEach((live, k) => {
  console.log(
    `reset with ${String(live).padStart(6)} live allocations`.padEnd(52) +
      ` median ${flat[k]!.toFixed(1).padStart(9)} ns cold, ${warm[k]!.toFixed(1)} ns warm`,
  );
});
const checked10 = await coldResetCost(10, true);
const checked100k = await coldResetCost(100_000, true);

const speedup = tFresh / tArena;
const spread = Math.max(...flat) / Math.min(...flat);
console.log("\ngoal                                              measured      verdict");
console.log(
  `alloc ≥ 3× faster than new Float32Array(256)     ${speedup.toFixed(1).padStart(7)}×      ${speedup >= 3 ? "met" : "NOT met"}`,
);
console.log(
  `reset flat from 10 to 100,000 live (max/min)     ${spread.toFixed(2).padStart(7)}×      ${spread < 2 ? "met" : "NOT met"} (same cold cache for each size)`,
);
console.log(
  `  (checked mode detaches each view: ${checked10.toFixed(0)} ns at 10 live, ${(checked100k / 1e3).toFixed(0)} µs at 100,000 — O(n) by design)`,
);
arena.dispose();
