/**
 * Where a decode token's time goes: one model, `--tokens` one-token forward steps (positions
 * 0..seqLen-1 over and over, each run a fresh K/V sequence), timed whole and against the same
 * matrices' matvecs alone; plus the JS heap's growth across the steps, with no GC in between (a
 * per-token allocation shows up as bytes per token). CPU time is indicative under load; wall time
 * (what more threads should shrink) only on an otherwise idle machine.
 *
 *   bun examples/decode/bench/decode-profile.ts FILE.gguf [--threads 1] [--tokens 2000]
 */
import { heapStats } from "bun:jsc";
import { getThreads, matvec, setThreads } from "@llmem/quant-kernels";
import { loadGguf } from "../src/gguf-model.ts";
import { quantKernels } from "../src/kernels.ts";
import { KvStore } from "../src/kv-store.ts";
import { Transformer } from "../src/model.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const file = args[0];
if (!file) throw new Error("usage: decode-profile.ts FILE.gguf [--threads T] [--tokens N]");
const tokens = opt("--tokens", 2000);
setThreads(opt("--threads", 1));

const { weights } = loadGguf(file);
const model = new Transformer(weights, { kernels: quantKernels });
const c = model.config;
const kvStore = new KvStore(c, { blockSize: 16, numBlocks: Math.ceil(c.seqLen / 16) + 1, format: "f16" });
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Spent {
  cpu: number;
  wall: number;
}
const since = (c0: number, w0: number): Spent => ({ cpu: cpu() - c0, wall: performance.now() - w0 });

/** Runs n tokens; returns the CPU and wall ms they took. */
function decode(n: number): Spent {
  const t0 = cpu();
  const w0 = performance.now();
  let done = 0;
  let round = 0;
  while (done < n) {
    let token = (round++ * 7919 + 1) % c.vocabSize; // another first token each run: no cache hit
    const opened = kvStore.open([token])!;
    for (let pos = 0; pos < c.seqLen - 1 && done < n; pos++, done++) {
      const s = model.activations();
      const logits = model.forward(token, pos, opened.kv, s);
      token = (pos * 31 + (logits[0]! > 0 ? 1 : 0)) % c.vocabSize;
      model.arena.reset();
    }
    opened.kv.release();
  }
  return since(t0, w0);
}

decode(tokens); // warm-up: JIT, K/V blocks
Bun.gc(true);
const before = heapStats().heapSize;
const whole = decode(tokens);
const after = heapStats().heapSize; // no GC in between: garbage made per token stays counted
const mats = model.matrices();
const x = new Float32Array(Math.max(c.dim, c.hiddenDim)).map((_, i) => Math.sin(i));
const y = new Float32Array(Math.max(c.vocabSize, c.hiddenDim, c.dim));
const t0 = cpu();
const w0 = performance.now();
for (let t = 0; t < tokens; t++) {
  for (const m of mats) matvec(m, x.subarray(0, m.cols), y.subarray(0, m.rows));
}
const mv = since(t0, w0);
const us = (ms: number) => ((1000 * ms) / tokens).toFixed(1);
const pct = (part: number, of: number) => `${((100 * part) / of).toFixed(0)}%`;
console.log(
  `${file}, ${getThreads()} thread(s), ${tokens} tokens: ${us(whole.cpu)} µs CPU per token, its matvecs alone ${us(mv.cpu)} µs (${pct(mv.cpu, whole.cpu)}); wall ${us(whole.wall)} µs per token, matvecs alone ${us(mv.wall)} µs (${pct(mv.wall, whole.wall)}); JS heap grew ${(after - before) / tokens} bytes per token (0: nothing allocated, or a GC ran)`,
);
