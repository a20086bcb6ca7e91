import { expect, test } from "bun:test";
import { FORMATS } from "@llmem/core";
import { expectLlmemError } from "@llmem/core/testing";
import { GGML_TYPES, ggmlTypeOf, isGguf, parseGguf, writeGguf } from "../src/index.ts";

const file = parseGguf(
  writeGguf({
    metadata: [
      ["s", "text"],
      ["n", 3],
      ["big", 1n << 60n],
      ["small64", 12n],
      ["b", false],
      ["tokens", ["a", "b"]],
      ["scores", new Float32Array([0.5])],
    ],
    tensors: [
      { name: "h", type: "f16", dims: [2], data: new Uint8Array([0, 0x3c, 0, 0xc0]) },
      { name: "q", type: "q4_0", dims: [32], data: new Uint8Array(18) },
    ],
  }),
);

test("getters return values of the right type", () => {
  expect(file.getString("s")).toBe("text");
  expect(file.getNumber("n")).toBe(3);
  expect(file.getNumber("small64")).toBe(12);
  expect(file.getBool("b")).toBe(false);
  expect(file.getStringArray("tokens")).toEqual(["a", "b"]);
  expect(file.getNumericArray("scores")).toEqual(new Float32Array([0.5]));
  expect(file.getArray("tokens")).toEqual(["a", "b"]);
  expect(file.optString("absent")).toBeUndefined();
  expect(file.optNumber("absent")).toBeUndefined();
  expect(file.optStringArray("absent")).toBeUndefined();
  expect(file.has("s")).toBe(true);
});

test("missing keys and wrong types are FORMAT_ERRORs naming the key", () => {
  expectLlmemError(() => file.getString("absent"), "FORMAT_ERROR", '"absent"', "missing");
  expectLlmemError(() => file.getString("n"), "FORMAT_ERROR", '"n"', "u32", "expected string");
  expectLlmemError(() => file.optNumber("s"), "FORMAT_ERROR", '"s"', "string", "number");
  expectLlmemError(() => file.getNumber("big"), "FORMAT_ERROR", '"big"', "not exactly representable");
  expectLlmemError(() => file.getBool("n"), "FORMAT_ERROR", '"n"', "bool");
  expectLlmemError(() => file.getArray("s"), "FORMAT_ERROR", '"s"', "an array");
  expectLlmemError(
    () => file.getStringArray("scores"),
    "FORMAT_ERROR",
    '"scores"',
    "array<f32>",
    "array<string>",
  );
  expectLlmemError(() => file.getNumericArray("tokens"), "FORMAT_ERROR", '"tokens"', "numeric array");
});

test("typed tensor views: F16 as raw half bits; wrong type, missing name, misaligned bytes", () => {
  expect([...file.tensorF16("h")]).toEqual([0x3c00, 0xc000]);
  expect(file.hasTensor("q")).toBe(true);
  expectLlmemError(() => file.tensorF32("h"), "UNSUPPORTED", '"h"', "f16", "not f32");
  expectLlmemError(() => file.tensor("nope"), "FORMAT_ERROR", '"nope"', "not in the file");
  // The same file one byte into a buffer: the F16 data is then at an odd address.
  const shifted = new Uint8Array(file.bytes.byteLength + 1);
  shifted.set(file.bytes, 1);
  const odd = parseGguf(shifted.subarray(1));
  expect(odd.tensor("h").data).toEqual(file.tensor("h").data);
  expectLlmemError(() => odd.tensorF16("h"), "MISALIGNED", '"h"', "2-byte aligned");
});

test("the ggml type table: names as ggml spells them, any case, sizes of the common types", () => {
  expect(ggmlTypeOf("Q4_K")).toEqual({ id: 12, name: "q4_K", blockSize: 256, typeSize: 144 });
  expect(ggmlTypeOf("q6_k").typeSize).toBe(210);
  expect(ggmlTypeOf(8).typeSize).toBe(34);
  expect(GGML_TYPES.size).toBe(31);
  expectLlmemError(() => ggmlTypeOf(4), "UNSUPPORTED", "4");
});

test("the ggml table agrees with @llmem/core's format table on every type both know", () => {
  const shared = Object.values(FORMATS);
  expect(shared.length).toBeGreaterThan(0);
  for (const d of shared) {
    const g = ggmlTypeOf(d.name);
    expect({ name: d.name, blockSize: g.blockSize, bytes: g.typeSize }).toEqual({
      name: d.name,
      blockSize: d.blockSize,
      bytes: d.blockBytes,
    });
  }
});

test("isGguf looks only at the magic and header length", () => {
  expect(isGguf(file.bytes)).toBe(true);
  expect(isGguf(file.bytes.subarray(0, 23))).toBe(false);
  expect(isGguf(new Uint8Array(32))).toBe(false);
});
