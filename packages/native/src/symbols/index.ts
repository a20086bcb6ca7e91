// One table per concern of libllmem, each in its own file, so packages grow them independently.
import { attentionSymbols } from "./attention.ts";
import { formatSymbols } from "./formats.ts";
import { hashSymbols } from "./hash.ts";
import { kernelSymbols } from "./kernels.ts";
import { memorySymbols } from "./memory.ts";
import { metalSymbols } from "./metal.ts";
import { pagedSymbols } from "./paged.ts";
import { poolSymbols } from "./pool.ts";
import { quantSymbols } from "./quant.ts";
import { rowSymbols } from "./rows.ts";
import { runtimeSymbols } from "./runtime.ts";

export const symbols = {
  ...runtimeSymbols,
  ...memorySymbols,
  ...formatSymbols,
  ...kernelSymbols,
  ...quantSymbols,
  ...attentionSymbols,
  ...hashSymbols,
  ...pagedSymbols,
  ...rowSymbols,
  ...poolSymbols,
  ...metalSymbols,
} as const;
