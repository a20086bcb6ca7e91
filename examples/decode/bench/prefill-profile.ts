/**
 * Where a prefill chunk's time goes: one model, one chunk of N prompt positions, repeated; the
 * CPU and wall time of the whole chunk, of its matmuls alone (the same matrices multiplied by the
 * same chunk) and of its attention and K/V writes in place, as medians over rounds. CPU time is
 * indicative under load; wall time (what a second thread should shrink) only on an idle machine.
 *
 *   bun examples/decode/bench/prefill-profile.ts FILE.gguf [--chunk 128] [--threads 1] [--rounds 9]
 */
import { getThreads, matmul, setThreads } from "@llmem/quant-kernels";
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
if (!file) throw new Error("usage: prefill-profile.ts FILE.gguf [--chunk N] [--threads T] [--rounds R]");
const chunk = opt("--chunk", 128);
const rounds = opt("--rounds", 9);
setThreads(opt("--threads", 1));

const { weights } = loadGguf(file, { maxPositions: chunk + 1 });
const model = new Transformer(weights, { kernels: quantKernels });
const c = model.config;
const kvStore = new KvStore(c, { blockSize: 16, numBlocks: Math.ceil((chunk + 1) / 16) + 1, format: "f16" });

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const wall = () => performance.now();
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const whole: number[] = [];
const wholeWall: number[] = [];
const mm: number[] = [];
const mmWall: number[] = [];
const attends: number[] = [];
const writes: number[] = [];
const mats = model.matrices().slice(0, -1); // every layer matrix, not the classifier
const x = new Float32Array(chunk * Math.max(c.dim, c.hiddenDim)).map((_, i) => Math.sin(i));
const y = new Float32Array(chunk * Math.max(c.dim, c.hiddenDim));
for (let r = 0; r < rounds + 1; r++) {
  // another prompt each round: no prefix-cache hit
  const tokens = Array.from({ length: chunk }, (_, i) => (i * 7919 + r * 104729 + 1) % c.vocabSize);
  const opened = kvStore.open(tokens)!;
  // the K/V store's share: its write and attend calls timed in place
  const kv = opened.kv;
  let attendMs = 0;
  let writeMs = 0;
  const attend = kv.attend.bind(kv);
  const write = kv.write.bind(kv);
  kv.attend = (...a: Parameters<typeof kv.attend>) => {
    const s0 = wall();
    const out = attend(...a);
    attendMs += wall() - s0;
    return out;
  };
  kv.write = (...a: Parameters<typeof kv.write>) => {
    const s0 = wall();
    write(...a);
    writeMs += wall() - s0;
  };
  const t0 = cpu();
  const w0 = wall();
  model.forwardChunk(tokens, 0, opened.kv);
  const t1 = cpu();
  const w1 = wall();
  opened.kv.release();
  const t2 = cpu();
  const w2 = wall();
  for (const m of mats) matmul(m, x.subarray(0, chunk * m.cols), chunk, y.subarray(0, chunk * m.rows));
  const t3 = cpu();
  const w3 = wall();
  if (r === 0) continue; // warm-up
  whole.push(t1 - t0);
  wholeWall.push(w1 - w0);
  mm.push(t3 - t2);
  mmWall.push(w3 - w2);
  attends.push(attendMs);
  writes.push(writeMs);
}
const fmt = (v: number) => v.toFixed(1);
console.log(
  `${file} chunk ${chunk}, ${getThreads()} thread(s), ${rounds} rounds (medians): chunk ${fmt(median(wholeWall))} ms wall, ${fmt(median(whole))} ms CPU; its matmuls alone ${fmt(median(mm))} ms CPU (${((100 * median(mm)) / median(whole)).toFixed(0)}%), ${fmt(median(mmWall))} ms wall (${((100 * median(mmWall)) / median(wholeWall)).toFixed(0)}%); in place (wall): attention ${fmt(median(attends))} ms, K/V writes ${fmt(median(writes))} ms`,
);
