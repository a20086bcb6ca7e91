/**
 * The bandwidth baseline: a plain streaming read (libllmem's SIMD dot of a buffer with
 * itself) of exactly the bytes one token's matvecs stream, in the same order, repeated as
 * decoding repeats it, so caches help or hurt both alike. Median GB/s over `sweeps` sweeps.
 */
import { dotF32 } from "@llmem/native";
import type { WeightMatrix } from "../src/matvec.ts";

export let sinkHole = 0;

export function memoryRead(matrices: readonly WeightMatrix[], sweeps = 9): number {
  const views = matrices.map(
    (m) => new Float32Array(m.data.buffer, m.data.byteOffset, m.data.byteLength >> 2),
  );
  const bytes = views.reduce((n, v) => n + v.byteLength, 0);
  const rates: number[] = [];
  let sink = 0;
  for (let s = 0; s < sweeps; s++) {
    const t0 = performance.now();
    for (const v of views) sink += dotF32(v, v);
    rates.push(bytes / (performance.now() - t0) / 1e6);
  }
  sinkHole = sink; // keeps the reads observable (quantized bytes read as floats may well be NaN)
  return rates.sort((a, b) => a - b)[rates.length >> 1]!;
}
