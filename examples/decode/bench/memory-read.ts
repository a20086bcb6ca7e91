/** A plain streaming read of `bytes` bytes (native SIMD dot of a buffer with itself when libllmem is loaded), in GB/s. */
import { dotF32 } from "@llmem/native";
import { do_not_optimize, measure } from "mitata";

export async function memoryRead(bytes: number): Promise<number> {
  const buf = new Float32Array(Math.ceil(bytes / 4)).fill(0.5);
  const stats = await measure(() => do_not_optimize(dotF32(buf, buf)), {
    min_samples: 20,
    min_cpu_time: 3e8,
  });
  return bytes / stats.p50;
}
