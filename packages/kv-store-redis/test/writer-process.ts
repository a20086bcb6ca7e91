// A second process for test/sharing.test.ts: hashes a prompt with @llmem/prefix-hash, writes its
// blocks through its own store, flushes, and prints its stats as JSON.
// Usage: bun test/writer-process.ts URL MODEL_FINGERPRINT SALT
import { hashChain } from "@llmem/prefix-hash";
import { RedisKvStore, tokenFingerprint } from "../src/index.ts";
import { BLOCK_SIZE, blockPayload, LAYOUT, prompt } from "./sharing-fixture.ts";

const [url, modelFingerprint, salt] = process.argv.slice(2);
const store = new RedisKvStore({
  url: url!,
  modelFingerprint: modelFingerprint!,
  ...LAYOUT,
  ttlMs: 600_000,
  onWarn: (l) => console.error(l),
});
const tokens = prompt();
const chain = hashChain(tokens, BLOCK_SIZE, { salt: salt! });
for (let b = 0; b < chain.length; b++) {
  const blockTokens = tokens.subarray(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE);
  store.putAsync(chain[b]!, tokenFingerprint(blockTokens), blockPayload(b));
}
await store.flush();
console.log(JSON.stringify(store.stats()));
store.close();
