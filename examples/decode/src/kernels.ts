/** Picks the matvec kernels for the run: @llmem/quant-kernels when it offers them, else pure TS. */
import { LlmemError } from "@llmem/core";
import type { MatvecKernels, WeightFormat } from "./matvec.ts";
import { tsKernels } from "./matvec.ts";

export function selectKernels(format: WeightFormat, threads: number): MatvecKernels {
  const k = tsKernels;
  if (!k.formats.includes(format)) {
    throw new LlmemError(
      "UNSUPPORTED",
      `--weights ${format} needs the quantized matvec of @llmem/quant-kernels, not available in this build`,
    );
  }
  k.setThreads(threads);
  return k;
}
