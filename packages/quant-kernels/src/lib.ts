/**
 * nativeLib(), remembered by this package after its first call. nativeLib() itself caches, but
 * it is a call into another module that the JIT does not always inline; reading a module
 * variable is free. The answer never changes once given (libllmem is opened at most once per
 * process), so remembering it changes nothing else: still lazy, never at import.
 */
import { type NativeSymbols, nativeLib } from "@llmem/native";

let lib: NativeSymbols | null | undefined;

export function loadedLib(): NativeSymbols | null {
  if (lib === undefined) lib = nativeLib();
  return lib;
}
