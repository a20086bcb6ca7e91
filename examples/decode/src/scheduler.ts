/**
 * Continuous batching: every step advances each live sequence by one position; finished
 * sequences give their K/V back and waiting ones join as room frees up.
 */
import { BucketPool, type PooledBuffer } from "@llmem/bucket-pool";
import type { KvSequence } from "./kv.ts";
import type { Transformer } from "./model.ts";
import { Sampler, ToppScratch, toppScratchBytes } from "./sampler.ts";
import { Sequence } from "./sequence.ts";
import type { TextCodec } from "./text-codec.ts";

export interface KvProvider {
  /** A store for a new sequence and how many leading prompt positions it already holds; null = no room now. */
  open(prompt: readonly number[]): { kv: KvSequence; cached: number } | null;
  /**
   * True when a live sequence is still computing prompt blocks this prompt could reuse:
   * admitting it later saves that prefill (the waiting request keeps its place in line).
   */
  shouldWait?(prompt: readonly number[]): boolean;
}

export interface RequestSpec {
  prompt: number[];
  seed: bigint;
}

export interface Timing {
  prefillTokens: number;
  prefillMs: number;
  decodeTokens: number;
  decodeMs: number;
  /** Prompt positions answered from the prefix cache. */
  reusedTokens: number;
}

export interface SchedulerOptions {
  model: Transformer;
  tokenizer: TextCodec;
  kv: KvProvider;
  steps: number;
  temperature: number;
  topp: number;
  /** Alternatives per sampled token when log-probabilities are recorded (--logprobs). */
  logprobs?: number;
  /** Sequences decoded at once. */
  maxLive: number;
  /** Prompt positions run as one batched step at most (1: token by token, the reference path). */
  prefillChunk?: number;
  onPiece?: (seq: Sequence, piece: Uint8Array) => void;
  onFinish?: (seq: Sequence) => void;
}

export interface RunOutcome {
  sequences: Sequence[];
  timing: Timing;
  /** Per-request buffers (sampler scratch) come from here and go back when a request ends. */
  pool: BucketPool;
}

export function runRequests(requests: readonly RequestSpec[], o: SchedulerOptions): RunOutcome {
  const timing: Timing = { prefillTokens: 0, prefillMs: 0, decodeTokens: 0, decodeMs: 0, reusedTokens: 0 };
  const sequences: Sequence[] = [];
  const live: Sequence[] = [];
  const pool = new BucketPool();
  const buffers = new Map<Sequence, PooledBuffer>();
  const vocab = o.model.config.vocabSize;
  let next = 0;
  const admit = () => {
    while (next < requests.length && live.length < o.maxLive) {
      const r = requests[next]!;
      if (live.length > 0 && o.kv.shouldWait?.(r.prompt)) break;
      const opened = o.kv.open(r.prompt);
      if (!opened) {
        if (live.length === 0) throw new Error("the KV store cannot hold even one request");
        break;
      }
      const buf = pool.alloc(toppScratchBytes(vocab));
      const scratch = new ToppScratch(vocab, buf.buffer);
      const sampler = new Sampler({ temperature: o.temperature, topp: o.topp, seed: r.seed, scratch });
      const seq = new Sequence({
        id: next,
        prompt: r.prompt,
        steps: o.steps,
        kv: opened.kv,
        sampler,
        logprobs: o.logprobs,
      });
      seq.skipPrefix(opened.cached, o.tokenizer, o.onPiece);
      timing.reusedTokens += seq.reused;
      buffers.set(seq, buf);
      sequences.push(seq);
      live.push(seq);
      next++;
    }
  };
  admit();
  const arena = o.model.arena;
  while (live.length > 0) {
    for (let i = 0; i < live.length; i++) {
      const seq = live[i]!;
      const prefill = seq.inPrefill;
      const t0 = performance.now();
      const ran = seq.step(o.model, o.model.activations(), o.tokenizer, o.onPiece, o.prefillChunk ?? 1);
      arena.reset();
      const ms = performance.now() - t0;
      if (prefill) {
        timing.prefillTokens += ran;
        timing.prefillMs += ms;
      } else {
        timing.decodeTokens += ran;
        timing.decodeMs += ms;
      }
    }
    for (let i = live.length - 1; i >= 0; i--) {
      const seq = live[i]!;
      if (!seq.done) continue;
      live.splice(i, 1);
      seq.kv.release();
      pool.release(buffers.get(seq)!);
      buffers.delete(seq);
      o.onFinish?.(seq);
    }
    admit();
  }
  return { sequences, timing, pool };
}
