/**
 * The K/V store seen by the forward pass, one step per position (or per prefill chunk of
 * positions): `beginStep(tokens)`, then per layer `write` the step's keys and values and
 * `attend` (each chunk token over the positions up to its own), then `end()`.
 * The store (src/kv-store.ts: @llmem/kv-cache's paged sequences) holds the position.
 */

import type { ReusedFrom } from "@llmem/kv-cache";

export interface KvSequence {
  /** Reused prompt tokens per tier they came from (device pool, host RAM, file, Redis). */
  readonly reusedFrom?: ReusedFrom;
  /** Positions whose K/V is held: the next step's position. */
  readonly length: number;
  /** Starts the position(s) after the last one ended, fed `tokens`; throws if the store is full. */
  beginStep(tokens: number | readonly number[]): unknown;
  /** k, v: kvDim floats per step position for this layer, position after position. */
  write(layer: number, k: Float32Array, v: Float32Array): void;
  /**
   * out[h·hs ..] = Σ_t softmax(q_h·k_t / √hs) v_t over every position so far, this step's
   * included, or over the first `positions` of them (a chunk token's causal mask). q and out may
   * hold several tokens' rows: row i then attends over the first `positions + i` (a whole chunk).
   */
  attend(layer: number, q: Float32Array, out: Float32Array, positions?: number): unknown;
  /** Ends the step: the position advances. */
  end(): void;
  /** Gives back what the sequence holds. */
  release(): void;
}
