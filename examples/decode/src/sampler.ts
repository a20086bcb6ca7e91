/**
 * run.c's sampler: xorshift* random numbers, argmax at temperature 0, otherwise
 * softmax(logits / T) then multinomial or top-p, all in f32 like the C code so the
 * same seed picks the same tokens.
 */
import { softmax } from "./math.ts";

const MASK64 = (1n << 64n) - 1n;

/** llama2.c's xorshift* generator over a 64-bit state. */
export class Rng {
  private state: bigint;

  constructor(seed: bigint) {
    this.state = seed & MASK64;
  }

  nextU32(): number {
    let s = this.state;
    s ^= s >> 12n;
    s = (s ^ (s << 25n)) & MASK64;
    s ^= s >> 27n;
    this.state = s;
    return Number(((s * 0x2545f4914f6cdd1dn) & MASK64) >> 32n);
  }

  /** A float in [0, 1) with 24 random bits, exactly as random_f32. */
  nextF32(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }
}

export interface SamplerOptions {
  temperature: number;
  topp: number;
  seed: bigint;
  /** Scratch for top-p candidates (vocab-sized), e.g. a pooled per-request buffer. */
  scratch?: Float64Array;
}

export class Sampler {
  readonly temperature: number;
  readonly topp: number;
  private readonly rng: Rng;
  /** Sort keys of top-p candidates, reused across steps. */
  private keys: Float64Array = new Float64Array(0);

  constructor(o: SamplerOptions) {
    // run.c keeps both as C floats.
    this.temperature = Math.fround(o.temperature);
    this.topp = Math.fround(o.topp);
    this.rng = new Rng(o.seed);
    if (o.scratch) this.keys = o.scratch;
  }

  /** Picks the next token; overwrites `logits` with probabilities when sampling, as run.c does. */
  sample(logits: Float32Array): number {
    if (this.temperature === 0) return argmax(logits);
    const t = this.temperature;
    for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! / t;
    softmax(logits, logits.length);
    const coin = this.rng.nextF32();
    if (this.topp <= 0 || this.topp >= 1) return sampleMult(logits, coin);
    if (this.keys.length < logits.length) this.keys = new Float64Array(logits.length);
    return sampleTopp(logits, this.topp, coin, this.keys);
  }
}

export function argmax(p: Float32Array): number {
  let best = 0;
  let max = p[0]!;
  for (let i = 1; i < p.length; i++) {
    if (p[i]! > max) {
      max = p[i]!;
      best = i;
    }
  }
  return best;
}

export function sampleMult(p: Float32Array, coin: number): number {
  let cdf = 0;
  for (let i = 0; i < p.length; i++) {
    cdf = Math.fround(cdf + p[i]!);
    if (coin < cdf) return i;
  }
  return p.length - 1;
}

/** Index bits in a sort key; the f32 bits of the probability sit above them (2^32 · 2^21 < 2^53). */
const INDEX_BITS = 2 ** 21;
const bitsOf = new Uint32Array(1);
const floatOf = new Float32Array(bitsOf.buffer);

/**
 * Nucleus sampling as run.c: drop probabilities below (1 - topp) / (n - 1), sort the rest
 * descending (glibc's qsort is a stable merge sort here, so ties keep index order), cut
 * where the cumulative sum first exceeds topp, and draw with coin × that sum.
 * The order is a numeric sort of one float64 key per candidate, (~f32 bits, index): positive
 * floats order like their bit patterns, so the key order is exactly (prob desc, index asc).
 */
export function sampleTopp(p: Float32Array, topp: number, coin: number, keys: Float64Array): number {
  const n = p.length;
  const cutoff = Math.fround(Math.fround(1 - topp) / (n - 1));
  if (n > INDEX_BITS) return sampleToppLarge(p, topp, coin, cutoff);
  let n0 = 0;
  for (let i = 0; i < n; i++) {
    const v = p[i]!;
    if (v >= cutoff) {
      floatOf[0] = v;
      keys[n0++] = (0xffffffff - bitsOf[0]!) * INDEX_BITS + i;
    }
  }
  // Nothing passes only when topp < 1/n; run.c then reads before its array (undefined), we take the argmax.
  if (n0 === 0) return argmax(p);
  const cand = keys.subarray(0, n0).sort();
  const index = (i: number) => cand[i]! & (INDEX_BITS - 1); // ToInt32 keeps the low 32 bits exactly
  let cumulative = 0;
  let last = n0 - 1;
  for (let i = 0; i < n0; i++) {
    cumulative = Math.fround(cumulative + p[index(i)]!);
    if (cumulative > topp) {
      last = i;
      break;
    }
  }
  const r = Math.fround(coin * cumulative);
  let cdf = 0;
  for (let i = 0; i <= last; i++) {
    cdf = Math.fround(cdf + p[index(i)]!);
    if (r < cdf) return index(i);
  }
  return index(last);
}

/** The same rule for vocabularies too large for packed keys (over 2M tokens). */
function sampleToppLarge(p: Float32Array, topp: number, coin: number, cutoff: number): number {
  const cand: number[] = [];
  for (let i = 0; i < p.length; i++) if (p[i]! >= cutoff) cand.push(i);
  if (cand.length === 0) return argmax(p);
  cand.sort((a, b) => p[b]! - p[a]! || a - b);
  let cumulative = 0;
  let last = cand.length - 1;
  for (let i = 0; i < cand.length; i++) {
    cumulative = Math.fround(cumulative + p[cand[i]!]!);
    if (cumulative > topp) {
      last = i;
      break;
    }
  }
  const r = Math.fround(coin * cumulative);
  let cdf = 0;
  for (let i = 0; i <= last; i++) {
    cdf = Math.fround(cdf + p[cand[i]!]!);
    if (r < cdf) return cand[i]!;
  }
  return cand[last]!;
}
