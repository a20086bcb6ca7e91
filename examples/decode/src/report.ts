/**
 * What a run says about itself, as text: the report (requests and prefix reuse, speed, KV
 * bytes per format and tier, pool and arena), and the embedded model's one-screen summary.
 * Model text shown here is always escaped (terminal-text.ts): a report is read on a terminal.
 */
import { native } from "@llmem/native";
import type { KvTierReport } from "./kv-tiers.ts";
import type { RunResult } from "./run.ts";
import { escapeControls } from "./terminal-text.ts";

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function rate(tokens: number, ms: number): number {
  return ms > 0 ? (tokens * 1000) / ms : 0;
}

/** Requests, prompt tokens, and how many of them the prefix cache served. */
function requestsLine(r: RunResult): string {
  const n = r.sequences.length;
  const promptTokens = r.sequences.reduce((s, q) => s + q.prompt.length, 0);
  const reused = r.sequences.reduce((s, q) => s + q.reused, 0);
  const hits = r.memory.prefixHits;
  return (
    `requests: ${n} · prompt tokens ${promptTokens}, ${reused} reused from the prefix cache` +
    ` (${hits} block${hits === 1 ? "" : "s"} shared)`
  );
}

export function report(r: RunResult): string {
  const t = r.timing;
  const m = r.memory;
  const kv = Object.entries(m.kvBytes)
    .map(([tier, b]) => `${tier} ${fmtBytes(b)}`)
    .join(", ");
  return [
    requestsLine(r),
    `prefill: ${t.prefillTokens} tok at ${rate(t.prefillTokens, t.prefillMs).toFixed(1)} tok/s · decode: ${t.decodeTokens} tok at ${rate(t.decodeTokens, t.decodeMs).toFixed(1)} tok/s` +
      ` (${r.kernels} kernels, ${r.weights} weights, ${r.threads} thread${r.threads > 1 ? "s" : ""}, native ${native.available ? native.backend : "off"})`,
    `memory: weights ${fmtBytes(m.weightBytes)} · KV ${kv} · arena high-water ${fmtBytes(m.arenaHighWater)} · pool hit rate ${
      m.poolHitRate === null ? "n/a" : `${(m.poolHitRate * 100).toFixed(0)}%`
    } · prefix cache ${m.prefixHits} hits, ${m.prefillTokensSaved} prefill tokens saved`,
    ...(r.tiers ? [tiersLine(r.tiers)] : []),
  ].join("\n");
}

function tiersLine(t: KvTierReport): string {
  const redis = t.redis
    ? ` · redis ${t.redis.fetchedBlocks} blocks fetched, ${t.redis.stored} stored${t.redis.connected ? "" : " (not connected)"}`
    : "";
  return `kv tiers: file ${t.fileBlocks} blocks restored, ${t.savedBlocks} saved · host RAM ${fmtBytes(t.host.bytes)} in ${t.host.blocks} blocks, ${t.host.hits} hits${redis}`;
}

/** Characters of each request's (noise) text shown on the embedded model's screen: one line. */
const SHOWN_CHARS = 100;

/**
 * The embedded model's screen, label first: it has random weights, so its text is shown
 * only as a clipped, escaped sample per request; the report follows on stderr.
 */
export function embeddedScreen(r: RunResult): string {
  const c = r.config;
  const lines = [
    "llmem on the embedded synthetic model: random weights, so the text below is noise by design",
    `(${c.nLayers} layers, dim ${c.dim}, vocab ${c.vocabSize}, seed ${r.seed}; pass --model FILE for a real model, --json for every token)`,
  ];
  for (const s of [...r.sequences].sort((a, b) => a.id - b.id)) {
    // The tail: the head is the shared prompt, the same on every request.
    const text = s.text();
    const tail = text.length > SHOWN_CHARS ? `…${text.slice(-SHOWN_CHARS)}` : text;
    lines.push(
      `request ${s.id}: ${s.prompt.length} prompt + ${Math.max(0, s.tokens.length - s.prompt.length + 1)} generated tokens, ${s.reused} from the prefix cache`,
      `  ${escapeControls(tail, true)}`,
    );
  }
  return lines.join("\n");
}
