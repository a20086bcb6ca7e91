/**
 * Decode speed on a stories15M-shaped and a grouped-query model with random weights:
 * tok/s single thread with f32 and q8_0 weights, 2 threads, effective weight bandwidth
 * against a plain read of the same bytes measured in the same run, and (when RUNC names a
 * llama2.c `run` binary built with -Ofast -march=native) the ratio to run.c on the same files.
 *
 * The machine is shared, so every comparison is paired: each 256-step generation of ours
 * runs back to back with the run it is compared to (run.c, or the 1-thread variant), and the
 * reported ratio is the median of the per-pair ratios; tok/s are medians too.
 *
 *   bun run bench                              # from examples/decode
 *   RUNC=/path/to/run bun run bench            # adds the run.c baseline
 *   BENCH_SHAPES=s15 BENCH_ROUNDS=9 BENCH_VARIANTS=f32/1,q8_0/1 bun run bench
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { native } from "@llmem/native";
import { viewCheckpoint } from "../src/checkpoint.ts";
import type { ModelConfig } from "../src/config.ts";
import { quantKernels } from "../src/kernels.ts";
import { KvStore } from "../src/kv-store.ts";
import type { WeightFormat } from "../src/matvec.ts";
import { Transformer } from "../src/model.ts";
import { Sampler } from "../src/sampler.ts";
import { syntheticCheckpoint, syntheticTokenizer } from "../src/synthetic.ts";
import { memoryRead } from "./memory-read.ts";

const SHAPES: Record<string, ModelConfig> = {
  s15: {
    dim: 288,
    hiddenDim: 768,
    nLayers: 6,
    nHeads: 6,
    nKvHeads: 6,
    vocabSize: 32000,
    seqLen: 256,
    sharedClassifier: true,
  },
  gqa: {
    dim: 256,
    hiddenDim: 688,
    nLayers: 4,
    nHeads: 8,
    nKvHeads: 2,
    vocabSize: 32000,
    seqLen: 256,
    sharedClassifier: true,
  },
};
/** The issue's goals: ratios to run.c f32 single-thread tok/s, and of 2 threads to 1. */
const GOALS = { f32: 1.2, q8_0: 2.5, threads2: 1.6 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const fmt = (x: number, d = 1) => x.toFixed(d);

interface Variant {
  label: string;
  format: WeightFormat;
  threads: number;
  /** One 256-step generation (temperature 1, top-p 0.9, like run.c's defaults); returns tok/s. */
  generate: () => number;
  matrixBytes: number;
  kernels: string;
  /** A plain read of this variant's matrices, GB/s. */
  plainRead: () => number;
}

function variant(padded: Uint8Array, label: string, format: WeightFormat, threads: number): Variant {
  const ckpt = viewCheckpoint(padded, "bench");
  const c = ckpt.config;
  const kernels = quantKernels;
  const model = new Transformer(ckpt, { format, kernels });
  const kv = new KvStore(c, { blockSize: 16, numBlocks: Math.ceil(c.seqLen / 16), format: "f32" });
  let seed = 1n;
  const generate = () => {
    kernels.setThreads(threads);
    const seq = kv.open([1])!.kv;
    const sampler = new Sampler({ temperature: 1, topp: 0.9, seed: seed++ });
    let token = 1;
    const t0 = performance.now();
    for (let pos = 0; pos < c.seqLen; pos++) {
      token = sampler.sample(model.forward(token, pos, seq, model.activations()));
      model.arena.reset();
    }
    const ms = performance.now() - t0;
    seq.release();
    kernels.setThreads(1);
    return (c.seqLen * 1000) / ms;
  };
  const plainRead = () => memoryRead(model.matrices());
  return {
    label,
    format,
    threads,
    generate,
    matrixBytes: model.matrixBytes,
    kernels: kernels.name,
    plainRead,
  };
}

function runC(bin: string, dir: string): number | null {
  const r = Bun.spawnSync([
    bin,
    join(dir, "model.bin"),
    "-z",
    join(dir, "tokenizer.bin"),
    "-n",
    "256",
    "-s",
    "1",
    "-i",
    "Once",
  ]);
  const m = /achieved tok\/s: ([\d.]+)/.exec(r.stderr.toString());
  return m ? Number(m[1]) : null;
}

async function main() {
  const shapes = (process.env.BENCH_SHAPES ?? "s15,gqa").split(",");
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const runc = process.env.RUNC;
  console.log(
    `native: ${native.available ? native.backend : "off"}; run.c baseline: ${runc ?? "not given (set RUNC=path/to/run)"}; ${rounds} rounds`,
  );
  for (const name of shapes) {
    const c = SHAPES[name];
    if (!c) throw new Error(`unknown shape ${name}`);
    const padded = syntheticCheckpoint(c, 1);
    const dir = mkdtempSync(join(tmpdir(), "llmem-bench-"));
    writeFileSync(join(dir, "model.bin"), padded.subarray(64 - 28));
    writeFileSync(join(dir, "tokenizer.bin"), syntheticTokenizer(c.vocabSize));
    console.log(
      `\n${name}: dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ${c.nHeads} heads / ${c.nKvHeads} KV, vocab ${c.vocabSize}, 256 steps`,
    );
    const variants: Variant[] = [];
    for (const [label, format, threads] of [
      ["f32, 1 thread", "f32", 1],
      ["f32, 2 threads", "f32", 2],
      ["q8_0, 1 thread", "q8_0", 1],
      ["q8_0, 2 threads", "q8_0", 2],
    ] as const) {
      if (
        process.env.BENCH_VARIANTS &&
        !process.env.BENCH_VARIANTS.split(",").includes(`${format}/${threads}`)
      )
        continue;
      try {
        variants.push(variant(padded, label, format, threads));
      } catch (e) {
        console.log(`  ${label}: unavailable (${(e as Error).message})`);
      }
    }
    const rates = new Map<Variant, number[]>(variants.map((v) => [v, []]));
    const vsRunC = new Map<Variant, number[]>(variants.map((v) => [v, []]));
    const vsOneThread = new Map<Variant, number[]>(variants.map((v) => [v, []]));
    const reads = new Map<Variant, number[]>(variants.map((v) => [v, []]));
    const baseRates: number[] = [];
    for (const v of variants) v.generate(); // warm-up (JIT, page faults)
    for (let round = 0; round < rounds; round++) {
      let oneThread = 0;
      for (const v of variants) {
        const r = v.generate();
        rates.get(v)!.push(r);
        reads.get(v)!.push(v.plainRead());
        if (v.threads === 1) oneThread = r;
        else if (oneThread > 0) vsOneThread.get(v)!.push(r / oneThread);
        if (runc) {
          const base = runC(runc, dir);
          if (base !== null) {
            baseRates.push(base);
            vsRunC.get(v)!.push(r / base);
          }
        }
      }
    }
    for (const v of variants) {
      const tokS = median(rates.get(v)!);
      const read = median(reads.get(v)!);
      const bw = (v.matrixBytes * tokS) / 1e9;
      let line = `  ${v.label.padEnd(16)} ${fmt(tokS).padStart(7)} tok/s  weights ${fmt(v.matrixBytes / 2 ** 20)} MiB/token → ${fmt(bw, 2)} GB/s = ${fmt((100 * bw) / read)}% of a plain read (${fmt(read, 2)} GB/s)`;
      const rc = vsRunC.get(v)!;
      if (rc.length > 0) {
        const ratio = median(rc);
        const goal = v.threads === 1 ? GOALS[v.format as "f32" | "q8_0"] : null;
        line += `  ×${fmt(ratio, 2)} run.c${goal ? ` (goal ≥ ${goal}: ${ratio >= goal ? "met" : "not met"})` : ""}`;
      }
      const ot = vsOneThread.get(v)!;
      if (ot.length > 0) {
        const s = median(ot);
        line += `  ×${fmt(s, 2)} vs 1 thread (goal ≥ ${GOALS.threads2}: ${s >= GOALS.threads2 ? "met" : "not met"})`;
      }
      console.log(line);
    }
    if (baseRates.length > 0) console.log(`  run.c            ${fmt(median(baseRates)).padStart(7)} tok/s`);
    console.log(`  (${variants[0]?.kernels ?? "no"} kernels; medians of ${rounds} paired rounds)`);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
