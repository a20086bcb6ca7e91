/** Power-of-two bucketing, as the seed does it: 0→1, 1→1, 3→4, 1023→1024, 1025→2048. */
export function powerOfTwoBucket(byteLength: number): number {
  if (byteLength <= 1) return 1;
  return 2 ** Math.ceil(Math.log2(byteLength));
}
