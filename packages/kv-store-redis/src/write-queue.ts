/**
 * Writes leave the decode path here: `offer` appends and returns at once, and a drain that
 * starts on a later macrotask (after the caller's decode step) sends batches one at a time.
 * The queue is capped in bytes: a slow or absent server costs dropped writes (counted by the
 * caller), never memory without bound and never a wait.
 */
export interface QueuedWrite {
  readonly key: string;
  readonly value: Uint8Array;
}

const BATCHES_IN_FLIGHT = 2;

export type SendBatch = (batch: QueuedWrite[]) => Promise<void>;

export class WriteQueue {
  readonly #capBytes: number;
  readonly #maxBatchBytes: number;
  readonly #send: SendBatch;
  #items: QueuedWrite[] = [];
  #head = 0;
  #bytes = 0;
  #draining = false;
  #idle: Array<() => void> = [];

  constructor(capBytes: number, maxBatchBytes: number, send: SendBatch) {
    this.#capBytes = capBytes;
    this.#maxBatchBytes = maxBatchBytes;
    this.#send = send;
  }

  /** Bytes queued or being sent. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues `write`; `false` (nothing queued) when it would exceed the byte cap. */
  offer(write: QueuedWrite): boolean {
    if (this.#bytes + write.value.length > this.#capBytes) return false;
    this.#items.push(write);
    this.#bytes += write.value.length;
    if (!this.#draining) {
      this.#draining = true;
      setTimeout(() => void this.#drain(), 0);
    }
    return true;
  }

  /** Resolves when every write queued so far has been sent or given up on. */
  flush(): Promise<void> {
    if (!this.#draining) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Forgets queued writes (the store is closing); returns how many. */
  clear(): number {
    const n = this.#items.length - this.#head;
    for (let i = this.#head; i < this.#items.length; i++) this.#bytes -= this.#items[i]!.value.length;
    this.#items = [];
    this.#head = 0;
    return n;
  }

  // Each pass takes at least one write off the queue, and the queue holds at most capBytes,
  // so the loop ends; each send is bounded by the store's write timeout. Two batches are in
  // flight at once so the server has the next one while the replies to the last come back.
  async #drain(): Promise<void> {
    const inflight = new Set<Promise<void>>();
    try {
      while (this.#head < this.#items.length || inflight.size > 0) {
        while (this.#head < this.#items.length && inflight.size < BATCHES_IN_FLIGHT) {
          const [batch, batchBytes] = this.#takeBatch();
          const sent: Promise<void> = this.#send(batch)
            .catch(() => {
              // The store's sender counts its own failures and never throws; a bug there must
              // not stop the drain and leave flush() waiting.
            })
            .then(() => {
              this.#bytes -= batchBytes;
              inflight.delete(sent);
            });
          inflight.add(sent);
        }
        if (inflight.size > 0) await Promise.race(inflight);
      }
    } finally {
      this.#draining = false;
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }

  #takeBatch(): [QueuedWrite[], number] {
    const batch: QueuedWrite[] = [];
    let batchBytes = 0;
    while (this.#head < this.#items.length) {
      const next = this.#items[this.#head]!;
      if (batch.length > 0 && batchBytes + next.value.length > this.#maxBatchBytes) break;
      batch.push(next);
      batchBytes += next.value.length;
      this.#head++;
    }
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
    return [batch, batchBytes];
  }
}
