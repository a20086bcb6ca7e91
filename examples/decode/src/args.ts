/** The command line: run.c's defaults, strict parsing, one clear error per bad flag. */
import { LlmemError } from "@llmem/core";
import type { WeightFormat } from "./matvec.ts";

export type KvFormat = "f32" | "f16" | "q8_0" | "q4_0";

export interface Options {
  model?: string;
  tokenizer?: string;
  prompt: string;
  /** Whether --prompt was on the command line (an empty prompt is a prompt too). */
  promptGiven: boolean;
  /** 0 means seq_len, as in run.c. */
  steps: number;
  temperature: number;
  topp: number;
  /** undefined: from the clock, as run.c does for seed 0. */
  seed?: bigint;
  weights: WeightFormat;
  kv: KvFormat;
  threads: number;
  /** Prompt positions per batched prefill step (1: token by token). */
  prefillChunk: number;
  requests?: string;
  /** KV file: restored before the run when it exists, saved after it. */
  promptCache?: string;
  /** Shared prefix-block store URL (redis://HOST:PORT). */
  kvStore?: string;
  json: boolean;
  /** With --json: per sampled token its log-probability and this many top alternatives. */
  logprobs?: number;
  /** Untimed runs of the same decode before the reported one (steady-state speed). */
  warmup: number;
  help: boolean;
}

/** Alternatives --logprobs lists at most: a bound that keeps each token's JSON readable. */
const MAX_LOGPROBS = 100;
/** Warm-up runs at most: enough for the JIT's top tier, bounded so a typo cannot run for hours. */
const MAX_WARMUP = 20;

export const USAGE = `usage: bun run decode [--model PATH] [--tokenizer PATH] [--prompt TEXT] [--steps N]
       [--temperature T] [--topp P] [--seed S] [--weights f32|q8_0|q4_0]
       [--kv f32|f16|q8_0|q4_0] [--threads N] [--prefill-chunk N] [--requests FILE]
       [--json] [--logprobs N] [--warmup N]
       [--prompt-cache FILE] [--kv-store redis://HOST:PORT]
Without --model it decodes an embedded synthetic model (random weights) with a few requests.
  --model PATH        GGUF model (llama, qwen2), hf:OWNER/REPO/FILE (downloaded
                      into LLMEM_CACHE or ~/.cache/llmem), or llama2.c .bin checkpoint
  --tokenizer PATH    for a .bin model: llama2.c tokenizer (default: tokenizer.bin
                      beside the model); a GGUF model carries its own
  --prompt TEXT       prompt (default: empty)
  --steps N           positions to run, prompt included; 0 = seq_len (default 256)
  --temperature T     0 = greedy (default 1.0)
  --topp P            nucleus sampling in (0,1); 0 or 1 = plain sampling (default 0.9)
  --seed S            random seed, a positive integer (default: the clock)
  --weights F         .bin model weights: f32 (default), q8_0 or q4_0 (quantized at
                      load); a GGUF model keeps its file's formats
  --kv F              KV store: f32 (default), f16, q8_0 or q4_0
  --threads N         matvec threads (default 1)
  --prefill-chunk N   prompt positions per batched prefill step, 1..4096; 1 = one
                      token at a time (default 128)
  --requests FILE     one prompt per line, decoded together (continuous batching)
  --prompt-cache FILE KV of computed prompt blocks: loaded if present, saved when done
  --kv-store URL      share prompt blocks through Redis/Valkey at redis://HOST:PORT
  --json              print one JSON object instead of text and report
  --logprobs N        with --json: each sampled token's log-probability and the N most likely (0..${MAX_LOGPROBS})
  --warmup N          run the same decode N times first, untimed and unprinted, and report
                      the run after them: steady-state speed once the JIT has compiled the
                      loop, as a long-running engine sees it (llama-bench warms up too);
                      all runs share one loaded model, each with its own KV cache; the warm-up
                      runs neither read nor write --prompt-cache / --kv-store (0..${MAX_WARMUP})`;

const VALUE_FLAGS = new Set([
  "model",
  "tokenizer",
  "prompt",
  "steps",
  "temperature",
  "topp",
  "seed",
  "weights",
  "kv",
  "threads",
  "prefill-chunk",
  "requests",
  "prompt-cache",
  "kv-store",
  "logprobs",
  "warmup",
]);

function bad(message: string): LlmemError {
  return new LlmemError("INVALID_ARGUMENT", message);
}

function number(flag: string, v: string, min: number, max: number, integer: boolean): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw bad(
      `--${flag} must be ${integer ? "an integer" : "a number"} in [${min}, ${max}], got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) {
    throw bad(`--${flag} must be one of ${allowed.join(", ")}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

export function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    prompt: "",
    promptGiven: false,
    steps: 256,
    temperature: 1,
    topp: 0.9,
    weights: "f32",
    kv: "f32",
    threads: 1,
    prefillChunk: 128,
    json: false,
    warmup: 0,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--json") {
      o.json = true;
      continue;
    }
    if (arg === "--help" || arg === "-h") {
      o.help = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") ? arg.slice(2, eq < 0 ? undefined : eq) : "";
    if (!VALUE_FLAGS.has(name)) throw bad(`unknown flag ${JSON.stringify(arg)} (see --help)`);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw bad(`--${name} needs a value`);
      value = argv[++i]!;
    }
    switch (name) {
      case "model":
      case "tokenizer":
      case "requests":
        if (value === "") throw bad(`--${name} needs a path`);
        o[name] = value;
        break;
      case "prompt-cache":
        if (value === "") throw bad("--prompt-cache needs a path");
        o.promptCache = value;
        break;
      case "kv-store":
        if (!/^(redis|rediss|valkey|valkeys):\/\/[^/\s]+/.test(value)) {
          throw bad(`--kv-store must be a redis://HOST:PORT URL, got ${JSON.stringify(value)}`);
        }
        o.kvStore = value;
        break;
      case "prompt":
        o.prompt = value;
        o.promptGiven = true;
        break;
      case "steps":
        o.steps = number(name, value, 0, 2 ** 31 - 1, true);
        break;
      case "temperature":
        o.temperature = number(name, value, 0, 1e6, false);
        break;
      case "topp":
        o.topp = number(name, value, 0, 1, false);
        break;
      case "seed":
        if (!/^\d{1,20}$/.test(value) || BigInt(value) < 1n || BigInt(value) >= 2n ** 64n) {
          throw bad(`--seed must be an integer in [1, 2^64), got ${JSON.stringify(value)}`);
        }
        o.seed = BigInt(value);
        break;
      case "weights":
        o.weights = oneOf(name, value, ["f32", "q8_0", "q4_0"] as const);
        break;
      case "kv":
        o.kv = oneOf(name, value, ["f32", "f16", "q8_0", "q4_0"] as const);
        break;
      case "threads":
        o.threads = number(name, value, 1, 256, true);
        break;
      case "prefill-chunk":
        o.prefillChunk = number(name, value, 1, 4096, true);
        break;
      case "logprobs":
        o.logprobs = number(name, value, 0, MAX_LOGPROBS, true);
        break;
      case "warmup":
        o.warmup = number(name, value, 0, MAX_WARMUP, true);
        break;
    }
  }
  if (o.logprobs !== undefined && !o.json) throw bad("--logprobs adds to the --json output; pass --json too");
  return o;
}
