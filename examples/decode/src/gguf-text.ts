/**
 * The tokenizer a GGUF file carries (@llmem/gguf's tokenizerFromGguf: llama.cpp's SPM and
 * BPE tokenizers) as the loop's TextCodec: prompts encoded as llama-simple encodes them
 * (BOS as the vocabulary asks, special-token texts parsed), pieces streamed whole characters
 * at a time (the CLI escapes control characters on a terminal: src/terminal-text.ts),
 * generation ended at end-of-generation tokens.
 */
import { LlmemError } from "@llmem/core";
import { END_OF_GENERATION, type GgufFile, tokenizerFromGguf } from "@llmem/gguf";
import type { TextCodec } from "./text-codec.ts";

const encoder = new TextEncoder();

/** Ids generation stops at, as llama_vocab_is_eog: EOS, EOT, EOM and the end-of-turn texts. */
function endOfGeneration(file: GgufFile, tokens: readonly string[], eos: number | null): Set<number> {
  const ids = new Set<number>();
  if (eos !== null) ids.add(eos);
  for (const key of ["tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]) {
    const id = file.optNumber(key);
    if (id !== undefined && id < tokens.length) ids.add(id);
  }
  const texts = new Set(END_OF_GENERATION);
  tokens.forEach((t, id) => {
    if (texts.has(t)) ids.add(id);
  });
  return ids;
}

export function ggufTextCodec(file: GgufFile, vocabSize: number): TextCodec {
  const tok = tokenizerFromGguf(file.metadata);
  if (tok.size !== vocabSize) {
    throw new LlmemError(
      "FORMAT_ERROR",
      `GGUF tokenizer.ggml.tokens holds ${tok.size} tokens, the model's token_embd.weight ${vocabSize} rows`,
      { tokens: tok.size, vocabSize },
    );
  }
  const stops = endOfGeneration(file, tok.vocab.texts, tok.eos);
  return {
    vocabSize,
    bos: tok.addBos ? tok.bos : null,
    encode: (text) => {
      const ids = tok.encode(text, { parseSpecial: true });
      if (ids.length === 0) {
        throw new LlmemError(
          "INVALID_ARGUMENT",
          "the prompt is empty and this vocabulary adds no BOS: pass --prompt TEXT",
        );
      }
      return ids;
    },
    printer: () => {
      // SentencePiece's space prefix comes off the first printed piece, as llama_detokenize does.
      const stream = tok.streamDecoder({ stripLeadingSpace: tok.addSpacePrefix });
      return (_prev, token) => encoder.encode(stream.push(token));
    },
    isStop: (token) => stops.has(token),
  };
}
