import { expect, test } from "bun:test";
import { ropeTable, ropeTableGgml } from "../src/math.ts";
import { RopeCache } from "../src/rope-cache.ts";

test("RopeCache copies exactly the per-position tables: growing, from any position, past its capacity", () => {
  for (const [name, fill] of [
    ["run.c", (p: number, c: Float32Array, s: Float32Array) => ropeTable(p, 48, c, s)],
    ["ggml", (p: number, c: Float32Array, s: Float32Array) => ropeTableGgml(p, 48, 10000, c, s)],
  ] as const) {
    let calls = 0;
    const cache = new RopeCache(24, 300, (p, c, s) => {
      calls++;
      fill(p, c, s);
    });
    // chunks out of order, a single position, a run crossing the capacity (300)
    for (const [pos, n] of [
      [0, 128],
      [128, 1],
      [5, 70],
      [129, 128],
      [250, 100],
      [299, 1],
      [300, 1],
    ] as const) {
      const cos = new Float32Array(n * 24).fill(Number.NaN);
      const sin = new Float32Array(n * 24).fill(Number.NaN);
      cache.copy(pos, n, cos, sin);
      const wc = new Float32Array(24);
      const ws = new Float32Array(24);
      for (let t = 0; t < n; t++) {
        fill(pos + t, wc, ws);
        expect(Array.from(cos.subarray(t * 24, (t + 1) * 24)), `${name} position ${pos + t}`).toEqual(
          Array.from(wc),
        );
        expect(Array.from(sin.subarray(t * 24, (t + 1) * 24)), `${name} position ${pos + t}`).toEqual(
          Array.from(ws),
        );
      }
    }
    // Positions 0..299 cached once each; a run reaching past the capacity is computed whole on
    // every call (250..349, and 300 again).
    expect(calls).toBe(300 + 100 + 1);
  }
});
