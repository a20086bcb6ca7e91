/**
 * What the loop needs of a tokenizer: prompt text to ids, and each generated id to the bytes
 * it prints. llama2.c's tokenizer (src/tokenizer.ts, run.c's rules) and a GGUF file's own
 * (src/gguf-text.ts, llama.cpp's) both provide it.
 */
export interface TextCodec {
  readonly vocabSize: number;
  /** The id `encode` puts first when the vocabulary adds BOS; null when it adds none. */
  readonly bos: number | null;
  /** Ids of `text`, BOS first when the vocabulary asks for it. */
  encode(text: string): number[];
  /**
   * A printer for one sequence: called with each token after BOS (`prev` is -1 for a first
   * token that is not BOS), it returns the bytes that token completes, already filtered
   * (nothing raw and unprintable), possibly none.
   */
  printer(): (prev: number, token: number) => Uint8Array;
  /** Whether generation ends at `token` (it is neither kept nor printed). */
  isStop(token: number): boolean;
}
