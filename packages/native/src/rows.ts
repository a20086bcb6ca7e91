/**
 * libllmem's element-wise steps over a prefill chunk's rows (RMSNorm, RoPE, SwiGLU, residual
 * add), each bit for bit the decode example's TS reference (native/src/kernels/rows.c says how).
 * Each returns false when libllmem is not loaded (the caller runs its TS reference); every count
 * is checked here and every view bounded by what C touches.
 */
import { describeValue, LlmemError } from "@llmem/core";
import { loaded } from "./loaded.ts";
import { lastCapacity, throwRefusal, typedPtr } from "./pointers.ts";

/** Whose numerics: llama2.c's run.c or ggml's (RMSNorm sums and eps, silu's division). */
export type NormStyle = "runc" | "ggml";
const STYLE: Record<NormStyle, number> = { runc: 0, ggml: 1 };

function count(name: string, v: number, min = 0): number {
  if (!Number.isSafeInteger(v) || v < min || v > 2 ** 40) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${name} must be an integer in [${min}, 2^40], got ${describeValue(v)}`,
      {
        argument: name,
      },
    );
  }
  return v;
}

function style(s: NormStyle): number {
  const id = typeof s === "string" && Object.hasOwn(STYLE, s) ? STYLE[s] : undefined;
  if (id === undefined) {
    throw new LlmemError("INVALID_ARGUMENT", `style must be "runc" or "ggml", got ${describeValue(s)}`, {
      argument: "style",
    });
  }
  return id;
}

/** out[t] = RMSNorm(x[t]) ⊙ weight for rows × dim floats (out may be x). */
export function nativeRmsnormRows(
  s: NormStyle,
  x: Float32Array,
  weight: Float32Array,
  rows: number,
  dim: number,
  eps: number,
  out: Float32Array,
): boolean {
  const lib = loaded();
  if (lib === null) return false;
  const id = style(s);
  count("rows", rows);
  count("dim", dim, 1);
  if (typeof eps !== "number" || !Number.isFinite(eps)) {
    throw new LlmemError("INVALID_ARGUMENT", `eps must be a finite number, got ${describeValue(eps)}`, {
      argument: "eps",
    });
  }
  const rc = lib.llmem_rmsnorm_rows_checked(
    id,
    typedPtr("x", x, "Float32Array", 0, rows * dim),
    lastCapacity(),
    typedPtr("weight", weight, "Float32Array", 0, dim),
    lastCapacity(),
    rows,
    dim,
    eps,
    typedPtr("out", out, "Float32Array", 0, rows * dim),
    lastCapacity(),
  );
  if (rc !== 0) throwRefusal(rc, "llmem_rmsnorm_rows", "INVALID_ARGUMENT");
  return true;
}

/**
 * Rotates rows × width floats of v in place: the first `dims` values of every head of `headSize`
 * by row t's angles cos/sin[t·tableStride + i] (i < dims/2); adjacent pairs, or NEOX halves.
 */
export function nativeRopeRows(
  v: Float32Array,
  rows: number,
  width: number,
  headSize: number,
  dims: number,
  neox: boolean,
  cos: Float32Array,
  sin: Float32Array,
  tableStride: number,
): boolean {
  const lib = loaded();
  if (lib === null) return false;
  count("rows", rows);
  count("headSize", headSize, 1);
  count("width", width);
  count("dims", dims);
  count("tableStride", tableStride);
  if (width % headSize !== 0 || dims % 2 !== 0 || dims > headSize || dims / 2 > tableStride) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `rope needs width (${width}) a multiple of headSize (${headSize}), dims (${dims}) even and at most headSize, dims/2 at most tableStride (${tableStride})`,
      { argument: "dims" },
    );
  }
  const rc = lib.llmem_rope_rows_checked(
    typedPtr("v", v, "Float32Array", 0, rows * width),
    lastCapacity(),
    rows,
    width,
    headSize,
    dims,
    neox ? 1 : 0,
    typedPtr("cos", cos, "Float32Array", 0, rows * tableStride),
    lastCapacity(),
    typedPtr("sin", sin, "Float32Array", 0, rows * tableStride),
    lastCapacity(),
    tableStride,
  );
  if (rc !== 0) throwRefusal(rc, "llmem_rope_rows", "INVALID_ARGUMENT");
  return true;
}

/** gate[i] = silu(gate[i]) · up[i] for i < n. */
export function nativeSwiglu(s: NormStyle, gate: Float32Array, up: Float32Array, n: number): boolean {
  const lib = loaded();
  if (lib === null) return false;
  const id = style(s);
  count("n", n);
  const rc = lib.llmem_swiglu_checked(
    id,
    typedPtr("gate", gate, "Float32Array", 0, n),
    lastCapacity(),
    typedPtr("up", up, "Float32Array", 0, n),
    lastCapacity(),
    n,
  );
  if (rc !== 0) throwRefusal(rc, "llmem_swiglu", "INVALID_ARGUMENT");
  return true;
}

/** x[i] += y[i] for i < n. */
export function nativeAdd(x: Float32Array, y: Float32Array, n: number): boolean {
  const lib = loaded();
  if (lib === null) return false;
  count("n", n);
  const rc = lib.llmem_add_checked(
    typedPtr("x", x, "Float32Array", 0, n),
    lastCapacity(),
    typedPtr("y", y, "Float32Array", 0, n),
    lastCapacity(),
    n,
  );
  if (rc !== 0) throwRefusal(rc, "llmem_add", "INVALID_ARGUMENT");
  return true;
}
