/** Issue 16 in prefix-hash: exported tables are frozen; token views are measured by the engine. */
import { expect, test } from "bun:test";
import { expectRefused } from "@llmem/core/testing";
import { hashWords, KEY_TAGS } from "../src/index.ts";

test("KEY_TAGS is frozen (a writable tag would make two key kinds hash alike)", () => {
  expect(Object.isFrozen(KEY_TAGS)).toBe(true);
  expect(() => {
    (KEY_TAGS as { salt: number }).salt = 1;
  }).toThrow(TypeError);
});

test("a detached or lying Uint32Array is refused, not hashed as something else", () => {
  const detached = new Uint32Array([1, 2, 3]);
  detached.buffer.transfer();
  expectRefused(() => hashWords(detached));
  const lying = new Uint32Array([1, 2]);
  Object.defineProperty(lying, "length", { value: 64 });
  expectRefused(() => hashWords(lying));
});
