import { LlmemError } from "@llmem/core";
import { nativeLib, nativeLoadError } from "./library.ts";

export type Backend = "avx2" | "neon" | "scalar" | "ts";
const ISA_NAMES = ["scalar", "avx2", "neon"] as const;
export type Isa = (typeof ISA_NAMES)[number];

/** True when libllmem is loaded (first access loads it). */
export function isNativeAvailable(): boolean {
  return nativeLib() !== null;
}

/** The kernel path in use: the active ISA of libllmem, or "ts" when native is off. */
export function backend(): Backend {
  const lib = nativeLib();
  if (!lib) return "ts";
  return ISA_NAMES[lib.llmem_active_isa()] ?? "scalar";
}

export function nativeVersion(): string | null {
  const lib = nativeLib();
  return lib ? String(lib.llmem_version()) : null;
}

/** The best ISA this CPU supports, as libllmem detects it. */
export function detectedIsa(): Isa | null {
  const lib = nativeLib();
  return lib ? (ISA_NAMES[lib.llmem_detect_isa()] ?? "scalar") : null;
}

/** Force the native kernels onto one ISA path (benchmarks compare scalar with SIMD). */
export function setIsa(isa: Isa): void {
  const lib = requireNative("setIsa");
  const index = ISA_NAMES.indexOf(isa);
  if (index < 0 || lib.llmem_set_isa(index) !== 0) {
    throw new LlmemError(
      "UNSUPPORTED",
      `isa must be one this CPU supports (scalar or ${detectedIsa()}), got ${isa}`,
      {
        argument: "isa",
        value: isa,
      },
    );
  }
}

export function requireNative(what: string) {
  const lib = nativeLib();
  if (!lib) {
    throw new LlmemError("NATIVE_UNAVAILABLE", `${what} needs libllmem: ${nativeLoadError()}`);
  }
  return lib;
}

/** Status object for users: `native.available`, `native.backend`, `native.version`. */
export const native = {
  get available(): boolean {
    return isNativeAvailable();
  },
  get backend(): Backend {
    return backend();
  },
  get version(): string | null {
    return nativeVersion();
  },
  get loadError(): string {
    return nativeLoadError();
  },
};
