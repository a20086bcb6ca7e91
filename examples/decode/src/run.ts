/**
 * One decode run: load (or synthesize) the model and tokenizer, build the KV store and
 * kernels, decode every request with continuous batching, and measure it.
 */
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";
import { dirname, join } from "node:path";
import { LlmemError } from "@llmem/core";
import { kvFileBlockCount } from "@llmem/kv-cache";
import { bytesFor } from "@llmem/native";
import type { KvFormat, Options } from "./args.ts";
import { type Checkpoint, readCheckpoint, viewCheckpoint } from "./checkpoint.ts";
import { kvDim, type ModelConfig } from "./config.ts";
import { isGgufPath, loadGguf } from "./gguf-model.ts";
import { quantKernels } from "./kernels.ts";
import { fingerprintOf } from "./kv-fingerprint.ts";
import { KvStore } from "./kv-store.ts";
import { type KvTierReport, KvTiers } from "./kv-tiers.ts";
import { Transformer } from "./model.ts";
import { type RequestSpec, runRequests, type Timing } from "./scheduler.ts";
import type { Sequence } from "./sequence.ts";
import { EMBEDDED_CONFIG, syntheticCheckpoint, syntheticTokenizer } from "./synthetic.ts";
import type { TextCodec } from "./text-codec.ts";
import { Tokenizer } from "./tokenizer.ts";

/** The embedded default's requests: they share a prefix so the prefix cache has work. */
export const EMBEDDED_PROMPTS = [
  "Once upon a time, there was a little girl named Lily. She loved to play in the park with her mom and dad. One day",
  "Once upon a time, there was a little girl named Lily. She loved to play in the park with her mom and dad. She saw a big red ball",
  "Once upon a time, there was a little girl named Lily. She loved to play in the park with her mom and dad. Her friend Ben went home",
];

export interface RunHooks {
  progress?: (what: string, done: number, total: number) => void;
  onStart?: (requests: number) => void;
  onPiece?: (seq: Sequence, piece: Uint8Array) => void;
  onFinish?: (seq: Sequence) => void;
  /** One warning line (a refused --prompt-cache file, an unreachable --kv-store). */
  warn?: (line: string) => void;
}

export interface RunResult {
  embedded: boolean;
  /** What --model held: a llama2.c checkpoint or a GGUF file (the embedded model is a checkpoint). */
  source: "checkpoint" | "gguf";
  config: ModelConfig;
  sequences: Sequence[];
  timing: Timing;
  kernels: string;
  weights: string;
  kv: string;
  threads: number;
  seed: bigint;
  /** --logprobs N, when given. */
  logprobs?: number;
  memory: MemoryReport;
  /** --prompt-cache / --kv-store at work (null without either). */
  tiers: KvTierReport | null;
}

export interface MemoryReport {
  weightBytes: number;
  kvBytes: Record<string, number>;
  arenaHighWater: number;
  poolHitRate: number | null;
  prefixHits: number;
  prefillTokensSaved: number;
}

function loadModel(
  o: Options,
  hooks: RunHooks,
): { ckpt: Checkpoint; tokenizer: Tokenizer; embedded: boolean } {
  if (!o.model) {
    if (o.tokenizer) throw new LlmemError("INVALID_ARGUMENT", "--tokenizer needs --model");
    const ckpt = viewCheckpoint(syntheticCheckpoint(EMBEDDED_CONFIG), "embedded synthetic model");
    const tokenizer = Tokenizer.parse(
      syntheticTokenizer(EMBEDDED_CONFIG.vocabSize),
      EMBEDDED_CONFIG.vocabSize,
    );
    return { ckpt, tokenizer, embedded: true };
  }
  const kvBytes = (c: ModelConfig) => c.nLayers * c.seqLen * kvDim(c) * 4 * 2;
  const ckpt = readCheckpoint(o.model, {
    progress: hooks.progress && ((d, t) => hooks.progress!("loading", d, t)),
    extraBytes: kvBytes,
  });
  const tokenizer = o.tokenizer
    ? Tokenizer.read(o.tokenizer, ckpt.config.vocabSize)
    : tokenizerBeside(o.model, ckpt.config.vocabSize);
  return { ckpt, tokenizer, embedded: false };
}

/**
 * The tokenizer beside a model: `tokenizer.bin` (llama2.c's 32000-token one), else, when that
 * one is missing or holds another vocabulary, `tok{vocab}.bin` (llama2.c's name for the small
 * tokenizers trained with a model, e.g. tok512.bin beside stories260K.bin).
 */
function tokenizerBeside(model: string, vocabSize: number): Tokenizer {
  const dir = dirname(model);
  const names = ["tokenizer.bin", `tok${vocabSize}.bin`];
  const why: string[] = [];
  for (const name of names) {
    try {
      return Tokenizer.read(join(dir, name), vocabSize);
    } catch (e) {
      // Missing (INVALID_ARGUMENT) or another vocabulary (FORMAT_ERROR): try the next name.
      if (!(e instanceof LlmemError) || (e.code !== "INVALID_ARGUMENT" && e.code !== "FORMAT_ERROR")) throw e;
      why.push(e.message);
    }
  }
  throw new LlmemError(
    "INVALID_ARGUMENT",
    `no tokenizer for vocab_size ${vocabSize} beside model ${model}: ${why.join("; ")}; pass --tokenizer PATH`,
  );
}

function requestPrompts(o: Options, embedded: boolean): string[] {
  if (o.requests) {
    if (o.promptGiven) throw new LlmemError("INVALID_ARGUMENT", "--prompt and --requests cannot be combined");
    let text: string;
    try {
      text = readFileSync(o.requests, "utf8");
    } catch (e) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `cannot read requests ${o.requests}: ${(e as NodeJS.ErrnoException).code ?? e}`,
      );
    }
    const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
    if (lines.length === 0)
      throw new LlmemError("INVALID_ARGUMENT", `requests file ${o.requests} has no prompts`);
    return lines;
  }
  if (embedded && !o.promptGiven) return EMBEDDED_PROMPTS;
  return [o.prompt];
}

/**
 * A prompt longer than the run is cut at the run's last position and nothing is generated
 * for it: said once, with the counts, rather than silently (an error would refuse a prompt a
 * user may only want to score; `--steps 0` runs to the model's seq_len).
 */
function warnLongPrompts(
  requests: readonly RequestSpec[],
  steps: number,
  stepsFlag: number,
  seqLen: number,
  hooks: RunHooks,
): void {
  const long = requests.filter((r) => r.prompt.length > steps);
  if (long.length === 0) return;
  const longest = Math.max(...long.map((r) => r.prompt.length));
  const limit =
    stepsFlag === 0 || stepsFlag > seqLen
      ? `the model's seq_len ${seqLen}`
      : `--steps ${stepsFlag}, seq_len ${seqLen}`;
  const which =
    requests.length === 1 ? "the prompt is" : `${long.length} of ${requests.length} prompts are up to`;
  hooks.warn?.(
    `${which} ${longest} tokens but the run has ${steps} positions (${limit}): cut at ${steps}, nothing generated for it`,
  );
}

/** Tokens per KV block: small enough that short shared prompts still fill whole blocks. */
const BLOCK_SIZE = 16;
/** Decoded at once at most. */
const MAX_LIVE = 8;

/** Enough blocks for the live sequences plus as much again kept for prefix reuse, within a quarter of RAM. */
function kvStore(c: ModelConfig, format: KvFormat, requests: number, fileBlocks = 0): KvStore {
  const perSeq = Math.ceil(c.seqLen / BLOCK_SIZE);
  const blockBytes = bytesFor(format, BLOCK_SIZE * kvDim(c)) * c.nLayers * 2;
  const live = Math.min(requests, MAX_LIVE);
  // A --prompt-cache file gets room of its own, at most one full batch's worth: what is saved
  // is at most the pool, so the file cannot grow from run to run (restore keeps what fits).
  const wanted = perSeq * (requests > 1 ? live * 2 : 1) + Math.min(fileBlocks, perSeq * MAX_LIVE);
  const budget = Math.max(perSeq, Math.floor(totalmem() / 4 / blockBytes));
  return new KvStore(c, { blockSize: BLOCK_SIZE, numBlocks: Math.min(wanted, budget), format });
}

/**
 * A model loaded once and decoded with several times (`--warmup`: the warm-up runs and the
 * reported run share one model, mapped and paged in once, as llama-bench's repetitions share one
 * loaded model; a run never keeps KV or cache state from another).
 */
export interface LoadedModel {
  model: Transformer;
  tokenizer: TextCodec;
  embedded: boolean;
  source: "checkpoint" | "gguf";
}

/** A GGUF model: its weights in the file's formats, its own tokenizer. */
function buildGgufModel(o: Options, path: string): LoadedModel {
  if (o.tokenizer)
    throw new LlmemError(
      "INVALID_ARGUMENT",
      "--tokenizer is for llama2.c .bin models; a GGUF model carries its own",
    );
  if (o.weights !== "f32") {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `--weights ${o.weights} re-quantizes llama2.c .bin models; a GGUF model keeps the formats of its file`,
    );
  }
  const { weights, codec } = loadGguf(path, { maxPositions: o.steps === 0 ? undefined : o.steps });
  quantKernels.setThreads(o.threads);
  return {
    model: new Transformer(weights, { kernels: quantKernels }),
    tokenizer: codec,
    embedded: false,
    source: "gguf",
  };
}

/** Loads and prepares the model; the checkpoint is not kept here, so quantized runs can drop it. */
export function buildModel(o: Options, hooks: RunHooks): LoadedModel {
  if (o.model && isGgufPath(o.model)) return buildGgufModel(o, o.model);
  const { ckpt, tokenizer, embedded } = loadModel(o, hooks);
  quantKernels.setThreads(o.threads);
  const model = new Transformer(ckpt, {
    format: o.weights,
    kernels: quantKernels,
    progress:
      hooks.progress && o.weights !== "f32" ? (d, t) => hooks.progress!("quantizing", d, t) : undefined,
  });
  return { model, tokenizer, embedded, source: "checkpoint" };
}

/** Host-RAM tier cap with --prompt-cache or --kv-store: blocks the pool recycles wait here. */
const HOST_TIER_BYTES = Math.min(256 * 2 ** 20, Math.floor(totalmem() / 16));

/** Decodes o's requests with `loaded` (which the caller then disposes) or a model built for this run. */
export async function runDecode(o: Options, hooks: RunHooks = {}, loaded?: LoadedModel): Promise<RunResult> {
  const { model, tokenizer, embedded, source } = loaded ?? buildModel(o, hooks);
  const c = model.config;
  const kernels = model.kernels;
  let steps = o.steps;
  if (steps === 0 || steps > c.seqLen) steps = c.seqLen;
  const seed = o.seed ?? BigInt(Math.floor(Date.now() / 1000));
  const prompts = requestPrompts(o, embedded);
  const requests: RequestSpec[] = prompts.map((p, i) => ({
    prompt: tokenizer.encode(p),
    seed: seed + BigInt(i),
  }));
  warnLongPrompts(requests, steps, o.steps, c.seqLen, hooks);
  hooks.onStart?.(requests.length);
  const tiered = o.promptCache !== undefined || o.kvStore !== undefined;
  const kv = kvStore(c, o.kv, requests.length, o.promptCache ? kvFileBlockCount(o.promptCache) : 0);
  const tiers = tiered
    ? await KvTiers.open(
        kv,
        c,
        fingerprintOf(model),
        { promptCache: o.promptCache, kvStore: o.kvStore, kv: o.kv, hostBytes: HOST_TIER_BYTES },
        hooks.warn ?? (() => {}),
      )
    : null;
  await tiers?.prefetch(requests.map((r) => r.prompt.slice(0, c.seqLen)));
  const { sequences, timing, pool } = runRequests(requests, {
    model,
    tokenizer,
    kv,
    steps,
    temperature: o.temperature,
    topp: o.topp,
    maxLive: MAX_LIVE,
    prefillChunk: o.prefillChunk,
    logprobs: o.logprobs,
    onPiece: hooks.onPiece,
    onFinish: hooks.onFinish,
  });
  await tiers?.close();
  const kvStats = kv.cache.stats();
  const arenaHighWater = model.arena.highWaterMark;
  kv.cache.dispose();
  if (!loaded) model.dispose();
  return {
    embedded,
    source,
    config: c,
    sequences,
    timing,
    kernels: kernels.name,
    weights: model.format,
    kv: o.kv,
    threads: kernels.threads(),
    seed,
    logprobs: o.logprobs,
    memory: {
      weightBytes: model.weightBytes,
      kvBytes: {
        [`${o.kv} blocks (peak in use)`]: kvStats.peakBlocksInUse * kvStats.bytesPerBlock,
        [`${o.kv} pool`]: kvStats.poolBytes,
      },
      arenaHighWater,
      poolHitRate: poolHitRate(pool.stats()),
      prefixHits: kvStats.prefixHits,
      prefillTokensSaved: timing.reusedTokens,
    },
    tiers: tiers?.report() ?? null,
  };
}

function poolHitRate(s: { hits: number; misses: number }): number | null {
  return s.hits + s.misses === 0 ? null : s.hits / (s.hits + s.misses);
}
