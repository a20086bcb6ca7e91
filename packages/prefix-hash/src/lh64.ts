/**
 * LH64, the `fast` mode hash (v1): 64-bit, seedless, built from 32-bit multiplies and rotates so
 * the pure-TS path (Math.imul) and the C paths (scalar, AVX2, NEON) are bit-identical and fast.
 *
 * Input: a message of n 32-bit words, a token count and a 64-bit parent.
 * 1. Eight lanes start at IV[j] = (0x9E3779B1 · (2j+1)) mod 2^32.
 * 2. The words are taken in stripes of 8 (the last stripe zero-padded); lane j takes word j:
 *    v = rotl32(v + w · P2, 13) · P1.
 * 3. lo = rotl(v0,1) + rotl(v1,7) + rotl(v2,12) + rotl(v3,18); hi likewise from v4..v7.
 * 4. Content digest: a = lo + n · P5, b = hi + tokenCount · P4, then four invertible half-rounds
 *    (see `finish`). It does not depend on the parent, so consecutive blocks overlap.
 * 5. Parent: a ^= parentLo, b ^= parentHi, a = (a ^ rotl(b,16)) · P1, b = (b ^ (a >> 15)) · P3:
 *    the only serial step of a chain. The hash is b · 2^32 + (a ^ (b >> 16)).
 * Word count and token count make the zero padding and the token/extra-key boundary unambiguous;
 * step 5 is a bijection of the parent for fixed content, so one block's content under two
 * different parents can never collide.
 */

export const P1 = 0x9e3779b1;
export const P2 = 0x85ebca77;
export const P3 = 0xc2b2ae3d;
export const P4 = 0x27d4eb2f;
export const P5 = 0x165667b1;

/** The eight lane seeds, IV[j] = P1 · (2j + 1) mod 2^32. */
export const IV: readonly number[] = Array.from({ length: 8 }, (_, j) => Math.imul(P1, 2 * j + 1) >>> 0);
// The same as int32: lanes must start as int32 values, or the JIT runs the lane arithmetic on
// doubles (IV values above 2^31 are not int32), about three times slower.
const IV32 = Int32Array.from(IV);

const lanes = new Int32Array(8);
const tail = new Uint32Array(8);

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** Absorbs `stripes` full stripes of `src` starting at word `at` into `lanes`. */
function absorb(src: Uint32Array, at: number, stripes: number): void {
  let v0 = lanes[0]!;
  let v1 = lanes[1]!;
  let v2 = lanes[2]!;
  let v3 = lanes[3]!;
  let v4 = lanes[4]!;
  let v5 = lanes[5]!;
  let v6 = lanes[6]!;
  let v7 = lanes[7]!;
  for (let s = 0, i = at; s < stripes; s++, i += 8) {
    v0 = v0 + Math.imul(src[i]!, P2);
    v0 = Math.imul((v0 << 13) | (v0 >>> 19), P1);
    v1 = v1 + Math.imul(src[i + 1]!, P2);
    v1 = Math.imul((v1 << 13) | (v1 >>> 19), P1);
    v2 = v2 + Math.imul(src[i + 2]!, P2);
    v2 = Math.imul((v2 << 13) | (v2 >>> 19), P1);
    v3 = v3 + Math.imul(src[i + 3]!, P2);
    v3 = Math.imul((v3 << 13) | (v3 >>> 19), P1);
    v4 = v4 + Math.imul(src[i + 4]!, P2);
    v4 = Math.imul((v4 << 13) | (v4 >>> 19), P1);
    v5 = v5 + Math.imul(src[i + 5]!, P2);
    v5 = Math.imul((v5 << 13) | (v5 >>> 19), P1);
    v6 = v6 + Math.imul(src[i + 6]!, P2);
    v6 = Math.imul((v6 << 13) | (v6 >>> 19), P1);
    v7 = v7 + Math.imul(src[i + 7]!, P2);
    v7 = Math.imul((v7 << 13) | (v7 >>> 19), P1);
  }
  lanes[0] = v0;
  lanes[1] = v1;
  lanes[2] = v2;
  lanes[3] = v3;
  lanes[4] = v4;
  lanes[5] = v5;
  lanes[6] = v6;
  lanes[7] = v7;
}

function start(): void {
  for (let j = 0; j < 8; j++) lanes[j] = IV[j]!;
}

/**
 * Absorbs words [at, at+count) of `a` followed by all of `b` (may be null) as one message,
 * zero-padding the last stripe. Returns the message length in words.
 */
function absorbMessage(a: Uint32Array, at: number, count: number, b: Uint32Array | null): number {
  const full = count >>> 3;
  absorb(a, at, full);
  let t = 0;
  for (let i = at + full * 8; i < at + count; i++) tail[t++] = a[i]!;
  const m = b === null ? 0 : b.length;
  let k = 0;
  if (t > 0) {
    // The stripe that straddles the token/extra boundary.
    while (t < 8 && k < m) tail[t++] = b![k++]!;
    tail.fill(0, t);
    absorb(tail, 0, 1);
  }
  if (k < m) {
    const fullB = (m - k) >>> 3;
    absorb(b!, k, fullB);
    k += fullB * 8;
    if (k < m) {
      tail.fill(0);
      for (let i = 0; k < m; i++) tail[i] = b![k++]!;
      absorb(tail, 0, 1);
    }
  }
  return count + m;
}

/** Absorbs words [at, at+count) of `src` into `lanes` as whole stripes, the last zero-padded. */
function absorbWords(src: Uint32Array, at: number, count: number): void {
  const full = count >>> 3;
  absorb(src, at, full);
  const rest = count - 8 * full;
  if (rest > 0) {
    tail.fill(0);
    for (let i = 0; i < rest; i++) tail[i] = src[at + 8 * full + i]!;
    absorb(tail, 0, 1);
  }
}

/** Steps 3 to 5: fold the lanes, digest with the lengths, chain in the parent. Writes lo/hi into out. */
function finish(
  words: number,
  tokenCount: number,
  parentLo: number,
  parentHi: number,
  out: Uint32Array,
  o: number,
): void {
  const lo = rotl(lanes[0]!, 1) + rotl(lanes[1]!, 7) + rotl(lanes[2]!, 12) + rotl(lanes[3]!, 18);
  const hi = rotl(lanes[4]!, 1) + rotl(lanes[5]!, 7) + rotl(lanes[6]!, 12) + rotl(lanes[7]!, 18);
  digest(lo, hi, words, tokenCount, parentLo, parentHi, out, o);
}

/** Steps 4 and 5 from the folded lanes (lo, hi): digest with the lengths, chain in the parent. */
function digest(
  lo: number,
  hi: number,
  words: number,
  tokenCount: number,
  parentLo: number,
  parentHi: number,
  out: Uint32Array,
  o: number,
): void {
  let a = (lo + Math.imul(words, P5)) | 0;
  let b = (hi + Math.imul(tokenCount, P4)) | 0;
  a ^= rotl(b, 11);
  a = Math.imul(a, P1);
  a ^= a >>> 15;
  b ^= rotl(a, 17);
  b = Math.imul(b, P2);
  b ^= b >>> 13;
  a ^= rotl(b, 11);
  a = Math.imul(a, P3);
  a ^= a >>> 16;
  b ^= rotl(a, 17);
  b = Math.imul(b, P4);
  b ^= b >>> 16;
  // step 5: the parent
  a ^= parentLo;
  b ^= parentHi;
  a = Math.imul(a ^ rotl(b, 16), P1);
  b = Math.imul(b ^ (a >>> 15), P3);
  out[o] = a ^ (b >>> 16);
  out[o + 1] = b;
}

/**
 * LH64 of one block: `count` token words of `tokens` from `at`, then the extra-key words, chained
 * to (parentLo, parentHi). Writes the hash as two u32 (lo, hi) at out[o], out[o+1].
 */
export function lh64Block(
  tokens: Uint32Array,
  at: number,
  count: number,
  extra: Uint32Array | null,
  parentLo: number,
  parentHi: number,
  out: Uint32Array,
  o: number,
): void {
  start();
  const words = absorbMessage(tokens, at, count, extra);
  finish(words, count, parentLo, parentHi, out, o);
}

/**
 * Chain over n full blocks of `blockSize` tokens: block i's extra words are
 * extra[offsets[i] .. offsets[i+1]) (none when offsets is null). out gets 2 u32 per block.
 */
export function lh64Chain(
  tokens: Uint32Array,
  blockSize: number,
  blocks: number,
  extra: Uint32Array | null,
  offsets: Uint32Array | null,
  parentLo: number,
  parentHi: number,
  out: Uint32Array,
): void {
  if (blockSize % 8 === 0) {
    const keyed = offsets !== null && extra !== null;
    chainWholeStripes(
      tokens,
      blockSize,
      blocks,
      keyed ? extra : null,
      keyed ? offsets : null,
      parentLo,
      parentHi,
      out,
    );
    return;
  }
  let lo = parentLo;
  let hi = parentHi;
  for (let i = 0; i < blocks; i++) {
    const e = offsets === null || extra === null ? null : extra.subarray(offsets[i]!, offsets[i + 1]!);
    lh64Block(tokens, i * blockSize, blockSize, e !== null && e.length === 0 ? null : e, lo, hi, out, 2 * i);
    lo = out[2 * i]!;
    hi = out[2 * i + 1]!;
  }
}

/**
 * lh64Chain for blocks of whole stripes with the lanes in locals: the same arithmetic as absorb
 * + finish, without a round trip through the lanes array per block (the lane loop stays unrolled
 * here: that round trip is what this path exists to avoid). A block's extra-key words start a
 * stripe of their own; only blocks that have some go through `lanes` to absorb them.
 */
function chainWholeStripes(
  src: Uint32Array,
  blockSize: number,
  blocks: number,
  extra: Uint32Array | null,
  offsets: Uint32Array | null,
  parentLo: number,
  parentHi: number,
  out: Uint32Array,
): void {
  const i0 = IV32[0]!;
  const i1 = IV32[1]!;
  const i2 = IV32[2]!;
  const i3 = IV32[3]!;
  const i4 = IV32[4]!;
  const i5 = IV32[5]!;
  const i6 = IV32[6]!;
  const i7 = IV32[7]!;
  let pLo = parentLo | 0;
  let pHi = parentHi | 0;
  for (let blk = 0, at = 0; blk < blocks; blk++) {
    let v0 = i0;
    let v1 = i1;
    let v2 = i2;
    let v3 = i3;
    let v4 = i4;
    let v5 = i5;
    let v6 = i6;
    let v7 = i7;
    for (const end = at + blockSize; at < end; at += 8) {
      v0 = v0 + Math.imul(src[at]!, P2);
      v0 = Math.imul((v0 << 13) | (v0 >>> 19), P1);
      v1 = v1 + Math.imul(src[at + 1]!, P2);
      v1 = Math.imul((v1 << 13) | (v1 >>> 19), P1);
      v2 = v2 + Math.imul(src[at + 2]!, P2);
      v2 = Math.imul((v2 << 13) | (v2 >>> 19), P1);
      v3 = v3 + Math.imul(src[at + 3]!, P2);
      v3 = Math.imul((v3 << 13) | (v3 >>> 19), P1);
      v4 = v4 + Math.imul(src[at + 4]!, P2);
      v4 = Math.imul((v4 << 13) | (v4 >>> 19), P1);
      v5 = v5 + Math.imul(src[at + 5]!, P2);
      v5 = Math.imul((v5 << 13) | (v5 >>> 19), P1);
      v6 = v6 + Math.imul(src[at + 6]!, P2);
      v6 = Math.imul((v6 << 13) | (v6 >>> 19), P1);
      v7 = v7 + Math.imul(src[at + 7]!, P2);
      v7 = Math.imul((v7 << 13) | (v7 >>> 19), P1);
    }
    let m = 0;
    if (offsets !== null) {
      const from = offsets[blk]!;
      m = offsets[blk + 1]! - from;
      if (m > 0) {
        lanes[0] = v0;
        lanes[1] = v1;
        lanes[2] = v2;
        lanes[3] = v3;
        lanes[4] = v4;
        lanes[5] = v5;
        lanes[6] = v6;
        lanes[7] = v7;
        absorbWords(extra!, from, m);
        v0 = lanes[0]!;
        v1 = lanes[1]!;
        v2 = lanes[2]!;
        v3 = lanes[3]!;
        v4 = lanes[4]!;
        v5 = lanes[5]!;
        v6 = lanes[6]!;
        v7 = lanes[7]!;
      }
    }
    const lo = rotl(v0, 1) + rotl(v1, 7) + rotl(v2, 12) + rotl(v3, 18);
    const hi = rotl(v4, 1) + rotl(v5, 7) + rotl(v6, 12) + rotl(v7, 18);
    digest(lo, hi, blockSize + m, blockSize, pLo, pHi, out, 2 * blk);
    pLo = out[2 * blk]! | 0;
    pHi = out[2 * blk + 1]! | 0;
  }
}
