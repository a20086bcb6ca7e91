/**
 * Opens libllmem once, on first use (never at import), and remembers why it could not.
 * Every package asks `nativeLib()` and takes its pure-TS path when it returns null.
 *
 * Where the library comes from, first match wins:
 *  1. LLMEM_NATIVE_PATH;
 *  2. inside the llmem monorepo, native/build/lib (what `make` just built: the platform
 *     package's copy is only refreshed by `bun run build`, so it may be stale there);
 *  3. the platform package (`@llmem/native-linux-x64-gnu`, …) installed beside this one as an
 *     optional dependency: what a user who installed llmem from the registry gets.
 */
import { dlopen } from "bun:ffi";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { LIBRARY_FILE, platformKey, platformPackage } from "./platform.ts";
import { symbols } from "./symbols/index.ts";

export type NativeSymbols = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

export const BUILD_COMMAND = "bun run build";
const REPO_ROOT = join(import.meta.dir, "..", "..", "..");
/** The monorepo build (only exists when this package is the workspace copy). */
export const DEFAULT_LIBRARY_PATH = join(REPO_ROOT, "native", "build", "lib", LIBRARY_FILE);
const IN_MONOREPO = existsSync(join(REPO_ROOT, "native", "Makefile"));

interface LoadState {
  lib: NativeSymbols | null;
  reason: string;
  path: string;
}

let state: LoadState | undefined;
let noticePrinted = false;

/** The installed platform package's library, or undefined when that package is absent. */
function packagedLibrary(pkg: string): string | undefined {
  try {
    return join(dirname(Bun.resolveSync(`${pkg}/package.json`, import.meta.dir)), LIBRARY_FILE);
  } catch {
    return undefined;
  }
}

/** The path to open, or why there is none (one line that says what to do). */
function locate(): { path: string; missing?: string } {
  const env = process.env.LLMEM_NATIVE_PATH;
  if (env)
    return existsSync(env)
      ? { path: env }
      : {
          path: env,
          missing: `LLMEM_NATIVE_PATH=${env} does not exist (point it at a libllmem built with: ${BUILD_COMMAND})`,
        };
  if (IN_MONOREPO) {
    return existsSync(DEFAULT_LIBRARY_PATH)
      ? { path: DEFAULT_LIBRARY_PATH }
      : {
          path: DEFAULT_LIBRARY_PATH,
          missing: `${DEFAULT_LIBRARY_PATH} does not exist; build it with: ${BUILD_COMMAND}`,
        };
  }
  const key = platformKey();
  const pkg = platformPackage();
  if (pkg === undefined)
    return {
      path: "",
      missing: `llmem ships no prebuilt libllmem for ${key}; build it in the llmem repository (${BUILD_COMMAND}) and set LLMEM_NATIVE_PATH to native/build/lib/${LIBRARY_FILE}`,
    };
  const path = packagedLibrary(pkg);
  if (path !== undefined && existsSync(path)) return { path };
  return {
    path: path ?? "",
    missing: `no libllmem for ${key}: ${pkg} is ${path === undefined ? "not installed (install it; it is an optional dependency of @llmem/native)" : `installed without ${LIBRARY_FILE}`}, or set LLMEM_NATIVE_PATH`,
  };
}

function load(): LoadState {
  if (process.env.LLMEM_NATIVE === "0")
    return { lib: null, reason: "disabled by LLMEM_NATIVE=0", path: locate().path };
  const { path, missing } = locate();
  if (missing !== undefined) return { lib: null, reason: missing, path };
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
  console.warn(`llmem: native library not loaded (${s.reason}); using the TypeScript paths`);
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
