/**
 * Allocator goals (issue 4), in one run:
 * - a mixed allocate / acquire-by-hash / free workload with half the free blocks cached costs
 *   at most 1.3× as many ns per operation at 1,000,000 blocks as at 1,000;
 * - at 1,000,000 blocks it is at least 100× faster than a straight port of the seed's linear scans.
 * Each round is 5 operations: allocate a clean block, resurrect a cached block by hash, miss a
 * lookup, free both (the cached one goes back to the LRU list, the clean one to the clean list).
 * Which cached block is hit: "uniform" picks any of them (the worst case for CPU caches: at 1M
 * blocks nearly every hit is a cache miss to DRAM), "zipf" picks by popularity rank with
 * P(rank r) ∝ 1/r, hot prefixes scattered over the pool (the usual model of prefix reuse).
 */
import { bench, do_not_optimize, run } from "mitata";
import { BlockAllocator } from "../src/index.ts";
import { SeedBlockAllocator } from "./seed-port.ts";

interface Pool {
  allocate(): number;
  tryAcquireByHash(hash: bigint): number | null;
  registerBlockHash(block: number, hash: bigint): void;
  free(blocks: readonly number[]): void;
}

const OPS_PER_ROUND = 5;
const PICKS = 1 << 16;
const MISSING = 1n << 100n; // never registered: hashes below are < 2^84

/** Every block allocated once, every even one hashed, all freed: half the free blocks cached. */
function prime(pool: Pool, n: number): bigint[] {
  const blocks: number[] = [];
  for (let i = 0; i < n; i++) blocks.push(pool.allocate());
  const hashes: bigint[] = [];
  for (let i = 0; i < n; i += 2) {
    const h = BigInt(i) * 0x9e3779b97f4a7c15n + 1n;
    pool.registerBlockHash(blocks[i]!, h);
    hashes.push(h);
  }
  pool.free(blocks.reverse());
  return hashes;
}

type Skew = "uniform" | "zipf";

function workload(pool: Pool, n: number, skew: Skew): () => void {
  const hashes = prime(pool, n);
  let s = 0x2545f491;
  const rand = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  // rank → hash index through a fixed shuffle, so popular blocks are spread over the pool
  const order = Uint32Array.from({ length: hashes.length }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const m = hashes.length;
  const picks = new Uint32Array(PICKS).map(() =>
    skew === "uniform"
      ? Math.floor(rand() * m)
      : order[Math.min(m - 1, Math.floor(Math.exp(rand() * Math.log(m + 1))) - 1)]!,
  );
  let i = 0;
  const one = [0];
  return () => {
    const x = pool.allocate();
    const y = pool.tryAcquireByHash(hashes[picks[i++ & (PICKS - 1)]!]!);
    do_not_optimize(pool.tryAcquireByHash(MISSING));
    one[0] = y!;
    pool.free(one);
    one[0] = x;
    pool.free(one);
  };
}

const skews: Skew[] = ["uniform", "zipf"];
for (const skew of skews) {
  for (const n of [1_000, 10_000, 100_000, 1_000_000]) {
    bench(`${skew}: O(1) allocator, ${n} blocks`, workload(new BlockAllocator(n), n, skew));
  }
  const seedPool = new SeedBlockAllocator(1_000_000);
  bench(`${skew}: seed linear-scan port, 1000000 blocks`, workload(seedPool, 1_000_000, skew));
}

const results = await run();
const p50 = (name: string) => {
  const b = results.benchmarks.find((x) => x.alias === name);
  return (b?.runs[0]?.stats?.p50 ?? Number.NaN) / OPS_PER_ROUND;
};
for (const skew of skews) {
  const small = p50(`${skew}: O(1) allocator, 1000 blocks`);
  const large = p50(`${skew}: O(1) allocator, 1000000 blocks`);
  const seed = p50(`${skew}: seed linear-scan port, 1000000 blocks`);
  const mid = p50(`${skew}: O(1) allocator, 100000 blocks`);
  console.log(
    `\n${skew}: median ns/op at 1K blocks ${small.toFixed(1)}, at 1M ${large.toFixed(1)}, seed port at 1M ${seed.toFixed(0)}`,
  );
  console.log(`  1M/100K (both beyond the CPU caches): ${(large / mid).toFixed(2)}×`);
  console.log(
    `  goal 1M/1K ≤ 1.3×: ${(large / small).toFixed(2)}× ${large / small <= 1.3 ? "met" : "NOT met"}`,
  );
  console.log(
    `  goal seed/O(1) at 1M ≥ 100×: ${(seed / large).toFixed(0)}× ${seed / large >= 100 ? "met" : "NOT met"}`,
  );
}
