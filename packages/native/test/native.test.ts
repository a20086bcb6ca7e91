import { describe, expect, test } from "bun:test";
import { codeOf } from "@llmem/core/testing";
import {
  addressOf,
  allocNative,
  backend,
  detach,
  dotF32,
  dotF32Reference,
  freeNative,
  isNativeAvailable,
  native,
  nativeLiveBytes,
  setIsa,
  viewPtr,
} from "../src/index.ts";

const hasNative = isNativeAvailable();
if (!hasNative)
  console.log(`[@llmem/native] native library off (${native.loadError}): native-only tests skipped`);

function randomF32(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

describe("status", () => {
  test("backend is reported", () => {
    expect(["avx2", "neon", "scalar", "ts"]).toContain(backend());
    if (!hasNative) expect(backend()).toBe("ts");
  });
  test.skipIf(!hasNative)("on x86-64 with AVX2 the backend is avx2", () => {
    const cpuinfo = process.arch === "x64" ? require("node:fs").readFileSync("/proc/cpuinfo", "utf8") : "";
    if (/\bavx2\b/.test(cpuinfo) && /\bfma\b/.test(cpuinfo)) expect(native.backend).toBe("avx2");
    expect(native.version).toBe("0.1.0");
  });
  test("a library path pointing nowhere falls back with one notice line", () => {
    const script = `import { native, dotF32 } from "${import.meta.dir}/../src/index.ts";
      console.log(native.available, native.backend, dotF32(new Float32Array([1,2]), new Float32Array([3,4])));`;
    const r = Bun.spawnSync(["bun", "-e", script], {
      env: { ...process.env, LLMEM_NATIVE_PATH: "/nowhere/libllmem.so", LLMEM_NATIVE: "1" },
    });
    expect(r.stdout.toString().trim()).toBe("false ts 11");
    const notices = r.stderr.toString().trim().split("\n");
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain("/nowhere/libllmem.so");
    expect(notices[0]).toContain("bun run build");
  });
});

describe("dotF32", () => {
  test("the TS path: exact on small integers, and accumulates in f32 as C does", () => {
    expect(dotF32Reference(new Float32Array([1, 2, 3]), new Float32Array([4, 5, 6]), 3)).toBe(32);
    // In f64 this is 1; in f32, 1e8 + 1 rounds back to 1e8, so the sum is 0.
    expect(dotF32Reference(new Float32Array([1e8, 1, -1e8]), new Float32Array([1, 1, 1]), 3)).toBe(0);
    expect(dotF32Reference(new Float32Array([5, 7]), new Float32Array([2, 3]), 1)).toBe(10);
  });
  // With native off dotF32 *is* the reference: comparing them would compare it with itself.
  test.skipIf(!hasNative)("native matches the TS reference at edge sizes", () => {
    for (const n of [0, 1, 7, 31, 32, 33, 1000, 4097]) {
      const a = randomF32(n, n + 1);
      const b = randomF32(n, n + 2);
      const want = dotF32Reference(a, b, n);
      expect(Math.abs(dotF32(a, b) - want)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.sqrt(n)));
    }
  });
  test("hostile lengths never reach C", () => {
    const a = new Float32Array(8);
    const b = new Float32Array(4);
    expect(codeOf(() => dotF32(a, b))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotF32(a, a, 9))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotF32(a, a, -1))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => dotF32(a, a, 2 ** 40))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotF32(a, a, 2 ** 53))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => dotF32(a, a, Number.NaN))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => dotF32(a, a, 1.5))).toBe("INVALID_ARGUMENT");
    // A view into the middle of a larger buffer only exposes its own elements.
    const big = new Float32Array(16);
    const window = big.subarray(4, 8);
    expect(codeOf(() => dotF32(window, window, 5))).toBe("OUT_OF_BOUNDS");
  });
  test("viewPtr rejects non-views and detached buffers", () => {
    expect(codeOf(() => viewPtr("x", [1, 2] as unknown as Float32Array))).toBe("INVALID_ARGUMENT");
    const buf = new ArrayBuffer(16);
    const v = new Float32Array(buf);
    buf.transfer();
    expect(codeOf(() => viewPtr("x", v, 0, 0))).toBe("STALE_HANDLE");
  });
  test("viewPtr bounds by the engine's length: lying subclasses, own properties, borrowed prototypes", () => {
    class LongF32 extends Float32Array {
      override get length(): number {
        return 1 << 20;
      }
    }
    const sub = new LongF32(4);
    const own = new Float32Array(4);
    Object.defineProperty(own, "length", { value: 1 << 20 });
    Object.defineProperty(own, "byteLength", { value: 4 << 20 });
    Object.defineProperty(own, "BYTES_PER_ELEMENT", { value: 1 });
    // A Uint8Array wearing Float32Array's prototype: 4 bytes, but its `length` getter says 1.
    const dressed = Object.setPrototypeOf(new Uint8Array(4), Float32Array.prototype) as Float32Array;
    for (const liar of [sub, own]) {
      expect(liar.length).toBe(1 << 20);
      expect(codeOf(() => viewPtr("x", liar, 0, 5))).toBe("OUT_OF_BOUNDS");
      expect(codeOf(() => viewPtr("x", liar, 4, 1))).toBe("OUT_OF_BOUNDS");
      expect(codeOf(() => viewPtr("x", liar))).toBeUndefined(); // the default count is the true 4
      expect(codeOf(() => dotF32(liar, liar))).toBe("OUT_OF_BOUNDS"); // n defaults to the lie
      expect(codeOf(() => dotF32(liar, liar, 4))).toBeUndefined();
    }
    expect(codeOf(() => viewPtr("x", dressed, 0, 4))).toBeUndefined(); // 4 one-byte elements
    expect(codeOf(() => viewPtr("x", dressed, 0, 5))).toBe("OUT_OF_BOUNDS");
    // The element size comes from the engine too: offset 1 of the dressed view is 1 byte in, not 4.
    expect(Number(viewPtr("x", dressed, 1))).toBe(addressOf(dressed) + 1);
    expect(codeOf(() => viewPtr("x", new DataView(new ArrayBuffer(8)) as never))).toBe("INVALID_ARGUMENT");
    const fake = Object.create(Float32Array.prototype, { length: { value: 1 << 20 } }) as Float32Array;
    expect(codeOf(() => viewPtr("x", fake, 0, 1))).toBe("INVALID_ARGUMENT");
  });
  test.skipIf(!hasNative)("scalar and SIMD paths agree", () => {
    const a = randomF32(4099, 3);
    const b = randomF32(4099, 4);
    const simd = dotF32(a, b);
    setIsa("scalar");
    const scalar = dotF32(a, b);
    setIsa(require("../src/index.ts").detectedIsa());
    expect(Math.abs(simd - scalar)).toBeLessThan(1e-3);
    expect(codeOf(() => setIsa("neon" as never))).toBe(process.arch === "arm64" ? undefined : "UNSUPPORTED");
  });
});

describe.skipIf(!hasNative)("native memory", () => {
  test("allocations are 64-byte aligned, zeroed, and freed", () => {
    const before = nativeLiveBytes();
    const blocks = [1, 63, 64, 65, 4096, 100_000].map((n) => allocNative(n));
    for (const b of blocks) {
      const bytes = new Uint8Array(b.buffer);
      expect(addressOf(bytes) % 64).toBe(0);
      expect(bytes.every((x) => x === 0)).toBe(true);
      bytes.fill(7);
    }
    expect(nativeLiveBytes() - before).toBe(1 + 63 + 64 + 65 + 4096 + 100_000);
    for (const b of blocks) freeNative(b);
    expect(nativeLiveBytes()).toBe(before);
  });
  test("custom alignment", () => {
    const b = allocNative(10, 4096);
    expect(addressOf(new Uint8Array(b.buffer)) % 4096).toBe(0);
    freeNative(b);
  });
  test("detach kills old views but keeps the memory", () => {
    const b = allocNative(64);
    const old = new Uint32Array(b.buffer);
    old[0] = 42;
    const fresh = detach(b);
    expect(old.length).toBe(0);
    expect(old[0]).toBeUndefined();
    expect(new Uint32Array(fresh)[0]).toBe(42);
    freeNative(b);
    expect(fresh.detached).toBe(true);
  });
  test("double free and foreign blocks are refused", () => {
    const b = allocNative(64);
    freeNative(b);
    expect(codeOf(() => freeNative(b))).toBe("DOUBLE_FREE");
    const forged = { buffer: new ArrayBuffer(64), address: 12345, byteLength: 64, align: 64 };
    expect(codeOf(() => freeNative(forged))).toBe("DOUBLE_FREE");
    expect(codeOf(() => detach(forged))).toBe("FOREIGN_HANDLE");
  });
  test("bad sizes are refused before C sees them", () => {
    for (const bad of [-1, 0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 41]) {
      expect(codeOf(() => allocNative(bad))).toMatch(/INVALID_ARGUMENT|OUT_OF_RANGE/);
    }
    expect(codeOf(() => allocNative(64, 48))).toBe("INVALID_ARGUMENT");
  });
});
