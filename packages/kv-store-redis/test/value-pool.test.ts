import { expect, test } from "bun:test";
import { ValuePool } from "../src/value-pool.ts";

test("the value pool hands back exact sizes only and never holds more than its cap", () => {
  const pool = new ValuePool(100);
  const a = new Uint8Array(40);
  const b = new Uint8Array(40);
  const c = new Uint8Array(40);
  pool.give(a);
  pool.give(b);
  pool.give(c); // over the cap: dropped
  expect(pool.take(41)).toBeUndefined();
  expect(pool.take(40)).toBe(b);
  expect(pool.take(40)).toBe(a);
  expect(pool.take(40)).toBeUndefined();
  pool.give(c); // room again
  expect(pool.take(40)).toBe(c);
});
