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
  /** Scratch for top-p candidates (vocab-sized), e.g. over a pooled per-request buffer. */
  scratch?: ToppScratch;
}

export class Sampler {
  readonly temperature: number;
  readonly topp: number;
  private readonly rng: Rng;
  /** Top-p sort arrays, made on first use unless given. */
  private scratch: ToppScratch | undefined;

  constructor(o: SamplerOptions) {
    // run.c keeps both as C floats.
    this.temperature = Math.fround(o.temperature);
    this.topp = Math.fround(o.topp);
    this.rng = new Rng(o.seed);
    this.scratch = o.scratch;
  }

  /** Picks the next token; overwrites `logits` with probabilities when sampling, as run.c does. */
  sample(logits: Float32Array): number {
    if (this.temperature === 0) return argmax(logits);
    const t = this.temperature;
    if (t !== 1) for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! / t; // x / 1 is x
    softmax(logits, logits.length);
    const coin = this.rng.nextF32();
    if (this.topp <= 0 || this.topp >= 1) return sampleMult(logits, coin);
    if (!this.scratch || this.scratch.capacity < logits.length) this.scratch = new ToppScratch(logits.length);
    return sampleTopp(logits, this.topp, coin, this.scratch);
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

/** Bytes of top-p scratch for a vocabulary of n tokens (two key and two index arrays). */
export function toppScratchBytes(n: number): number {
  return n * 16;
}

/** Working arrays of the top-p sort, carved from one buffer (e.g. a pooled per-request one). */
export class ToppScratch {
  readonly capacity: number;
  readonly keysA: Uint32Array;
  readonly keysB: Uint32Array;
  readonly idxA: Int32Array;
  readonly idxB: Int32Array;
  readonly hist = new Uint32Array(RADIX);

  constructor(n: number, buffer: ArrayBuffer = new ArrayBuffer(toppScratchBytes(n))) {
    this.capacity = n;
    this.keysA = new Uint32Array(buffer, 0, n);
    this.keysB = new Uint32Array(buffer, n * 4, n);
    this.idxA = new Int32Array(buffer, n * 8, n);
    this.idxB = new Int32Array(buffer, n * 12, n);
  }
}

const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;
const bitsOf = new Uint32Array(1);
const floatOf = new Float32Array(bitsOf.buffer);

/**
 * Candidates sorted by (probability desc, index asc), returned as indices in s.idxA or s.idxB.
 * Positive floats order like their bit patterns, so keys are the inverted bits; an LSD radix
 * sort is stable, and candidates go in by ascending index, so ties keep index order exactly as
 * glibc's stable qsort (a merge sort) leaves them in run.c.
 */
function sortCandidates(
  p: Float32Array,
  cutoff: number,
  s: ToppScratch,
): { order: Int32Array; count: number } {
  let sk = s.keysA;
  let si = s.idxA;
  let dk = s.keysB;
  let di = s.idxB;
  let m = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if (v >= cutoff) {
      floatOf[0] = v;
      sk[m] = ~bitsOf[0]! >>> 0;
      si[m++] = i;
    }
  }
  const hist = s.hist;
  for (let shift = 0; shift < 32; shift += RADIX_BITS) {
    hist.fill(0);
    for (let i = 0; i < m; i++) hist[(sk[i]! >>> shift) & (RADIX - 1)]!++;
    let sum = 0;
    for (let b = 0; b < RADIX; b++) {
      const c = hist[b]!;
      hist[b] = sum;
      sum += c;
    }
    for (let i = 0; i < m; i++) {
      const k = sk[i]!;
      const d = hist[(k >>> shift) & (RADIX - 1)]!++;
      dk[d] = k;
      di[d] = si[i]!;
    }
    [sk, dk] = [dk, sk];
    [si, di] = [di, si];
  }
  return { order: si, count: m };
}

/**
 * Nucleus sampling as run.c: drop probabilities below (1 - topp) / (n - 1), sort the rest
 * descending (ties in index order), cut where the cumulative sum first exceeds topp, and
 * draw with coin × that sum.
 */
export function sampleTopp(p: Float32Array, topp: number, coin: number, scratch?: ToppScratch): number {
  const n = p.length;
  const cutoff = Math.fround(Math.fround(1 - topp) / (n - 1));
  const s = scratch && scratch.capacity >= n ? scratch : new ToppScratch(n);
  const { order, count } = sortCandidates(p, cutoff, s);
  // Nothing passes only when topp < 1/n; run.c then reads before its array (undefined), we take the argmax.
  if (count === 0) return argmax(p);
  let cumulative = 0;
  let last = count - 1;
  for (let i = 0; i < count; i++) {
    cumulative = Math.fround(cumulative + p[order[i]!]!);
    if (cumulative > topp) {
      last = i;
      break;
    }
  }
  const r = Math.fround(coin * cumulative);
  let cdf = 0;
  for (let i = 0; i <= last; i++) {
    cdf = Math.fround(cdf + p[order[i]!]!);
    if (r < cdf) return order[i]!;
  }
  return order[last]!;
}
