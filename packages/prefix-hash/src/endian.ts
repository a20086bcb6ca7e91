/**
 * Whether this host stores numbers little-endian. Hashes never depend on it (they are defined
 * on word values); it only decides whether a (lo, hi) word pair can be read in place as a u64.
 */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
