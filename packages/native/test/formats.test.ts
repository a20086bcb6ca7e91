import { describe, expect, test } from "bun:test";
import {
  bytesFor,
  FORMAT_LIST,
  FORMATS,
  formatInfo,
  isNativeAvailable,
  MATRIX_FORMATS,
  nativeFormatTable,
  QUANT_FORMATS,
  ROW_FORMATS,
} from "../src/index.ts";

describe("format table", () => {
  test.skipIf(!isNativeAvailable())("the TS table and libllmem's agree row by row", () => {
    const c = nativeFormatTable()!;
    expect(c.length).toBe(FORMAT_LIST.length);
    expect(c).toEqual(FORMAT_LIST.map((r) => ({ ...r })));
  });

  test("is deep-frozen and prototype-less", () => {
    expect(Object.isFrozen(FORMAT_LIST)).toBe(true);
    expect(Object.isFrozen(FORMATS)).toBe(true);
    expect(Object.getPrototypeOf(FORMATS)).toBe(null);
    for (const r of FORMAT_LIST) {
      expect(Object.isFrozen(r)).toBe(true);
      expect(FORMATS[r.name]).toBe(r);
    }
    for (const list of [QUANT_FORMATS, ROW_FORMATS, MATRIX_FORMATS]) expect(Object.isFrozen(list)).toBe(true);
    expect(() => {
      (FORMAT_LIST[3] as { blockBytes: number }).blockBytes = 1;
    }).toThrow();
    expect(FORMATS.q8_0.blockBytes).toBe(34);
  });

  test("ids are the row indices, names unique, vecDot names a row", () => {
    FORMAT_LIST.forEach((r, i) => {
      expect(r.id).toBe(i);
      if (r.vecDot !== null) expect(formatInfo(r.vecDot)?.name).toBe(r.vecDot);
    });
    expect(new Set(FORMAT_LIST.map((r) => r.name)).size).toBe(FORMAT_LIST.length);
  });

  test("lookups: unknown and inherited names find nothing", () => {
    expect(formatInfo("q4_1")?.blockBytes).toBe(20);
    for (const bad of ["toString", "__proto__", "constructor", "q7_0", 3, null, undefined]) {
      expect(formatInfo(bad)).toBeUndefined();
    }
    expect(bytesFor("q4_0", 64)).toBe(36);
    expect(bytesFor("bf16", 3)).toBe(6);
  });
});
