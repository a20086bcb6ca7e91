/**
 * One request moving through run.c's generate loop: forward the current token, force the
 * next prompt token or sample, stop at the tokenizer's stop token (run.c: BOS) or after `steps`
 * positions, print the piece.
 */
import type { KvSequence } from "./kv.ts";
import type { Activations, Transformer } from "./model.ts";
import type { Sampler } from "./sampler.ts";
import type { TextCodec } from "./text-codec.ts";

export class Sequence {
  readonly id: number;
  readonly prompt: readonly number[];
  readonly steps: number;
  readonly kv: KvSequence;
  /** Every id run.c's loop would print (prompt tokens after BOS, then samples). */
  readonly tokens: number[] = [];
  /** Printed bytes (after safe_printf's filter). */
  readonly bytes: number[] = [];
  token: number;
  done = false;
  /** Prompt positions whose K/V came from the prefix cache instead of a forward pass. */
  reused = 0;
  private readonly sampler: Sampler;

  constructor(o: { id: number; prompt: number[]; steps: number; kv: KvSequence; sampler: Sampler }) {
    if (o.prompt.length < 1) throw new Error("a prompt holds at least BOS");
    this.id = o.id;
    this.prompt = o.prompt;
    this.steps = o.steps;
    this.kv = o.kv;
    this.sampler = o.sampler;
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

  /** One position: forward, choose the next token, emit it. */
  step(
    model: Transformer,
    acts: Activations,
    tok: TextCodec,
    onPiece?: (s: Sequence, piece: Uint8Array) => void,
  ): void {
    if (this.done) return;
    const forced = this.inPrefill;
    const logits = model.forward(this.token, this.pos, this.kv, acts, !forced);
    const next = forced ? this.prompt[this.pos]! : this.sampler.sample(logits);
    this.advance(next, this.pos, tok, onPiece);
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
    this.tokens.push(next);
    const piece = tok.render(this.token, next);
    if (piece.length > 0) {
      for (const b of piece) this.bytes.push(b);
      onPiece?.(this, piece);
    }
    this.token = next;
    if (pos >= this.steps) this.done = true;
  }

  text(): string {
    return new TextDecoder().decode(Uint8Array.from(this.bytes));
  }
}
