/** The two hash modes, the root of every chain, and the checks shared by every entry point. */
import { describeValue, LlmemError } from "@llmem/core";
import { SECURE_MAX } from "./secure.ts";

/** `fast`: 64-bit LH64 (native when available, bit-identical TS otherwise). `secure`: SHA-256. */
export type HashMode = "fast" | "secure";

/** The hash of a chain's (virtual) block −1. */
export const ROOT_HASH = 0n;

const FAST_MAX = (1n << 64n) - 1n;

export function modeOf(options: { mode?: HashMode } | undefined): HashMode {
  const mode = options?.mode ?? "fast";
  if (mode !== "fast" && mode !== "secure") {
    throw new LlmemError("INVALID_ARGUMENT", `mode must be "fast" or "secure", got ${describeValue(mode)}`, {
      argument: "mode",
    });
  }
  return mode;
}

export function checkParent(parent: unknown, mode: HashMode): bigint {
  const max = mode === "fast" ? FAST_MAX : SECURE_MAX;
  if (typeof parent !== "bigint" || parent < 0n || parent > max) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `parent must be a bigint in [0, 2^${mode === "fast" ? 64 : 256}) for ${mode} mode, got ${describeValue(parent)}`,
      { argument: "parent" },
    );
  }
  return parent;
}
