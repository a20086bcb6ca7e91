/**
 * Opens libllmem once, on first use (never at import), and remembers why it could not.
 * Every package asks `nativeLib()` and takes its pure-TS path when it returns null.
 */
import { dlopen, suffix } from "bun:ffi";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { symbols } from "./symbols/index.ts";

export type NativeSymbols = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

export const BUILD_COMMAND = "bun run build";
export const DEFAULT_LIBRARY_PATH = join(
  import.meta.dir,
  "..",
  "..",
  "..",
  "native",
  "build",
  "lib",
  `libllmem.${suffix}`,
);

interface LoadState {
  lib: NativeSymbols | null;
  reason: string;
  path: string;
}

let state: LoadState | undefined;
let noticePrinted = false;

function load(): LoadState {
  const path = process.env.LLMEM_NATIVE_PATH || DEFAULT_LIBRARY_PATH;
  if (process.env.LLMEM_NATIVE === "0") return { lib: null, reason: "disabled by LLMEM_NATIVE=0", path };
  if (!existsSync(path)) return { lib: null, reason: `${path} does not exist`, path };
  try {
    return { lib: dlopen(path, symbols).symbols, reason: "", path };
  } catch (e) {
    return { lib: null, reason: `dlopen ${path} failed: ${(e as Error).message}`, path };
  }
}

function printNoticeOnce(s: LoadState): void {
  // Deliberately disabling native is not worth a warning; a missing build is.
  if (noticePrinted || process.env.LLMEM_NATIVE === "0") return;
  noticePrinted = true;
  console.warn(
    `llmem: native library not loaded (${s.reason}); using the TypeScript paths. Build it with: ${BUILD_COMMAND}`,
  );
}

/** The loaded library's symbols, or null (then callers use their TS path). */
export function nativeLib(): NativeSymbols | null {
  if (!state) {
    state = load();
    if (!state.lib) printNoticeOnce(state);
  }
  return state.lib;
}

/** Why the library is not loaded ("" when it is). */
export function nativeLoadError(): string {
  nativeLib();
  return state!.reason;
}

export function nativeLibraryPath(): string {
  nativeLib();
  return state!.path;
}
