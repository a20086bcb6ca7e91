/**
 * One request moving through run.c's generate loop: forward the current token, force the
 * next prompt token or sample, stop at the tokenizer's stop token (run.c: BOS) or after `steps`
 * positions, print the piece.
 */
import type { KvSequence } from "./kv.ts";
import { type TokenLogprob, tokenLogprob } from "./logprobs.ts";
import type { Activations, Transformer } from "./model.ts";
import type { Sampler } from "./sampler.ts";
import type { TextCodec } from "./text-codec.ts";

export class Sequence {
  readonly id: number;
  readonly prompt: readonly number[];
  readonly steps: number;
  readonly kv: KvSequence;
  /** Every id run.c's loop would print (prompt tokens after BOS, then samples; the first prompt token too when it is not BOS). */
  readonly tokens: number[] = [];
  /** Printed bytes (after safe_printf's filter). */
  readonly bytes: number[] = [];
  token: number;
  done = false;
  /** Prompt positions whose K/V came from the prefix cache instead of a forward pass. */
  reused = 0;
  private readonly sampler: Sampler;
  /** Per sampled token, with `logprobs` set: its log-probability and the top alternatives. */
  readonly logprobs: TokenLogprob[] = [];
  private readonly topLogprobs: number | undefined;
  /** The raw logits, kept for logprobs before the sampler rescales them in place. */
  private raw?: Float32Array;
  /** The tokenizer's printer for this sequence (it may hold a split UTF-8 character). */
  private print?: (prev: number, token: number) => Uint8Array;

  constructor(o: {
    id: number;
    prompt: number[];
    steps: number;
    kv: KvSequence;
    sampler: Sampler;
    /** Record log-probabilities with this many alternatives per sampled token. */
    logprobs?: number;
  }) {
    if (o.prompt.length < 1) throw new Error("a prompt holds at least BOS");
    this.id = o.id;
    this.prompt = o.prompt;
    this.steps = o.steps;
    this.kv = o.kv;
    this.sampler = o.sampler;
    this.topLogprobs = o.logprobs;
    this.token = o.prompt[0]!;
    this.done = this.steps <= 0;
  }

  /** Positions run so far: the K/V store's length, the one place the position is held. */
  get pos(): number {
    return this.kv.length;
  }

  /** The store already holds the first `n` positions (a cached prefix): emits their forced tokens. */
  skipPrefix(n: number, tok: TextCodec, onPiece?: (s: Sequence, piece: Uint8Array) => void): void {
    const limit = Math.min(n, this.prompt.length - 1, this.steps);
    for (let p = 1; p <= limit && !this.done; p++) this.advance(this.prompt[p]!, p, tok, onPiece);
    this.reused = limit;
  }

  /** True while the next forward is a prompt position whose logits are not needed. */
  get inPrefill(): boolean {
    return this.pos < this.prompt.length - 1;
  }

  /**
   * Prompt positions the next step can run as one prefill chunk of at most `chunk`: positions
   * whose successor is a known prompt token, up to the run's last position and not past a
   * stop token inside the prompt (the one-token loop stops there).
   */
  private chunkLength(chunk: number, tok: TextCodec): number {
    const pos = this.pos;
    const limit = Math.min(chunk, this.prompt.length - 1 - pos, this.steps - pos);
    for (let i = 1; i < limit; i++) if (tok.isStop(this.prompt[pos + i]!)) return i;
    return limit;
  }

  /**
   * One step: a prefill chunk of up to `chunk` prompt positions (forwardChunk: each matrix once
   * for all of them), or one position (forward, choose the next token, emit it). Returns the
   * positions run.
   */
  step(
    model: Transformer,
    acts: Activations,
    tok: TextCodec,
    onPiece?: (s: Sequence, piece: Uint8Array) => void,
    chunk = 1,
  ): number {
    if (this.done) return 0;
    const forced = this.inPrefill;
    const n = forced && chunk > 1 ? this.chunkLength(chunk, tok) : 1;
    if (n > 1) {
      const pos = this.pos;
      model.forwardChunk(this.prompt.slice(pos, pos + n), pos, this.kv);
      for (let p = pos + 1; p <= pos + n && !this.done; p++) this.advance(this.prompt[p]!, p, tok, onPiece);
      return n;
    }
    const logits = model.forward(this.token, this.pos, this.kv, acts, !forced);
    if (forced) {
      this.advance(this.prompt[this.pos]!, this.pos, tok, onPiece);
      return 1;
    }
    if (this.topLogprobs !== undefined) {
      this.raw ??= new Float32Array(logits.length);
      this.raw.set(logits);
    }
    const next = this.sampler.sample(logits);
    // A stop token is not one of `tokens`, so it gets no entry either.
    if (this.raw && !tok.isStop(next)) this.logprobs.push(tokenLogprob(this.raw, this.topLogprobs!, next));
    this.advance(next, this.pos, tok, onPiece);
    return 1;
  }

  /** Position `pos` was reached with `next` chosen: stop, or emit it. */
  private advance(
    next: number,
    pos: number,
    tok: TextCodec,
    onPiece?: (s: Sequence, piece: Uint8Array) => void,
  ): void {
    if (tok.isStop(next)) {
      this.done = true;
      return;
    }
    if (this.print === undefined) {
      this.print = tok.printer();
      // Without a BOS in front (a vocabulary that adds none) the first prompt token is text too.
      const first = this.prompt[0]!;
      if (first !== tok.bos) this.emit(-1, first, onPiece);
    }
    this.emit(this.token, next, onPiece);
    this.token = next;
    if (pos >= this.steps) this.done = true;
  }

  /** Keeps `token` and prints what it completes. */
  private emit(prev: number, token: number, onPiece?: (s: Sequence, piece: Uint8Array) => void): void {
    this.tokens.push(token);
    const piece = this.print!(prev, token);
    if (piece.length > 0) {
      for (const b of piece) this.bytes.push(b);
      onPiece?.(this, piece);
    }
  }

  text(): string {
    return new TextDecoder().decode(Uint8Array.from(this.bytes));
  }
}
