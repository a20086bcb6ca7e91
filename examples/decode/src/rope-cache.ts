/**
 * The rope angles' cos/sin rows of every position, computed once: a prefill chunk of 128
 * positions spent ~110 µs in Math.cos/sin (stories15M heads) on every prompt, and each decode
 * token ~1 µs. Rows are filled in position order up to what was asked for, and copied out with
 * the very bits the per-position computation gives (it is the same computation, run once).
 * Positions past `capacity` are computed on every call.
 */
export class RopeCache {
  /** Floats per position in each of cos and sin. */
  readonly width: number;
  readonly capacity: number;
  private readonly fill: (pos: number, cos: Float32Array, sin: Float32Array) => void;
  private cos = new Float32Array(0);
  private sin = new Float32Array(0);
  /** Positions [0, filled) are in the tables. */
  private filled = 0;

  constructor(
    width: number,
    capacity: number,
    fill: (pos: number, cos: Float32Array, sin: Float32Array) => void,
  ) {
    this.width = width;
    this.capacity = capacity;
    this.fill = fill;
  }

  /** cos/sin[t·width ..] = position pos + t's rows, t < n. */
  copy(pos: number, n: number, cos: Float32Array, sin: Float32Array): void {
    const w = this.width;
    if (pos + n > this.capacity) {
      for (let t = 0; t < n; t++)
        this.fill(pos + t, cos.subarray(t * w, (t + 1) * w), sin.subarray(t * w, (t + 1) * w));
      return;
    }
    if (pos + n > this.filled) this.extend(pos + n);
    const base = pos * w;
    const count = n * w;
    // One token (decode): a plain loop, so no view is allocated per token.
    if (n === 1) {
      for (let i = 0; i < count; i++) {
        cos[i] = this.cos[base + i]!;
        sin[i] = this.sin[base + i]!;
      }
      return;
    }
    cos.set(this.cos.subarray(base, base + count));
    sin.set(this.sin.subarray(base, base + count));
  }

  /** Fills positions up to `end` (growing the tables by doubling, up to capacity). */
  private extend(end: number): void {
    const w = this.width;
    if (end * w > this.cos.length) {
      const positions = Math.min(this.capacity, Math.max(end, 2 * (this.cos.length / w), 64));
      const cos = new Float32Array(positions * w);
      const sin = new Float32Array(positions * w);
      cos.set(this.cos.subarray(0, this.filled * w));
      sin.set(this.sin.subarray(0, this.filled * w));
      this.cos = cos;
      this.sin = sin;
    }
    for (let p = this.filled; p < end; p++)
      this.fill(p, this.cos.subarray(p * w, (p + 1) * w), this.sin.subarray(p * w, (p + 1) * w));
    this.filled = end;
  }
}
