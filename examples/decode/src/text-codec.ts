/**
 * What the loop needs of a tokenizer: prompt text to ids, and each generated id to the bytes
 * it prints. llama2.c's tokenizer (src/tokenizer.ts, run.c's rules) and a GGUF file's own
 * (src/gguf-text.ts, llama.cpp's rules) both provide it.
 */
export interface TextCodec {
  readonly vocabSize: number;
  /** Ids of `text`, BOS first when the vocabulary asks for it. */
  encode(text: string): number[];
  /** The bytes printed for `token` after `prev`, already filtered: nothing raw and unprintable. */
  render(prev: number, token: number): Uint8Array;
  /** Whether generation ends at `token` (it is neither kept nor printed). */
  isStop(token: number): boolean;
}
