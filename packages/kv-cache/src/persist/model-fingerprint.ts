/**
 * What identifies a model for stored KV: KV computed by one model is garbage to any other, so
 * files (and Redis keys) carry a fingerprint a reader compares before trusting a byte.
 *
 * The description lists every tensor's name, type and shape, a hash of sampled bytes of its
 * data (two models of the same shape differ there), and any settings that change the KV
 * computed (weight format, kernels); the fingerprint is xxHash64 of that text.
 */
import { checkInt, LlmemError } from "@llmem/core";

export interface TensorDescription {
  readonly name: string;
  /** Element type as the model stores it (e.g. "f32", "q8_0"). */
  readonly type: string;
  readonly shape: readonly number[];
  /** The tensor's bytes: sampled (16 spans of 4 KiB spread over it, or all of it when smaller). */
  readonly data?: Uint8Array;
}

export interface ModelFingerprint {
  /** One line per tensor, then one per setting: what the hash covers, kept in files for diagnosis. */
  readonly description: string;
  /** xxHash64 of the description's UTF-8 bytes. */
  readonly hash: bigint;
  /** The hash as 16 lowercase hex digits (the model part of a Redis key). */
  readonly hex: string;
}

const SPANS = 16;
const SPAN_BYTES = 4096;

/** xxHash64 of up to SPANS spans of SPAN_BYTES spread evenly over `data` (all of it when small). */
function sampleHash(data: Uint8Array): bigint {
  if (data.length <= SPANS * SPAN_BYTES) return Bun.hash.xxHash64(data);
  const step = Math.floor((data.length - SPAN_BYTES) / (SPANS - 1));
  const picked = new Uint8Array(SPANS * SPAN_BYTES);
  for (let i = 0; i < SPANS; i++) picked.set(data.subarray(i * step, i * step + SPAN_BYTES), i * SPAN_BYTES);
  return Bun.hash.xxHash64(picked, BigInt(data.length));
}

const SAFE = /^[\x21-\x7e]{1,128}$/; // printable ASCII without spaces: one field of a line

function field(what: string, v: string): string {
  if (!SAFE.test(v)) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${what} must be 1-128 printable ASCII characters without spaces, got ${JSON.stringify(v)}`,
      {
        argument: what,
      },
    );
  }
  return v;
}

export function modelFingerprint(
  tensors: readonly TensorDescription[],
  settings: Readonly<Record<string, string | number>> = {},
): ModelFingerprint {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new LlmemError("INVALID_ARGUMENT", "tensors must be a non-empty array", { argument: "tensors" });
  }
  const lines: string[] = [];
  for (const [i, t] of tensors.entries()) {
    const shape = Array.from(t.shape, (d: number, j: number) =>
      checkInt(`tensors[${i}].shape[${j}]`, d, 0, Number.MAX_SAFE_INTEGER),
    );
    const sample = t.data === undefined ? "-" : sampleHash(t.data).toString(16).padStart(16, "0");
    lines.push(
      `tensor ${field("tensor name", t.name)} ${field("tensor type", t.type)} ${shape.join("x") || "scalar"} ${sample}`,
    );
  }
  for (const k of Object.keys(settings).sort())
    lines.push(`setting ${field("setting", k)} ${field(k, String(settings[k]))}`);
  const description = `${lines.join("\n")}\n`;
  const hash = Bun.hash.xxHash64(description);
  return { description, hash, hex: hash.toString(16).padStart(16, "0") };
}
