/**
 * The K/V store seen by the forward pass, one step per position: `beginStep(token)`, then per
 * layer `write` the position's keys and values and `attend` over positions 0..pos, then `end()`.
 * The store (src/kv-store.ts: @llmem/kv-cache's paged sequences) holds the position.
 */

import type { ReusedFrom } from "@llmem/kv-cache";

export interface KvSequence {
  /** Reused prompt tokens per tier they came from (device pool, host RAM, file, Redis). */
  readonly reusedFrom?: ReusedFrom;
  /** Positions whose K/V is held: the next step's position. */
  readonly length: number;
  /** Starts the position after the last one ended, fed `token`; throws if the store is full. */
  beginStep(token: number): unknown;
  /** k, v: kvDim floats for this layer at the step's position. */
  write(layer: number, k: Float32Array, v: Float32Array): void;
  /** out[h·hs ..] = Σ_t softmax(q_h·k_t / √hs) v_t over every position so far, this one included. */
  attend(layer: number, q: Float32Array, out: Float32Array): unknown;
  /** Ends the step: the position advances. */
  end(): void;
  /** Gives back what the sequence holds. */
  release(): void;
}
