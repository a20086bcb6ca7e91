/**
 * GGUF decode speed against llama.cpp on the same file: each round runs a 64-token greedy
 * generation of ours (`bun src/cli.ts --json`, its decode tok/s) back to back with
 * `llama-bench -p 0 -n 64 -r 1` (tg64), for each thread count; prints the median and range of
 * each and the median of the per-round ratios. Both sides use f16 K/V (llama-bench's default;
 * it does not take f32).
 *
 *   LLAMA_BENCH=/path/to/llama-bench bun run bench:gguf FILE.gguf [FILE.gguf ...]   # in examples/decode
 *   BENCH_ROUNDS=9 BENCH_THREADS=1,2 ...
 */
import { join } from "node:path";

const CLI = join(import.meta.dir, "..", "src", "cli.ts");
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const threads = (process.env.BENCH_THREADS ?? "1,2").split(",").map(Number);
const llamaBench = process.env.LLAMA_BENCH;
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: LLAMA_BENCH=/path/to/llama-bench bun bench/gguf.ts FILE.gguf [...]");
  process.exit(2);
}

function ours(file: string, t: number): number {
  const args = ["--model", file, "--temperature", "0", "--kv", "f16", "--prompt", "Once upon a time"];
  const r = Bun.spawnSync(["bun", CLI, ...args, "--steps", "68", "--threads", String(t), "--json"]);
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  return JSON.parse(r.stdout.toString()).decodeTokPerSec as number;
}

function theirs(file: string, t: number): number | undefined {
  if (!llamaBench) return undefined;
  const r = Bun.spawnSync([
    llamaBench,
    "-m",
    file,
    "-t",
    String(t),
    "-p",
    "0",
    "-n",
    "64",
    "-r",
    "1",
    "-o",
    "json",
  ]);
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  return (JSON.parse(r.stdout.toString()) as { avg_ts: number }[])[0]!.avg_ts;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const range = (v: number[]) => `${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)}`;

for (const file of files) {
  for (const t of threads) {
    const a: number[] = [];
    const b: number[] = [];
    const ratio: number[] = [];
    for (let i = 0; i < rounds; i++) {
      a.push(ours(file, t));
      const x = theirs(file, t);
      if (x !== undefined) {
        b.push(x);
        ratio.push(a.at(-1)! / x);
      }
    }
    const line = [`${file.split("/").at(-1)} -t ${t}: llmem ${median(a).toFixed(0)} tok/s (${range(a)})`];
    if (b.length)
      line.push(
        `llama.cpp ${median(b).toFixed(0)} tok/s (${range(b)})`,
        `ratio ×${median(ratio).toFixed(2)}`,
      );
    console.log(line.join(" · "));
  }
}
