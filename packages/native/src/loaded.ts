/**
 * libllmem's symbols for the wrapper modules of this package, remembered after the first ask.
 * nativeLib() itself caches, but it is a call into another module that the JIT does not always
 * inline; reading a module variable is free. Still lazy: nothing loads at import.
 */
import { type NativeSymbols, nativeLib } from "./library.ts";

let lib: NativeSymbols | null | undefined;

export function loaded(): NativeSymbols | null {
  if (lib === undefined) lib = nativeLib();
  return lib;
}
