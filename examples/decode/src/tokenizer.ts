/**
 * llama2.c's tokenizer `.bin` (int32 max_token_length, then per token: f32 score, int32
 * length, bytes) with run.c's BPE encode and decode, byte for byte. Pieces are handled
 * as byte strings (one char per byte) so lookups compare bytes the way strcmp does.
 */
import { readFileSync } from "node:fs";
import { LlmemError } from "@llmem/core";
import type { TextCodec } from "./text-codec.ts";

export const BOS = 1;
export const EOS = 2;
/** Byte-fallback tokens <0x00>..<0xFF> start after <unk>, <s>, </s>. */
const BYTE_TOKEN_BASE = 3;

export class Tokenizer implements TextCodec {
  readonly vocabSize: number;
  /** run.c's prompts always start with BOS. */
  readonly bos = BOS;
  readonly maxTokenLength: number;
  /** Piece bytes as they are stored in the file. */
  private readonly pieces: Uint8Array[];
  /** Piece as a byte string cut at the first NUL, as C string functions see it. */
  private readonly keys: string[];
  private readonly scores: Float32Array;
  private readonly lookup: Map<string, number>;

  constructor(maxTokenLength: number, pieces: Uint8Array[], scores: Float32Array) {
    this.vocabSize = pieces.length;
    this.maxTokenLength = maxTokenLength;
    this.pieces = pieces;
    this.scores = scores;
    this.keys = pieces.map((p) => {
      const nul = p.indexOf(0);
      return byteString(nul < 0 ? p : p.subarray(0, nul));
    });
    this.lookup = buildLookup(this.keys);
  }

  /** Parses a tokenizer file for a model with `vocabSize` tokens; a mismatch is a FORMAT_ERROR. */
  static parse(bytes: Uint8Array, vocabSize: number, what = "tokenizer"): Tokenizer {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 4) throw new LlmemError("FORMAT_ERROR", `${what}: ${bytes.length} bytes, no header`);
    const maxTokenLength = dv.getInt32(0, true);
    if (maxTokenLength < 1 || maxTokenLength > 1 << 16) {
      throw new LlmemError("FORMAT_ERROR", `${what}: max_token_length ${maxTokenLength} is not in 1..65536`);
    }
    const pieces: Uint8Array[] = [];
    const scores = new Float32Array(vocabSize);
    let at = 4;
    // Walks one entry; returns the next offset or -1 if the file ends inside it.
    const entry = (i: number, keep: boolean): number => {
      if (at + 8 > bytes.length) return -1;
      const len = dv.getInt32(at + 4, true);
      if (len < 0 || len > 1 << 16) {
        throw new LlmemError("FORMAT_ERROR", `${what}: token ${i} has length ${len}, expected 0..65536`);
      }
      if (at + 8 + len > bytes.length) return -1;
      if (keep) {
        scores[i] = dv.getFloat32(at, true);
        pieces.push(bytes.slice(at + 8, at + 8 + len));
      }
      return at + 8 + len;
    };
    for (let i = 0; i < vocabSize; i++) {
      const next = entry(i, true);
      if (next < 0) {
        throw new LlmemError(
          "FORMAT_ERROR",
          `${what} holds only ${i} complete tokens but the model's vocab_size is ${vocabSize} (wrong tokenizer for this model, or a truncated file)`,
          { tokens: i, vocabSize },
        );
      }
      at = next;
    }
    if (at !== bytes.length) {
      let extra = 0;
      while (at < bytes.length) {
        const next = entry(vocabSize + extra, false);
        if (next < 0) break;
        at = next;
        extra++;
      }
      throw new LlmemError(
        "FORMAT_ERROR",
        `${what} holds ${extra > 0 ? `${vocabSize + extra} tokens` : "trailing bytes after its tokens"} but the model's vocab_size is ${vocabSize} (wrong tokenizer for this model)`,
        { vocabSize, extra },
      );
    }
    return new Tokenizer(maxTokenLength, pieces, scores);
  }

  static read(path: string, vocabSize: number): Tokenizer {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `cannot open tokenizer ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`,
      );
    }
    return Tokenizer.parse(bytes, vocabSize, `tokenizer ${path}`);
  }

  piece(id: number): Uint8Array {
    return this.pieces[id]!;
  }

  /** run.c's encode: optional BOS, the dummy-prefix " ", UTF-8 code points or byte fallback, then greedy merges. */
  encode(text: string, bos = true, eos = false): number[] {
    let bytes = new TextEncoder().encode(text);
    const nul = bytes.indexOf(0);
    if (nul >= 0) bytes = bytes.subarray(0, nul); // a C string ends at NUL
    const tokens: number[] = [];
    if (bos) tokens.push(BOS);
    if (bytes.length > 0) tokens.push(this.required(" ", "the dummy prefix"));
    // Code points: a lead byte (or ASCII) starts a new one; at most 4 bytes are gathered.
    let cp: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i]!;
      if ((c & 0xc0) !== 0x80) cp = [];
      cp.push(c);
      const next = i + 1 < bytes.length ? bytes[i + 1]! : 0;
      if ((next & 0xc0) === 0x80 && cp.length < 4) continue;
      const id = this.lookup.get(String.fromCharCode(...cp));
      if (id !== undefined) tokens.push(id);
      else for (const b of cp) tokens.push(this.byteToken(b));
      cp = [];
    }
    // Merge the best-scoring adjacent pair (first one on ties) until none is in the vocabulary;
    // like run.c this also tries BOS with its neighbour.
    for (;;) {
      let bestScore = Math.fround(-1e10);
      let bestId = -1;
      let bestIdx = -1;
      for (let i = 0; i < tokens.length - 1; i++) {
        const id = this.lookup.get(this.keys[tokens[i]!]! + this.keys[tokens[i + 1]!]!);
        if (id !== undefined && this.scores[id]! > bestScore) {
          bestScore = this.scores[id]!;
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx < 0) break;
      tokens.splice(bestIdx, 2, bestId);
    }
    if (eos) tokens.push(EOS);
    return tokens;
  }

  /** run.c's decode: the bytes of `token` as printed after `prev` (leading space dropped after BOS, <0xXX> → byte). */
  decode(prev: number, token: number): Uint8Array {
    let piece = this.pieces[token]!;
    const nul = piece.indexOf(0);
    if (nul >= 0) piece = piece.subarray(0, nul);
    if (prev === BOS && piece[0] === 0x20) piece = piece.subarray(1);
    const byte = parseByteToken(piece);
    return byte < 0 ? piece : Uint8Array.of(byte);
  }

  /** What run.c prints for `token` after `prev`: decode, then safe_printf's filter (empty when it prints nothing). */
  printer(): (prev: number, token: number) => Uint8Array {
    return (prev, token) => {
      const p = this.decode(prev, token);
      return printable(p) ? p : new Uint8Array(0);
    };
  }

  /** run.c stops when the model samples BOS. */
  isStop(token: number): boolean {
    return token === BOS;
  }

  private required(key: string, what: string): number {
    const id = this.lookup.get(key);
    if (id === undefined) {
      throw new LlmemError("FORMAT_ERROR", `tokenizer has no ${JSON.stringify(key)} piece for ${what}`);
    }
    return id;
  }

  private byteToken(b: number): number {
    const id = b + BYTE_TOKEN_BASE;
    if (id >= this.vocabSize) {
      throw new LlmemError(
        "FORMAT_ERROR",
        `byte 0x${b.toString(16)} needs fallback token ${id}, beyond vocab_size ${this.vocabSize}`,
      );
    }
    return id;
  }
}

/** What run.c's safe_printf prints: nothing for an empty piece or a lone unprintable byte. */
export function printable(piece: Uint8Array): boolean {
  if (piece.length === 0) return false;
  if (piece.length === 1) {
    const b = piece[0]!;
    const isPrint = b >= 0x20 && b <= 0x7e;
    const isSpace = b === 0x20 || (b >= 0x09 && b <= 0x0d);
    return isPrint || isSpace;
  }
  return true;
}

/** sscanf(piece, "<0x%02hhX>") == 1: "<0x" then one or two hex digits. */
function parseByteToken(p: Uint8Array): number {
  if (p.length < 4 || p[0] !== 0x3c || p[1] !== 0x30 || p[2] !== 0x78) return -1;
  let value = -1;
  for (let i = 3; i < Math.min(5, p.length); i++) {
    const d = hexDigit(p[i]!);
    if (d < 0) break;
    value = value < 0 ? d : value * 16 + d;
  }
  return value;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

function byteString(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/**
 * Which id run.c's bsearch over the (stably) sorted vocabulary returns for each piece.
 * Unique pieces map to themselves; for duplicated pieces we replay glibc's bsearch.
 */
function buildLookup(keys: string[]): Map<string, number> {
  const lookup = new Map<string, number>();
  const dup = new Set<string>();
  keys.forEach((k, id) => {
    if (lookup.has(k)) dup.add(k);
    else lookup.set(k, id);
  });
  if (dup.size === 0) return lookup;
  const sorted = keys.map((k, id) => ({ k, id })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  for (const k of dup) {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = sorted[mid]!.k;
      if (k < m) hi = mid;
      else if (k > m) lo = mid + 1;
      else {
        lookup.set(k, sorted[mid]!.id);
        break;
      }
    }
  }
  return lookup;
}
