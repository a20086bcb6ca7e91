// Until the decode loop lands: a short tour of the packages working together.
import { Arena } from "@llmem/arena";
import { BlockAllocator } from "@llmem/block-allocator";
import { BucketPool } from "@llmem/bucket-pool";
import { ContiguousKvCache } from "@llmem/kv-cache";
import { native } from "@llmem/native";
import { hashChain } from "@llmem/prefix-hash";
import { dequantizeQ8_0, quantizeQ8_0 } from "@llmem/quant-kernels";

console.log(
  `llmem demo — native: ${native.available ? `${native.backend} (libllmem ${native.version})` : "off"}`,
);
const arena = new Arena(1 << 20);
const pool = new BucketPool();
const cache = new ContiguousKvCache({ numKvHeads: 2, headDim: 32, maxTokens: 64 });
for (let step = 0; step < 8; step++) {
  const k = arena.alloc(Float32Array, 64).map((_, i) => Math.sin(step + i));
  cache.append(k, k);
  pool.alloc(1000 + step);
  pool.reset();
  arena.reset();
}
const out = cache.attend(new Float32Array(4 * 32).fill(0.1), { numHeads: 4 });
const q = quantizeQ8_0(out);
const err = Math.max(...dequantizeQ8_0(q, out.length).map((v, i) => Math.abs(v - out[i]!)));
const blocks = new BlockAllocator(16);
console.log(`attention over ${cache.length} tokens; q8_0 max error ${err.toExponential(2)}`);
console.log(`prefix hashes: ${hashChain([1, 2, 3, 4, 5], 2).length}, first block id ${blocks.allocate()}`);
console.log(
  `arena high-water ${arena.highWaterMark} B; pool hits ${pool.stats().hits}/${pool.stats().hits + pool.stats().misses}`,
);
arena.dispose();
