// One table per concern of libllmem; each package's native additions get their own file here.
import { kernelSymbols } from "./kernels.ts";
import { memorySymbols } from "./memory.ts";
import { runtimeSymbols } from "./runtime.ts";

export const symbols = {
  ...runtimeSymbols,
  ...memorySymbols,
  ...kernelSymbols,
} as const;
