/**
 * Encoded values recycled once the server has answered for them. A value is a fresh buffer of
 * up to a few MiB, and the first touch of fresh memory costs page faults on the caller's decode
 * step (measured: ~0.5 ms per 1 MiB block under load, a quarter of a block's write time); a
 * recycled one is already mapped. Capped in bytes, so a burst does not pin memory for good.
 */
export class ValuePool {
  readonly #capBytes: number;
  readonly #free = new Map<number, Uint8Array[]>();
  #bytes = 0;

  constructor(capBytes: number) {
    this.#capBytes = capBytes;
  }

  /** A recycled value of exactly `size` bytes, if one is free (its contents are stale). */
  take(size: number): Uint8Array | undefined {
    const list = this.#free.get(size);
    const value = list?.pop();
    if (value !== undefined) this.#bytes -= size;
    return value;
  }

  /** Offers a value nobody references any more (the server answered for it, or it was never sent). */
  give(value: Uint8Array): void {
    if (this.#bytes + value.length > this.#capBytes) return;
    let list = this.#free.get(value.length);
    if (list === undefined) {
      list = [];
      this.#free.set(value.length, list);
    }
    list.push(value);
    this.#bytes += value.length;
  }
}
