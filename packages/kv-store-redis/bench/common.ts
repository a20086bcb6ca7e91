// What both loopback benches share: the sizes they move, the server they talk to (their own
// redis-server unless LLMEM_REDIS_URL is set; REDIS_ARGS passes extra server flags) and how they
// summarise and time a round.
import { RedisServer, redisServerBinary } from "../test/redis-server.ts";

export const ROUNDS = Number(process.argv[2] ?? 5);
/** Bytes per direction per round. */
export const TOTAL = 64 * 2 ** 20;
export const SIZES = [64 * 2 ** 10, 256 * 2 ** 10, 2 ** 20];

/** The server to use and the one this process started (null when LLMEM_REDIS_URL named one). */
export async function benchServer(): Promise<{ url: string; own: RedisServer | null }> {
  const given = process.env.LLMEM_REDIS_URL ?? "";
  if (given !== "") return { url: given, own: null };
  const bin = redisServerBinary();
  if (bin === undefined) process.exit(0);
  const own = await RedisServer.start(bin, (process.env.REDIS_ARGS ?? "").split(" ").filter(Boolean));
  return { url: own.url, own };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
/** median (min–max), two decimals. */
export const fmt = (xs: number[]) =>
  `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;

/** Seconds fn takes. */
export async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/** The header line: what is measured and the machine's load average. */
export async function header(what: string, url: string): Promise<string> {
  const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
  return `${what}loopback ${url}, ${TOTAL >> 20} MiB per direction per round, ${ROUNDS} rounds; load ${load}`;
}
