/**
 * Decode speed on a stories15M-shaped and a grouped-query model with random weights:
 * tok/s single thread with f32 and q8_0 weights, 2 threads, effective weight bandwidth
 * against a plain read of the same bytes measured in the same run, and (when RUNC names a
 * llama2.c `run` binary built with -Ofast -march=native) the ratio to run.c on the same files.
 *
 *   bun run bench                              # from examples/decode
 *   RUNC=/path/to/run bun run bench            # adds the run.c baseline
 *   BENCH_SHAPES=s15 BENCH_RUNS=5 bun run bench
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { native } from "@llmem/native";
import { measure } from "mitata";
import { viewCheckpoint } from "../src/checkpoint.ts";
import type { ModelConfig } from "../src/config.ts";
import { selectKernels } from "../src/kernels.ts";
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
/** The issue's goals, as ratios to run.c f32 single-thread tok/s, and 2 threads to 1. */
const GOALS = { f32: 1.2, q8_0: 2.5, threads2: 1.6 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** tok/s of whole 256-position generations (what run.c reports), median of mitata samples. */
async function tokPerSec(padded: Uint8Array, format: WeightFormat, threads: number) {
  const ckpt = viewCheckpoint(padded, "bench");
  const c = ckpt.config;
  const kernels = selectKernels(format, threads);
  const model = new Transformer(ckpt, { format, kernels });
  const kv = new KvStore(c, { blockSize: 16, numBlocks: Math.ceil(c.seqLen / 16), format: "f32" });
  let seed = 1n;
  const generate = () => {
    const seq = kv.open([1])!.kv;
    const sampler = new Sampler({ temperature: 1, topp: 0.9, seed: seed++ });
    let token = 1;
    for (let pos = 0; pos < c.seqLen; pos++) {
      token = sampler.sample(model.forward(token, pos, seq, model.activations()));
      model.arena.reset();
    }
    kv.closeKv(seq);
  };
  const stats = await measure(generate, { min_samples: 3, max_samples: 5, min_cpu_time: 1e9 });
  kernels.setThreads(1);
  return { tokS: (c.seqLen * 1e9) / stats.p50, matrixBytes: model.matrixBytes, kernels: kernels.name };
}

function runC(bin: string, dir: string, runs: number): number | null {
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) {
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
    if (!m) return null;
    rates.push(Number(m[1]));
  }
  return median(rates);
}

const fmt = (x: number, d = 1) => x.toFixed(d);

async function main() {
  const shapes = (process.env.BENCH_SHAPES ?? "s15,gqa").split(",");
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const runc = process.env.RUNC;
  console.log(
    `native: ${native.available ? native.backend : "off"}; run.c baseline: ${runc ?? "not given (set RUNC=path/to/run)"}`,
  );
  for (const name of shapes) {
    const c = SHAPES[name];
    if (!c) throw new Error(`unknown shape ${name}`);
    const padded = syntheticCheckpoint(c, 1);
    const dir = mkdtempSync(join(tmpdir(), "llmem-bench-"));
    writeFileSync(join(dir, "model.bin"), padded.subarray(64 - 28));
    writeFileSync(join(dir, "tokenizer.bin"), syntheticTokenizer(c.vocabSize));
    console.log(
      `\n${name}: dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ${c.nHeads} heads / ${c.nKvHeads} KV, vocab ${c.vocabSize}`,
    );
    const rows: { label: string; tokS: number[]; bytes: number; kernels: string }[] = [];
    const variants: [string, WeightFormat, number][] = [
      ["f32, 1 thread", "f32", 1],
      ["q8_0, 1 thread", "q8_0", 1],
      ["f32, 2 threads", "f32", 2],
      ["q8_0, 2 threads", "q8_0", 2],
    ];
    // Interleave the variants and run.c across rounds so machine noise hits them alike.
    const baseRates: number[] = [];
    for (let round = 0; round < runs; round++) {
      if (runc) {
        const rate = runC(runc, dir, 1);
        if (rate !== null) baseRates.push(rate);
      }
      for (const [label, format, threads] of variants) {
        let r: Awaited<ReturnType<typeof tokPerSec>>;
        try {
          r = await tokPerSec(padded, format, threads);
        } catch (e) {
          if (round === 0) console.log(`  ${label}: unavailable (${(e as Error).message})`);
          continue;
        }
        let row = rows.find((x) => x.label === label);
        if (!row) {
          row = { label, tokS: [], bytes: r.matrixBytes, kernels: r.kernels };
          rows.push(row);
        }
        row.tokS.push(r.tokS);
      }
    }
    const base = baseRates.length > 0 ? median(baseRates) : null;
    const f32one = rows.find((r) => r.label === "f32, 1 thread");
    for (const row of rows) {
      const tokS = median(row.tokS);
      const read = await memoryRead(row.bytes);
      const bw = (row.bytes * tokS) / 1e9;
      let line = `  ${row.label.padEnd(16)} ${fmt(tokS).padStart(7)} tok/s (median of ${row.tokS.length}, ${row.kernels} kernels)  weights ${fmt(row.bytes / 2 ** 20)} MiB/token → ${fmt(bw, 2)} GB/s = ${fmt((100 * bw) / read)}% of a plain read (${fmt(read, 2)} GB/s)`;
      if (base) {
        const ratio = tokS / base;
        const goal = row.label.startsWith("f32, 1")
          ? GOALS.f32
          : row.label.startsWith("q8_0, 1")
            ? GOALS.q8_0
            : null;
        line += `  ×${fmt(ratio, 2)} run.c${goal ? ` (goal ≥ ${goal}: ${ratio >= goal ? "met" : "not met"})` : ""}`;
      }
      if (row.label.includes("2 threads")) {
        const one = rows.find((r) => r.label === row.label.replace("2 threads", "1 thread"));
        if (one) {
          const s = tokS / median(one.tokS);
          line += `  ×${fmt(s, 2)} vs 1 thread (goal ≥ ${GOALS.threads2}: ${s >= GOALS.threads2 ? "met" : "not met"})`;
        }
      }
      console.log(line);
    }
    if (base)
      console.log(`  run.c            ${fmt(base).padStart(7)} tok/s (median of ${runs} × 256 steps)`);
    if (!f32one) console.log("  (no f32 result)");
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
