/**
 * Dot products over quantized and half-precision vectors, GGML's pairings: Q8_0·Q8_0,
 * Q4_0·Q8_0 and Q4_1·Q8_1 (the activation side quantized with quantize("q8_0"/"q8_1", x)),
 * plus f16·f32 and f32·f32.
 */
import { checkSize, LlmemError } from "@llmem/core";
import { dotF32, nativeLib, viewPtr } from "@llmem/native";
import { blockBytes, wholeBlocks } from "./formats.ts";
import { dotF16F32Ref, dotQ4_0Q8_0Ref, dotQ4_1Q8_1Ref, dotQ8_0Q8_0Ref } from "./reference/dot.ts";

export { dotF32 };

type Pair = "q8_0·q8_0" | "q4_0·q8_0" | "q4_1·q8_1";
const PAIRS = {
  q8_0·q8_0: { x: "q8_0", y: "q8_0", fn: "llmem_dot_q8_0_q8_0", ref: dotQ8_0Q8_0Ref },
  q4_0·q8_0: { x: "q4_0", y: "q8_0", fn: "llmem_dot_q4_0_q8_0", ref: dotQ4_0Q8_0Ref },
  q4_1·q8_1: { x: "q4_1", y: "q8_1", fn: "llmem_dot_q4_1_q8_1", ref: dotQ4_1Q8_1Ref },
} as const;

function checkBlocks(name: string, v: unknown, format: "q8_0" | "q4_0" | "q4_1" | "q8_1", n: number): number {
  if (!(v instanceof Uint8Array)) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be a Uint8Array of ${format} blocks`, {
      argument: name,
    });
  }
  const need = (n / 32) * blockBytes(format);
  if (v.length < need) {
    throw new LlmemError(
      "OUT_OF_BOUNDS",
      `${name} holds ${v.length} bytes, ${n} ${format} values need ${need}`,
      {
        argument: name,
        length: v.length,
        required: need,
      },
    );
  }
  return need;
}

function quantDot(pair: Pair, x: Uint8Array, y: Uint8Array, n: number): number {
  const p = PAIRS[pair];
  checkSize("n", n);
  wholeBlocks("n", p.x, n);
  const nx = checkBlocks("x", x, p.x, n);
  const ny = checkBlocks("y", y, p.y, n);
  if (n === 0) return 0;
  const lib = nativeLib();
  if (lib) return lib[p.fn](viewPtr("x", x, 0, nx), viewPtr("y", y, 0, ny), n);
  return p.ref(x, 0, y, 0, n / 32);
}

/** Σ x[i]·y[i] over n values (a multiple of 32), both Q8_0. */
export function dotQ8_0(x: Uint8Array, y: Uint8Array, n: number): number {
  return quantDot("q8_0·q8_0", x, y, n);
}

/** Σ x[i]·y[i], x Q4_0 (weights), y Q8_0 (activations). */
export function dotQ4_0Q8_0(x: Uint8Array, y: Uint8Array, n: number): number {
  return quantDot("q4_0·q8_0", x, y, n);
}

/** Σ x[i]·y[i], x Q4_1 (weights), y Q8_1 (activations). */
export function dotQ4_1Q8_1(x: Uint8Array, y: Uint8Array, n: number): number {
  return quantDot("q4_1·q8_1", x, y, n);
}

/** Σ f16(x[i])·y[i] over the first n values (x holds fp16 bits). */
export function dotF16F32(x: Uint16Array, y: Float32Array, n: number = x.length): number {
  checkSize("n", n);
  if (!(x instanceof Uint16Array) || !(y instanceof Float32Array)) {
    throw new LlmemError("INVALID_ARGUMENT", "x must be a Uint16Array of fp16 bits and y a Float32Array", {
      argument: "x",
    });
  }
  if (n === 0) return 0;
  const px = viewPtr("x", x, 0, n);
  const py = viewPtr("y", y, 0, n);
  const lib = nativeLib();
  return lib ? lib.llmem_dot_f16_f32(px, py, n) : dotF16F32Ref(x, 0, y, n);
}

/** The TS reference dot products, whatever the backend. */
export const referenceDot = {
  dotQ8_0: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ8_0Q8_0Ref(x, 0, y, 0, n / 32),
  dotQ4_0Q8_0: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ4_0Q8_0Ref(x, 0, y, 0, n / 32),
  dotQ4_1Q8_1: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ4_1Q8_1Ref(x, 0, y, 0, n / 32),
  dotF16F32: (x: Uint16Array, y: Float32Array, n: number): number => dotF16F32Ref(x, 0, y, n),
};
