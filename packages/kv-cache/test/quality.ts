/** Synthetic K/V with the statistics that make KV quantization hard: outlier key channels. */
export function gaussian(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 2 ** 32;
  };
  const a = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const th = 2 * Math.PI * u();
    a[i] = r * Math.cos(th);
    if (i + 1 < n) a[i + 1] = r * Math.sin(th);
  }
  return a;
}

/** Keys [token][kvHead][headDim] with every 16th channel 4× larger, as real keys have. */
export function outlierKeys(tokens: number, numKvHeads: number, headDim: number, seed: number): Float32Array {
  const k = gaussian(tokens * numKvHeads * headDim, seed);
  for (let i = 0; i < k.length; i++) if ((i % headDim) % 16 === 0) k[i]! *= 4;
  return k;
}
