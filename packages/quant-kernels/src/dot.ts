/**
 * Dot products over quantized and half-precision vectors, GGML's pairings: Q8_0·Q8_0,
 * Q4_0·Q8_0 and Q4_1·Q8_1 (the activation side quantized with quantize("q8_0"/"q8_1", x)),
 * Q2_K·Q8_K, Q3_K·Q8_K, Q4_K·Q8_K, Q5_K·Q8_K and Q6_K·Q8_K (activations quantized with quantize("q8_K", x); n a
 * multiple of 256), Q5_0·Q8_0, Q5_1·Q8_1, IQ4_NL·Q8_0 and IQ4_XS·Q8_K, plus f16·f32 and f32·f32.
 */
import { checkSize, LlmemError } from "@llmem/core";
import {
  checkedLength,
  type DotPair,
  dotF32,
  fastDotIq4NlQ8_0,
  fastDotIq4XsQ8_K,
  fastDotQ2_KQ8_K,
  fastDotQ3_KQ8_K,
  fastDotQ4_0Q8_0,
  fastDotQ4_1Q8_1,
  fastDotQ4_KQ8_K,
  fastDotQ5_0Q8_0,
  fastDotQ5_1Q8_1,
  fastDotQ5_KQ8_K,
  fastDotQ6_KQ8_K,
  fastDotQ8_0,
  isPlainF32,
  isPlainU16,
  nativeDot,
  nativeDotF16F32,
  quantNative,
} from "@llmem/native";
import { blockBytes, QK_K, quantGeometry, wholeBlocks } from "./formats.ts";
import { dotF16F32Ref, dotQ4_0Q8_0Ref, dotQ4_1Q8_1Ref, dotQ8_0Q8_0Ref } from "./reference/dot.ts";
import { dotIq4NlQ8_0Ref, dotIq4XsQ8_KRef } from "./reference/iq4.ts";
import {
  dotQ2_KQ8_KRef,
  dotQ3_KQ8_KRef,
  dotQ4_KQ8_KRef,
  dotQ5_KQ8_KRef,
  dotQ6_KQ8_KRef,
} from "./reference/kquants.ts";
import { dotQ5_0Q8_0Ref, dotQ5_1Q8_1Ref } from "./reference/q5.ts";

export { dotF32 };

type Pair = DotPair;
const PAIRS = {
  q8_0·q8_0: { x: "q8_0", y: "q8_0", ref: dotQ8_0Q8_0Ref },
  q4_0·q8_0: { x: "q4_0", y: "q8_0", ref: dotQ4_0Q8_0Ref },
  q4_1·q8_1: { x: "q4_1", y: "q8_1", ref: dotQ4_1Q8_1Ref },
  q4_K·q8_K: { x: "q4_K", y: "q8_K", ref: dotQ4_KQ8_KRef },
  q5_K·q8_K: { x: "q5_K", y: "q8_K", ref: dotQ5_KQ8_KRef },
  q6_K·q8_K: { x: "q6_K", y: "q8_K", ref: dotQ6_KQ8_KRef },
  q5_0·q8_0: { x: "q5_0", y: "q8_0", ref: dotQ5_0Q8_0Ref },
  q5_1·q8_1: { x: "q5_1", y: "q8_1", ref: dotQ5_1Q8_1Ref },
  iq4_nl·q8_0: { x: "iq4_nl", y: "q8_0", ref: dotIq4NlQ8_0Ref },
  iq4_xs·q8_K: { x: "iq4_xs", y: "q8_K", ref: dotIq4XsQ8_KRef },
  q2_K·q8_K: { x: "q2_K", y: "q8_K", ref: dotQ2_KQ8_KRef },
  q3_K·q8_K: { x: "q3_K", y: "q8_K", ref: dotQ3_KQ8_KRef },
} as const satisfies Record<Pair, unknown>;

function checkBlocks(name: string, v: unknown, format: (typeof PAIRS)[Pair]["x" | "y"], n: number): void {
  const have = checkedLength(name, v, "Uint8Array");
  const need = (n / quantGeometry(format)!.blockSize) * blockBytes(format);
  if (have < need) {
    throw new LlmemError("OUT_OF_BOUNDS", `${name} holds ${have} bytes, ${n} ${format} values need ${need}`, {
      argument: name,
      length: have,
      required: need,
    });
  }
}

/** Every case the fast path does not take: errors, empty inputs, subclasses, native off. */
function quantDot(pair: Pair, x: Uint8Array, y: Uint8Array, n: number): number {
  const p = PAIRS[pair];
  checkSize("n", n);
  wholeBlocks("n", p.x, n);
  checkBlocks("x", x, p.x, n);
  checkBlocks("y", y, p.y, n);
  if (n === 0) return 0;
  // Whole views: the FFI passes each one's first element, and nativeDot bounds C by the
  // engine's own byte lengths.
  if (quantNative()) return nativeDot(pair, x, y, n);
  return p.ref(x, 0, y, 0, n / quantGeometry(p.x)!.blockSize);
}

/** Σ x[i]·y[i] over n values (a multiple of 32), both Q8_0. */
export function dotQ8_0(x: Uint8Array, y: Uint8Array, n: number): number {
  return fastDotQ8_0(x, y, n) ?? quantDot("q8_0·q8_0", x, y, n);
}

/** Σ x[i]·y[i], x Q4_0 (weights), y Q8_0 (activations). */
export function dotQ4_0Q8_0(x: Uint8Array, y: Uint8Array, n: number): number {
  return fastDotQ4_0Q8_0(x, y, n) ?? quantDot("q4_0·q8_0", x, y, n);
}

/** Σ x[i]·y[i], x Q4_1 (weights), y Q8_1 (activations). */
export function dotQ4_1Q8_1(x: Uint8Array, y: Uint8Array, n: number): number {
  return fastDotQ4_1Q8_1(x, y, n) ?? quantDot("q4_1·q8_1", x, y, n);
}

/** Σ x[i]·y[i] over n values (a multiple of 256), x Q4_K (weights), y Q8_K (activations). */
export function dotQ4_KQ8_K(x: Uint8Array, y: Uint8Array, n: number): number {
  return fastDotQ4_KQ8_K(x, y, n) ?? quantDot("q4_K·q8_K", x, y, n);
}

/** Σ x[i]·y[i] over n values (a multiple of 256), x Q2_K (weights), y Q8_K (activations). */
export function dotQ2_KQ8_K(x: Uint8Array, y: Uint8Array, n: number): number {
  return fastDotQ2_KQ8_K(x, y, n) ?? quantDot("q2_K·q8_K", x, y, n);
}

/** Σ x[i]·y[i] over n values (a multiple of 256), x Q3_K (weights), y Q8_K (activations). */
export function dotQ3_KQ8_K(x: Uint8Array, y: Uint8Array, n: number): number {
  return fastDotQ3_KQ8_K(x, y, n) ?? quantDot("q3_K·q8_K", x, y, n);
}

/** Σ x[i]·y[i] over n values (a multiple of 256), x Q5_K (weights), y Q8_K (activations). */
export function dotQ5_KQ8_K(x: Uint8Array, y: Uint8Array, n: number): number {
  return fastDotQ5_KQ8_K(x, y, n) ?? quantDot("q5_K·q8_K", x, y, n);
}

/** Σ x[i]·y[i] over n values (a multiple of 256), x Q6_K (weights), y Q8_K (activations). */
export function dotQ6_KQ8_K(x: Uint8Array, y: Uint8Array, n: number): number {
  return fastDotQ6_KQ8_K(x, y, n) ?? quantDot("q6_K·q8_K", x, y, n);
}

/** Σ x[i]·y[i] over n values (a multiple of 32), x Q5_0 (weights), y Q8_0 (activations). */
export function dotQ5_0Q8_0(x: Uint8Array, y: Uint8Array, n: number): number {
  return fastDotQ5_0Q8_0(x, y, n) ?? quantDot("q5_0·q8_0", x, y, n);
}

/** Σ x[i]·y[i] over n values (a multiple of 32), x Q5_1 (weights), y Q8_1 (activations). */
export function dotQ5_1Q8_1(x: Uint8Array, y: Uint8Array, n: number): number {
  return fastDotQ5_1Q8_1(x, y, n) ?? quantDot("q5_1·q8_1", x, y, n);
}

/** Σ x[i]·y[i] over n values (a multiple of 32), x IQ4_NL (weights), y Q8_0 (activations). */
export function dotIq4NlQ8_0(x: Uint8Array, y: Uint8Array, n: number): number {
  return fastDotIq4NlQ8_0(x, y, n) ?? quantDot("iq4_nl·q8_0", x, y, n);
}

/** Σ x[i]·y[i] over n values (a multiple of 256), x IQ4_XS (weights), y Q8_K (activations). */
export function dotIq4XsQ8_K(x: Uint8Array, y: Uint8Array, n: number): number {
  return fastDotIq4XsQ8_K(x, y, n) ?? quantDot("iq4_xs·q8_K", x, y, n);
}

/** Σ f16(x[i])·y[i] over the first n values (x holds fp16 bits). */
export function dotF16F32(x: Uint16Array, y: Float32Array, n: number = x.length): number {
  if (
    typeof n === "number" &&
    n > 0 &&
    n % 1 === 0 &&
    isPlainU16(x) &&
    isPlainF32(y) &&
    x.byteLength >= 2 * n &&
    y.byteLength >= 4 * n &&
    x[n - 1] !== undefined &&
    y[n - 1] !== undefined
  ) {
    if (quantNative()) return nativeDotF16F32(x, y, n);
  }
  return dotF16F32Checked(x, y, n);
}

function dotF16F32Checked(x: Uint16Array, y: Float32Array, n: number): number {
  checkSize("n", n);
  const nx = checkedLength("x", x, "Uint16Array");
  const ny = checkedLength("y", y, "Float32Array");
  if (n > nx || n > ny) {
    const [name, length] = n > nx ? ["x", nx] : ["y", ny];
    throw new LlmemError("OUT_OF_BOUNDS", `${name} holds ${length} values, n is ${n}`, {
      argument: name,
      length,
      required: n,
    });
  }
  if (n === 0) return 0;
  return quantNative() ? nativeDotF16F32(x, y, n) : dotF16F32Ref(x, 0, y, n);
}

/** The TS reference dot products, whatever the backend. */
export const referenceDot = {
  dotQ8_0: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ8_0Q8_0Ref(x, 0, y, 0, n / 32),
  dotQ4_0Q8_0: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ4_0Q8_0Ref(x, 0, y, 0, n / 32),
  dotQ4_1Q8_1: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ4_1Q8_1Ref(x, 0, y, 0, n / 32),
  dotQ4_KQ8_K: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ4_KQ8_KRef(x, 0, y, 0, n / QK_K),
  dotQ5_KQ8_K: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ5_KQ8_KRef(x, 0, y, 0, n / QK_K),
  dotQ2_KQ8_K: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ2_KQ8_KRef(x, 0, y, 0, n / QK_K),
  dotQ3_KQ8_K: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ3_KQ8_KRef(x, 0, y, 0, n / QK_K),
  dotQ6_KQ8_K: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ6_KQ8_KRef(x, 0, y, 0, n / QK_K),
  dotQ5_0Q8_0: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ5_0Q8_0Ref(x, 0, y, 0, n / 32),
  dotQ5_1Q8_1: (x: Uint8Array, y: Uint8Array, n: number): number => dotQ5_1Q8_1Ref(x, 0, y, 0, n / 32),
  dotIq4NlQ8_0: (x: Uint8Array, y: Uint8Array, n: number): number => dotIq4NlQ8_0Ref(x, 0, y, 0, n / 32),
  dotIq4XsQ8_K: (x: Uint8Array, y: Uint8Array, n: number): number => dotIq4XsQ8_KRef(x, 0, y, 0, n / QK_K),
  dotF16F32: (x: Uint16Array, y: Float32Array, n: number): number => dotF16F32Ref(x, 0, y, n),
};
