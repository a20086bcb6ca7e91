import { describe, expect, test } from "bun:test";
import { expectLlmemError } from "@llmem/core/testing";
import fc from "fast-check";
import {
  GGML_TYPES,
  type GgufScalarType,
  type GgufType,
  type GgufValue,
  inferType,
  parseGguf,
  writeGguf,
  writeInputFrom,
} from "../src/index.ts";

type Typed = { type: GgufType; value: GgufValue };

/**
 * A value as exact bits: typed arrays by kind and bytes, NaN by name. fast-check's floats include
 * NaN, and an element-wise `toEqual` of typed arrays (nested in arrays) treats NaN as unequal to
 * itself, which made the round trip fail on values it had reproduced bit for bit.
 */
function exactBits(v: GgufValue): unknown {
  if (ArrayBuffer.isView(v)) {
    return {
      kind: v.constructor.name,
      bytes: Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)),
    };
  }
  if (Array.isArray(v)) return v.map((x) => exactBits(x as GgufValue));
  if (typeof v === "number" && Number.isNaN(v)) return "NaN";
  return v;
}

const INT_BOUNDS: Record<string, [number, number]> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

function scalarArb(type: GgufScalarType): fc.Arbitrary<GgufValue> {
  const bounds = INT_BOUNDS[type];
  if (bounds !== undefined) return fc.integer({ min: bounds[0], max: bounds[1] });
  switch (type) {
    case "f32":
      return fc.float();
    case "f64":
      return fc.double();
    case "u64":
      return fc.bigInt(0n, (1n << 64n) - 1n);
    case "i64":
      return fc.bigInt(-(1n << 63n), (1n << 63n) - 1n);
    case "bool":
      return fc.boolean();
    default:
      return fc.string({ unit: "binary", maxLength: 12 });
  }
}

const CTORS = {
  u8: Uint8Array,
  i8: Int8Array,
  u16: Uint16Array,
  i16: Int16Array,
  u32: Uint32Array,
  i32: Int32Array,
  f32: Float32Array,
  f64: Float64Array,
  u64: BigUint64Array,
  i64: BigInt64Array,
  bool: Uint8Array,
} as const;

const SCALARS: GgufScalarType[] = [
  "u8",
  "i8",
  "u16",
  "i16",
  "u32",
  "i32",
  "f32",
  "bool",
  "string",
  "u64",
  "i64",
  "f64",
];

/** An array value with its tag; `depth` bounds nesting. */
function arrayArb(depth: number): fc.Arbitrary<Typed> {
  const flat = fc.constantFrom(...SCALARS).chain((elem): fc.Arbitrary<Typed> => {
    const items = fc.array(scalarArb(elem), { maxLength: 6 });
    if (elem === "string") return items.map((v) => ({ type: { array: "string" }, value: v as string[] }));
    const ctor = CTORS[elem];
    const toNumber = (v: GgufValue) => (typeof v === "boolean" ? Number(v) : v);
    return items.map((v) => ({
      type: { array: elem },
      value: new (ctor as unknown as new (a: unknown[]) => GgufValue)(v.map(toNumber)),
    }));
  });
  if (depth === 0) return flat;
  const nested = fc.array(arrayArb(depth - 1), { maxLength: 3 }).map(
    (arrs): Typed => ({
      type: { array: "array", items: arrs.map((a) => a.type) },
      value: arrs.map((a) => a.value),
    }),
  );
  return fc.oneof(flat, nested);
}

const typedValue: fc.Arbitrary<Typed> = fc.oneof(
  fc.constantFrom(...SCALARS).chain((t) => scalarArb(t).map((v): Typed => ({ type: t, value: v }))),
  arrayArb(2),
);

const ggmlTypes = [...GGML_TYPES.values()];
const tensorArb = fc
  .record({
    type: fc.constantFrom(...ggmlTypes),
    blocks: fc.integer({ min: 1, max: 2 }),
    rest: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }),
    seed: fc.integer({ min: 0, max: 255 }),
  })
  .map(({ type, blocks, rest, seed }) => {
    const dims = [blocks * type.blockSize, ...rest];
    const bytes = (dims.reduce((a, b) => a * b, 1) / type.blockSize) * type.typeSize;
    const data = new Uint8Array(bytes).map((_, i) => (i * 31 + seed) & 0xff);
    return { type: type.name, dims, data };
  });

const fileArb = fc.record({
  entries: fc.uniqueArray(fc.tuple(fc.string({ unit: "binary", maxLength: 10 }), typedValue), {
    selector: ([k]) => k,
    maxLength: 6,
  }),
  tensors: fc.uniqueArray(fc.tuple(fc.string({ unit: "grapheme-ascii", maxLength: 12 }), tensorArb), {
    selector: ([n]) => n,
    maxLength: 4,
  }),
  alignment: fc.constantFrom(undefined, 1, 8, 64, 256),
  version: fc.constantFrom(2 as const, 3 as const),
});

describe("random valid files", () => {
  test("written then read back: the same metadata, types and tensor bytes; written again: the same file", () => {
    fc.assert(
      fc.property(fileArb, ({ entries, tensors, alignment, version }) => {
        const metadata = new Map<string, GgufValue>();
        const types = new Map<string, GgufType>();
        for (const [k, t] of entries) {
          if (k === "general.alignment") continue;
          metadata.set(k, t.value);
          types.set(k, t.type);
        }
        if (alignment !== undefined) {
          metadata.set("general.alignment", alignment);
          types.set("general.alignment", "u32");
        }
        const input = tensors.map(([name, t]) => ({ name, ...t }));
        const bytes = writeGguf({ metadata, types, tensors: input, version });
        const file = parseGguf(bytes);
        expect(file.version).toBe(version);
        expect(file.alignment).toBe(alignment ?? 32);
        expect([...file.metadata.keys()]).toEqual([...metadata.keys()]);
        for (const [k, v] of metadata) {
          expect(exactBits(file.metadata.get(k)!)).toEqual(exactBits(v));
          expect(file.types.get(k)).toEqual(types.get(k)!);
        }
        expect(file.tensorInfos.map((t) => t.name)).toEqual(input.map((t) => t.name));
        for (const t of input) {
          const got = file.tensor(t.name);
          expect(got.type.name).toBe(t.type);
          expect(got.dims).toEqual(t.dims);
          expect(got.data).toEqual(t.data);
          expect(got.fileOffset % file.alignment).toBe(0);
        }
        expect(writeGguf(writeInputFrom(file))).toEqual(bytes);
      }),
      { numRuns: 150 },
    );
  });
});

describe("inferType", () => {
  test("picks the narrowest exact tag", () => {
    expect(inferType(7)).toBe("u32");
    expect(inferType(-7)).toBe("i32");
    expect(inferType(2 ** 32)).toBe("f32");
    expect(inferType(0.1)).toBe("f64");
    expect(inferType(0.5)).toBe("f32");
    expect(inferType(5n)).toBe("u64");
    expect(inferType(-5n)).toBe("i64");
    expect(inferType(["a"])).toEqual({ array: "string" });
    expect(inferType([])).toEqual({ array: "string" });
    expect(inferType(new Float32Array(1))).toEqual({ array: "f32" });
    expect(inferType([new Int32Array(1), ["x"]])).toEqual({
      array: "array",
      items: [{ array: "i32" }, { array: "string" }],
    });
  });

  test("untagged values round-trip through their inferred tags", () => {
    const file = parseGguf(
      writeGguf({
        metadata: [
          ["n", 7],
          ["s", "é"],
          ["f", 0.1],
          ["b", true],
        ],
      }),
    );
    expect(file.types.get("n")).toBe("u32");
    expect(file.getNumber("f")).toBe(0.1);
    expect(file.getBool("b")).toBe(true);
  });
});

describe("writer refuses what it cannot write", () => {
  const t = (over: object) => ({ name: "t", type: "f32", dims: [4], data: new Uint8Array(16), ...over });

  test("values that do not fit their tag", () => {
    const w = (value: GgufValue, type: GgufType) =>
      writeGguf({ metadata: [["k", value]], types: new Map([["k", type]]) });
    expectLlmemError(() => w(300, "u8"), "INVALID_ARGUMENT", 'metadata "k"', "u8");
    expectLlmemError(() => w(1.5, "i32"), "INVALID_ARGUMENT", 'metadata "k"', "i32");
    expectLlmemError(() => w(-1n, "u64"), "INVALID_ARGUMENT", 'metadata "k"', "u64");
    expectLlmemError(() => w("x", "bool"), "INVALID_ARGUMENT", 'metadata "k"', "bool");
    expectLlmemError(
      () => w(new Uint8Array(1), { array: "u16" }),
      "INVALID_ARGUMENT",
      'metadata "k"',
      "Uint16Array",
    );
    expectLlmemError(
      () => w(new Uint8Array([2]), { array: "bool" }),
      "INVALID_ARGUMENT",
      'metadata "k"',
      "0 or 1",
    );
  });

  test("duplicate keys and a bad general.alignment", () => {
    expectLlmemError(
      () =>
        writeGguf({
          metadata: [
            ["a", 1],
            ["a", 2],
          ],
        }),
      "INVALID_ARGUMENT",
      '"a"',
      "twice",
    );
    expectLlmemError(
      () => writeGguf({ metadata: [["general.alignment", 48]] }),
      "INVALID_ARGUMENT",
      "power of two",
    );
  });

  test("tensors: wrong data size, bad dims, unknown type, duplicate and long names", () => {
    const w = (...tensors: object[]) => writeGguf({ metadata: [], tensors: tensors.map(t) as never });
    expectLlmemError(
      () => w({ data: new Uint8Array(15) }),
      "INVALID_ARGUMENT",
      'tensor "t" data',
      "15",
      "16",
    );
    expectLlmemError(() => w({ dims: [4, 0] }), "INVALID_ARGUMENT", 'tensor "t" dims[1]');
    expectLlmemError(() => w({ dims: [1, 1, 1, 1, 4] }), "INVALID_ARGUMENT", 'tensor "t" dims', "at most 4");
    expectLlmemError(() => w({ type: "q8_0", dims: [16] }), "INVALID_ARGUMENT", 'tensor "t" dims[0]', "32");
    expectLlmemError(() => w({ type: "q9_9" }), "UNSUPPORTED", 'tensor "t" type', "q9_9");
    expectLlmemError(() => w({}, {}), "INVALID_ARGUMENT", 'tensor "t"', "twice");
    expectLlmemError(() => w({ name: "n".repeat(64) }), "INVALID_ARGUMENT", "63 bytes");
  });
});
