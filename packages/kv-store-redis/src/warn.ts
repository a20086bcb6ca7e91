/**
 * One warning line per interval, not one per call: a store that is down fails every call of
 * every decode step, and a log line per call would bury the log (and cost time on the decode
 * path). Lines suppressed in between are counted and reported with the next line.
 */
export type WarnSink = (line: string) => void;

export class RateLimitedWarner {
  readonly #sink: WarnSink;
  readonly #intervalMs: number;
  #last = Number.NEGATIVE_INFINITY;
  #suppressed = 0;
  /** Lines written (tests and stats read it). */
  lines = 0;

  constructor(sink: WarnSink, intervalMs: number) {
    this.#sink = sink;
    this.#intervalMs = intervalMs;
  }

  warn(message: string): void {
    const now = performance.now();
    if (now - this.#last < this.#intervalMs) {
      this.#suppressed++;
      return;
    }
    const more = this.#suppressed > 0 ? ` (${this.#suppressed} more since the last warning)` : "";
    this.#last = now;
    this.#suppressed = 0;
    this.lines++;
    this.#sink(`@llmem/kv-store-redis: ${message}${more}`);
  }
}
