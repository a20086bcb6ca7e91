/**
 * The K/V store seen by the forward pass: write one position's keys and values per layer,
 * then attend over positions 0..pos. Implementations differ in layout and precision
 * (src/kv-store.ts: paged and optionally quantized, on @llmem/kv-cache), never in the loop.
 */

export interface KvSequence {
  /** Makes room for position `pos` (paged stores map a block); throws if the store is full. */
  reserve(pos: number): void;
  /** k, v: kvDim floats for this layer at `pos`. */
  write(layer: number, pos: number, k: Float32Array, v: Float32Array): void;
  /** out[h·hs ..] = Σ_t softmax(q_h·k_t / √hs) v_t over t ≤ pos; att holds pos+1 scores. */
  attend(layer: number, pos: number, q: Float32Array, out: Float32Array, att: Float32Array): void;
  /** The token fed in at `pos` (known once it is chosen), for stores that hash full blocks. */
  noteInput?(pos: number, token: number): void;
  /** Gives back what the sequence holds. */
  release(): void;
}
