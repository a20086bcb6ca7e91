// Model-based property test: random alloc/allocUninit/tryAlloc/mark/rollback/reset sequences
// against a reference bump allocator; live views never overlap, stay within capacity, keep
// their contents, and (checked mode) views reclaimed by reset/rollback are detached.
import { expect, test } from "bun:test";
import { isLlmemError } from "@llmem/core";
import fc from "fast-check";
import { Arena, type ArenaMark } from "../src/index.ts";

const CTORS = [Uint8Array, Int16Array, Float32Array, Float64Array, BigInt64Array] as const;
type Op =
  | { t: "alloc" | "uninit" | "try"; c: number; count: number; align: number | undefined }
  | { t: "mark" }
  | { t: "rollback"; i: number }
  | { t: "reset" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constantFrom("alloc" as const, "uninit" as const, "try" as const),
      c: fc.integer({ min: 0, max: CTORS.length - 1 }),
      count: fc.integer({ min: 0, max: 300 }),
      align: fc.option(fc.constantFrom(1, 2, 8, 64), { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ t: "mark" as const }) },
  { weight: 2, arbitrary: fc.nat().map((i) => ({ t: "rollback" as const, i })) },
  { weight: 1, arbitrary: fc.constant({ t: "reset" as const }) },
);

interface Live {
  view: InstanceType<(typeof CTORS)[number]>;
  start: number;
  end: number;
  marker: number;
}

test("Arena matches its reference model", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 8192 }),
      fc.boolean(),
      fc.array(op, { maxLength: 50 }),
      (cap, checked, ops) => {
        const arena = new Arena(cap, { checked });
        let offset = 0;
        let peak = 0;
        let live: Live[] = [];
        let marks: { mark: ArenaMark; offset: number; count: number }[] = [];
        const reclaimed: Live[] = [];
        let marker = 1;
        for (const o of ops) {
          if (o.t === "mark") marks.push({ mark: arena.mark(), offset, count: live.length });
          else if (o.t === "rollback") {
            if (marks.length === 0) continue;
            const k = o.i % marks.length;
            const m = marks[k]!;
            arena.rollback(m.mark);
            marks = marks.slice(0, k + 1);
            reclaimed.push(...live.slice(m.count));
            live = live.slice(0, m.count);
            offset = m.offset;
          } else if (o.t === "reset") {
            arena.reset();
            reclaimed.push(...live);
            live = [];
            marks = [];
            offset = 0;
          } else {
            const C = CTORS[o.c]!;
            const align = Math.max(o.align ?? 64, C.BYTES_PER_ELEMENT);
            // Offsets are aligned as addresses; the native block itself is 64-byte aligned.
            const start = Math.ceil(offset / align) * align;
            const end = start + o.count * C.BYTES_PER_ELEMENT;
            const fits = end <= cap;
            let view: Live["view"] | null = null;
            let code = "";
            try {
              if (o.t === "alloc") view = arena.alloc(C as Float32ArrayConstructor, o.count, o.align);
              else if (o.t === "uninit")
                view = arena.allocUninit(C as Float32ArrayConstructor, o.count, o.align);
              else view = arena.tryAlloc(C as Float32ArrayConstructor, o.count, o.align);
            } catch (e) {
              if (isLlmemError(e)) code = e.code;
            }
            if (!fits) {
              expect(view).toBeNull();
              expect(code).toBe(o.t === "try" ? "" : "ARENA_EXHAUSTED");
              continue;
            }
            expect(view).not.toBeNull();
            expect(view!.length).toBe(o.count);
            if (!checked) expect(view!.byteOffset).toBe(start);
            if (o.t !== "uninit" && o.count > 0) {
              expect(Number(view![0])).toBe(0);
              expect(Number(view![o.count - 1])).toBe(0);
            }
            const m = marker++ & 0x7f;
            if (o.count > 0) view![0] = (C === BigInt64Array ? BigInt(m) : m) as never;
            live.push({ view: view!, start, end, marker: o.count > 0 ? m : 0 });
            offset = end;
            if (end > peak) peak = end;
          }
          const s = arena.stats();
          expect(s.used).toBe(offset);
          expect(s.used).toBeLessThanOrEqual(cap);
          expect(s.allocationCount).toBe(live.length);
          expect(s.highWaterMark).toBeGreaterThanOrEqual(peak);
          // Live views keep their contents and never overlap.
          const sorted = [...live].sort((a, b) => a.start - b.start);
          for (let k = 1; k < sorted.length; k++)
            expect(sorted[k]!.start).toBeGreaterThanOrEqual(sorted[k - 1]!.end);
          for (const l of live) if (l.marker) expect(Number(l.view[0])).toBe(l.marker);
          if (checked) for (const r of reclaimed) expect(r.view.length).toBe(0);
        }
        arena.dispose();
      },
    ),
    { numRuns: 200 },
  );
});
