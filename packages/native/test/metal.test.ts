import { ptr } from "bun:ffi";
import { expect, test } from "bun:test";
import { metalAvailable, metalHolds, metalPagedAttention, nativeLib, requireMetal } from "../src/index.ts";

const lib = nativeLib();
const device = lib !== null && lib.llmem_metal_available() === 1;

test.skipIf(!lib || device)("without Metal the C entry points fail (-1) and leave out untouched", () => {
  const query = new Float32Array(64);
  const pool = new Float32Array(5 * 64);
  const out = new Float32Array(64).fill(7);
  const lse = new Float32Array(1);
  const table = Uint32Array.of(0);
  const rc = lib!.llmem_metal_paged_attention_checked(
    0,
    ptr(query),
    query.byteLength,
    1,
    1,
    64,
    ptr(pool),
    pool.byteLength,
    ptr(pool),
    pool.byteLength,
    ptr(table),
    table.byteLength,
    5,
    5,
    0.125,
    ptr(out),
    out.byteLength,
    ptr(lse),
    lse.byteLength,
  );
  expect(rc).toBe(-1);
  expect(out.every((x) => x === 7)).toBe(true);
  expect(lib!.llmem_metal_holds(ptr(pool), pool.byteLength)).toBe(0);
  // The wrappers: one availability answer, the explicit request throws, the preferring path says false.
  expect(metalAvailable()).toBe(false);
  expect(metalHolds(new Uint8Array(pool.buffer))).toBe(false);
  expect(() => requireMetal("a test")).toThrow(/needs a Metal device/);
  const bytes = new Uint8Array(pool.buffer);
  expect(
    metalPagedAttention({
      format: "f32",
      query,
      numHeads: 1,
      numKvHeads: 1,
      headDim: 64,
      kBytes: bytes,
      vBytes: bytes,
      blockTable: table,
      numBlocks: 1,
      blockSize: 5,
      numTokens: 5,
      scale: 0.125,
      out,
      lse,
    }),
  ).toBe(false);
});

test("LLMEM_METAL=0 turns Metal off whatever the device (checked in a child process)", () => {
  const r = Bun.spawnSync({
    cmd: [
      process.execPath,
      "-e",
      'import { metalAvailable } from "@llmem/native"; console.log(metalAvailable())',
    ],
    env: { ...process.env, LLMEM_METAL: "0" },
    cwd: import.meta.dir,
  });
  expect(r.stdout.toString().trim()).toBe("false");
});
