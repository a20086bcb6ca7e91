/**
 * quant-kernels benchmarks: every figure is a median (p50) from mitata, and every goal is a
 * ratio against a baseline measured in the same process (memcpy, a plain read, the scalar path).
 *   bun run bench            all groups
 *   bun run bench matvec     only groups whose name contains "matvec"
 */

import { detectedIsa, isNativeAvailable, nativeLib, setIsa, viewPtr } from "@llmem/native";
import { bench, do_not_optimize, run } from "mitata";
import {
  dequantizeInto,
  FORMAT_ID,
  type MatrixFormat,
  matvec,
  prepareMatrix,
  quantize,
  quantizeInto,
  reference,
} from "../src/index.ts";

const filter = process.argv[2] ?? "";
const lib = nativeLib();
if (!lib || !isNativeAvailable()) {
  console.log(
    "native library not loaded: these benchmarks compare native kernels; build it with `bun run build`",
  );
  process.exit(0);
}
const best = detectedIsa()!;
const want = (group: string) => group.includes(filter);

function randomF32(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** A bench running fn on one ISA (restored afterwards). */
function onIsa(name: string, isa: "scalar" | typeof best, fn: () => unknown) {
  bench(name, function* () {
    setIsa(isa);
    yield () => do_not_optimize(fn());
    setIsa(best);
  });
}

interface Row {
  what: string;
  value: string;
  goal: string;
  met: boolean | null;
}
const rows: (() => Row)[] = [];
const medians = new Map<string, number>();
const p50 = (name: string): number => {
  const v = medians.get(name);
  if (v === undefined) throw new Error(`no result for ${name}`);
  return v;
};
const gels = (name: string, n: number) => n / p50(name); // elements per ns = G elements/s

// ---- in cache: 64K elements ----------------------------------------------------------------
const N = 65536;
const x = randomF32(N);
const out = new Float32Array(N);
const copySrc = new Float32Array(N);
const qbuf = { q8_0: quantize("q8_0", x), q4_0: quantize("q4_0", x), q8_1: quantize("q8_1", x) };
const q4_1 = quantize("q4_1", x);
const y8 = quantize("q8_0", randomF32(N, 2));
const px = viewPtr("x", x);
const pout = viewPtr("out", out);
const pcopy = viewPtr("copySrc", copySrc);
const p8 = viewPtr("q8", qbuf.q8_0);
const p4 = viewPtr("q4", qbuf.q4_0);
const py8 = viewPtr("y8", y8);
const qdst = new Uint8Array(qbuf.q8_0.length);
const pqdst = viewPtr("qdst", qdst);

if (want("cache")) {
  bench("memcpy 256 KB (64K f32) in cache", () => lib.llmem_copy(pout, pcopy, N * 4));
  for (const isa of ["scalar", best] as const) {
    onIsa(`dequantize q8_0 64K ${isa}`, isa, () => lib.llmem_dequantize(FORMAT_ID.q8_0, p8, pout, N));
    onIsa(`dequantize q4_0 64K ${isa}`, isa, () => lib.llmem_dequantize(FORMAT_ID.q4_0, p4, pout, N));
    onIsa(`quantize q8_0 64K ${isa}`, isa, () => lib.llmem_quantize(FORMAT_ID.q8_0, px, pqdst, N));
    onIsa(`quantize q4_0 64K ${isa}`, isa, () => lib.llmem_quantize(FORMAT_ID.q4_0, px, pqdst, N));
    onIsa(`dot q8_0·q8_0 64K ${isa}`, isa, () => lib.llmem_dot_q8_0_q8_0(p8, py8, N));
    onIsa(`dot q4_0·q8_0 64K ${isa}`, isa, () => lib.llmem_dot_q4_0_q8_0(p4, py8, N));
  }
  bench("dequantize q8_0 64K ts reference", () => reference.dequantizeInto("q8_0", qbuf.q8_0, out));
  bench("quantize q4_1 64K public", () => quantizeInto("q4_1", x, q4_1));

  const ggml: [string, string, number][] = [
    ["dequantize q8_0", `dequantize q8_0 64K ${best}`, 8],
    ["dequantize q4_0", `dequantize q4_0 64K ${best}`, 2.2],
    ["quantize q8_0", `quantize q8_0 64K ${best}`, 3.8],
    ["dot q4_0·q8_0", `dot q4_0·q8_0 64K ${best}`, 24],
    ["dot q8_0·q8_0", `dot q8_0·q8_0 64K ${best}`, 25],
  ];
  for (const [what, name, goal] of ggml) {
    rows.push(() => {
      const v = gels(name, N);
      return {
        what: `${what} (${best}), 64K in cache`,
        value: `${v.toFixed(2)} G el/s`,
        goal: `≥ ${goal} (GGML)`,
        met: v >= goal,
      };
    });
  }
  for (const f of ["q8_0", "q4_0"]) {
    rows.push(() => {
      const r = p50("memcpy 256 KB (64K f32) in cache") / p50(`dequantize ${f} 64K ${best}`);
      return {
        what: `dequantize ${f} vs memcpy, in cache`,
        value: `${r.toFixed(2)}×`,
        goal: "≥ 0.6×",
        met: r >= 0.6,
      };
    });
  }
  for (const op of [
    "quantize q8_0",
    "quantize q4_0",
    "dequantize q8_0",
    "dequantize q4_0",
    "dot q8_0·q8_0",
    "dot q4_0·q8_0",
  ]) {
    rows.push(() => {
      const r = p50(`${op} 64K scalar`) / p50(`${op} 64K ${best}`);
      return {
        what: `${op}: ${best} vs native scalar`,
        value: `${r.toFixed(1)}×`,
        goal: "≥ 4×",
        met: r >= 4,
      };
    });
  }
  rows.push(() => {
    const r = p50("dequantize q8_0 64K ts reference") / p50(`dequantize q8_0 64K ${best}`);
    return {
      what: "dequantize q8_0: native vs TS reference",
      value: `${r.toFixed(0)}×`,
      goal: "(info)",
      met: null,
    };
  });
}

// ---- TS→native call overhead at 4,096 elements ---------------------------------------------
if (want("overhead")) {
  const n = 4096;
  const xs = x.subarray(0, n);
  const qs = new Uint8Array((n / 32) * 34);
  const ys = new Float32Array(n);
  const pxs = viewPtr("xs", xs);
  const pqs = viewPtr("qs", qs);
  const pys = viewPtr("ys", ys);
  quantizeInto("q8_0", xs, qs);
  bench("quantize q8_0 4096 raw ffi", () => lib.llmem_quantize(FORMAT_ID.q8_0, pxs, pqs, n));
  bench("quantize q8_0 4096 quantizeInto", () => quantizeInto("q8_0", xs, qs));
  bench("dequantize q8_0 4096 raw ffi", () => lib.llmem_dequantize(FORMAT_ID.q8_0, pqs, pys, n));
  bench("dequantize q8_0 4096 dequantizeInto", () => dequantizeInto("q8_0", qs, ys));
  for (const [op, fn] of [
    ["quantize", "quantizeInto"],
    ["dequantize", "dequantizeInto"],
  ]) {
    rows.push(() => {
      const extra = p50(`${op} q8_0 4096 ${fn}`) / p50(`${op} q8_0 4096 raw ffi`) - 1;
      return {
        what: `${fn} q8_0 4096: validated call vs bare FFI call`,
        value: `+${(extra * 100).toFixed(1)}% (${(p50(`${op} q8_0 4096 ${fn}`) - p50(`${op} q8_0 4096 raw ffi`)).toFixed(0)} ns)`,
        goal: "< 5%",
        met: extra < 0.05,
      };
    });
  }
}

// ---- out of cache: 64 MB of f32 output -------------------------------------------------------
if (want("memory")) {
  const M = 16 * 1024 * 1024;
  const big = randomF32(M, 3);
  const bigOut = new Float32Array(M);
  const big8 = quantize("q8_0", big);
  const big4 = quantize("q4_0", big);
  const pb = viewPtr("big", big);
  const pbo = viewPtr("bigOut", bigOut);
  const pb8 = viewPtr("big8", big8);
  const pb4 = viewPtr("big4", big4);
  bench("memcpy 64 MB", () => lib.llmem_copy(pbo, pb, M * 4));
  bench("dequantize q8_0 16M (64 MB out)", () => lib.llmem_dequantize(FORMAT_ID.q8_0, pb8, pbo, M));
  bench("dequantize q4_0 16M (64 MB out)", () => lib.llmem_dequantize(FORMAT_ID.q4_0, pb4, pbo, M));
  for (const f of ["q8_0", "q4_0"]) {
    rows.push(() => {
      const r = p50("memcpy 64 MB") / p50(`dequantize ${f} 16M (64 MB out)`);
      return {
        what: `dequantize ${f} vs memcpy, 64 MB out of cache`,
        value: `${r.toFixed(2)}×`,
        goal: "≥ 0.8×",
        met: r >= 0.8,
      };
    });
  }
}

// ---- matvec larger than L2 -----------------------------------------------------------------
if (want("matvec")) {
  const rowsN = 4096;
  const cols = 4096;
  const wf = randomF32(rowsN * cols, 4);
  const xv = randomF32(cols, 5);
  const yv = new Float32Array(rowsN);
  const mats = new Map<MatrixFormat, ReturnType<typeof prepareMatrix>>();
  for (const f of ["f32", "f16", "q8_0", "q4_0"] as const) mats.set(f, prepareMatrix(f, wf, rowsN, cols));
  for (const [f, m] of mats) {
    const bytes = m.data.byteLength;
    const pw = viewPtr("w", m.data);
    bench(`read ${f} weights (${(bytes / 2 ** 20).toFixed(1)} MB)`, () =>
      do_not_optimize(lib.llmem_read_bytes(pw, bytes)),
    );
    bench(`matvec ${f} 4096×4096`, () => matvec(m, xv, yv));
    rows.push(() => {
      const r = p50(`read ${f} weights (${(bytes / 2 ** 20).toFixed(1)} MB)`) / p50(`matvec ${f} 4096×4096`);
      const gbs = bytes / p50(`matvec ${f} 4096×4096`);
      return {
        what: `matvec ${f} 4096×4096 (${(bytes / 2 ** 20).toFixed(1)} MB of W): bandwidth vs plain read`,
        value: `${(r * 100).toFixed(0)}% (${gbs.toFixed(1)} GB/s)`,
        goal: f === "f32" || f === "q8_0" ? "≥ 70%" : "(info)",
        met: f === "f32" || f === "q8_0" ? r >= 0.7 : null,
      };
    });
  }
  for (const f of ["q8_0", "q4_0", "f16"]) {
    rows.push(() => {
      const r = p50("matvec f32 4096×4096") / p50(`matvec ${f} 4096×4096`);
      return {
        what: `matvec ${f} vs f32, same shape`,
        value: `${r.toFixed(2)}× faster`,
        goal: f === "q8_0" ? "≥ 2.5×" : "(info)",
        met: f === "q8_0" ? r >= 2.5 : null,
      };
    });
  }
}

const results = await run({ format: "mitata" });
for (const t of results.benchmarks) for (const r of t.runs) if (r.stats) medians.set(r.name, r.stats.p50);

console.log(`\nGoals (medians, ${best}, one process; p50 of mitata samples):`);
for (const make of rows) {
  const r = make();
  const mark = r.met === null ? "    " : r.met ? "MET " : "MISS";
  console.log(`  ${mark} ${r.what}: ${r.value}  [goal ${r.goal}]`);
}
