export {
  ALL_FORMATS,
  bytesFor,
  type FloatFormat,
  FORMAT_LIST,
  FORMATS,
  type Format,
  type FormatInfo,
  formatInfo,
  isBlockFormat,
  MATRIX_FORMATS,
  type MatrixFormat,
  nativeFormatTable,
  QUANT_FORMATS,
  type QuantFormat,
  ROW_FORMATS,
  type RowFormat,
} from "./formats.ts";
export { dotF32, dotF32Reference } from "./kernels.ts";
export {
  BUILD_COMMAND,
  DEFAULT_LIBRARY_PATH,
  type NativeSymbols,
  nativeLib,
  nativeLibraryPath,
  nativeLoadError,
} from "./library.ts";
export {
  addressOf,
  allocNative,
  detach,
  freeNative,
  isNativeBlock,
  MAX_NATIVE_BYTES,
  type NativeBlock,
  nativeLiveBytes,
} from "./memory.ts";
export { alignedViewPtr, type NativePtr, viewPtr } from "./pointers.ts";
export {
  type Backend,
  backend,
  detectedIsa,
  type Isa,
  isNativeAvailable,
  native,
  nativeVersion,
  requireNative,
  setIsa,
} from "./runtime.ts";
export {
  byteOffsetOf,
  byteView,
  checkedByteLength,
  checkedLength,
  engineElementBytes,
  engineLength,
  isDetachedView,
  isPlainBytes,
  isPlainF32,
  isPlainU16,
  type TypedArrayKind,
  typedArrayKind,
} from "./views.ts";
