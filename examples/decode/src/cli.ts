/**
 * `bun run decode`: streams generated text to stdout, then reports speed and memory on
 * stderr (like run.c's "achieved tok/s"); --json prints one JSON object instead. Every
 * failure is one line on stderr and exit code 2; a reader closing the pipe early ends it with 0.
 */
import { writeSync } from "node:fs";
import { parseArgs, USAGE } from "./args.ts";
import { runConvert } from "./convert.ts";
import { downloadProgress, HF_PREFIX, parseHfRef, resolveHfModel } from "./hf-download.ts";
import { embeddedScreen, rate, report } from "./report.ts";
import { buildModel, type RunResult, runDecode } from "./run.ts";
import type { Sequence } from "./sequence.ts";
import { EscapingStream, escapeControls } from "./terminal-text.ts";
import { runTokenize } from "./tokenize.ts";

function toJson(r: RunResult, warmupRuns: number): string {
  const t = r.timing;
  // Log-probabilities only when asked for, so the default JSON keeps its fields.
  const lp = (s: Sequence) => (r.logprobs === undefined ? {} : { logprobs: s.logprobs });
  const one = (s: Sequence) => ({
    tokens: s.tokens,
    text: s.text(),
    reusedTokens: s.reused,
    reusedFrom: s.kv.reusedFrom ?? { device: s.reused, host: 0, file: 0, redis: 0 },
    ...lp(s),
  });
  const first = r.sequences[0];
  return JSON.stringify({
    model: r.embedded ? "embedded synthetic model (random weights)" : r.source,
    config: r.config,
    seed: r.seed.toString(),
    tokens: first?.tokens ?? [],
    text: first?.text() ?? "",
    ...(first ? lp(first) : {}),
    tokPerSec: rate(t.prefillTokens + t.decodeTokens, t.prefillMs + t.decodeMs),
    prefillTokPerSec: rate(t.prefillTokens, t.prefillMs),
    decodeTokPerSec: rate(t.decodeTokens, t.decodeMs),
    prefillTokens: t.prefillTokens,
    decodeTokens: t.decodeTokens,
    requests: r.sequences.map(one),
    kernels: r.kernels,
    weights: r.weights,
    kv: r.kv,
    threads: r.threads,
    memory: r.memory,
    kvTiers: r.tiers,
    warmupRuns,
  });
}

function isClosedPipe(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === "EPIPE";
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "convert") return runConvert(argv.slice(1), (line) => writeSync(2, `${line}\n`));
  if (argv[0] === "tokenize") return runTokenize(argv.slice(1), (text) => writeSync(1, text));
  const o = parseArgs(argv);
  if (o.help) {
    console.log(USAGE);
    return 0;
  }
  if (o.model?.startsWith(HF_PREFIX)) {
    const label = `downloading ${parseHfRef(o.model).file}`;
    o.model = await resolveHfModel(o.model, {
      progress: downloadProgress((s) => writeSync(2, s), process.stderr.isTTY === true, label),
    });
  }
  const tty = process.stderr.isTTY && !o.json;
  // Synchronous writes keep stdout and stderr in order and stream each piece at once.
  const out = (s: string | Uint8Array) =>
    writeSync(1, typeof s === "string" ? new TextEncoder().encode(s) : s);
  const err = (s: string) => writeSync(2, s);
  // The embedded model's text is noise: it gets a one-screen summary instead of a stream.
  const embedded = !o.model;
  // On a terminal, model text is escaped (terminal-text.ts); piped, its bytes pass as emitted.
  const onTerminal = process.stdout.isTTY === true;
  const stream = new EscapingStream();
  const text = (piece: Uint8Array) => out(onTerminal ? stream.push(piece) : piece);
  const shown = o.json || embedded;
  let multi = false;
  // Warm-up runs: the same decode, nothing printed, no KV file or store touched (the reported
  // run must compute what it reports, not reuse what a warm-up saved).
  // They share the reported run's loaded model (mapped and paged in once), as llama-bench's
  // warm-up and repetitions share one.
  const loaded = o.warmup > 0 ? buildModel(o, {}) : undefined;
  for (let i = 0; i < o.warmup; i++)
    await runDecode({ ...o, promptCache: undefined, kvStore: undefined }, {}, loaded);
  const result = await runDecode(
    o,
    {
      warn: (line) => err(`decode: warning: ${line}\n`),
      progress: tty
        ? (what, done, total) => {
            err(`\r${what} ${((100 * done) / total).toFixed(0)}%`);
            if (done === total) err("\r\x1b[K");
          }
        : undefined,
      onStart: (requests) => {
        multi = requests > 1;
      },
      onPiece: shown
        ? undefined
        : (_seq, piece) => {
            if (!multi) text(piece);
          },
      onFinish: shown
        ? undefined
        : (seq) => {
            if (multi)
              out(
                `── request ${seq.id} (${seq.tokens.length} tokens, ${seq.reused} from the prefix cache) ──\n${onTerminal ? escapeControls(seq.text()) : seq.text()}\n`,
              );
          },
    },
    loaded,
  );
  loaded?.model.dispose();
  if (o.json) {
    out(`${toJson(result, o.warmup)}\n`);
    return 0;
  }
  if (embedded) out(`${embeddedScreen(result)}\n`);
  else if (!multi) out(`${onTerminal ? stream.end() : ""}\n`);
  err(`${report(result)}\n`);
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (isClosedPipe(e)) {
    // The reader went away (`bun run decode | head -1`): it has what it wanted; not an error.
    process.exitCode = 0;
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    writeSync(2, `decode: ${msg}\n`);
    process.exitCode = 2;
  }
}
