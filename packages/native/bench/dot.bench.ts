// f32 dot: native (active ISA) vs native scalar vs the TS reference, 4,096 elements.
import { bench, do_not_optimize, run, summary } from "mitata";
import { detectedIsa, dotF32, dotF32Reference, isNativeAvailable, setIsa } from "../src/index.ts";

const n = 4096;
const a = new Float32Array(n).map((_, i) => Math.sin(i));
const b = new Float32Array(n).map((_, i) => Math.cos(i));

summary(() => {
  bench("ts reference", () => do_not_optimize(dotF32Reference(a, b, n))).baseline(true);
  if (isNativeAvailable()) {
    bench(`native ${detectedIsa()}`, () => do_not_optimize(dotF32(a, b, n)));
    bench("native scalar", function* () {
      setIsa("scalar");
      yield () => do_not_optimize(dotF32(a, b, n));
      setIsa(detectedIsa()!);
    });
  }
});
await run();
