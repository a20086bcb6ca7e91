export { BYTE_TO_CHAR, byteTokenName } from "./bytes.ts";
export { END_OF_GENERATION, tokenizerFromGguf, tokenizerSpecFromGguf } from "./from-gguf.ts";
export { PRE_TOKENIZER_NAMES, PreTokenizer } from "./pretokenize.ts";
export { StreamDecoder, type StreamDecoderOptions } from "./stream.ts";
export { type DecodeOptions, type EncodeOptions, Tokenizer, type TokenizerSpec } from "./tokenizer.ts";
export { TokenType } from "./vocab.ts";
