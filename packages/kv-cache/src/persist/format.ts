/**
 * The KV file, version 1: a header naming the model and the layout, then one record per block
 * (chain hash, token ids, extra keys, parent record, checksum, KV bytes). Integers are little
 * endian. The byte layout table is in the package README ("KV files"); this module is the one
 * place that reads or writes it. Parsing trusts nothing: every size is checked against the
 * file's length before anything is allocated, and every record against its token fingerprint,
 * its recomputed chain hash and its checksum before the caller acts on any of them.
 */
import { LlmemError, sealedChecksum, tokenFingerprint } from "@llmem/core";
import { blockHashFromWords, type HashMode, ROOT_HASH } from "@llmem/prefix-hash";

export const FILE_MAGIC = "LLMEMKV\0";
export const FILE_VERSION = 1;
export const FILE_HEADER_BYTES = 128;
/** Longest model description accepted (a description is one short line per tensor). */
export const MAX_DESCRIPTION_BYTES = 1 << 20;
/** Most extra-key words one block may carry (salt, LoRA, multimodal keys). */
export const MAX_EXTRA_WORDS = 1 << 16;
const NO_PARENT = 0xffffffff;
const FORMAT_FIELD = 16;
const HEADER_SUMMED = 120;
const RECORD_FIXED = 24; // parent, extra count, token fingerprint, checksum

/** What the header says; a reader compares it with its own cache and model. */
export interface FileLayout {
  modelHash: bigint;
  description: string;
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  hashMode: HashMode;
  /** Row format of every saved payload (the pool's). */
  format: string;
  /** The store tier's format, "" without one: recorded, payloads never use it. */
  storeFormat: string;
  payloadBytes: number;
}

/** One block as stored: `parent` indexes an earlier record, -1 for a sequence's first block. */
export interface FileBlock {
  hash: bigint;
  parent: number;
  tokens: Uint32Array;
  extra: Uint32Array | null;
  payload: Uint8Array;
}

const hashBytesOf = (mode: HashMode) => (mode === "fast" ? 8 : 32);

function bad(message: string, details: Record<string, unknown> = {}): LlmemError {
  return new LlmemError("FORMAT_ERROR", `KV file: ${message}`, details);
}

function writeAscii(out: Uint8Array, at: number, s: string, width: number): void {
  const b = new TextEncoder().encode(s);
  if (b.length > width)
    throw new LlmemError("INVALID_ARGUMENT", `${JSON.stringify(s)} exceeds ${width} bytes`);
  out.set(b, at);
}

function readAscii(b: Uint8Array, at: number, width: number): string {
  let end = at;
  while (end < at + width && b[end] !== 0) end++;
  for (let i = end; i < at + width; i++)
    if (b[i] !== 0) throw bad(`format field at ${at} is not zero-padded`);
  return new TextDecoder().decode(b.subarray(at, end));
}

function writeHash(view: DataView, at: number, hash: bigint, bytes: number): void {
  for (let i = 0; i < bytes / 8; i++)
    view.setBigUint64(at + 8 * i, BigInt.asUintN(64, hash >> BigInt(64 * i)), true);
}

function readHash(view: DataView, at: number, bytes: number): bigint {
  let h = 0n;
  for (let i = bytes / 8 - 1; i >= 0; i--) h = (h << 64n) | view.getBigUint64(at + 8 * i, true);
  return h;
}

const pad8 = (n: number) => (n + 7) & ~7;

export function recordBytes(layout: FileLayout, extraWords: number): number {
  return (
    RECORD_FIXED + hashBytesOf(layout.hashMode) + 4 * layout.blockSize + 4 * extraWords + layout.payloadBytes
  );
}

/** Header and description, padded to 8 bytes. */
export function encodeHeader(layout: FileLayout, blocks: number, recordsTotal: number): Uint8Array {
  const desc = new TextEncoder().encode(layout.description);
  if (desc.length > MAX_DESCRIPTION_BYTES) {
    throw new LlmemError("INVALID_ARGUMENT", `model description exceeds ${MAX_DESCRIPTION_BYTES} bytes`);
  }
  const out = new Uint8Array(FILE_HEADER_BYTES + pad8(desc.length));
  const v = new DataView(out.buffer);
  writeAscii(out, 0, FILE_MAGIC, 8);
  v.setUint32(8, FILE_VERSION, true);
  v.setUint32(12, FILE_HEADER_BYTES, true);
  v.setBigUint64(16, layout.modelHash, true);
  v.setUint32(24, desc.length, true);
  v.setUint32(28, layout.numLayers, true);
  v.setUint32(32, layout.numKvHeads, true);
  v.setUint32(36, layout.headDim, true);
  v.setUint32(40, layout.blockSize, true);
  v.setUint32(44, hashBytesOf(layout.hashMode), true);
  writeAscii(out, 48, layout.format, FORMAT_FIELD);
  writeAscii(out, 64, layout.storeFormat, FORMAT_FIELD);
  v.setUint32(80, layout.payloadBytes, true);
  v.setUint32(84, blocks, true);
  v.setBigUint64(88, BigInt(recordsTotal), true);
  out.set(desc, FILE_HEADER_BYTES);
  v.setBigUint64(HEADER_SUMMED, sealedChecksum(out.subarray(0, HEADER_SUMMED), desc), true);
  return out;
}

/** One record: its fixed fields, hash, tokens, extra words, checksum, then the payload. */
export function encodeRecord(layout: FileLayout, block: FileBlock): Uint8Array {
  const hb = hashBytesOf(layout.hashMode);
  const e = block.extra?.length ?? 0;
  const out = new Uint8Array(recordBytes(layout, e));
  const v = new DataView(out.buffer);
  v.setUint32(0, block.parent < 0 ? NO_PARENT : block.parent, true);
  v.setUint32(4, e, true);
  v.setBigUint64(8, tokenFingerprint(block.tokens), true);
  writeHash(v, 16, block.hash, hb);
  let at = 16 + hb;
  out.set(new Uint8Array(block.tokens.buffer, block.tokens.byteOffset, block.tokens.byteLength), at);
  at += block.tokens.byteLength;
  if (block.extra)
    out.set(new Uint8Array(block.extra.buffer, block.extra.byteOffset, block.extra.byteLength), at);
  at += 4 * e;
  v.setBigUint64(at, sealedChecksum(out.subarray(0, at), block.payload), true);
  out.set(block.payload, at + 8);
  return out;
}

/** Reads the header; checks magic, version, lengths and the header checksum. */
export function parseHeader(file: Uint8Array): {
  layout: FileLayout;
  blocks: number;
  recordsAt: number;
  recordsTotal: number;
} {
  if (file.length < FILE_HEADER_BYTES)
    throw bad(`truncated: ${file.length} bytes, a header alone is ${FILE_HEADER_BYTES}`);
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (let i = 0; i < 8; i++)
    if (file[i] !== FILE_MAGIC.charCodeAt(i)) throw bad("not a KV file (bad magic)");
  const version = v.getUint32(8, true);
  if (version !== FILE_VERSION)
    throw bad(`version ${version} (this reader knows ${FILE_VERSION})`, { version });
  if (v.getUint32(12, true) !== FILE_HEADER_BYTES) throw bad("header length is not 128");
  const descBytes = v.getUint32(24, true);
  if (descBytes > MAX_DESCRIPTION_BYTES)
    throw bad(`model description of ${descBytes} bytes exceeds ${MAX_DESCRIPTION_BYTES}`);
  const recordsAt = FILE_HEADER_BYTES + pad8(descBytes);
  if (recordsAt > file.length)
    throw bad(`truncated: the model description ends at ${recordsAt}, the file at ${file.length}`);
  const desc = file.subarray(FILE_HEADER_BYTES, FILE_HEADER_BYTES + descBytes);
  for (let i = FILE_HEADER_BYTES + descBytes; i < recordsAt; i++)
    if (file[i] !== 0) throw bad("description padding is not zero");
  for (let i = 96; i < HEADER_SUMMED; i++) if (file[i] !== 0) throw bad("reserved header bytes are not zero");
  if (v.getBigUint64(HEADER_SUMMED, true) !== sealedChecksum(file.subarray(0, HEADER_SUMMED), desc)) {
    throw bad("header checksum mismatch (damaged header)");
  }
  const hashBytes = v.getUint32(44, true);
  if (hashBytes !== 8 && hashBytes !== 32) throw bad(`hash width ${hashBytes} bytes (8 or 32)`);
  const recordsTotal = v.getBigUint64(88, true);
  if (recordsTotal !== BigInt(file.length - recordsAt)) {
    throw bad(
      `${file.length < recordsAt + Number(recordsTotal) ? "truncated" : "trailing bytes"}: records need ${recordsTotal} bytes after offset ${recordsAt}, the file has ${file.length - recordsAt}`,
    );
  }
  const layout: FileLayout = {
    modelHash: v.getBigUint64(16, true),
    description: new TextDecoder().decode(desc),
    numLayers: v.getUint32(28, true),
    numKvHeads: v.getUint32(32, true),
    headDim: v.getUint32(36, true),
    blockSize: v.getUint32(40, true),
    hashMode: hashBytes === 8 ? "fast" : "secure",
    format: readAscii(file, 48, FORMAT_FIELD),
    storeFormat: readAscii(file, 64, FORMAT_FIELD),
    payloadBytes: v.getUint32(80, true),
  };
  return { layout, blocks: v.getUint32(84, true), recordsAt, recordsTotal: Number(recordsTotal) };
}

/**
 * Every record of a file whose header matched: sizes first (the block count must fit the bytes
 * there are before a list is made), then per record its parent link, token fingerprint,
 * recomputed chain hash and checksum. Tokens and extra words are copies; payloads are views
 * of `file`.
 */
export function parseRecords(
  file: Uint8Array,
  layout: FileLayout,
  count: number,
  recordsAt: number,
): FileBlock[] {
  const minRecord = recordBytes(layout, 0);
  if (count * minRecord > file.length - recordsAt) {
    throw bad(
      `${count} blocks of at least ${minRecord} bytes do not fit in ${file.length - recordsAt} bytes`,
    );
  }
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const hb = hashBytesOf(layout.hashMode);
  const bs = layout.blockSize;
  const out: FileBlock[] = [];
  const seen = new Set<bigint>();
  let at = recordsAt;
  for (let i = 0; i < count; i++) {
    if (at + minRecord > file.length) throw bad(`truncated in block ${i}`, { block: i });
    const rawParent = v.getUint32(at, true);
    const parent = rawParent === NO_PARENT ? -1 : rawParent;
    if (parent >= i) throw bad(`block ${i} names parent ${parent}, not an earlier block`, { block: i });
    const e = v.getUint32(at + 4, true);
    if (e > MAX_EXTRA_WORDS)
      throw bad(`block ${i} has ${e} extra-key words (at most ${MAX_EXTRA_WORDS})`, { block: i });
    const size = recordBytes(layout, e);
    if (at + size > file.length) throw bad(`truncated in block ${i}`, { block: i });
    const hash = readHash(v, at + 16, hb);
    const tokAt = at + 16 + hb;
    const tokens = new Uint32Array(file.slice(tokAt, tokAt + 4 * bs).buffer);
    const extra = e === 0 ? null : new Uint32Array(file.slice(tokAt + 4 * bs, tokAt + 4 * bs + 4 * e).buffer);
    if (tokenFingerprint(tokens) !== v.getBigUint64(at + 8, true)) {
      throw bad(`block ${i}: its token ids do not match their fingerprint`, { block: i });
    }
    const parentHash = parent < 0 ? ROOT_HASH : out[parent]!.hash;
    if (blockHashFromWords(parentHash, tokens, extra, layout.hashMode) !== hash) {
      throw bad(`block ${i}: its chain hash is not the hash of its tokens after its parent`, { block: i });
    }
    if (seen.has(hash)) throw bad(`block ${i} repeats an earlier block's hash`, { block: i });
    seen.add(hash);
    const sumAt = tokAt + 4 * bs + 4 * e;
    const payload = file.subarray(sumAt + 8, at + size);
    if (sealedChecksum(file.subarray(at, sumAt), payload) !== v.getBigUint64(sumAt, true)) {
      throw bad(`block ${i}: checksum mismatch (damaged KV bytes)`, { block: i });
    }
    out.push({ hash, parent, tokens, extra, payload });
    at += size;
  }
  if (at !== file.length) throw bad(`${file.length - at} bytes after the last block`);
  return out;
}
