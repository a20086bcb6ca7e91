export { GgufFile, type GgufFileParts, type GgufTensor } from "./file.ts";
export { GGML_TYPES, type GgmlTypeInfo, ggmlType, ggmlTypeOf } from "./ggml-types.ts";
export {
  type Llama2cConfig,
  type Llama2cToGgufOptions,
  llama2cToGguf,
  readLlama2cConfig,
  readLlama2cVocab,
} from "./llama2c.ts";
export { MAX_ARRAY_DEPTH } from "./metadata-reader.ts";
export { alignUp, DEFAULT_ALIGNMENT, GGUF_MAGIC, isGguf, openGguf, parseGguf } from "./reader.ts";
export { type GgufTensorInfo, MAX_DIMS, MAX_TENSOR_NAME_BYTES } from "./tensor-info.ts";
export {
  BYTE_TO_CHAR,
  byteTokenName,
  type DecodeOptions,
  END_OF_GENERATION,
  type EncodeOptions,
  PRE_TOKENIZER_NAMES,
  PreTokenizer,
  StreamDecoder,
  type StreamDecoderOptions,
  Tokenizer,
  type TokenizerSpec,
  TokenType,
  tokenizerFromGguf,
  tokenizerSpecFromGguf,
} from "./tokenizer/index.ts";
export type { GgufScalarType, GgufType, GgufValue, NumericArray } from "./values.ts";
export { type GgufTensorInput, type GgufWriteInput, inferType, writeGguf, writeInputFrom } from "./writer.ts";
