/**
 * The tokenizer a GGUF file describes: `llama` (SentencePiece BPE) or `gpt2` (byte-level
 * BPE), encoding and decoding token for token as llama.cpp's llama_tokenize and
 * llama_token_to_piece / llama_detokenize do.
 */

import { LlmemError } from "@llmem/core";
import { bpeTokenizeWord, type MergeRanks, mergeRanks } from "./bpe.ts";
import { byteEncodeCodePoints, byteOfTokenName, utf8 } from "./bytes.ts";
import { byteLevelDecode, cleanUpSpaces } from "./detokenize.ts";
import { PreTokenizer } from "./pretokenize.ts";
import { partitionSpecial } from "./special.ts";
import { spmTokenize } from "./spm.ts";
import { StreamDecoder, type StreamDecoderOptions } from "./stream.ts";
import { codePointsOf } from "./unicode.ts";
import { Attr, TokenType, Vocab, type VocabModel } from "./vocab.ts";

/** Everything a tokenizer is built from; `tokenizerFromGguf` fills it from GGUF metadata. */
export interface TokenizerSpec {
  /** `tokenizer.ggml.model`. */
  readonly model: VocabModel;
  /** `tokenizer.ggml.pre` (gpt2 only; default "default"). */
  readonly pre?: string;
  readonly tokens: readonly string[];
  /** SentencePiece merge scores, one per token (default 0). */
  readonly scores?: ArrayLike<number>;
  /** GGUF token types, one per token (default: all normal). */
  readonly tokenTypes?: ArrayLike<number>;
  /** Byte-level BPE merges, "left right", highest priority first (gpt2: required). */
  readonly merges?: readonly string[];
  /** Special token ids; absent means the vocabulary has none. */
  readonly bos?: number;
  readonly eos?: number;
  readonly unk?: number;
  readonly pad?: number;
  /** Defaults: llama adds BOS, gpt2 as its pre-tokenizer implies (llama-bpe: yes). */
  readonly addBos?: boolean;
  readonly addEos?: boolean;
  /** Prefix text with a space before SentencePiece (default: llama yes, gpt2 no). */
  readonly addSpacePrefix?: boolean;
  /** Tokens that swallow whitespace before / after them when cut out of text. */
  readonly lstrip?: readonly number[];
  readonly rstrip?: readonly number[];
}

export interface EncodeOptions {
  /** Add BOS/EOS as the vocabulary asks (llama_tokenize's add_special; default true). */
  readonly addSpecial?: boolean;
  /** Let control tokens' texts in the input become those tokens (default false). */
  readonly parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Write control and unknown tokens' texts instead of nothing (default false). */
  readonly special?: boolean;
  /** Drop a leading BOS and trailing EOS that the vocabulary adds (default false). */
  readonly removeSpecial?: boolean;
  /** Tidy " ," " 's" etc. (default: what the pre-tokenizer implies; never for llama). */
  readonly cleanSpaces?: boolean;
}

const SPACE_MARK = "\u2581"; // ▁, SentencePiece's space
const EMPTY = new Uint8Array(0);
// ignoreBOM: a text starting with U+FEFF must decode to itself (the default strips it).
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

export class Tokenizer {
  readonly model: VocabModel;
  readonly vocab: Vocab;
  readonly preTokenizer: PreTokenizer | null;
  readonly bos: number | null;
  readonly eos: number | null;
  readonly unk: number | null;
  readonly pad: number | null;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  readonly cleanSpaces: boolean;
  private readonly ranks: MergeRanks;
  /** token_to_piece with special = true, built on first use of each id. */
  private readonly pieces: (Uint8Array | undefined)[];

  constructor(spec: TokenizerSpec) {
    if (spec.model !== "llama" && spec.model !== "gpt2") {
      throw new LlmemError(
        "UNSUPPORTED",
        `tokenizer model ${JSON.stringify(spec.model)} is not supported (llama, gpt2)`,
        {
          model: spec.model,
        },
      );
    }
    this.model = spec.model;
    const n = spec.tokens.length;
    if (n === 0) throw new LlmemError("INVALID_ARGUMENT", "tokens must not be empty", { argument: "tokens" });
    for (const [name, arr] of [
      ["scores", spec.scores],
      ["tokenTypes", spec.tokenTypes],
    ] as const) {
      if (arr !== undefined && arr.length !== n) {
        throw new LlmemError("INVALID_ARGUMENT", `${name} has ${arr.length} entries for ${n} tokens`, {
          argument: name,
          length: arr.length,
          tokens: n,
        });
      }
    }
    const checkId = (name: string, id: number | undefined): number | null => {
      if (id === undefined) return null;
      if (!Number.isInteger(id) || id < 0 || id >= n) {
        throw new LlmemError("OUT_OF_RANGE", `${name} token id ${id} is not in [0, ${n})`, {
          argument: name,
          id,
        });
      }
      return id;
    };
    for (const id of [...(spec.lstrip ?? []), ...(spec.rstrip ?? [])]) checkId("lstrip/rstrip", id);
    this.vocab = new Vocab(spec);
    this.unk = checkId("unk", spec.unk);
    this.pad = checkId("pad", spec.pad);
    this.eos = checkId("eos", spec.eos);
    if (this.model === "gpt2") {
      this.preTokenizer = new PreTokenizer(spec.pre ?? "default");
      if (spec.merges === undefined) {
        throw new LlmemError("INVALID_ARGUMENT", "merges are required for a gpt2 tokenizer", {
          argument: "merges",
        });
      }
      this.ranks = mergeRanks(spec.merges);
      this.bos = this.preTokenizer.hasBos ? checkId("bos", spec.bos) : null;
      this.addBos = spec.addBos ?? this.preTokenizer.addBos;
      this.addSpacePrefix = spec.addSpacePrefix ?? false;
      this.cleanSpaces = this.preTokenizer.cleanSpaces;
    } else {
      this.preTokenizer = null;
      this.ranks = new Map();
      this.bos = checkId("bos", spec.bos);
      this.addBos = spec.addBos ?? true;
      this.addSpacePrefix = spec.addSpacePrefix ?? true;
      this.cleanSpaces = false;
    }
    this.addEos = spec.addEos ?? false;
    if (this.addBos && this.bos === null) {
      throw new LlmemError("INVALID_ARGUMENT", "addBos is set but the vocabulary has no BOS token", {
        argument: "bos",
      });
    }
    if (this.addEos && this.eos === null) {
      throw new LlmemError("INVALID_ARGUMENT", "addEos is set but the vocabulary has no EOS token", {
        argument: "eos",
      });
    }
    this.pieces = new Array(n);
  }

  get size(): number {
    return this.vocab.size;
  }

  /** Token ids of `text` (llama_tokenize). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const addSpecial = options.addSpecial ?? true;
    // Lone surrogates become U+FFFD, which is what llama.cpp sees for them in UTF-8.
    const fragments = partitionSpecial(text.toWellFormed(), this.vocab, options.parseSpecial ?? false);
    const out: number[] = [];
    if (addSpecial && this.addBos) out.push(this.bos!);
    if (this.model === "llama") {
      // A space goes before the first text and before text that follows a special token.
      let afterSpecial = true;
      for (const f of fragments) {
        if ("token" in f) {
          out.push(f.token);
          afterSpecial = true;
          continue;
        }
        const spaced = this.addSpacePrefix && afterSpecial ? ` ${f.text}` : f.text;
        spmTokenize(spaced.replaceAll(" ", SPACE_MARK), this.vocab, this.unk, out);
        afterSpecial = false;
      }
    } else {
      const pre = this.preTokenizer!;
      for (const f of fragments) {
        if ("token" in f) {
          out.push(f.token);
          continue;
        }
        const cps = codePointsOf(f.text);
        let start = 0;
        for (const wordLength of pre.splitCodePoints(cps)) {
          const word = byteEncodeCodePoints(cps, start, start + wordLength);
          bpeTokenizeWord(word, this.vocab, this.ranks, pre.ignoreMerges, out);
          start += wordLength;
        }
      }
    }
    if (addSpecial && this.addEos) out.push(this.eos!);
    return out;
  }

  private checkToken(id: number): void {
    if (!this.vocab.has(id)) {
      throw new LlmemError("OUT_OF_RANGE", `token id ${id} is not in [0, ${this.size})`, {
        argument: "id",
        id,
      });
    }
  }

  /** The text of token `id` as the vocabulary spells it (▁ and byte stand-ins included). */
  tokenText(id: number): string {
    this.checkToken(id);
    return this.vocab.texts[id]!;
  }

  /** The GGUF token type of `id` (TokenType). */
  tokenType(id: number): TokenType {
    this.checkToken(id);
    const attr = this.vocab.attrs[id]!;
    if (attr & Attr.NORMAL) return TokenType.NORMAL;
    if (attr & Attr.UNKNOWN) return TokenType.UNKNOWN;
    if (attr & Attr.CONTROL) return TokenType.CONTROL;
    if (attr & Attr.USER_DEFINED) return TokenType.USER_DEFINED;
    if (attr & Attr.UNUSED) return TokenType.UNUSED;
    if (attr & Attr.BYTE) return TokenType.BYTE;
    return TokenType.UNDEFINED;
  }

  /** Whether `id` is control or unknown: never produced from plain text, decoded to nothing by default. */
  isSpecial(id: number): boolean {
    this.checkToken(id);
    return (this.vocab.attrs[id]! & (Attr.CONTROL | Attr.UNKNOWN)) !== 0;
  }

  /**
   * The bytes token `id` stands for (llama_token_to_piece): a byte token is one byte, which
   * may be part of a UTF-8 character split across tokens; control and unknown tokens are
   * empty unless `special`. The array is shared: do not modify it.
   */
  pieceBytes(id: number, special = false): Uint8Array {
    this.checkToken(id);
    if (!special && this.vocab.attrs[id]! & (Attr.CONTROL | Attr.UNKNOWN)) return EMPTY;
    let piece = this.pieces[id];
    if (piece === undefined) {
      piece = this.buildPiece(id);
      this.pieces[id] = piece;
    }
    return piece;
  }

  private buildPiece(id: number): Uint8Array {
    const attr = this.vocab.attrs[id]!;
    const text = this.vocab.texts[id]!;
    if (attr & (Attr.CONTROL | Attr.UNKNOWN | Attr.USER_DEFINED)) return utf8(text);
    if (this.model === "llama") {
      if (attr & Attr.NORMAL) return utf8(text.replaceAll(SPACE_MARK, " "));
      if (attr & Attr.BYTE) return Uint8Array.of(byteOfTokenName(text) || 0);
      return EMPTY; // unused and undefined tokens
    }
    if (!(attr & Attr.NORMAL)) return EMPTY;
    return byteLevelDecode(text);
  }

  /** The UTF-8 bytes of `ids` decoded (llama_detokenize); see DecodeOptions. */
  decodeBytes(ids: readonly number[], options: DecodeOptions = {}): Uint8Array {
    let first = 0;
    let end = ids.length;
    let removeSpace = this.addSpacePrefix;
    if (options.removeSpecial && this.addBos && end > 0 && ids[0] === this.bos) {
      removeSpace = false;
      first = 1;
    }
    if (options.removeSpecial && this.addEos && end > first && ids[end - 1] === this.eos) end--;
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (let i = first; i < end; i++) {
      let piece = this.pieceBytes(ids[i]!, options.special ?? false);
      // The space SentencePiece's prefix put before the first word goes again.
      if (removeSpace && piece[0] === 0x20) piece = piece.subarray(1);
      removeSpace = false;
      chunks.push(piece);
      total += piece.length;
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    return (options.cleanSpaces ?? this.cleanSpaces) ? cleanUpSpaces(bytes) : bytes;
  }

  /** The text of `ids` (llama_detokenize); bytes that are not valid UTF-8 become U+FFFD. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return decoder.decode(this.decodeBytes(ids, options));
  }

  /** A decoder for tokens arriving one at a time that only ever emits whole characters. */
  streamDecoder(options: StreamDecoderOptions = {}): StreamDecoder {
    return new StreamDecoder((id, special) => this.pieceBytes(id, special), options);
  }
}
