/**
 * The tokenizer a GGUF file carries, as the loop's TextCodec: encode the prompt, print each
 * generated token's bytes (control bytes filtered out, so nothing raw reaches a terminal),
 * stop at end-of-generation tokens as llama.cpp does.
 *
 * Interim: the file's SentencePiece vocabulary run through llama2.c's BPE (src/tokenizer.ts),
 * which agrees with llama.cpp on plain prompts for llama2.c vocabularies; replaced by
 * @llmem/gguf's tokenizerFromGguf once it lands.
 */
import { LlmemError } from "@llmem/core";
import type { GgufFile } from "@llmem/gguf";
import type { TextCodec } from "./text-codec.ts";
import { Tokenizer } from "./tokenizer.ts";

const SPACE_MARK = "\u2581";
/** GGUF token types (llama.cpp's llama_token_type). */
const CONTROL = 3;
const EMPTY = new Uint8Array(0);

/** Drops C0 control bytes other than tab and newline, and DEL: they could drive the terminal. */
export function sanitize(piece: Uint8Array): Uint8Array {
  let keep = 0;
  for (const b of piece) if (printableByte(b)) keep++;
  if (keep === piece.length) return piece;
  const out = new Uint8Array(keep);
  let i = 0;
  for (const b of piece) if (printableByte(b)) out[i++] = b;
  return out;
}

function printableByte(b: number): boolean {
  return b === 0x09 || b === 0x0a || (b >= 0x20 && b !== 0x7f);
}

export function ggufTextCodec(file: GgufFile, vocabSize: number): TextCodec {
  const model = file.getString("tokenizer.ggml.model");
  if (model !== "llama") {
    throw new LlmemError(
      "UNSUPPORTED",
      `GGUF tokenizer.ggml.model ${JSON.stringify(model)} is not supported yet (llama)`,
      {
        key: "tokenizer.ggml.model",
      },
    );
  }
  const tokens = file.getStringArray("tokenizer.ggml.tokens");
  if (tokens.length !== vocabSize) {
    throw new LlmemError(
      "FORMAT_ERROR",
      `GGUF tokenizer.ggml.tokens holds ${tokens.length} tokens, the model's token_embd.weight ${vocabSize} rows`,
      { tokens: tokens.length, vocabSize },
    );
  }
  const scores = Float32Array.from(
    file.optNumericArray("tokenizer.ggml.scores") ?? new Float32Array(vocabSize),
    Number,
  );
  const types = file.optNumericArray("tokenizer.ggml.token_type");
  const enc = new TextEncoder();
  const pieces = tokens.map((t) => enc.encode(t.replaceAll(SPACE_MARK, " ")));
  const tok = new Tokenizer(Math.max(1, ...pieces.map((p) => p.length)), pieces, scores);
  const bos = file.optNumber("tokenizer.ggml.bos_token_id") ?? 1;
  const eos = file.optNumber("tokenizer.ggml.eos_token_id") ?? 2;
  const addBos = file.optBool("tokenizer.ggml.add_bos_token") ?? true;
  const control = (id: number) => types !== undefined && Number(types[id]) === CONTROL;
  return {
    vocabSize,
    encode: (text) => tok.encode(text, addBos),
    render: (prev, token) => {
      if (control(token)) return EMPTY;
      const p = tok.decode(prev === bos ? 1 : prev, token);
      return sanitize(p);
    },
    isStop: (token) => token === eos,
  };
}
