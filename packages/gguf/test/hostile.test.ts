import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LlmemError } from "@llmem/core";
import { expectLlmemError } from "@llmem/core/testing";
import { MAX_ARRAY_DEPTH, openGguf, parseGguf, writeGguf } from "../src/index.ts";
import { RawGguf } from "./raw-gguf.ts";

/** A small valid file using strings, scalars, numeric/string/nested arrays and two tensors. */
function smallFile(): Uint8Array {
  return writeGguf({
    metadata: new Map<string, import("../src/index.ts").GgufValue>([
      ["general.architecture", "llama"],
      ["llama.block_count", 2],
      ["f", 0.5],
      ["tokens", ["a", "bé", ""]],
      ["scores", new Float32Array([1, -2])],
      ["nested", [new Int32Array([7]), ["x"]]],
      ["big", 1n << 40n],
    ]),
    tensors: [
      { name: "q", type: "q8_0", dims: [32], data: new Uint8Array(34).fill(3) },
      // The last tensor ends on the alignment, so every cut of the file removes needed bytes.
      { name: "w", type: "f32", dims: [4, 2], data: new Uint8Array(32).fill(1) },
    ],
  });
}

/** Parses and returns the error (no wall-clock bound: tests do not assert time). */
function parseError(bytes: Uint8Array): LlmemError {
  try {
    parseGguf(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(LlmemError);
    return e as LlmemError;
  }
  throw new Error("parsed a hostile file without an error");
}

describe("truncation", () => {
  test("the small file parses whole", () => {
    const file = parseGguf(smallFile());
    expect(file.metadata.get("nested")).toEqual([new Int32Array([7]), ["x"]]);
    expect(file.tensorInfos.map((t) => t.name)).toEqual(["q", "w"]);
  });

  test("cut at every byte boundary: a FORMAT_ERROR naming a field, never a RangeError", () => {
    const bytes = smallFile();
    for (let cut = 0; cut < bytes.byteLength; cut++) {
      const err = parseError(bytes.subarray(0, cut));
      expect(err.code).toBe("FORMAT_ERROR");
      expect(err.message).toStartWith("GGUF ");
      expect(err.details.field).toBeString();
    }
  });

  test("a cut inside a string or a fixed-size value names it and says truncated", () => {
    const str = new RawGguf({ kvs: 1n }).str("k").u32(8).str("a value of 25 bytes here.").bytes();
    expectLlmemError(
      () => parseGguf(str.subarray(0, str.byteLength - 5)),
      "FORMAT_ERROR",
      'metadata "k" length',
      "25",
      "truncated",
    );
    const u64 = new RawGguf({ kvs: 1n }).str("key").u32(10).u64(7n).bytes();
    expectLlmemError(
      () => parseGguf(u64.subarray(0, u64.byteLength - 1)),
      "FORMAT_ERROR",
      'metadata "key"',
      "truncated",
    );
  });
});

describe("header", () => {
  test("bad magic", () => {
    expectLlmemError(
      () => parseGguf(new RawGguf({ magic: "GGML" }).bytes()),
      "FORMAT_ERROR",
      "header magic",
      "GGML",
    );
  });

  test("v1 is refused with a clear error; v2 reads", () => {
    expectLlmemError(
      () => parseGguf(new RawGguf({ version: 1 }).bytes()),
      "UNSUPPORTED",
      "header version",
      "v1",
    );
    expectLlmemError(
      () => parseGguf(new RawGguf({ version: 4 }).bytes()),
      "UNSUPPORTED",
      "header version",
      "4",
    );
    expect(parseGguf(new RawGguf({ version: 2 }).bytes()).version).toBe(2);
  });

  test("tensor count 2^40", () => {
    expectLlmemError(
      () => parseGguf(new RawGguf({ tensors: 1n << 40n }).bytes()),
      "FORMAT_ERROR",
      "header tensor_count",
      "1099511627776",
      "exceeds",
    );
  });

  test("key/value count 2^63", () => {
    expectLlmemError(
      () => parseGguf(new RawGguf({ kvs: 1n << 63n }).bytes()),
      "FORMAT_ERROR",
      "header metadata_kv_count",
      "exceeds",
    );
  });
});

describe("metadata", () => {
  test("string length 2^63 (key and value)", () => {
    const key = new RawGguf({ kvs: 1n })
      .str("abc", 1n << 63n)
      .u32(4)
      .u32(0)
      .bytes();
    expectLlmemError(() => parseGguf(key), "FORMAT_ERROR", "metadata[0] key length", "9223372036854775808");
    const value = new RawGguf({ kvs: 1n })
      .str("k")
      .u32(8)
      .str("v", 1n << 63n)
      .bytes();
    expectLlmemError(() => parseGguf(value), "FORMAT_ERROR", 'metadata "k" length', "exceeds");
  });

  test("array count 2^40, for numbers, strings and arrays", () => {
    for (const elem of [4, 8, 9, 12]) {
      const bytes = new RawGguf({ kvs: 1n })
        .str("k")
        .u32(9)
        .u32(elem)
        .u64(1n << 40n)
        .bytes();
      expectLlmemError(() => parseGguf(bytes), "FORMAT_ERROR", 'metadata "k" count', "1099511627776");
    }
  });

  test("an array count that fits the file only at 1 byte per element is refused for u32", () => {
    const bytes = new RawGguf({ kvs: 1n }).str("k").u32(9).u32(4).u64(8n).u32(0).u32(0).u32(0).bytes();
    expectLlmemError(() => parseGguf(bytes), "FORMAT_ERROR", 'metadata "k" count', "exceeds 3");
  });

  test("unknown value type ids", () => {
    const scalar = new RawGguf({ kvs: 1n }).str("k").u32(13).u32(0).bytes();
    expectLlmemError(() => parseGguf(scalar), "UNSUPPORTED", 'metadata "k" type', "13");
    const elem = new RawGguf({ kvs: 1n }).str("k").u32(9).u32(99).u64(0n).bytes();
    expectLlmemError(() => parseGguf(elem), "UNSUPPORTED", 'metadata "k" element type', "99");
  });

  test("nesting deeper than the bound", () => {
    const raw = new RawGguf({ kvs: 1n }).str("k").u32(9);
    for (let i = 0; i < MAX_ARRAY_DEPTH + 2; i++) raw.u32(9).u64(1n);
    raw.u32(4).u64(0n);
    expectLlmemError(
      () => parseGguf(raw.bytes()),
      "FORMAT_ERROR",
      'metadata "k"',
      `deeper than ${MAX_ARRAY_DEPTH}`,
    );
  });

  test("duplicate key", () => {
    const bytes = new RawGguf({ kvs: 2n }).kvU32("a", 1).kvU32("a", 2).bytes();
    expectLlmemError(() => parseGguf(bytes), "FORMAT_ERROR", "metadata[1] key", '"a" appears twice');
  });

  test("invalid UTF-8 and bool bytes other than 0/1", () => {
    const utf8 = new RawGguf({ kvs: 1n })
      .str(new Uint8Array([0xff, 0xfe]))
      .u32(4)
      .u32(0)
      .bytes();
    expectLlmemError(() => parseGguf(utf8), "FORMAT_ERROR", "metadata[0] key", "UTF-8");
    const bool = new RawGguf({ kvs: 1n }).str("b").u32(7).u8(2).bytes();
    expectLlmemError(() => parseGguf(bool), "FORMAT_ERROR", 'metadata "b"', "must be 0 or 1");
    const bools = new RawGguf({ kvs: 1n }).str("b").u32(9).u32(7).u64(2n).u8(1).u8(5).bytes();
    expectLlmemError(() => parseGguf(bools), "FORMAT_ERROR", 'metadata "b"[1]', "must be 0 or 1");
  });

  test("general.alignment: not a power of two, not u32; a valid one moves the data section", () => {
    const odd = new RawGguf({ kvs: 1n }).kvU32("general.alignment", 48).bytes();
    expectLlmemError(() => parseGguf(odd), "FORMAT_ERROR", "general.alignment", "power of two");
    const zero = new RawGguf({ kvs: 1n }).kvU32("general.alignment", 0).bytes();
    expectLlmemError(() => parseGguf(zero), "FORMAT_ERROR", "general.alignment", "power of two");
    const i32 = new RawGguf({ kvs: 1n }).str("general.alignment").u32(5).u32(64).bytes();
    expectLlmemError(() => parseGguf(i32), "FORMAT_ERROR", "general.alignment", "must be u32");
    const good = new RawGguf({ kvs: 1n, tensors: 1n })
      .kvU32("general.alignment", 64)
      .tensor("t", [8n], 0, 0n)
      .data(32, 64)
      .bytes();
    const file = parseGguf(good);
    expect(file.alignment).toBe(64);
    expect(file.dataOffset % 64).toBe(0);
  });
});

describe("tensor infos", () => {
  const one = (dims: readonly bigint[], type: number, offset: bigint, dataBytes = 64) =>
    new RawGguf({ tensors: 1n }).tensor("t", dims, type, offset).data(dataBytes).bytes();

  test("a valid one-tensor file parses (the base the cases below break)", () => {
    expect(parseGguf(one([8n], 0, 0n)).tensor("t").byteLength).toBe(32);
  });

  test("n_dims 5", () => {
    expectLlmemError(
      () => parseGguf(one([1n, 1n, 1n, 1n, 8n], 0, 0n)),
      "FORMAT_ERROR",
      'tensor "t" n_dims',
      "5",
      "4",
    );
  });

  test("a zero dim, and dims whose product overflows 2^53", () => {
    expectLlmemError(
      () => parseGguf(one([8n, 0n], 0, 0n)),
      "FORMAT_ERROR",
      'tensor "t" dims[1]',
      "at least 1",
    );
    expectLlmemError(
      () => parseGguf(one([1n << 32n, 1n << 32n], 0, 0n)),
      "FORMAT_ERROR",
      'tensor "t" dims[1]',
      "2^53",
    );
    expectLlmemError(
      () => parseGguf(one([(1n << 64n) - 1n], 0, 0n)),
      "FORMAT_ERROR",
      'tensor "t" dims[0]',
      "2^53",
    );
  });

  test("a size larger than the file", () => {
    expectLlmemError(
      () => parseGguf(one([1n << 30n], 0, 0n)),
      "FORMAT_ERROR",
      'tensor "t" size',
      "exceed the file length",
    );
  });

  test("unknown and removed ggml types", () => {
    for (const id of [4, 5, 31, 36, 39, 99, 0xffffffff]) {
      expectLlmemError(
        () => parseGguf(one([32n], id, 0n)),
        "UNSUPPORTED",
        'tensor "t" type',
        `unknown ggml type id ${id}`,
      );
    }
  });

  test("row length not a multiple of the block size", () => {
    expectLlmemError(
      () => parseGguf(one([31n, 2n], 8, 0n)),
      "FORMAT_ERROR",
      'tensor "t" dims[0]',
      "31",
      "q8_0",
      "32",
    );
  });

  test("misaligned offset", () => {
    expectLlmemError(() => parseGguf(one([4n], 0, 4n)), "FORMAT_ERROR", 'tensor "t" offset', "alignment 32");
  });

  test("offset past the end, and offset + size past the end", () => {
    expectLlmemError(
      () => parseGguf(one([8n], 0, 1n << 40n)),
      "FORMAT_ERROR",
      'tensor "t" offset',
      "past the end",
    );
    expectLlmemError(
      () => parseGguf(one([8n], 0, 64n)),
      "FORMAT_ERROR",
      'tensor "t" offset',
      "past the data section",
    );
  });

  test("overlapping tensors", () => {
    const bytes = new RawGguf({ tensors: 2n })
      .tensor("a", [16n], 0, 0n)
      .tensor("b", [8n], 0, 32n)
      .data(96)
      .bytes();
    expectLlmemError(() => parseGguf(bytes), "FORMAT_ERROR", 'tensor "b" offset', "overlaps", '"a"');
  });

  test("duplicate tensor name", () => {
    const bytes = new RawGguf({ tensors: 2n })
      .tensor("a", [8n], 0, 0n)
      .tensor("a", [8n], 0, 32n)
      .data(64)
      .bytes();
    expectLlmemError(() => parseGguf(bytes), "FORMAT_ERROR", "tensor[1] name", '"a" appears twice');
  });

  test("a name longer than ggml's 63 bytes", () => {
    const bytes = new RawGguf({ tensors: 1n }).tensor("n".repeat(64), [8n], 0, 0n).data(32).bytes();
    expectLlmemError(() => parseGguf(bytes), "FORMAT_ERROR", "name", "63 bytes");
  });

  test("data section past the end of the file", () => {
    // The infos end 3 bytes before a 32-byte boundary and the file ends with them.
    const bytes = new RawGguf({ tensors: 1n }).tensor("t", [8n], 0, 0n).bytes();
    expectLlmemError(() => parseGguf(bytes), "FORMAT_ERROR", "data section", "past the end");
  });
});

test("openGguf: a missing path or a directory is an error naming the path; an empty file is truncated", () => {
  const dir = mkdtempSync(join(tmpdir(), "llmem-gguf-open-"));
  try {
    const missing = join(dir, "missing.gguf");
    expectLlmemError(() => openGguf(missing), "INVALID_ARGUMENT", missing, "ENOENT");
    expectLlmemError(() => openGguf(dir), "INVALID_ARGUMENT", dir);
    const empty = join(dir, "empty.gguf");
    writeFileSync(empty, "");
    expectLlmemError(() => openGguf(empty), "FORMAT_ERROR", "truncated");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
