// What the two processes of test/sharing.test.ts agree on: the model's layout, the prompt and
// the bytes of each block (a stand-in for its KV, distinct per block).
export const BLOCK_SIZE = 16;
export const LAYOUT = {
  numLayers: 2,
  numKvHeads: 2,
  headDim: 32,
  kvFormat: "f16",
  blockSize: BLOCK_SIZE,
} as const;
const BLOCK_BYTES = 2 * 2 * BLOCK_SIZE * 2 * 32 * 2;

/** A 1,024-token prompt: 64 full blocks. */
export function prompt(): Uint32Array {
  return Uint32Array.from({ length: 1024 }, (_, i) => (i * 2654435761) % 32000);
}

export function blockPayload(b: number): Uint8Array {
  return Uint8Array.from({ length: BLOCK_BYTES }, (_, j) => (b * 131 + j * 17) & 255);
}
