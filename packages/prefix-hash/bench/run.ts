/**
 * Hashing goals (issue 4), in one run: a 128K-token prompt in 16-token blocks,
 * - `fast` mode at least 10× faster than `secure` mode,
 * - and within 2× of hashing the same bytes in one call (the cost of chaining 8,192 blocks).
 * Measured on the public API, `hashChain` (fast mode: a BigUint64Array over the chain's words),
 * beside `hashChainWords` (the raw words) and, for reference, the bigint[] hashChain used to
 * return; for the native path (one FFI call per prompt) and for the pure-TS path used when
 * native is off (called directly, so both appear in one run).
 */
import { isNativeAvailable } from "@llmem/native";
import { bench, do_not_optimize, run } from "mitata";
import { hashChain, hashChainWords, hashWords } from "../src/index.ts";
import { lh64Block, lh64Chain } from "../src/lh64.ts";

const TOKENS = 128 * 1024;
const BS = 16;
const prompt = new Uint32Array(TOKENS);
let s = 0x9e3779b9;
for (let i = 0; i < TOKENS; i++) {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  prompt[i] = (s >>> 0) % 128_000;
}
const pairs = new Uint32Array(2 * (TOKENS / BS));
// a multi-tenant, LoRA-serving prompt: 5 extra-key words on every block, the salt on the first
const KEYS = { salt: "tenant-0042", lora: "adapter-7" };
const one = new Uint32Array(2);

const native = isNativeAvailable();
if (native) {
  bench("native fast: hashChain → BigUint64Array", () => do_not_optimize(hashChain(prompt, BS)));
  bench("native fast: hashChainWords → Uint32Array", () => do_not_optimize(hashChainWords(prompt, BS)));
  bench("native fast: same bytes in one call", () => do_not_optimize(hashWords(prompt)));
  bench("(reference) a bigint per block: [...hashChain]", () => do_not_optimize([...hashChain(prompt, BS)]));
  bench("native fast: hashChain, salt + LoRA keys", () => do_not_optimize(hashChain(prompt, BS, KEYS)));
}
bench("ts fast: chain", () => lh64Chain(prompt, BS, TOKENS / BS, null, null, 0, 0, pairs));
bench("ts fast: same bytes in one call", () => lh64Block(prompt, 0, TOKENS, null, 0, 0, one, 0));
bench("secure: hashChain (SHA-256)", () => do_not_optimize(hashChain(prompt, BS, { mode: "secure" })));

const results = await run();

/**
 * Median over rounds of time(a) / time(b), a and b run back to back (alternating which goes
 * first): load bursts from other processes hit both sides of a pair, unlike medians taken
 * seconds apart.
 */
function paired(a: () => unknown, b: () => unknown, rounds = 31): number {
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const first = r % 2 === 0 ? a : b;
    const second = r % 2 === 0 ? b : a;
    const t0 = Bun.nanoseconds();
    first();
    const t1 = Bun.nanoseconds();
    second();
    const t2 = Bun.nanoseconds();
    ratios.push(r % 2 === 0 ? (t1 - t0) / (t2 - t1) : (t2 - t1) / (t1 - t0));
  }
  return ratios.sort((x, y) => x - y)[rounds >> 1]!;
}
const p50 = (name: string) =>
  results.benchmarks.find((b) => b.alias === name)?.runs[0]?.stats?.p50 ?? Number.NaN;
const us = (ns: number) => `${(ns / 1000).toFixed(0)} µs`;
const secure = p50("secure: hashChain (SHA-256)");
const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
console.log(`\n128K tokens, 16-token blocks (medians); secure ${us(secure)}`);
const report = (label: string, chain: number, bulk: number) => {
  console.log(`${label}: chain ${us(chain)}, one call ${us(bulk)}`);
  console.log(`  goal fast ≥ 10× secure: ${(secure / chain).toFixed(1)}× ${verdict(secure / chain >= 10)}`);
  console.log(`  goal chain ≤ 2× one call: ${(chain / bulk).toFixed(2)}× ${verdict(chain / bulk <= 2)}`);
};
if (native) {
  const bulk = p50("native fast: same bytes in one call");
  report("native, hashChain → BigUint64Array", p50("native fast: hashChain → BigUint64Array"), bulk);
  report("native, hashChainWords → Uint32Array", p50("native fast: hashChainWords → Uint32Array"), bulk);
  const bigints = p50("(reference) a bigint per block: [...hashChain]");
  console.log(`(reference) a bigint per block: ${us(bigints)}, ${(bigints / bulk).toFixed(2)}× one call`);
  const keyed = p50("native fast: hashChain, salt + LoRA keys");
  console.log(
    `(no goal) with salt + LoRA keys: ${us(keyed)}, ${(keyed / bulk).toFixed(2)}× one call over the tokens alone`,
  );
} else {
  console.log("native library not loaded: only the TS path was measured");
}
report("ts path", p50("ts fast: chain"), p50("ts fast: same bytes in one call"));

const tsChain = () => lh64Chain(prompt, BS, TOKENS / BS, null, null, 0, 0, pairs);
const tsBulk = () => lh64Block(prompt, 0, TOKENS, null, 0, 0, one, 0);
const secureChain = () => hashChain(prompt, BS, { mode: "secure" });
console.log("\npaired ratios (median of back-to-back rounds, robust to load bursts):");
if (native) {
  const chain = () => hashChain(prompt, BS);
  const words = () => hashChainWords(prompt, BS);
  const bulk = () => hashWords(prompt);
  const chainRatio = paired(chain, bulk, 101);
  const wordsRatio = paired(words, bulk, 101);
  const secureRatio = paired(secureChain, chain, 15);
  console.log(
    `  native chain / one call: hashChain → BigUint64Array ${chainRatio.toFixed(2)}× ${verdict(chainRatio <= 2)}, hashChainWords ${wordsRatio.toFixed(2)}× ${verdict(wordsRatio <= 2)} (goal ≤ 2×)`,
  );
  console.log(
    `  secure / native fast (hashChain): ${secureRatio.toFixed(1)}× ${verdict(secureRatio >= 10)} (goal ≥ 10×)`,
  );
}
const tsRatio = paired(tsChain, tsBulk, 101);
const tsSecure = paired(secureChain, tsChain, 15);
console.log(`  ts chain / ts one call: ${tsRatio.toFixed(2)}× ${verdict(tsRatio <= 2)} (goal ≤ 2×)`);
console.log(`  secure / ts fast: ${tsSecure.toFixed(1)}× ${verdict(tsSecure >= 10)} (goal ≥ 10×)`);
